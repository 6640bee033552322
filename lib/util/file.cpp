#include "util/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

namespace gtos {

static std::unexpected<Error> IOError(const std::string& what, const std::string& path) {
  return Fail(ErrorCode::kIO, what + " '" + path + "': " + std::strerror(errno));
}

Result<Bytes> ReadFile(const std::string& path) {
  int fd = (path == "-" || path.empty()) ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IOError("unable to open", path);
  Bytes out;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto err = IOError("unable to read", path.empty() ? "-" : path);
      if (fd != 0) ::close(fd);
      return err;
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  if (fd != 0) ::close(fd);
  return out;
}

Result<std::string> ReadSecretFile(const std::string& path, std::string_view what) {
  auto data = ReadFile(path);
  if (!data) return std::unexpected(data.error());
  std::string s(data->begin(), data->end());
  std::fill(data->begin(), data->end(), 0);
  if (s.ends_with("\r\n")) s.resize(s.size() - 2);
  else if (s.ends_with("\n")) s.resize(s.size() - 1);
  if (s.empty()) return Invalid(std::string(what) + " file '" + path + "' is empty");
  return s;
}

AtomicOutput::~AtomicOutput() {
  if (file_ && !to_stdout_) {
    std::fclose(file_);
    if (!committed_) ::unlink(tmp_path_.c_str());
  }
}

Status AtomicOutput::Open(const std::string& path, unsigned mode) {
  if (path.empty() || path == "-") {
    to_stdout_ = true;
    file_ = stdout;
    return Ok();
  }
  path_ = path;
  tmp_path_ = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return IOError("unable to create", path);
  ::fchmod(fd, mode);  // umask must not widen or narrow what was asked for
  file_ = ::fdopen(fd, "wb");
  if (!file_) {
    ::close(fd);
    ::unlink(tmp_path_.c_str());
    return IOError("unable to open", path);
  }
  return Ok();
}

Status AtomicOutput::Write(ByteView data) {
  if (data.empty()) return Ok();
  if (std::fwrite(data.data(), 1, data.size(), file_) != data.size())
    return IOError("unable to write", to_stdout_ ? "-" : path_);
  return Ok();
}

Status AtomicOutput::Commit() {
  if (to_stdout_) {
    if (std::fflush(stdout) != 0) return IOError("unable to write", "-");
    committed_ = true;
    return Ok();
  }
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) return IOError("unable to write", path_);
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    ::unlink(tmp_path_.c_str());
    return IOError("unable to write", path_);
  }
  file_ = nullptr;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    auto err = IOError("unable to rename into", path_);
    ::unlink(tmp_path_.c_str());
    return err;
  }
  committed_ = true;
  return Ok();
}

Status WriteFileAtomic(const std::string& path, ByteView data, unsigned mode) {
  AtomicOutput out;
  GTOS_TRY(out.Open(path, mode));
  GTOS_TRY(out.Write(data));
  return out.Commit();
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IOError("unable to open", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return IOError("unable to sync", dir);
  return Ok();
}

}  // namespace gtos
