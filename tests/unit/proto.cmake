# Protocol records (core/proto.c): decode/encode checked against bytes
# captured from ZooKeeper 3.8.0.
zkplug_unit_test(test_proto
  ${CMAKE_SOURCE_DIR}/tests/unit/test_proto.c
  ${CMAKE_SOURCE_DIR}/core/proto.c
  ${CMAKE_SOURCE_DIR}/core/jute.c
  ${CMAKE_SOURCE_DIR}/core/acl.c)
