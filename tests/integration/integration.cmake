# Integration tests: each program starts its own server (zkplug, or Apache
# ZooKeeper when ZKPLUG_TEST_SERVER=zookeeper) on a free 127.0.0.1 port with a
# fresh temp dataDir, and drives it with the official C client
# (libzookeeper_mt) and a raw-protocol client. Safe to run with ctest -j.
find_library(ZOOKEEPER_MT_LIBRARY zookeeper_mt)
find_path(ZOOKEEPER_INCLUDE_DIR zookeeper/zookeeper.h)

if(NOT ZOOKEEPER_MT_LIBRARY OR NOT ZOOKEEPER_INCLUDE_DIR)
  message(STATUS "libzookeeper_mt not found: integration tests are not built")
else()
  set(ZKITEST_DIR ${CMAKE_CURRENT_LIST_DIR})
  get_filename_component(ZKITEST_CORE_DIR ${ZKITEST_DIR}/../../core ABSOLUTE)

  add_library(zkitest_harness STATIC
    ${ZKITEST_DIR}/harness.c
    ${ZKITEST_DIR}/raw.c
    ${ZKITEST_DIR}/zkclient.c
    ${ZKITEST_CORE_DIR}/jute.c)
  target_include_directories(zkitest_harness PUBLIC
    ${ZKITEST_DIR} ${ZKITEST_CORE_DIR} ${ZOOKEEPER_INCLUDE_DIR})
  target_compile_definitions(zkitest_harness PUBLIC _GNU_SOURCE THREADED)
  target_link_libraries(zkitest_harness PUBLIC ${ZOOKEEPER_MT_LIBRARY} ${CMOCKA_LIBRARY} pthread)

  # zkplug_integration_test(NAME): tests/integration/NAME.c against a server.
  function(zkplug_integration_test name)
    add_executable(${name} ${ZKITEST_DIR}/${name}.c)
    target_link_libraries(${name} PRIVATE zkitest_harness)
    add_test(NAME integration_${name} COMMAND ${name})
    set_tests_properties(integration_${name} PROPERTIES LABELS integration TIMEOUT 180)
    if(TARGET zkplug)
      set_tests_properties(integration_${name} PROPERTIES ENVIRONMENT
        "ZKPLUG_BIN=$<TARGET_FILE:zkplug>;ZKPLUG_PLUGINS=${ZKPLUG_PLUGIN_DIR}")
    endif()
  endfunction()

  foreach(t itest_nodes itest_multi itest_acl itest_watches itest_sessions
            itest_reaper itest_raw_ops itest_bad_input)
    zkplug_integration_test(${t})
  endforeach()
endif()
