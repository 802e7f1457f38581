# SASL (DIGEST-MD5, sasl:NAME ACLs, enforce.auth.* and
# sessionRequireClientSASLAuth): start the built server with a JAAS file and
# check its answers against ZooKeeper 3.8.0's (Python, kazoo and raw sockets).
if(TARGET zkplug)
  add_test(NAME sasl
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_sasl.py
                   $<TARGET_FILE:zkplug> ${ZKPLUG_PLUGIN_DIR})
  set_tests_properties(sasl PROPERTIES LABELS integration TIMEOUT 180)
endif()
