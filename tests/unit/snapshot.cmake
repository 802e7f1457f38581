# Snapshot format: round trip, Apache ZooKeeper 3.8.0 snapshots, damage.
zkplug_unit_test(test_snapshot ${CMAKE_SOURCE_DIR}/tests/unit/test_snapshot.c)
target_link_libraries(test_snapshot PRIVATE zkcore)
