// Files: whole-file reads, atomic and durable output, private directories.
#ifndef GTOS_UTIL_FILE_H_
#define GTOS_UTIL_FILE_H_

#include <cstdio>
#include <string>

#include "util/bytes.h"
#include "util/secret.h"
#include "util/status.h"

namespace gtos {

// Reads a whole file; "-" reads standard input.
Result<Bytes> ReadFile(const std::string& path);

// The text of a passphrase, hex secret or similar small file (at most
// kMaxSecretFileBytes): its contents without one trailing newline ("\n" or
// "\r\n"); an empty result is an error naming `what` ("passphrase file
// 'p.txt' is empty"). The bytes are read straight into the returned
// SecretString, so no unwiped copy is left behind.
inline constexpr size_t kMaxSecretFileBytes = 64 << 10;
Result<SecretString> ReadSecretFile(const std::string& path, std::string_view what);

// Whether AtomicOutput may replace an existing file at its path.
enum class Replace { kAllow, kRefuse };

// Output that appears all at once or not at all, and survives a power loss
// once Commit() has returned.
//
// For a path, bytes go to a temporary file in the same directory; Commit()
// fsyncs it, renames it over the path and fsyncs the directory, so that the
// rename itself is durable. Destroying an uncommitted AtomicOutput removes
// the temporary file, so a failed run leaves nothing behind. For "-" (or an
// empty path) bytes go straight to stdout.
//
// With Replace::kRefuse, Open() fails with ErrorCode::kExists when the path
// exists, and Commit() will not replace a file that appeared meanwhile
// (renameat2 RENAME_NOREPLACE, or link + unlink where the file system lacks
// it): nothing is replaced or half-written.
// A file whose mode gives nothing to group and others (0600) is written
// unbuffered, so no copy of a secret stays in a stdio buffer.
// Not thread-safe.
class AtomicOutput {
 public:
  AtomicOutput() = default;
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  // mode applies to the created file exactly, whatever the umask (0600 for
  // secrets).
  Status Open(const std::string& path, unsigned mode = 0644, Replace replace = Replace::kAllow);
  Status Write(ByteView data);
  Status Write(std::string_view text) { return Write(AsBytes(text)); }
  Status Commit();
  bool is_stdout() const { return to_stdout_; }

 private:
  std::string path_, tmp_path_;
  FILE* file_ = nullptr;
  bool to_stdout_ = false;
  bool committed_ = false;
  Replace replace_ = Replace::kAllow;
};

// The error AtomicOutput returns for an existing path under Replace::kRefuse.
Error ExistsError(const std::string& path);

// fsyncs a directory, so that renames and creations in it are durable.
Status SyncDirectory(const std::string& dir);
// fsyncs the directory holding `path` ("." for a bare name).
Status SyncParentDirectory(const std::string& path);

// Writes `data` to `path` atomically and durably (AtomicOutput) with `mode`.
Status WriteFileAtomic(const std::string& path, ByteView data, unsigned mode = 0644,
                       Replace replace = Replace::kAllow);

// Renames `from` to `to` (a file or a directory) and fsyncs the directories
// of both, so that the rename survives a power loss.
Status RenameDurable(const std::string& from, const std::string& to);

// Creates directory `path` and any missing parents with exactly `mode`
// (0700 for data directories), whatever the umask, and fsyncs the directory
// holding each one created. Directories that already exist are left as they
// are. Fails naming the path when it exists and is not a directory.
Status MakeDirs(const std::string& path, unsigned mode = 0700);

// Number of directory fsyncs so far in this process (for tests that check
// that a write is durable).
uint64_t DirectorySyncCount();

}  // namespace gtos

#endif  // GTOS_UTIL_FILE_H_
