# zkbench: raw-protocol load generator (not a test; run by hand or by the
# benchmark scripts, side by side with Apache ZooKeeper).
add_executable(zkbench ${CMAKE_SOURCE_DIR}/tests/bench/zkbench.c ${CMAKE_SOURCE_DIR}/core/jute.c)
target_include_directories(zkbench PRIVATE ${CMAKE_SOURCE_DIR}/core)
target_link_libraries(zkbench PRIVATE pthread)
