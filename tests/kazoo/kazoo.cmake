# kazoo's own test suite against zkplug (the shared runner starts zkplug
# through its java shim), standalone and as the runner's default 3-server
# ensemble, each compared with Apache ZooKeeper 3.8.0's baseline in that mode.
if(TARGET zkplug)
  add_test(NAME kazoo_standalone
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_kazoo.sh standalone $<TARGET_FILE:zkplug> ${ZKPLUG_PLUGIN_DIR}
            ${CMAKE_BINARY_DIR}/kazoo-results)
  set_tests_properties(kazoo_standalone PROPERTIES LABELS "kazoo" TIMEOUT 1500 RUN_SERIAL TRUE)
  add_test(NAME kazoo_ensemble
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_kazoo.sh ensemble $<TARGET_FILE:zkplug> ${ZKPLUG_PLUGIN_DIR}
            ${CMAKE_BINARY_DIR}/kazoo-results)
  set_tests_properties(kazoo_ensemble PROPERTIES LABELS "kazoo" TIMEOUT 1500 RUN_SERIAL TRUE)
endif()
