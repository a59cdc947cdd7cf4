# Zero-downtime rebuild (`ledger-projector --rebuild`), `ledger status` and
# `ledger wait`, against the real broker and Redis (label "integration").
# Each test isolates itself with its own topic prefix, Redis namespace and
# consumer groups (the projector harness), and runs the built binaries as
# child processes: ledger-projector (running and rebuilding), ledger-producer
# (for `ledger wait`) and the ledger CLI.
set(_rb_dir ${CMAKE_CURRENT_LIST_DIR})

if(TARGET ledger-projector AND TARGET ledger AND TARGET ledger-producer)
  foreach(_suite IN ITEMS rebuild status_wait)
    ledger_criterion_test(test_${_suite} integration ${_rb_dir}/test_${_suite}.c
                          ${_rb_dir}/test_projector_harness.c ${_rb_dir}/test_cli_fixture.c
                          ${_rb_dir}/kafka_test.c ${_rb_dir}/cli_run.c)
    target_include_directories(test_${_suite} PRIVATE ${_rb_dir})
    target_link_libraries(test_${_suite} PRIVATE ledger_projector_runtime ledger_views ledger_codec
                                                 ledger_edge ledger_core
                                                 PkgConfig::JANSSON PkgConfig::RDKAFKA
                                                 PkgConfig::HIREDIS)
    target_compile_definitions(test_${_suite} PRIVATE
                               PROJECTOR_BIN="$<TARGET_FILE:ledger-projector>"
                               LEDGER_BIN="$<TARGET_FILE:ledger>"
                               LEDGER_PRODUCER_BIN="$<TARGET_FILE:ledger-producer>")
    add_dependencies(test_${_suite} ledger-projector ledger ledger-producer)
  endforeach()
endif()
