# Loader test fixtures and the unit tests of the plugin loader and of the
# default tcp and mem plugins. Included from tests/CMakeLists.txt.
#
# Each test plugin is test_plugin.c built with one TP_* definition that breaks
# exactly one rule of the plugin ABI; "good" breaks none. They land in
# ${CMAKE_BINARY_DIR}/tests/plugins (TEST_PLUGIN_DIR of zkplug_unit_test),
# together with two files that must fail to load: garbage.so (a text file) and
# dir.so (a directory).
set(ZKPLUG_TEST_PLUGIN_DIR ${CMAKE_BINARY_DIR}/tests/plugins)
set(ZKPLUG_TEST_PLUGIN_SRC ${CMAKE_CURRENT_LIST_DIR})

set(ZKPLUG_TEST_PLUGIN_TARGETS)
# zkplug_test_plugin(NAME [DEFINITIONS...]): NAME.so from test_plugin.c.
function(zkplug_test_plugin name)
  add_library(tp_${name} MODULE ${ZKPLUG_TEST_PLUGIN_SRC}/test_plugin.c)
  set_target_properties(tp_${name} PROPERTIES PREFIX "" OUTPUT_NAME ${name}
    LIBRARY_OUTPUT_DIRECTORY ${ZKPLUG_TEST_PLUGIN_DIR}
    C_VISIBILITY_PRESET hidden)
  target_compile_definitions(tp_${name} PRIVATE TP_NAME="${name}" ${ARGN})
  set(ZKPLUG_TEST_PLUGIN_TARGETS ${ZKPLUG_TEST_PLUGIN_TARGETS} tp_${name} PARENT_SCOPE)
endfunction()

zkplug_test_plugin(good)
zkplug_test_plugin(bad_magic TP_MAGIC=0xdeadbeefu)
zkplug_test_plugin(bad_abi TP_ABI_MAJOR=2)
zkplug_test_plugin(bad_kind TP_KIND=ZKP_KIND_STORAGE)
zkplug_test_plugin(unknown_kind TP_KIND=9)
zkplug_test_plugin(no_descriptor TP_NO_DESCRIPTOR)
zkplug_test_plugin(tiny_descriptor TP_TINY_SYMBOL)
zkplug_test_plugin(bad_name TP_DESC_NAME="other")
zkplug_test_plugin(small_descriptor TP_DESC_SIZE=16)
zkplug_test_plugin(no_init TP_NO_INIT)
zkplug_test_plugin(small_ops TP_OPS_SIZE=16)
zkplug_test_plugin(null_op TP_NULL_PENDING)
zkplug_test_plugin(init_fails TP_INIT_FAILS)
zkplug_test_plugin(start_fails TP_START_FAILS)

add_custom_command(
  OUTPUT ${ZKPLUG_TEST_PLUGIN_DIR}/garbage.so ${ZKPLUG_TEST_PLUGIN_DIR}/dir.so
  COMMAND ${CMAKE_COMMAND} -E make_directory ${ZKPLUG_TEST_PLUGIN_DIR}/dir.so
  COMMAND ${CMAKE_COMMAND} -E copy ${ZKPLUG_TEST_PLUGIN_SRC}/not_an_object.txt
          ${ZKPLUG_TEST_PLUGIN_DIR}/garbage.so
  DEPENDS ${ZKPLUG_TEST_PLUGIN_SRC}/not_an_object.txt
  COMMENT "Test plugin fixtures that are not loadable objects")
add_custom_target(tp_fixtures DEPENDS ${ZKPLUG_TEST_PLUGIN_DIR}/garbage.so
                                      ${ZKPLUG_TEST_PLUGIN_DIR}/dir.so)

# The tests list their sources instead of linking zkcore, so that they build
# while unrelated core files change; config lookups come from fake_config.c.
set(ZKPLUG_LOADER_TEST_SOURCES
  ${CMAKE_SOURCE_DIR}/core/plugin_loader.c ${CMAKE_SOURCE_DIR}/core/loop.c
  ${CMAKE_SOURCE_DIR}/core/log.c ${CMAKE_SOURCE_DIR}/metrics/registry.c
  ${ZKPLUG_TEST_PLUGIN_SRC}/fake_config.c)

zkplug_unit_test(test_plugin_loader ${CMAKE_CURRENT_LIST_DIR}/../unit/test_plugin_loader.c
                 ${ZKPLUG_LOADER_TEST_SOURCES})
target_include_directories(test_plugin_loader PRIVATE ${ZKPLUG_TEST_PLUGIN_SRC})
add_dependencies(test_plugin_loader ${ZKPLUG_TEST_PLUGIN_TARGETS} tp_fixtures)

zkplug_unit_test(test_tcp ${CMAKE_CURRENT_LIST_DIR}/../unit/test_tcp.c ${ZKPLUG_LOADER_TEST_SOURCES})
target_include_directories(test_tcp PRIVATE ${ZKPLUG_TEST_PLUGIN_SRC})
target_compile_definitions(test_tcp PRIVATE ZKPLUG_PLUGIN_DIR="${ZKPLUG_PLUGIN_DIR}")
add_dependencies(test_tcp tcp)

zkplug_unit_test(test_mem_storage ${CMAKE_CURRENT_LIST_DIR}/../unit/test_mem_storage.c
                 ${ZKPLUG_LOADER_TEST_SOURCES})
target_include_directories(test_mem_storage PRIVATE ${ZKPLUG_TEST_PLUGIN_SRC})
target_compile_definitions(test_mem_storage PRIVATE ZKPLUG_PLUGIN_DIR="${ZKPLUG_PLUGIN_DIR}")
add_dependencies(test_mem_storage mem)
