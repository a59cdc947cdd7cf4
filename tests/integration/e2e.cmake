# End-to-end suites of the command side (label "integration"): the built
# ledger-producer run as a child process (test_producer_harness) and driven
# through the built `ledger` binary (test_cli_fixture's runner), against the
# broker named by LEDGER_TEST_BROKERS. Each test has its own topics
# ("t<pid>-<random>."), group and static member ids; see
# test_e2e_support.h.
if(TARGET ledger-producer AND TARGET ledger)
  set(_e2e ${CMAKE_CURRENT_LIST_DIR})
  add_library(ledger_e2e_support STATIC
    ${_e2e}/test_e2e_support.c ${_e2e}/test_producer_harness.c
    ${_e2e}/test_cli_fixture.c ${_e2e}/kafka_test.c)
  target_include_directories(ledger_e2e_support PUBLIC ${_e2e})
  target_compile_definitions(ledger_e2e_support PUBLIC
    LEDGER_PRODUCER_BIN="$<TARGET_FILE:ledger-producer>" LEDGER_BIN="$<TARGET_FILE:ledger>")
  target_link_libraries(ledger_e2e_support PUBLIC ledger_edge ledger_codec ledger_core
    PkgConfig::CRITERION PkgConfig::JANSSON PkgConfig::RDKAFKA)
  add_dependencies(ledger_e2e_support ledger-producer ledger)

  foreach(_suite IN ITEMS rules dedup transfers history snapshot crash fencing)
    ledger_criterion_test(test_e2e_${_suite} integration ${_e2e}/test_e2e_${_suite}.c)
    target_link_libraries(test_e2e_${_suite} PRIVATE ledger_e2e_support)
  endforeach()
endif()
