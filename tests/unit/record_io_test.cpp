// cli::RecordReader: streaming, linear in the input, bounded.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "cli/record_io.h"
#include "codec/codec.h"

using namespace gtos;

namespace {

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& name)
      : path((std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))).string()) {}
  ~TempFile() { std::filesystem::remove(path); }
};

// One msgpack array of `groups` arrays of `n` byte strings of `size` bytes
// each: many small values (a block of many transactions is such a record),
// the shape for which re-parsing from the start of the record after each
// read made reading quadratic (msgpack-c's cost is per value, not per byte).
Bytes BigRecord(size_t groups, size_t n, size_t size) {
  codec::Writer w;
  w.Array(static_cast<uint32_t>(groups));
  Bytes item(size);
  for (size_t g = 0; g < groups; ++g) {
    w.Array(static_cast<uint32_t>(n));
    for (size_t i = 0; i < n; ++i) {
      item[0] = static_cast<uint8_t>(i);
      w.Bin(item);
    }
  }
  return w.Take();
}

Bytes SmallRecord(uint64_t i) {
  codec::Writer w;
  w.Array(2);
  w.Uint(i);
  w.Bin(Bytes(300, static_cast<uint8_t>(i)));
  return w.Take();
}

void Append(std::FILE* f, const Bytes& b) { REQUIRE(std::fwrite(b.data(), 1, b.size(), f) == b.size()); }

}  // namespace

// Reads every record of `paths`; returns the raw sizes.
std::vector<size_t> ReadAll(cli::RecordReader& reader) {
  std::vector<size_t> sizes;
  for (;;) {
    auto p = reader.Next();
    REQUIRE(p);
    if (!*p) break;
    sizes.push_back((*p)->raw.size());
  }
  return sizes;
}

TEST_CASE("RecordReader reads a 40 MB record in linear time, from a file or a pipe") {
  TempFile file("gtos-record-io-big");
  const Bytes big = BigRecord(4, 500'000, 18);  // 40 MB, 2 million msgpack values
  REQUIRE(big.size() > 40'000'000);
  Bytes all;
  for (const Bytes& b : {SmallRecord(1), big, SmallRecord(2)}) all.insert(all.end(), b.begin(), b.end());
  {
    std::FILE* f = std::fopen(file.path.c_str(), "wb");
    REQUIRE(f);
    Append(f, all);
    std::fclose(f);
  }
  const uint64_t total = all.size();
  for (bool pipe : {false, true}) {
    CAPTURE(pipe);
    // A pipe delivers at most 64 KiB per read: re-parsing from the start of
    // the record after each read took 88 s for 42 MB there.
    int saved_stdin = -1;
    std::thread writer;
    if (pipe) {
      int fds[2];
      REQUIRE(::pipe(fds) == 0);
      saved_stdin = ::dup(0);
      REQUIRE(::dup2(fds[0], 0) == 0);
      ::close(fds[0]);
      writer = std::thread([fd = fds[1], &all] {
        size_t off = 0;
        while (off < all.size()) {
          ssize_t n = ::write(fd, all.data() + off, all.size() - off);
          if (n <= 0) break;
          off += static_cast<size_t>(n);
        }
        ::close(fd);
      });
    }
    auto t0 = std::chrono::steady_clock::now();
    cli::RecordReader reader({pipe ? std::string("-") : file.path});
    std::vector<size_t> sizes = ReadAll(reader);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (pipe) {
      writer.join();
      ::dup2(saved_stdin, 0);
      ::close(saved_stdin);
    }
    REQUIRE(sizes.size() == 3);
    CHECK(sizes[1] == big.size());
    // The work is what is asserted (deterministic): the parser saw each byte
    // a bounded number of times. Re-parsing from the start after every read,
    // it saw 20 times the input from a file (a read per MiB) and 300 times
    // from a pipe (a read per 64 KiB).
    MESSAGE((pipe ? "pipe: " : "file: "), total, " bytes in ", secs, " s; the parser saw ", reader.bytes_parsed(),
            " bytes");
    CHECK(reader.bytes_parsed() <= 4 * total);
    // A generous wall-clock bound for a loaded 2-core machine (about 0.5 s
    // when idle).
    CHECK(secs < 10.0);
  }
}

TEST_CASE("RecordReader streams many records across read boundaries") {
  TempFile file("gtos-record-io-many");
  const int n = 20'000;  // about 6 MB: records straddle every 1 MiB read
  {
    std::FILE* f = std::fopen(file.path.c_str(), "wb");
    REQUIRE(f);
    for (int i = 0; i < n; ++i) Append(f, SmallRecord(static_cast<uint64_t>(i)));
    std::fclose(f);
  }
  const uint64_t total = std::filesystem::file_size(file.path);
  cli::RecordReader reader({file.path, file.path});  // the same file twice
  int got = 0;
  for (;;) {
    auto p = reader.Next();
    REQUIRE(p);
    if (!*p) break;
    codec::Reader r((*p)->handle.get(), (*p)->raw, "test");
    CHECK(r.Uint("i") == static_cast<uint64_t>(got % n));
    CHECK(r.Bin("b", 300).size() == 300);
    CHECK(r.Finish());
    ++got;
  }
  CHECK(got == 2 * n);
  CHECK(reader.count() == static_cast<size_t>(2 * n));
  CHECK(reader.bytes_parsed() <= 3 * 2 * total);
}

TEST_CASE("RecordReader reports a truncated large record") {
  TempFile file("gtos-record-io-trunc");
  Bytes big = BigRecord(1, 50'000, 98);
  big.resize(big.size() - 10);
  {
    std::FILE* f = std::fopen(file.path.c_str(), "wb");
    REQUIRE(f);
    Append(f, SmallRecord(7));
    Append(f, big);
    std::fclose(f);
  }
  cli::RecordReader reader({file.path});
  auto first = reader.Next();
  REQUIRE(first);
  REQUIRE(*first);
  auto second = reader.Next();
  REQUIRE_FALSE(second);
  CHECK(second.error().message ==
        "record 2 of '" + file.path + "': truncated record (input ends " + std::to_string(big.size()) +
            " bytes into it)");
}
