# What ledger-projector shows operators (label "integration"): /healthz
# against a Redis of the test's own, /metrics parsed by the Prometheus
# client's parser (tests/integration/prom_parse.py, run with
# LEDGER_TEST_PYTHON), `ledger status`'s progress fields, and the catch-up
# progress line on a terminal (a pty) and not on a pipe.
set(_ops_proj_dir ${CMAKE_CURRENT_LIST_DIR})

if(TARGET ledger_projector_runtime AND TARGET ledger)
  ledger_criterion_test(test_ops_projector integration ${_ops_proj_dir}/test_ops_projector.c
                        ${_ops_proj_dir}/test_dlq_support.c
                        ${_ops_proj_dir}/test_projector_harness.c ${_ops_proj_dir}/kafka_test.c
                        ${_ops_proj_dir}/cli_run.c)
  target_include_directories(test_ops_projector PRIVATE ${_ops_proj_dir})
  target_link_libraries(test_ops_projector PRIVATE ledger_projector_runtime ledger_views
                                                   ledger_codec ledger_edge ledger_core
                                                   PkgConfig::JANSSON util)
  target_compile_definitions(test_ops_projector PRIVATE
                             PROJECTOR_BIN="$<TARGET_FILE:ledger-projector>"
                             LEDGER_BIN="$<TARGET_FILE:ledger>"
                             PROM_PARSE="${_ops_proj_dir}/prom_parse.py")
  add_dependencies(test_ops_projector ledger-projector ledger)
endif()

# The pure piece of the progress (projectors/rate_window.c): no broker, no Redis.
ledger_criterion_test(test_ops_units unit ${_ops_proj_dir}/test_ops_units.c)
target_link_libraries(test_ops_units PRIVATE ledger_projector_runtime)
