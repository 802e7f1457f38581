# kazoo's own test suite against a standalone zkplug (the shared runner starts
# one zkplug per test class through its java shim), compared with Apache
# ZooKeeper 3.8.0's standalone baseline.
if(TARGET zkplug)
  add_test(NAME kazoo_standalone
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_kazoo.sh standalone $<TARGET_FILE:zkplug> ${ZKPLUG_PLUGIN_DIR}
            ${CMAKE_BINARY_DIR}/kazoo-results)
  set_tests_properties(kazoo_standalone PROPERTIES LABELS "kazoo" TIMEOUT 1500 RUN_SERIAL TRUE)
endif()
