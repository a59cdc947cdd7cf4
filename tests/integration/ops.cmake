# Operations: the metrics registry and its exposition (label "unit", no
# I/O), the HTTP endpoint on loopback, and the producer's /healthz, /metrics
# and JSON logs (label "integration"). The integration suites read /metrics
# with prom_parse.py, which parses it with the official Python client's
# parser, through the venv python named by LEDGER_TEST_PYTHON.

ledger_criterion_test(test_edge_metrics unit ${CMAKE_CURRENT_LIST_DIR}/../unit/test_edge_metrics.c)
target_link_libraries(test_edge_metrics PRIVATE ledger_edge)

# The endpoint on loopback (no broker): label "integration", as it opens
# sockets.
set(_ops_dir ${CMAKE_CURRENT_LIST_DIR})
add_library(ledger_ops_test_support STATIC ${_ops_dir}/ops_test_support.c)
target_include_directories(ledger_ops_test_support PUBLIC ${_ops_dir})
target_compile_definitions(ledger_ops_test_support PRIVATE PROM_PARSE="${_ops_dir}/prom_parse.py")
target_link_libraries(ledger_ops_test_support PUBLIC PkgConfig::CRITERION PkgConfig::JANSSON)

ledger_criterion_test(test_ops_http integration ${_ops_dir}/test_ops_http.c)
target_link_libraries(test_ops_http PRIVATE ledger_ops_test_support ledger_edge)

# ledger-producer's endpoint and JSON logs, against the broker named by
# LEDGER_TEST_BROKERS (through the end-to-end support of e2e.cmake).
if(TARGET ledger_e2e_support)
  ledger_criterion_test(test_ops_producer integration ${_ops_dir}/test_ops_producer.c)
  target_link_libraries(test_ops_producer PRIVATE ledger_ops_test_support ledger_e2e_support)
endif()
