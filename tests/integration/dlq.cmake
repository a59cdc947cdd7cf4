# Poison records, quarantine and `ledger dlq` (label "integration"): the
# built ledger-projector and ledger against the real broker and Redis, each
# test with its own topic prefix and Redis namespace (the crash test runs a
# redis-server of its own, to pause its writes).
set(_dlq_dir ${CMAKE_CURRENT_LIST_DIR})

if(TARGET ledger_projector_runtime AND TARGET ledger)
  foreach(_dlq_test IN ITEMS test_projector_dlq test_projector_dlq_crash)
    ledger_criterion_test(${_dlq_test} integration ${_dlq_dir}/${_dlq_test}.c
                          ${_dlq_dir}/test_dlq_support.c ${_dlq_dir}/test_projector_harness.c
                          ${_dlq_dir}/kafka_test.c ${_dlq_dir}/cli_run.c)
    target_include_directories(${_dlq_test} PRIVATE ${_dlq_dir})
    target_link_libraries(${_dlq_test} PRIVATE ledger_projector_runtime ledger_views ledger_codec
                                               ledger_edge ledger_core PkgConfig::JANSSON)
    target_compile_definitions(${_dlq_test} PRIVATE
                               PROJECTOR_BIN="$<TARGET_FILE:ledger-projector>"
                               LEDGER_BIN="$<TARGET_FILE:ledger>")
    add_dependencies(${_dlq_test} ledger-projector ledger)
  endforeach()
endif()

# The pure pieces of projectors/dlq.c (label "unit": no broker, no Redis).
ledger_criterion_test(test_dlq_units unit ${_dlq_dir}/test_dlq_units.c)
target_link_libraries(test_dlq_units PRIVATE ledger_projector_runtime ledger_views ledger_codec
                                             ledger_edge ledger_core)
