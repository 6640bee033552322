// Files: whole-file reads and atomic output.
#ifndef GTOS_UTIL_FILE_H_
#define GTOS_UTIL_FILE_H_

#include <cstdio>
#include <string>

#include "util/bytes.h"
#include "util/status.h"

namespace gtos {

// Reads a whole file; "-" reads standard input.
Result<Bytes> ReadFile(const std::string& path);

// The text of a passphrase, hex secret or similar small file: its contents
// without one trailing newline ("\n" or "\r\n"); an empty result is an error
// naming `what` ("passphrase file 'p.txt' is empty").
Result<std::string> ReadSecretFile(const std::string& path, std::string_view what);

// Output that appears all at once or not at all.
//
// For a path, bytes go to a temporary file in the same directory, which
// Commit() fsyncs and renames over the path. Destroying an uncommitted
// AtomicOutput removes the temporary file, so a failed run leaves nothing
// behind. For "-" (or an empty path) bytes go straight to stdout.
// Not thread-safe.
class AtomicOutput {
 public:
  AtomicOutput() = default;
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  // mode applies to a created file (0600 for secrets).
  Status Open(const std::string& path, unsigned mode = 0644);
  Status Write(ByteView data);
  Status Write(std::string_view text) { return Write(AsBytes(text)); }
  Status Commit();
  bool is_stdout() const { return to_stdout_; }

 private:
  std::string path_, tmp_path_;
  FILE* file_ = nullptr;
  bool to_stdout_ = false;
  bool committed_ = false;
};

// fsyncs a directory, so that renames and creations in it are durable.
Status SyncDirectory(const std::string& dir);

// Writes `data` to `path` atomically with `mode`.
Status WriteFileAtomic(const std::string& path, ByteView data, unsigned mode = 0644);

}  // namespace gtos

#endif  // GTOS_UTIL_FILE_H_
