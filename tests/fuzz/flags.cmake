# Included from the top-level CMakeLists.txt when GTOS_FUZZ=ON, before any
# target is defined: every library (and tool) is compiled with libFuzzer's
# coverage instrumentation and ASan + UBSan, so the fuzz targets in this
# directory see into the library code. The default (g++) build never reads
# this file.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "GTOS_FUZZ=ON needs clang: configure with CXX=clang++-16 (see 'make fuzz-build')")
endif()

# libstdc++ 12 enables <expected> only when __cpp_concepts >= 202002L, which
# clang before 19 does not define although it implements what <expected>
# needs from 16 on (clang 14 lacks conditionally trivial destructors, P0848,
# and fails inside <expected>). Redefine the macro when that is the only
# thing missing.
include(CheckCXXSourceCompiles)
set(_gtos_expected_probe [=[
#include <expected>
#include <string>
#include <vector>
std::expected<std::vector<int>, std::string> F(bool ok) {
  if (!ok) return std::unexpected(std::string("no"));
  return std::vector<int>{1};
}
int main() { auto r = F(true); auto e = F(false); return r && !e ? 0 : 1; }
]=])
check_cxx_source_compiles("${_gtos_expected_probe}" GTOS_FUZZ_HAVE_EXPECTED)
if(NOT GTOS_FUZZ_HAVE_EXPECTED)
  set(_gtos_concepts_fix -U__cpp_concepts -D__cpp_concepts=202002L -Wno-builtin-macro-redefined)
  list(JOIN _gtos_concepts_fix " " CMAKE_REQUIRED_FLAGS)
  check_cxx_source_compiles("${_gtos_expected_probe}" GTOS_FUZZ_HAVE_EXPECTED_WITH_FIX)
  unset(CMAKE_REQUIRED_FLAGS)
  if(NOT GTOS_FUZZ_HAVE_EXPECTED_WITH_FIX)
    message(FATAL_ERROR "${CMAKE_CXX_COMPILER} ${CMAKE_CXX_COMPILER_VERSION} cannot compile libstdc++'s "
                        "std::expected, not even with -D__cpp_concepts=202002L; use clang 16 or later "
                        "(apt-get install clang-16 libclang-rt-16-dev; CXX=clang++-16)")
  endif()
  add_compile_options(${_gtos_concepts_fix})
endif()

# -fno-sanitize-recover=all: every sanitizer report (UBSan's included)
# aborts, so libFuzzer records the input as a crash instead of printing a
# warning and carrying on.
set(GTOS_SANITIZE address,undefined)
add_compile_options(-fsanitize=fuzzer-no-link,${GTOS_SANITIZE} -fno-sanitize-recover=all
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=${GTOS_SANITIZE})
