# The projector runtime (ledger-projector), the balance view and `ledger
# balance`, against the real broker and Redis (label "integration"). Each
# test isolates itself with its own topic prefix and Redis namespace, and
# runs the built ledger-projector as child processes (the view API test runs
# the runtime with a view of its own in a forked child instead).

set(_proj_dir ${CMAKE_CURRENT_LIST_DIR})
set(_proj_support ${_proj_dir}/test_projector_harness.c ${_proj_dir}/test_projector_event_count.c
                  ${_proj_dir}/kafka_test.c)

function(ledger_projector_test name)
  ledger_criterion_test(${name} integration ${_proj_dir}/${name}.c ${_proj_support} ${ARGN})
  target_include_directories(${name} PRIVATE ${_proj_dir})
  target_link_libraries(${name} PRIVATE ledger_projector_runtime ledger_views ledger_codec
                                        ledger_edge ledger_core)
  target_compile_definitions(${name} PRIVATE PROJECTOR_BIN="$<TARGET_FILE:ledger-projector>"
                                             LEDGER_BIN="$<TARGET_FILE:ledger>")
  add_dependencies(${name} ledger-projector ledger)
endfunction()

if(TARGET ledger_projector_runtime)
  ledger_projector_test(test_projector_fold)
  ledger_projector_test(test_projector_crash)
  ledger_projector_test(test_projector_redelivery)
  ledger_projector_test(test_projector_zombie)
  ledger_projector_test(test_projector_redis_restart)
  ledger_projector_test(test_projector_query ${_proj_dir}/cli_run.c)
  ledger_projector_test(test_projector_view_api)
  ledger_projector_test(test_projector_store)
  ledger_projector_test(test_projector_catchup)
  # One process at a time: it measures a rate.
  set_tests_properties(test_projector_catchup PROPERTIES RUN_SERIAL TRUE)
endif()

# The pure pieces (key layout, positions, batch vectors, the balance fold on
# hand-made replies): no broker, no Redis.
ledger_criterion_test(test_projector_units unit ${_proj_dir}/test_projector_units.c)
target_link_libraries(test_projector_units PRIVATE ledger_views)

# The runtime's cache of stored account states: pure, no I/O.
ledger_criterion_test(test_state_cache unit ${PROJECT_SOURCE_DIR}/tests/unit/test_state_cache.c
                      ${PROJECT_SOURCE_DIR}/projectors/state_cache.c)
target_include_directories(test_state_cache PRIVATE ${PROJECT_SOURCE_DIR}/projectors)
target_link_libraries(test_state_cache PRIVATE ledger_core)

# The views' decimal ints (text_cursor.h): pure.
ledger_criterion_test(test_text_cursor unit ${PROJECT_SOURCE_DIR}/tests/unit/test_text_cursor.c
                      ${PROJECT_SOURCE_DIR}/projectors/text_cursor.c)
target_include_directories(test_text_cursor PRIVATE ${PROJECT_SOURCE_DIR}/projectors)
target_link_libraries(test_text_cursor PRIVATE ledger_core)
