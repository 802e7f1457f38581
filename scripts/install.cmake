# Install rules for `cmake --install`: the server, the default plugins and
# the data tools, the Lua scripts, the operator scripts, sample
# configuration, a systemd unit, the plugin SDK header and a pkg-config file
# (zkplug.pc) with which a plugin is built out of tree:
#
#   cc -shared -fPIC $(pkg-config --cflags zkplug) my_election.c -o my_election.so
#   install -m 644 my_election.so "$(pkg-config --variable=plugindir zkplug)"
#
# Layout under the prefix (GNUInstallDirs):
#   bin/zkplug, bin/zkplug.sh, bin/zkplug-cleanup.sh, bin/zkplug-{purge,logdump,snapdump,verify}
#   libexec/zkplug-env.sh
#   LIBDIR/zkplug/plugins/*.so, LIBDIR/pkgconfig/zkplug.pc
#   include/zkplug/plugin.h
#   share/zkplug/lua/*.lua, share/doc/zkplug/*.md
#   etc/zkplug/zoo.cfg, etc/zkplug/zoo-ensemble.cfg (SYSCONFDIR relative to the prefix)
#   lib/systemd/system/zkplug.service
#
# Included once from the top-level CMakeLists.txt after every target exists
# (a global property guards against a second inclusion).
get_property(ZKPLUG_INSTALL_RULES_DONE GLOBAL PROPERTY ZKPLUG_INSTALL_RULES_DONE)
if(ZKPLUG_INSTALL_RULES_DONE)
  return()
endif()
set_property(GLOBAL PROPERTY ZKPLUG_INSTALL_RULES_DONE ON)

include(GNUInstallDirs)
set(ZKPLUG_SRC ${CMAKE_CURRENT_LIST_DIR}/..)
get_filename_component(ZKPLUG_SRC ${ZKPLUG_SRC} ABSOLUTE)
set(ZKPLUG_INSTALL_PLUGINDIR ${CMAKE_INSTALL_LIBDIR}/zkplug/plugins)
set(ZKPLUG_INSTALL_LUADIR ${CMAKE_INSTALL_DATADIR}/zkplug/lua)
set(ZKPLUG_INSTALL_CONFDIR ${CMAKE_INSTALL_SYSCONFDIR}/zkplug)
set(ZKPLUG_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(TARGETS zkplug RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(tool zkplug-purge zkplug-logdump zkplug-snapdump zkplug-verify)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# Every loadable module built by a folder of plugins/ (not the deliberately
# broken ones of the tests).
file(GLOB ZKPLUG_INSTALL_PLUGIN_DIRS LIST_DIRECTORIES true ${ZKPLUG_SRC}/plugins/*)
foreach(dir ${ZKPLUG_INSTALL_PLUGIN_DIRS})
  if(IS_DIRECTORY ${dir} AND EXISTS ${dir}/CMakeLists.txt)
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(t ${targets})
      get_target_property(type ${t} TYPE)
      if(type STREQUAL "MODULE_LIBRARY")
        install(TARGETS ${t} LIBRARY DESTINATION ${ZKPLUG_INSTALL_PLUGINDIR})
      endif()
    endforeach()
  endif()
endforeach()

install(DIRECTORY ${ZKPLUG_SRC}/lua/ DESTINATION ${ZKPLUG_INSTALL_LUADIR}
  FILES_MATCHING PATTERN "*.lua" PATTERN "README.md")
install(PROGRAMS ${ZKPLUG_SRC}/scripts/zkplug.sh ${ZKPLUG_SRC}/scripts/zkplug-cleanup.sh
  DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${ZKPLUG_SRC}/scripts/zkplug-env.sh DESTINATION ${CMAKE_INSTALL_LIBEXECDIR})
install(FILES ${ZKPLUG_SRC}/conf/zoo.cfg ${ZKPLUG_SRC}/conf/zoo-ensemble.cfg
  DESTINATION ${ZKPLUG_INSTALL_CONFDIR})
install(FILES ${ZKPLUG_SRC}/plugins/sdk/zkplug/plugin.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/zkplug)
file(GLOB ZKPLUG_INSTALL_DOCS ${ZKPLUG_SRC}/docs/*.md)
install(FILES ${ZKPLUG_SRC}/README.md ${ZKPLUG_INSTALL_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# pkg-config: relocatable (prefix found from the .pc file's own folder), so
# `cmake --install build --prefix DIR` gives a usable file too.
set(ZKPLUG_PC_REL "")
string(REGEX MATCHALL "[^/]+" ZKPLUG_PC_PARTS "${ZKPLUG_INSTALL_PKGCONFIGDIR}")
foreach(part ${ZKPLUG_PC_PARTS})
  string(APPEND ZKPLUG_PC_REL "/..")
endforeach()
set(ZKPLUG_PC_PREFIX "\${pcfiledir}${ZKPLUG_PC_REL}")
configure_file(${ZKPLUG_SRC}/conf/zkplug.pc.in ${CMAKE_BINARY_DIR}/zkplug.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/zkplug.pc DESTINATION ${ZKPLUG_INSTALL_PKGCONFIGDIR})

# systemd unit with the paths of the prefix installed to (known only at
# install time: `cmake --install --prefix DIR` may differ from the configured one).
install(CODE "
  set(ZKPLUG_UNIT_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  set(ZKPLUG_UNIT_CONFDIR \"\${CMAKE_INSTALL_PREFIX}/${ZKPLUG_INSTALL_CONFDIR}\")
  set(CMAKE_INSTALL_FULL_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  configure_file(\"${ZKPLUG_SRC}/conf/zkplug.service\" \"${CMAKE_BINARY_DIR}/zkplug.service\" @ONLY)
")
install(FILES ${CMAKE_BINARY_DIR}/zkplug.service DESTINATION lib/systemd/system)
