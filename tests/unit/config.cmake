# zoo.cfg parser tests (core/config.c).
zkplug_unit_test(test_config ${CMAKE_SOURCE_DIR}/tests/unit/test_config.c ${CMAKE_SOURCE_DIR}/core/config.c ${CMAKE_SOURCE_DIR}/core/jaas.c ${CMAKE_SOURCE_DIR}/core/log.c)
