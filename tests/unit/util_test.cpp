#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
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

namespace {

// A fresh directory under the temp dir, removed at the end of the scope.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

unsigned ModeOf(const std::string& path) {
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("AtomicOutput fsyncs the directory after the rename") {
  TempDir dir("gtos-util-dirsync");
  uint64_t before = DirectorySyncCount();
  REQUIRE(WriteFileAtomic(dir / "a.bin", AsBytes("one"), 0644));
  CHECK(DirectorySyncCount() == before + 1);
  AtomicOutput out;
  REQUIRE(out.Open(dir / "b.bin", 0600));
  REQUIRE(out.Write(std::string_view("two")));
  CHECK(DirectorySyncCount() == before + 1);  // not before Commit
  REQUIRE(out.Commit());
  CHECK(DirectorySyncCount() == before + 2);
  // A bare name syncs ".".
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path);
  auto st = WriteFileAtomic("c.bin", AsBytes("three"));
  std::filesystem::current_path(cwd);
  REQUIRE(st);
  CHECK(DirectorySyncCount() == before + 3);
}

TEST_CASE("RenameDurable renames and syncs both directories") {
  TempDir dir("gtos-util-rename");
  std::filesystem::create_directories(dir.path / "x" / "sub");
  std::filesystem::create_directories(dir.path / "y");
  uint64_t before = DirectorySyncCount();
  REQUIRE(RenameDurable(dir / "x/sub", dir / "y/sub"));
  CHECK(std::filesystem::is_directory(dir.path / "y" / "sub"));
  CHECK(DirectorySyncCount() == before + 2);
  REQUIRE(WriteFileAtomic(dir / "y/f", AsBytes("f")));
  before = DirectorySyncCount();
  REQUIRE(RenameDurable(dir / "y/f", dir / "y/g"));  // same directory: one sync
  CHECK(DirectorySyncCount() == before + 1);
  auto missing = RenameDurable(dir / "nope", dir / "y/h");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kIO);
  CHECK(missing.error().message.find("nope") != std::string::npos);
}

TEST_CASE("Replace::kRefuse never replaces an existing file") {
  TempDir dir("gtos-util-noreplace");
  const std::string path = dir / "key";
  REQUIRE(WriteFileAtomic(path, AsBytes("original"), 0600));
  // Refused at Open: nothing written, nothing left behind.
  AtomicOutput out;
  auto st = out.Open(path, 0600, Replace::kRefuse);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == ErrorCode::kExists);
  CHECK(st.error().message == "refusing to overwrite existing file '" + path + "'");
  auto w = WriteFileAtomic(path, AsBytes("new"), 0600, Replace::kRefuse);
  REQUIRE_FALSE(w);
  CHECK(w.error().code == ErrorCode::kExists);
  CHECK(AsChars(*ReadFile(path)) == "original");
  // A file that appears between Open and Commit is not replaced either.
  const std::string late = dir / "late";
  AtomicOutput racing;
  REQUIRE(racing.Open(late, 0600, Replace::kRefuse));
  REQUIRE(racing.Write(std::string_view("mine")));
  {
    std::FILE* f = std::fopen(late.c_str(), "wb");  // another writer
    REQUIRE(f);
    std::fputs("theirs", f);
    std::fclose(f);
  }
  auto c = racing.Commit();
  REQUIRE_FALSE(c);
  CHECK(c.error().code == ErrorCode::kExists);
  CHECK(AsChars(*ReadFile(late)) == "theirs");
  // A dangling symlink counts as existing.
  std::filesystem::create_symlink(dir / "nowhere", dir / "link");
  CHECK_FALSE(WriteFileAtomic(dir / "link", AsBytes("x"), 0600, Replace::kRefuse));
  CHECK_FALSE(std::filesystem::exists(dir.path / "nowhere"));
  // Nothing but the two files and the link: no temporary file left.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()) == 3);
  // Absent: written, with exactly the mode asked for.
  REQUIRE(WriteFileAtomic(dir / "fresh", AsBytes("x"), 0600, Replace::kRefuse));
  CHECK(ModeOf(dir / "fresh") == 0600);
  // kAllow (the default) replaces.
  REQUIRE(WriteFileAtomic(path, AsBytes("replaced"), 0600));
  CHECK(AsChars(*ReadFile(path)) == "replaced");
}

TEST_CASE("MakeDirs and AtomicOutput modes do not depend on the umask") {
  TempDir dir("gtos-util-mode");
  mode_t old = ::umask(0);
  auto a = MakeDirs(dir / "open/a/b", 0700);
  auto f = WriteFileAtomic(dir / "open/a/b/k", AsBytes("k"), 0600);
  ::umask(077);
  auto g = WriteFileAtomic(dir / "open/a/b/g", AsBytes("g"), 0644);
  ::umask(old);
  REQUIRE(a);
  REQUIRE(f);
  REQUIRE(g);
  CHECK(ModeOf(dir / "open") == 0700);  // missing parents too
  CHECK(ModeOf(dir / "open/a") == 0700);
  CHECK(ModeOf(dir / "open/a/b") == 0700);
  CHECK(ModeOf(dir / "open/a/b/k") == 0600);
  CHECK(ModeOf(dir / "open/a/b/g") == 0644);
  // An existing directory is left as it is.
  std::filesystem::create_directories(dir.path / "mine");
  ::chmod((dir / "mine").c_str(), 0755);
  REQUIRE(MakeDirs(dir / "mine", 0700));
  CHECK(ModeOf(dir / "mine") == 0755);
  // A file in the way is an error naming it.
  REQUIRE(WriteFileAtomic(dir / "file", AsBytes("x")));
  auto bad = MakeDirs(dir / "file", 0700);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("'" + (dir / "file") + "'") != std::string::npos);
}

TEST_CASE("ReadSecretFile strips one newline, refuses empty and oversized files") {
  TempDir dir("gtos-util-secret");
  REQUIRE(WriteFileAtomic(dir / "p", AsBytes("correct horse\r\n")));
  auto p = ReadSecretFile(dir / "p", "passphrase");
  REQUIRE(p);
  CHECK(p->view() == "correct horse");
  REQUIRE(WriteFileAtomic(dir / "two", AsBytes("a\n\n")));
  CHECK(ReadSecretFile(dir / "two", "passphrase")->view() == "a\n");
  REQUIRE(WriteFileAtomic(dir / "nl", AsBytes("\n")));
  auto empty = ReadSecretFile(dir / "nl", "passphrase");
  REQUIRE_FALSE(empty);
  CHECK(empty.error().message == "passphrase file '" + (dir / "nl") + "' is empty");
  REQUIRE(WriteFileAtomic(dir / "big", Bytes(kMaxSecretFileBytes + 1, 'x')));
  auto big = ReadSecretFile(dir / "big", "hex");
  REQUIRE_FALSE(big);
  CHECK(big.error().message.find("larger than") != std::string::npos);
  REQUIRE(WriteFileAtomic(dir / "max", Bytes(kMaxSecretFileBytes, 'x')));
  CHECK(ReadSecretFile(dir / "max", "hex")->size() == kMaxSecretFileBytes);
  auto missing = ReadSecretFile(dir / "nope", "passphrase");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kIO);
}

TEST_CASE("secrets are wiped: SecureWipe, SecretString, SecretBytes") {
  // SecureWipe covers the whole allocation, not only size().
  std::string s(100, 's');
  s.resize(10);
  const char* data = s.data();
  size_t cap = s.capacity();
  SecureWipe(s);
  CHECK(s.empty());
  CHECK(s.data() == data);  // same buffer, not reallocated
  bool zero = true;
  for (size_t i = 0; i < cap; ++i) zero = zero && data[i] == 0;
  CHECK(zero);
  Bytes b(64, 0xaa);
  b.resize(3);
  const uint8_t* bdata = b.data();
  SecureWipe(b);
  CHECK(b.empty());
  bool bzero = true;
  for (size_t i = 0; i < 64; ++i) bzero = bzero && bdata[i] == 0;
  CHECK(bzero);

  // Moving a short (inline) string leaves its bytes behind in the source;
  // SecretString wipes them.
  std::string short_secret = "hunter2";
  const char* inline_buf = short_secret.data();
  SecretString a(std::move(short_secret));
  CHECK(a.view() == "hunter2");
  CHECK(std::string_view(inline_buf, 7) == std::string_view("\0\0\0\0\0\0\0", 7));
  SecretString moved(std::move(a));
  CHECK(moved.view() == "hunter2");
  CHECK(a.empty());
  SecretString assigned;
  assigned = std::move(moved);
  CHECK(assigned.view() == "hunter2");
  CHECK(moved.empty());
  CHECK(assigned == SecretString(std::string("hunter2")));

  SecretBytes sb(Bytes{1, 2, 3});
  SecretBytes sb2(std::move(sb));
  CHECK(sb2.size() == 3);
  sb2.data()[0] = 9;
  CHECK(sb2.view()[0] == 9);
}
