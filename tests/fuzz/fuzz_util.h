// Helpers shared by the fuzz targets (tests/fuzz/fuzz_*.cpp).
//
// A violated property calls Fail(), which prints what broke and the input in
// hex and aborts, so libFuzzer keeps the input as a crash artifact exactly
// as it does for a sanitizer report.
#ifndef GTOS_TESTS_FUZZ_FUZZ_UTIL_H_
#define GTOS_TESTS_FUZZ_FUZZ_UTIL_H_

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "util/bytes.h"

namespace gtos::fuzz {

// Names the target in failure messages; each target defines it.
extern const char* const kTargetName;

[[noreturn]] inline void Fail(std::string_view what, ByteView input, const std::string& detail = {}) {
  std::string hex = ToHex(input.subspan(0, std::min<size_t>(input.size(), 4096)));
  std::fprintf(stderr, "\n%s: %.*s\n  input (%zu bytes): %s%s\n", kTargetName, static_cast<int>(what.size()),
               what.data(), input.size(), hex.c_str(), input.size() > 4096 ? "..." : "");
  if (!detail.empty()) std::fprintf(stderr, "  %s\n", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

inline bool SameBytes(ByteView a, ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Fails unless `got` equals `want`, naming both in hex.
inline void ExpectSame(std::string_view what, ByteView input, ByteView want, ByteView got) {
  if (!SameBytes(want, got)) Fail(what, input, "want " + ToHex(want) + "\n  got  " + ToHex(got));
}

// A private directory under $TMPDIR for targets that must go through a file
// (the decoders that take a path), created on first use and removed when
// the fuzzer exits normally. After a crash it is left behind (its name
// starts "gtos-fuzz-").
inline const std::string& ScratchDir() {
  // Never destroyed: the atexit handler below runs after the destructors of
  // statics constructed before it was registered.
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto* t = new std::string(std::string(tmp && *tmp ? tmp : "/tmp") + "/gtos-fuzz-XXXXXX");
    if (!::mkdtemp(t->data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(ScratchDir(), ec);
    });
    return t;
  }();
  return *dir;
}

// Writes `data` to ScratchDir()/name (replacing it) and returns the path.
inline std::string WriteScratch(const std::string& name, ByteView data) {
  std::string path = ScratchDir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (data.size() > 0 && std::fwrite(data.data(), 1, data.size(), f) != data.size()) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace gtos::fuzz

#endif  // GTOS_TESTS_FUZZ_FUZZ_UTIL_H_
