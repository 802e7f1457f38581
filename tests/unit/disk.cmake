# Disk storage plugin tests (plugins/disk): the built disk.so loaded through
# plugin_load on a real loop, with real files in temporary directories, and a
# txn log captured from ZooKeeper 3.8.0 (data/zk-3.8.0-log.bin).
zkplug_unit_test(test_disk_storage
  ${CMAKE_CURRENT_LIST_DIR}/test_disk_storage.c
  ${CMAKE_SOURCE_DIR}/core/plugin_loader.c ${CMAKE_SOURCE_DIR}/core/loop.c
  ${CMAKE_SOURCE_DIR}/core/log.c ${CMAKE_SOURCE_DIR}/metrics/registry.c
  ${CMAKE_SOURCE_DIR}/tests/plugins/fake_config.c)
target_include_directories(test_disk_storage PRIVATE ${CMAKE_SOURCE_DIR}/tests/plugins)
target_compile_definitions(test_disk_storage PRIVATE
  ZKPLUG_PLUGIN_DIR="${ZKPLUG_PLUGIN_DIR}"
  DISK_TEST_DATA="${CMAKE_CURRENT_LIST_DIR}/data")
target_link_libraries(test_disk_storage PRIVATE PkgConfig::ZLIB)
add_dependencies(test_disk_storage disk)
