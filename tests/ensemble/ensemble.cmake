# Ensemble tests (tests/ensemble/test_ensemble.py) of zkplug's quorum mode:
# leader failover under load (3 and 5 servers), observer, DIFF/SNAP/TRUNC
# catch-up, read-only mode, a leader losing its quorum, the preferred
# election plugin, and a mixed zkplug + ZooKeeper 3.8.0 ensemble (needs java
# and the ZooKeeper jars, as the storage interop tests do). The scenarios
# that are not zkplug-only also run against real
# ZooKeeper 3.8.0:
#   /usr/bin/python3 tests/ensemble/test_ensemble.py --server zk <scenario>
foreach(scenario three five observer diff snap trunc readonly stepdown preferred mixed reconfig luahooks sessionmoved)
  add_test(NAME ensemble_${scenario}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_ensemble.py
                   --server zkplug --bin $<TARGET_FILE:zkplug> --plugins ${ZKPLUG_PLUGIN_DIR}
                   ${scenario})
  # The script's own hard limits are 120..240 s per scenario.
  set_tests_properties(ensemble_${scenario} PROPERTIES LABELS integration TIMEOUT 300)
endforeach()
