# The statements and fraud views and their queries (`ledger statement`,
# `ledger flags`, `ledger flagged`).
#
# Unit suites (label "unit"): each view runs without Redis through the fake
# runtime of tests/unit/test_views_harness.c, compiled with the view's own
# source, so they do not need the projector runtime.
set(_views_unit ${CMAKE_CURRENT_LIST_DIR}/../unit)
set(_views_dir ${PROJECT_SOURCE_DIR}/projectors/views)

foreach(_view IN ITEMS statements fraud)
  ledger_criterion_test(test_views_${_view} unit ${_views_unit}/test_views_${_view}.c
                        ${_views_unit}/test_views_harness.c ${_views_dir}/${_view}.c
                        ${PROJECT_SOURCE_DIR}/projectors/text_cursor.c)
  target_include_directories(test_views_${_view} PRIVATE ${PROJECT_SOURCE_DIR}/projectors
                             ${_views_dir} ${_views_unit})
  target_link_libraries(test_views_${_view} PRIVATE ledger_core_test_model ledger_edge
                        PkgConfig::HIREDIS)
endforeach()

# Integration suites (label "integration"): the real broker and Redis of
# LEDGER_TEST_BROKERS / LEDGER_TEST_REDIS_URL, `ledger-projector --view
# statements|fraud` run as child processes, events produced straight into a
# topic prefix of each test's own, and the `ledger` CLI queried under a Redis
# namespace of each test's own.
if(TARGET ledger-projector AND TARGET ledger)
  foreach(_suite IN ITEMS statement_cli fraud_cli random)
    ledger_criterion_test(test_views_${_suite} integration
                          ${CMAKE_CURRENT_LIST_DIR}/test_views_${_suite}.c
                          ${CMAKE_CURRENT_LIST_DIR}/test_views_support.c
                          ${CMAKE_CURRENT_LIST_DIR}/kafka_test.c ${CMAKE_CURRENT_LIST_DIR}/cli_run.c)
    target_include_directories(test_views_${_suite} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_compile_definitions(test_views_${_suite} PRIVATE
                               LEDGER_BIN="$<TARGET_FILE:ledger>"
                               LEDGER_PROJECTOR_BIN="$<TARGET_FILE:ledger-projector>")
    target_link_libraries(test_views_${_suite} PRIVATE ledger_codec ledger_edge ledger_core
                          PkgConfig::JANSSON PkgConfig::RDKAFKA PkgConfig::HIREDIS)
    add_dependencies(test_views_${_suite} ledger ledger-projector)
  endforeach()
endif()
