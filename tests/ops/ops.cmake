# Operations: the log (format, levels, rotation) and the stall monitor as
# cmocka tests; zkplug.sh (start, status, start-twice refusal, stop,
# restart, error messages, graceful shutdown under write load), zkplug.sh on
# the members of an ensemble made from conf/zoo-ensemble.cfg (status as
# zkServer.sh prints it, failover, stop) and the installed tree (cmake
# --install, zkplug.sh from the install, a plugin built out of tree with
# pkg-config) as integration tests; docs/compatibility.md checked against the
# code.
set(ZKOPS_DIR ${CMAKE_CURRENT_LIST_DIR})

add_executable(test_ops_stall ${ZKOPS_DIR}/test_stall.c)
target_link_libraries(test_ops_stall PRIVATE zkcore ${CMOCKA_LIBRARY})
add_test(NAME test_ops_stall COMMAND test_ops_stall)
set_tests_properties(test_ops_stall PROPERTIES LABELS unit TIMEOUT 120)

add_executable(test_ops_log ${ZKOPS_DIR}/test_log.c)
target_link_libraries(test_ops_log PRIVATE zkcore ${CMOCKA_LIBRARY})
add_test(NAME test_ops_log COMMAND test_ops_log)
set_tests_properties(test_ops_log PROPERTIES LABELS unit TIMEOUT 60)

add_test(NAME ops_compatibility_matrix
         COMMAND /usr/bin/python3 ${ZKOPS_DIR}/check_compat.py ${CMAKE_SOURCE_DIR})
set_tests_properties(ops_compatibility_matrix PROPERTIES LABELS unit TIMEOUT 60)

if(TARGET zkplug)
  add_test(NAME ops_scripts
           COMMAND /usr/bin/python3 ${ZKOPS_DIR}/test_ops.py
                   --src ${CMAKE_SOURCE_DIR} --build ${CMAKE_BINARY_DIR} Scripts Shutdown)
  set_tests_properties(ops_scripts PROPERTIES LABELS integration TIMEOUT 600)
  add_test(NAME ops_ensemble
           COMMAND /usr/bin/python3 ${ZKOPS_DIR}/test_ops.py
                   --src ${CMAKE_SOURCE_DIR} --build ${CMAKE_BINARY_DIR} StatusAddress Ensemble)
  set_tests_properties(ops_ensemble PROPERTIES LABELS integration TIMEOUT 300)
  add_test(NAME ops_install
           COMMAND /usr/bin/python3 ${ZKOPS_DIR}/test_ops.py
                   --src ${CMAKE_SOURCE_DIR} --build ${CMAKE_BINARY_DIR} Install)
  set_tests_properties(ops_install PROPERTIES LABELS integration TIMEOUT 600
                       RESOURCE_LOCK zkplug_install_tree)
endif()
