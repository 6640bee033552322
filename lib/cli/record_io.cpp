#include "cli/record_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "cli/tool.h"

namespace gtos::cli {

namespace {
std::string DisplayName(const std::string& path) {
  return (path.empty() || path == "-") ? "stdin" : "'" + path + "'";
}
}  // namespace

RecordReader::RecordReader(std::vector<std::string> paths, size_t read_chunk)
    : paths_(std::move(paths)), read_chunk_(read_chunk > 0 ? read_chunk : kDefaultReadChunk) {
  if (paths_.empty()) paths_.push_back("-");
}

// Key files pass through this buffer: wipe what was read.
RecordReader::~RecordReader() {
  if (fd_ > 0) ::close(fd_);
  SecureWipe(buf_);
}

Status RecordReader::OpenNext() {
  if (fd_ > 0) ::close(fd_);
  fd_ = -1;
  const std::string& path = paths_[path_index_];
  if (path == "-") {
    fd_ = 0;
  } else {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      return Fail(ErrorCode::kIO, "unable to open '" + path + "': " + std::strerror(errno));
  }
  eof_ = false;
  count_in_file_ = 0;
  start_ = end_ = 0;
  return Ok();
}

// Moves unconsumed bytes to the front and reads more after them.
Status RecordReader::Fill() {
  if (start_ > 0) {
    std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  if (buf_.size() - end_ < read_chunk_) buf_.resize(end_ + read_chunk_);
  for (;;) {
    ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Fail(ErrorCode::kIO, "unable to read " + DisplayName(paths_[path_index_]) + ": " +
                                      std::strerror(errno));
    if (n == 0) eof_ = true;
    end_ += static_cast<size_t>(n);
    return Ok();
  }
}

Result<std::optional<codec::Parsed>> RecordReader::Next() {
  if (!opened_) {
    opened_ = true;
    GTOS_TRY(OpenNext());
  }
  for (;;) {
    if (start_ == end_) {
      if (!eof_) {
        GTOS_TRY(Fill());
        continue;
      }
      if (path_index_ + 1 >= paths_.size()) return std::optional<codec::Parsed>();
      ++path_index_;
      GTOS_TRY(OpenNext());
      continue;
    }
    size_t off = start_;
    auto p = codec::ParseOne({buf_.data(), end_}, &off);
    bytes_parsed_ += (p && *p) ? off - start_ : end_ - start_;
    if (!p) {
      ++count_;
      ++count_in_file_;
      return std::unexpected(Wrap(p.error(), Where()));
    }
    if (*p) {
      start_ = off;
      ++count_;
      ++count_in_file_;
      return p;
    }
    if (eof_) {
      ++count_;
      ++count_in_file_;
      return Invalid(Where() + ": truncated record (input ends " + std::to_string(end_ - start_) +
                     " bytes into it)");
    }
    // An incomplete record is parsed again from its start, so read on until
    // the buffered part has at least doubled (or the input ends): a record
    // of n bytes is then parsed O(log n) times over at most 2n bytes in all,
    // which keeps reading linear in the input. ParseOne refuses a record
    // past kMaxRecordBytes, which bounds the buffer.
    const size_t want = std::min(2 * (end_ - start_), codec::kMaxRecordBytes + 1);
    while (!eof_ && end_ - start_ < want) GTOS_TRY(Fill());
  }
}

std::string RecordReader::Where() const {
  return "record " + std::to_string(count_in_file_) + " of " + DisplayName(paths_[path_index_]);
}

Result<AnyRecord> ReadOneRecord(const std::string& path) {
  // One record, usually a key or a gentx of a few hundred bytes: reads of
  // 64 KiB rather than the stream default of 1 MiB (whose buffer, zeroed,
  // cost more than the rest of reading a key file).
  RecordReader reader({path}, 64 << 10);
  auto p = reader.Next();
  if (!p) return std::unexpected(p.error());
  if (!*p) return Invalid(DisplayName(path) + " holds no record");
  auto rec = DecodeAnyFrom(**p);
  if (!rec) return std::unexpected(Wrap(rec.error(), reader.Where()));
  auto more = reader.Next();
  if (!more || *more) return Invalid(DisplayName(path) + ": expected one record, found more");
  return rec;
}

Status Output::Open(const std::string& path, OutputKind kind, unsigned mode, Replace replace) {
  if (path.empty() && kind == OutputKind::kBinary && ::isatty(1))
    return UsageError("refusing to write binary records to a terminal",
                      "redirect standard output, use -o FILE, or -o - to force");
  return out_.Open(path, mode, replace);
}

Status Output::WriteLine(std::string_view line) {
  GTOS_TRY(out_.Write(line));
  return out_.Write(std::string_view("\n"));
}

}  // namespace gtos::cli
