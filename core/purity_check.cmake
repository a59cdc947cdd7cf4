# purity_check.cmake - fails unless every undefined symbol of the core's
# archive is a pure libc function (or compiler/sanitizer support).
#
#   cmake -DNM=/usr/bin/nm -DARCHIVE=libledger_core.a -P purity_check.cmake
#
# Why a symbol check: the core's promise (no allocation, no clock, no
# entropy, no I/O) is what makes decisions replayable, and the linker is the
# one witness that cannot be talked round. Anything not listed here, malloc,
# time, rand, printf, fopen, getenv..., fails the test; widening the list is a
# deliberate, reviewed act.
cmake_minimum_required(VERSION 3.25)
if(NOT NM OR NOT ARCHIVE)
  message(FATAL_ERROR "usage: cmake -DNM=nm -DARCHIVE=lib.a -P purity_check.cmake")
endif()

set(allowed
  memcpy memset memmove memcmp strlen strcmp strncmp strchr
  __stack_chk_fail _GLOBAL_OFFSET_TABLE_)
# Compiler and sanitizer runtime support, present only in instrumented builds.
set(allowed_prefixes __asan_ __ubsan_ __sanitizer_ __tsan_ __msan_)

execute_process(COMMAND ${NM} -u ${ARCHIVE}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "'${NM} -u ${ARCHIVE}' failed: ${err}")
endif()

# Symbols the archive defines itself (one module calling another) are fine.
execute_process(COMMAND ${NM} -g --defined-only ${ARCHIVE}
  OUTPUT_VARIABLE defs ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "'${NM} -g --defined-only ${ARCHIVE}' failed: ${err}")
endif()
string(REPLACE "\n" ";" def_lines "${defs}")
foreach(line IN LISTS def_lines)
  if(line MATCHES "^[0-9a-fA-F]+[ \t]+[A-Za-z][ \t]+([^ \t]+)$")
    list(APPEND allowed "${CMAKE_MATCH_1}")
  endif()
endforeach()

string(REPLACE "\n" ";" lines "${out}")
set(object "?")
set(bad "")
set(count 0)
foreach(line IN LISTS lines)
  if(line MATCHES "^(.+):$")
    set(object "${CMAKE_MATCH_1}")
  elseif(line MATCHES "^[ \t]*[Uw][ \t]+([^ \t]+)$")
    set(sym "${CMAKE_MATCH_1}")
    string(REGEX REPLACE "@.*$" "" sym "${sym}") # strip symbol versions
    math(EXPR count "${count} + 1")
    set(ok FALSE)
    if(sym IN_LIST allowed)
      set(ok TRUE)
    endif()
    foreach(prefix IN LISTS allowed_prefixes)
      string(FIND "${sym}" "${prefix}" at)
      if(at EQUAL 0)
        set(ok TRUE)
      endif()
    endforeach()
    if(NOT ok)
      list(APPEND bad "${object}: ${sym}")
    endif()
  endif()
endforeach()

if(bad)
  list(JOIN bad "\n  " text)
  message(FATAL_ERROR "impure core: symbols outside the allow-list:\n  ${text}")
endif()
message(STATUS "core is pure: ${count} undefined symbol references, all allowed")
