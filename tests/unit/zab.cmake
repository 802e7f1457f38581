# ZAB wire format, SNAP stream scanner and load, epoch files.
zkplug_unit_test(test_zab ${CMAKE_SOURCE_DIR}/tests/unit/test_zab.c)
target_link_libraries(test_zab PRIVATE zkcore)
