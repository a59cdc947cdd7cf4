# The `ledger` CLI's command side and time travel: open/deposit/withdraw/
# transfer/close, submit and history. Integration suites (label
# "integration") run the built binary against the broker in
# LEDGER_TEST_BROKERS, each test on topics of its own, with a fake producer
# service where a result is needed; the unit suite (label "unit") checks the
# CLI's input reading, JSON rendering and submit window without I/O.
set(_cli_tests ${CMAKE_CURRENT_LIST_DIR})
set(_cli_src ${PROJECT_SOURCE_DIR}/cli)

foreach(_suite IN ITEMS validation command submit history)
  ledger_criterion_test(test_cli_${_suite} integration ${_cli_tests}/test_cli_${_suite}.c
                        ${_cli_tests}/test_cli_fixture.c ${_cli_tests}/kafka_test.c)
  target_include_directories(test_cli_${_suite} PRIVATE ${_cli_tests})
  target_compile_definitions(test_cli_${_suite} PRIVATE LEDGER_BIN="$<TARGET_FILE:ledger>")
  target_link_libraries(test_cli_${_suite} PRIVATE ledger_edge ledger_codec ledger_core
                                                   PkgConfig::JANSSON PkgConfig::RDKAFKA)
  add_dependencies(test_cli_${_suite} ledger)
endforeach()

ledger_criterion_test(test_cli_units unit ${_cli_tests}/test_cli_units.c ${_cli_src}/json_out.c
                      ${_cli_src}/command_input.c ${_cli_src}/submit_window.c)
target_include_directories(test_cli_units PRIVATE ${_cli_src})
target_link_libraries(test_cli_units PRIVATE ledger_core PkgConfig::JANSSON)
