# Unit tests of the pure core (label "unit": no I/O; also run under
# ASan+UBSan). Included from tests/CMakeLists.txt.
set(_core_unit ${CMAKE_CURRENT_LIST_DIR})

add_library(ledger_core_test_model STATIC ${_core_unit}/model.c)
target_link_libraries(ledger_core_test_model PUBLIC ledger_core)

foreach(_suite IN ITEMS money ids ltime names decide account fraud statement props)
  ledger_criterion_test(test_core_${_suite} unit ${_core_unit}/test_core_${_suite}.c)
  target_link_libraries(test_core_${_suite} PRIVATE ledger_core_test_model)
endforeach()

# The purity check must be able to fail: run it on an object that calls
# malloc and time, and expect it to name them.
add_library(ledger_core_purity_probe STATIC ${_core_unit}/test_core_purity_probe.c)
add_test(NAME core_purity_check_catches_impurity
  COMMAND ${CMAKE_COMMAND} -DNM=${CMAKE_NM}
          -DARCHIVE=$<TARGET_FILE:ledger_core_purity_probe>
          -P ${PROJECT_SOURCE_DIR}/core/purity_check.cmake)
set_tests_properties(core_purity_check_catches_impurity PROPERTIES
  LABELS unit
  PASS_REGULAR_EXPRESSION "impure core: symbols outside the allow-list:.*malloc.*time")
