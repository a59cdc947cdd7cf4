# ledger-producer integration suites (label "integration"): each test creates
# its own topics (prefix "t<pid>-<random>."), runs the built ledger-producer
# as a child process with its own group id, drives it with Avro Command
# records written by librdkafka and reads results and events back
# (read_committed). They need the broker named by LEDGER_TEST_BROKERS.
if(TARGET ledger-producer)
  set(_producer_harness ${CMAKE_CURRENT_LIST_DIR}/test_producer_harness.c
                        ${CMAKE_CURRENT_LIST_DIR}/kafka_test.c)
  foreach(_suite IN ITEMS rules transfers dedup malformed snapshot load positions)
    ledger_criterion_test(test_producer_${_suite} integration
                          ${CMAKE_CURRENT_LIST_DIR}/test_producer_${_suite}.c ${_producer_harness})
    target_include_directories(test_producer_${_suite} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_link_libraries(test_producer_${_suite} PRIVATE ledger_edge ledger_codec ledger_core)
    target_compile_definitions(test_producer_${_suite} PRIVATE
      LEDGER_PRODUCER_BIN="$<TARGET_FILE:ledger-producer>")
    add_dependencies(test_producer_${_suite} ledger-producer)
  endforeach()
endif()

# The producer's in-memory tables, without Kafka (label "unit", so they also
# run under ASan+UBSan). Kept beside the integration suites of the producer.
if(TARGET ledger_producer)
  ledger_criterion_test(test_producer_tables unit
                        ${CMAKE_CURRENT_LIST_DIR}/test_producer_tables.c)
  target_link_libraries(test_producer_tables PRIVATE ledger_producer)
endif()
