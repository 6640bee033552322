#include "cli/passphrase.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "cli/record_io.h"
#include "cli/tool.h"

namespace gtos::cli {

namespace {

constexpr size_t kMaxPrompted = 4096;

// Prompts on /dev/tty with echo off; nullopt when there is no terminal. The
// line is read into one buffer reserved up front (growing would leave
// copies); a longer line is an error.
std::optional<Result<SecretString>> PromptTty(const std::string& prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  termios old{};
  bool have_term = ::tcgetattr(fd, &old) == 0;
  if (have_term) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  (void)!::write(fd, prompt.data(), prompt.size());
  std::string line;
  line.reserve(kMaxPrompted + 1);
  bool too_long = false;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') {
    if (line.size() < kMaxPrompted) line.push_back(c);
    else too_long = true;
  }
  SecureWipe(&c, 1);
  if (have_term) ::tcsetattr(fd, TCSAFLUSH, &old);
  (void)!::write(fd, "\n", 1);
  ::close(fd);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  SecretString secret(std::move(line));
  if (too_long) return Result<SecretString>(Invalid("passphrase longer than " + std::to_string(kMaxPrompted) + " bytes"));
  return Result<SecretString>(std::move(secret));
}

}  // namespace

Result<SecretString> GetPassphrase(const std::string& file, PassphrasePurpose purpose) {
  if (!file.empty()) return ReadSecretFile(file, "passphrase");
  if (const char* env = std::getenv("GTOS_PASSPHRASE_FILE"); env && *env)
    return ReadSecretFile(env, "passphrase");
  bool is_new = purpose == PassphrasePurpose::kNew;
  auto first = PromptTty(is_new ? "New passphrase: " : "Passphrase: ");
  if (!first)
    return UsageError("no passphrase: no --passphrase-file, no GTOS_PASSPHRASE_FILE and no terminal",
                      is_new ? "pass --passphrase-file FILE, or --unencrypted for an unencrypted key"
                             : "pass --passphrase-file FILE or set GTOS_PASSPHRASE_FILE");
  if (!*first) return std::unexpected(first->error());
  if ((*first)->empty()) return Invalid("empty passphrase");
  if (purpose == PassphrasePurpose::kNew) {
    auto again = PromptTty("Repeat passphrase: ");
    if (!again || !*again || !(**again == **first)) return Invalid("passphrases do not match");
  }
  return std::move(**first);
}

Result<UnlockedKey> LoadAndUnlockKey(const std::string& path, const std::string& passphrase_file) {
  auto rec = ReadOneRecord(path);
  if (!rec) return std::unexpected(rec.error());
  auto* key = std::get_if<PrivateKey>(&*rec);
  if (!key)
    return Invalid("'" + path + "' holds a " + std::string(TypeNameOf(*rec)) +
                   " record, not a private_key");
  std::optional<SecretString> passphrase;
  if (key->encrypted()) {
    auto p = GetPassphrase(passphrase_file, PassphrasePurpose::kUnlock);
    if (!p) return std::unexpected(p.error());
    passphrase = std::move(*p);
  }
  auto secret = UnlockPrivateKey(*key, passphrase ? std::optional<std::string_view>(passphrase->view()) : std::nullopt);
  SecureWipe(key->secret);  // a plain key's secret: from here on only in `secret`
  if (!secret) return std::unexpected(Wrap(secret.error(), "'" + path + "'"));
  const crypto::SigAlgo* algo = crypto::FindAlgo(key->algo);
  return UnlockedKey{std::move(*key), std::move(*secret), algo};
}

Result<PublicKey> LoadPublicKey(const std::string& path) {
  auto rec = ReadOneRecord(path);
  if (!rec) return std::unexpected(rec.error());
  if (auto* priv = std::get_if<PrivateKey>(&*rec)) return PublicOf(*priv);
  if (auto* pub = std::get_if<PublicKey>(&*rec)) return *pub;
  return Invalid("'" + path + "' holds a " + std::string(TypeNameOf(*rec)) +
                 " record, not a private_key or public_key");
}

}  // namespace gtos::cli
