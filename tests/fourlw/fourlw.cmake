# Four-letter words: start the built server and check every command's output
# against ZooKeeper 3.8's formats (Python, raw sockets and kazoo).
if(TARGET zkplug)
  add_test(NAME fourlw
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_fourlw.py
                   $<TARGET_FILE:zkplug> ${ZKPLUG_PLUGIN_DIR})
  set_tests_properties(fourlw PROPERTIES LABELS integration TIMEOUT 120)
endif()
