# Codec tests (label "unit": no I/O besides reading committed fixtures; also
# run under ASan+UBSan). Included from tests/CMakeLists.txt.
set(_codec_unit ${CMAKE_CURRENT_LIST_DIR})
set(_codec_fixtures ${PROJECT_SOURCE_DIR}/tests/fixtures)

foreach(_suite IN ITEMS canonical roundtrip evolution robust avroc alloc)
  ledger_criterion_test(test_codec_${_suite} unit ${_codec_unit}/test_codec_${_suite}.c)
  target_link_libraries(test_codec_${_suite} PRIVATE ledger_codec)
  target_compile_definitions(test_codec_${_suite} PRIVATE
    LEDGER_FIXTURES_DIR="${_codec_fixtures}")
endforeach()
# The avro-c test writes and reads with avro-c's own generic implementation;
# the evolution test compiles plans for writer schemas of its own (plan.h).
target_link_libraries(test_codec_avroc PRIVATE PkgConfig::AVRO)
target_link_libraries(test_codec_evolution PRIVATE PkgConfig::AVRO)
# The allocation test counts malloc, calloc and realloc calls made by the
# codec (a static library, so the linker's --wrap reaches its calls).
target_link_options(test_codec_alloc PRIVATE
  -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc)

# The bridge to fastavro (tests/codec/crosscheck.py), and the cross-check.
add_executable(codec_vectors ${PROJECT_SOURCE_DIR}/tests/codec/codec_vectors.c)
target_link_libraries(codec_vectors PRIVATE ledger_codec PkgConfig::JANSSON)
add_test(NAME codec_crosscheck_fastavro
  COMMAND ${CMAKE_SOURCE_DIR}/.local/venv/bin/python
          ${PROJECT_SOURCE_DIR}/tests/codec/crosscheck.py
          --tool $<TARGET_FILE:codec_vectors> --schemas ${PROJECT_SOURCE_DIR}/schemas)
set_tests_properties(codec_crosscheck_fastavro PROPERTIES LABELS unit TIMEOUT 120)
