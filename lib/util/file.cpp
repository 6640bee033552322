#include "util/file.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

namespace gtos {

namespace {

std::atomic<uint64_t> g_dir_syncs{0};

std::unexpected<Error> IOError(const std::string& what, const std::string& path) {
  return Fail(ErrorCode::kIO, what + " '" + path + "': " + std::strerror(errno));
}

// The directory holding `path`: "." for a bare name, "/" for "/x".
std::string ParentOf(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return p.substr(0, slash);
}

// rename() that fails with EEXIST instead of replacing `to`.
int RenameNoReplace(const char* from, const char* to) {
  if (::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  // The file system has no RENAME_NOREPLACE: link() never replaces either.
  if (::link(from, to) != 0) return -1;
  ::unlink(from);
  return 0;
}

}  // namespace

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

Result<SecretString> ReadSecretFile(const std::string& path, std::string_view what) {
  const std::string name = path.empty() ? "-" : path;
  int fd = (path == "-" || path.empty()) ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IOError("unable to open", name);
  // One allocation, read into in place: growing a buffer would leave copies.
  std::string s(kMaxSecretFileBytes + 1, '\0');
  size_t got = 0;
  int err = 0;
  while (got < s.size()) {
    ssize_t n = ::read(fd, s.data() + got, s.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (fd != 0) ::close(fd);
  if (err != 0 || got > kMaxSecretFileBytes) {
    SecureWipe(s);
    if (err != 0) return Fail(ErrorCode::kIO, "unable to read '" + name + "': " + std::strerror(err));
    return Invalid(std::string(what) + " file '" + name + "' is larger than " +
                   std::to_string(kMaxSecretFileBytes) + " bytes");
  }
  s.resize(got);
  if (s.ends_with("\r\n")) s.resize(s.size() - 2);
  else if (s.ends_with("\n")) s.resize(s.size() - 1);
  SecretString secret(std::move(s));
  if (secret.empty()) return Invalid(std::string(what) + " file '" + name + "' is empty");
  return secret;
}

Error ExistsError(const std::string& path) {
  return Error{ErrorCode::kExists, "refusing to overwrite existing file '" + path + "'", ""};
}

AtomicOutput::~AtomicOutput() {
  if (file_ && !to_stdout_) {
    std::fclose(file_);
    if (!committed_) ::unlink(tmp_path_.c_str());
  }
}

Status AtomicOutput::Open(const std::string& path, unsigned mode, Replace replace) {
  if (path.empty() || path == "-") {
    to_stdout_ = true;
    file_ = stdout;
    return Ok();
  }
  path_ = path;
  replace_ = replace;
  struct stat st;
  if (replace == Replace::kRefuse && ::lstat(path.c_str(), &st) == 0) return std::unexpected(ExistsError(path));
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
  if ((mode & 077) == 0) std::setvbuf(file_, nullptr, _IONBF, 0);
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
  int rc = replace_ == Replace::kRefuse ? RenameNoReplace(tmp_path_.c_str(), path_.c_str())
                                        : ::rename(tmp_path_.c_str(), path_.c_str());
  if (rc != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    if (err == EEXIST) return std::unexpected(ExistsError(path_));
    errno = err;
    return IOError("unable to rename into", path_);
  }
  committed_ = true;
  return SyncParentDirectory(path_);
}

Status WriteFileAtomic(const std::string& path, ByteView data, unsigned mode, Replace replace) {
  AtomicOutput out;
  GTOS_TRY(out.Open(path, mode, replace));
  GTOS_TRY(out.Write(data));
  return out.Commit();
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IOError("unable to open", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  errno = err;
  if (rc != 0) return IOError("unable to sync", dir);
  g_dir_syncs.fetch_add(1, std::memory_order_relaxed);
  return Ok();
}

Status SyncParentDirectory(const std::string& path) { return SyncDirectory(ParentOf(path)); }

uint64_t DirectorySyncCount() { return g_dir_syncs.load(std::memory_order_relaxed); }

Status RenameDurable(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return IOError("unable to rename '" + from + "' to", to);
  GTOS_TRY(SyncParentDirectory(to));
  if (ParentOf(from) != ParentOf(to)) GTOS_TRY(SyncParentDirectory(from));
  return Ok();
}

Status MakeDirs(const std::string& path, unsigned mode) {
  if (path.empty()) return Fail(ErrorCode::kUsage, "empty directory path");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Ok();
    return Fail(ErrorCode::kIO, "unable to create directory '" + path + "': it exists and is not a directory");
  }
  if (errno != ENOENT) return IOError("unable to create directory", path);
  std::string parent = ParentOf(path);
  if (parent != path) GTOS_TRY(MakeDirs(parent, mode));
  if (::mkdir(path.c_str(), mode) != 0) {
    if (errno == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Ok();  // a race
    return IOError("unable to create directory", path);
  }
  if (::chmod(path.c_str(), mode) != 0) return IOError("unable to set the mode of", path);
  return SyncDirectory(parent);
}

}  // namespace gtos
