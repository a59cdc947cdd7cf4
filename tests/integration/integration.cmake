# Edge tests. Unit suites (label "unit", no network) check the configuration
# table, Redis URL parsing, the murmur2 partitioner and the CLI's usage
# errors; integration suites (label "integration") need the broker and the
# Redis server named by LEDGER_TEST_BROKERS and LEDGER_TEST_REDIS_URL.

set(LEDGER_UNIT_DIR ${CMAKE_CURRENT_LIST_DIR}/../unit)

ledger_criterion_test(test_edge_config unit ${LEDGER_UNIT_DIR}/test_edge_config.c)
target_link_libraries(test_edge_config PRIVATE ledger_edge)

ledger_criterion_test(test_edge_redis_url unit ${LEDGER_UNIT_DIR}/test_edge_redis_url.c)
target_link_libraries(test_edge_redis_url PRIVATE ledger_edge)

ledger_criterion_test(test_edge_log unit ${LEDGER_UNIT_DIR}/test_edge_log.c)
target_link_libraries(test_edge_log PRIVATE ledger_edge)

ledger_criterion_test(test_edge_kafka unit ${LEDGER_UNIT_DIR}/test_edge_kafka.c)
target_link_libraries(test_edge_kafka PRIVATE ledger_edge)

set(LEDGER_CLI_RUN ${CMAKE_CURRENT_LIST_DIR}/cli_run.c)

ledger_criterion_test(test_edge_cli_usage unit ${LEDGER_UNIT_DIR}/test_edge_cli_usage.c
                      ${LEDGER_CLI_RUN})
target_include_directories(test_edge_cli_usage PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(test_edge_cli_usage PRIVATE LEDGER_BIN="$<TARGET_FILE:ledger>")
add_dependencies(test_edge_cli_usage ledger)

# ---- integration: a real broker and redis-server ----

set(LEDGER_KAFKA_TEST ${CMAKE_CURRENT_LIST_DIR}/kafka_test.c)

ledger_criterion_test(test_kafka_roundtrip integration
                      ${CMAKE_CURRENT_LIST_DIR}/test_kafka_roundtrip.c ${LEDGER_KAFKA_TEST})
target_include_directories(test_kafka_roundtrip PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_kafka_roundtrip PRIVATE ledger_edge)

ledger_criterion_test(test_fetch_waker integration
                      ${CMAKE_CURRENT_LIST_DIR}/test_fetch_waker.c ${LEDGER_KAFKA_TEST})
target_include_directories(test_fetch_waker PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_fetch_waker PRIVATE ledger_edge)

# Real Avro events through the broker: needs the codec library.
if(TARGET ledger_codec)
  ledger_criterion_test(test_kafka_events integration
                        ${CMAKE_CURRENT_LIST_DIR}/test_kafka_events.c ${LEDGER_KAFKA_TEST})
  target_include_directories(test_kafka_events PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(test_kafka_events PRIVATE ledger_edge ledger_codec ledger_core)
endif()

ledger_criterion_test(test_redis_roundtrip integration
                      ${CMAKE_CURRENT_LIST_DIR}/test_redis_roundtrip.c)
target_link_libraries(test_redis_roundtrip PRIVATE ledger_edge)

ledger_criterion_test(test_cli_admin integration ${CMAKE_CURRENT_LIST_DIR}/test_cli_admin.c
                      ${LEDGER_CLI_RUN})
target_include_directories(test_cli_admin PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(test_cli_admin PRIVATE LEDGER_BIN="$<TARGET_FILE:ledger>")
target_link_libraries(test_cli_admin PRIVATE PkgConfig::RDKAFKA)
add_dependencies(test_cli_admin ledger)
