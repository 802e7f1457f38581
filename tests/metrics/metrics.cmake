# Metrics: cmocka tests of the registry, summaries, beans and the bus
# protocol (unit), a standalone server driven by real clients while nngcat
# and zkplug-metrics subscribe and query, and the quorum beans and mntr keys
# of a 3-server ensemble through a leader failover (integration).
zkplug_unit_test(test_metrics_registry ${CMAKE_CURRENT_LIST_DIR}/test_metrics_registry.c)
target_link_libraries(test_metrics_registry PRIVATE zkmetrics)
zkplug_unit_test(test_metrics_bus_msg ${CMAKE_CURRENT_LIST_DIR}/test_metrics_bus_msg.c)
target_link_libraries(test_metrics_bus_msg PRIVATE zkmetrics)

if(TARGET zkplug AND TARGET zkplug-metrics)
  add_test(NAME metrics_bus
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_metrics_bus.py
                   $<TARGET_FILE:zkplug> ${ZKPLUG_PLUGIN_DIR} $<TARGET_FILE:zkplug-metrics>)
  set_tests_properties(metrics_bus PROPERTIES LABELS integration TIMEOUT 180)
  add_test(NAME metrics_quorum
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_metrics_quorum.py
                   $<TARGET_FILE:zkplug> ${ZKPLUG_PLUGIN_DIR} $<TARGET_FILE:zkplug-metrics>)
  set_tests_properties(metrics_quorum PROPERTIES LABELS integration TIMEOUT 180)
endif()
