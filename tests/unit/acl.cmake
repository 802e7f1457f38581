# Unit tests for the ACL module (core/acl.c): hashing, matching, checking,
# validation and the auth packet.
zkplug_unit_test(test_acl ${CMAKE_SOURCE_DIR}/tests/unit/test_acl.c ${CMAKE_SOURCE_DIR}/core/acl.c)
