# Election tests. test_fle: cmocka tests of the fle plugin's wire and quorum
# code (plugins/fle/fle_wire.c, fle_quorum.c). fle_driver: one zkplug peer
# running one election through tcp.so and an election plugin loaded with
# plugin_load. test_election.py: 3 and 5 peers, a restarted peer rejoining,
# the preferred plugin, a hand-written peer speaking the wire protocol, and mixed elections with real ZooKeeper 3.8.0
# servers (needs java and /usr/share/java/zookeeper.jar).
zkplug_unit_test(test_fle ${CMAKE_CURRENT_LIST_DIR}/test_fle.c)
target_link_libraries(test_fle PRIVATE fle_proto)

add_executable(fle_driver ${CMAKE_CURRENT_LIST_DIR}/fle_driver.c)
target_link_libraries(fle_driver PRIVATE zkcore)
add_dependencies(fle_driver tcp fle preferred)

foreach(scenario three five rejoin preferred wire mixed mixed-leader)
  add_test(NAME election_${scenario}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_election.py
                   --driver $<TARGET_FILE:fle_driver> --plugins ${ZKPLUG_PLUGIN_DIR} ${scenario})
  set_tests_properties(election_${scenario} PROPERTIES LABELS integration TIMEOUT 180)
endforeach()
