# Storage tests (label "integration"): dataDir interoperability with Apache
# ZooKeeper 3.8 in both directions (plain and gzip snapshots, default and small
# snapCount) and crash durability under kill -9. See tests/storage/README.md.
if(TARGET zkplug)
  set(ZKSTORAGE_DIR ${CMAKE_CURRENT_LIST_DIR})

  # Each chain runs its servers one after the other on one dataDir; the first
  # builds the tree, every later one must report it identically.
  foreach(chain zookeeper,zkplug,zookeeper zkplug,zookeeper,zkplug)
    string(REPLACE "," "_" chain_name ${chain})
    foreach(variant plain gz snap20 snap20_gz)
      set(variant_args)
      if(variant MATCHES "gz")
        list(APPEND variant_args --compression gz)
      endif()
      if(variant MATCHES "snap20")
        list(APPEND variant_args --snap-count 20)
      endif()
      set(name storage_interop_${chain_name}_${variant})
      add_test(NAME ${name}
               COMMAND /usr/bin/python3 ${ZKSTORAGE_DIR}/test_interop.py
                       --zkplug $<TARGET_FILE:zkplug> --plugins ${ZKPLUG_PLUGIN_DIR}
                       --chain ${chain} ${variant_args})
      set_tests_properties(${name} PROPERTIES LABELS integration TIMEOUT 300)
    endforeach()
  endforeach()

  # kill -9 under concurrent writes: log only, with snapshots, with gzip
  # snapshots. Each run is bounded to 150 s of cycles.
  function(zkplug_storage_crash_test suffix)
    add_test(NAME storage_crash_${suffix}
             COMMAND /usr/bin/python3 ${ZKSTORAGE_DIR}/test_crash.py
                     --zkplug $<TARGET_FILE:zkplug> --plugins ${ZKPLUG_PLUGIN_DIR} ${ARGN})
    set_tests_properties(storage_crash_${suffix} PROPERTIES LABELS integration TIMEOUT 240)
  endfunction()
  zkplug_storage_crash_test(log)
  zkplug_storage_crash_test(snapshots --snap-count 500)
  zkplug_storage_crash_test(snapshots_gz --snap-count 500 --compression gz)
endif()
