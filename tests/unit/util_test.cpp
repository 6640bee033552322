#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "util/bytes.h"
#include "util/file.h"

using namespace gtos;

TEST_CASE("hex round trip and errors") {
  Bytes b{0x00, 0x01, 0xab, 0xff};
  CHECK(ToHex(b) == "0001abff");
  CHECK(ToHex0x(b) == "0x0001abff");
  CHECK(*FromHex("0x0001ABff", "x") == b);
  CHECK(*FromHex("0001abff", "x") == b);
  CHECK(FromHex("", "x")->empty());
  auto odd = FromHex("abc", "field 'key'");
  REQUIRE(!odd);
  CHECK(odd.error().message == "field 'key': odd number of hex digits");
  auto bad = FromHex("0xzz", "v");
  REQUIRE(!bad);
  CHECK(bad.error().message.find("invalid hex digit") != std::string::npos);
  CHECK(!Hash32FromHex("0x00", "addr"));
  auto h = Hash32FromHex(std::string(64, 'f'), "addr");
  REQUIRE(h);
  CHECK(h->v[31] == 0xff);
  CHECK(!h->IsZero());
  CHECK(Hash32{}.IsZero());
}

TEST_CASE("ParseUint64 accepts only plain decimals") {
  CHECK(*ParseUint64("0", "n") == 0);
  CHECK(*ParseUint64("18446744073709551615", "n") == UINT64_MAX);
  CHECK(!ParseUint64("18446744073709551616", "n"));
  CHECK(!ParseUint64("-1", "n"));
  CHECK(!ParseUint64("1 ", "n"));
  CHECK(!ParseUint64("", "n"));
  CHECK(!ParseUint64("0x10", "n"));
}

TEST_CASE("AtomicOutput leaves nothing behind unless committed") {
  auto dir = std::filesystem::temp_directory_path() / ("gtos-util-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "out.bin").string();
  {
    AtomicOutput out;
    REQUIRE(out.Open(path, 0600));
    REQUIRE(out.Write(std::string_view("abc")));
  }  // destroyed uncommitted
  CHECK(!std::filesystem::exists(path));
  CHECK(std::filesystem::is_empty(dir));
  REQUIRE(WriteFileAtomic(path, AsBytes("hello"), 0600));
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto back = ReadFile(path);
  REQUIRE(back);
  CHECK(AsChars(*back) == "hello");
  auto missing = ReadFile((dir / "nope").string());
  REQUIRE(!missing);
  CHECK(missing.error().code == ErrorCode::kIO);
  CHECK(missing.error().message.find("unable to open") == 0);
  AtomicOutput bad;
  CHECK(!bad.Open((dir / "no" / "such" / "dir").string()));
  std::filesystem::remove_all(dir);
}
