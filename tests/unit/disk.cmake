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

# Snapshots through the plugin: writing (plain, gz byte-compared with
# ZooKeeper's), restoring ZooKeeper 3.8.0 dataDirs (data/zk-3.8.0-datadir-*),
# fallback, replay after the snapshot, purge.
zkplug_unit_test(test_disk_snapshot
  ${CMAKE_CURRENT_LIST_DIR}/test_disk_snapshot.c
  ${CMAKE_SOURCE_DIR}/core/plugin_loader.c ${CMAKE_SOURCE_DIR}/core/loop.c
  ${CMAKE_SOURCE_DIR}/core/log.c ${CMAKE_SOURCE_DIR}/metrics/registry.c
  ${CMAKE_SOURCE_DIR}/tests/plugins/fake_config.c)
target_include_directories(test_disk_snapshot PRIVATE ${CMAKE_SOURCE_DIR}/tests/plugins)
target_compile_definitions(test_disk_snapshot PRIVATE
  ZKPLUG_PLUGIN_DIR="${ZKPLUG_PLUGIN_DIR}"
  DISK_TEST_DATA="${CMAKE_CURRENT_LIST_DIR}/data")
target_link_libraries(test_disk_snapshot PRIVATE PkgConfig::ZLIB)
add_dependencies(test_disk_snapshot disk)

# The plugin's host-free format code (purge selection, epochs, decoders,
# stream checker) linked directly, and the tools run as processes.
zkplug_unit_test(test_disk_files ${CMAKE_CURRENT_LIST_DIR}/test_disk_files.c)
target_link_libraries(test_disk_files PRIVATE disk_fmt)
target_compile_definitions(test_disk_files PRIVATE
  DISK_TEST_DATA="${CMAKE_CURRENT_LIST_DIR}/data"
  DISK_TOOLS_DIR="${CMAKE_BINARY_DIR}/tools")
add_dependencies(test_disk_files zkplug-logdump zkplug-snapdump zkplug-verify zkplug-purge)
