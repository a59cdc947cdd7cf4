# Containers proven without a Docker engine (labels "integration" and
# "compose"; scripts/deps --test installs Debian's docker-compose and PyYAML
# in the venv). The tests are Python scripts in tests/compose/, run with
# LEDGER_TEST_PYTHON through tests/compose/run_python:
#   compose_config        docker-compose config accepts compose/compose.yaml,
#                         which states the deployment contract; broken copies
#                         are refused
#   compose_runtime_libs  the runtime image's package list equals what ldd
#                         says the programs load (less debian:12-slim's own)
#   ledger_health_cli     `ledger health` (the healthchecks) exit codes
#   compose_processes     the file's services run as processes against the
#                         test broker and Redis, a workload checked against
#                         the fold, --scale and the --rebuild one-off
set(_compose_dir ${PROJECT_SOURCE_DIR}/tests/compose)
set(_compose_py ${_compose_dir}/run_python)
set(_compose_file ${PROJECT_SOURCE_DIR}/compose/compose.yaml)

add_test(NAME compose_config
         COMMAND ${_compose_py} ${_compose_dir}/compose_config.py --compose ${_compose_file})
set_tests_properties(compose_config PROPERTIES LABELS "integration;compose" TIMEOUT 120)

if(TARGET ledger AND TARGET ledger-producer AND TARGET ledger-projector)
  add_test(NAME compose_runtime_libs
           COMMAND ${_compose_py} ${_compose_dir}/runtime_libs.py
                   --packages ${PROJECT_SOURCE_DIR}/compose/runtime-packages.txt
                   --dockerfile ${PROJECT_SOURCE_DIR}/compose/Dockerfile
                   $<TARGET_FILE:ledger> $<TARGET_FILE:ledger-producer>
                   $<TARGET_FILE:ledger-projector>)
  add_test(NAME ledger_health_cli
           COMMAND ${_compose_py} ${_compose_dir}/ledger_health.py --ledger $<TARGET_FILE:ledger>)
  add_test(NAME compose_processes
           COMMAND ${_compose_py} ${_compose_dir}/compose_processes.py --compose ${_compose_file}
                   --bin ledger=$<TARGET_FILE:ledger>
                   --bin ledger-producer=$<TARGET_FILE:ledger-producer>
                   --bin ledger-projector=$<TARGET_FILE:ledger-projector>)
  set_tests_properties(compose_runtime_libs ledger_health_cli PROPERTIES
                       LABELS "integration;compose" TIMEOUT 120)
  set_tests_properties(compose_processes PROPERTIES LABELS "integration;compose" TIMEOUT 600)
endif()
