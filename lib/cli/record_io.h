// Record streams for tools: reading records from files or stdin one by one,
// and writing records (or text) to stdout or atomically to a file.
#ifndef GTOS_CLI_RECORD_IO_H_
#define GTOS_CLI_RECORD_IO_H_

#include <optional>
#include <string>
#include <vector>

#include "codec/codec.h"
#include "types/records.h"
#include "util/file.h"

namespace gtos::cli {

// Reads concatenated msgpack records from each path in turn ("-" or no
// paths: stdin), without loading a whole stream into memory: one record at
// a time, in time linear in the input, with a buffer of at most about twice
// the largest record (itself at most codec::kMaxRecordBytes). The buffer is
// wiped on destruction (key files pass through it).
class RecordReader {
 public:
  // Bytes asked of read(2) at a time (and the initial buffer size).
  static constexpr size_t kDefaultReadChunk = 1 << 20;

  // `read_chunk` > 0; tests and fuzz_record_stream use small values so that
  // records straddle reads.
  explicit RecordReader(std::vector<std::string> paths, size_t read_chunk = kDefaultReadChunk);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // The next record, or nullopt at the end of all inputs. The returned
  // record (and its raw bytes) stays valid until the next call.
  Result<std::optional<codec::Parsed>> Next();
  // "record 3 of 'tx.bin'": names the record last returned (or failed).
  std::string Where() const;
  // 1-based count of records returned so far, across all inputs.
  size_t count() const { return count_; }
  // Bytes handed to the msgpack parser so far, counting re-parses of an
  // incomplete record: within a small multiple of the input size.
  uint64_t bytes_parsed() const { return bytes_parsed_; }

 private:
  Status OpenNext();
  Status Fill();

  std::vector<std::string> paths_;
  size_t read_chunk_;
  size_t path_index_ = 0;
  int fd_ = -1;
  bool opened_ = false;
  bool eof_ = true;
  Bytes buf_;
  size_t start_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // one past the last valid byte
  size_t count_ = 0;
  size_t count_in_file_ = 0;
  uint64_t bytes_parsed_ = 0;
};

// Reads exactly one record of any type from `path` (a key file, say).
Result<AnyRecord> ReadOneRecord(const std::string& path);

enum class OutputKind { kBinary, kText };

// Where a tool's data goes. Open("") is stdout; binary output to a terminal
// is refused unless the path is "-" (explicitly forced). A file path is
// written atomically and durably (AtomicOutput): nothing appears unless
// Commit() succeeds; with Replace::kRefuse an existing file is an error
// (ErrorCode::kExists, exit status 2) and is never replaced.
class Output {
 public:
  Status Open(const std::string& path, OutputKind kind, unsigned mode = 0644, Replace replace = Replace::kAllow);
  Status Write(ByteView data) { return out_.Write(data); }
  Status WriteLine(std::string_view line);
  Status Commit() { return out_.Commit(); }

 private:
  AtomicOutput out_;
};


}  // namespace gtos::cli

#endif  // GTOS_CLI_RECORD_IO_H_
