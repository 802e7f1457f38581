# The Lua host: cmocka tests of the host and of every
# sandbox limit; integration tests (Python) of the four-letter words against
# Apache ZooKeeper 3.8.0, the audit log, the config hook, the AdminServer
# (every command's JSON also against ZooKeeper 3.8.0's AdminServer) and script
# reload.
add_executable(test_lua_host ${CMAKE_CURRENT_LIST_DIR}/test_lua_host.c)
target_compile_definitions(test_lua_host PRIVATE
  TEST_LUA_DIR="${CMAKE_SOURCE_DIR}/lua" TEST_PLUGIN_DIR="${ZKPLUG_PLUGIN_DIR}")
target_link_libraries(test_lua_host PRIVATE zkcore ${CMOCKA_LIBRARY})
add_test(NAME test_lua_host COMMAND test_lua_host)
set_tests_properties(test_lua_host PROPERTIES LABELS unit TIMEOUT 120)

if(TARGET zkplug)
  add_test(NAME lua_integration
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_lua.py
                   $<TARGET_FILE:zkplug> ${ZKPLUG_PLUGIN_DIR})
  set_tests_properties(lua_integration PROPERTIES LABELS integration TIMEOUT 300)
  add_test(NAME lua_admin_compare
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_admin_compare.py
                   $<TARGET_FILE:zkplug> ${ZKPLUG_PLUGIN_DIR})
  set_tests_properties(lua_admin_compare PROPERTIES LABELS integration TIMEOUT 180)
endif()
