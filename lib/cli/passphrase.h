// Passphrases never come from argv. In order of precedence they come from
// --passphrase-file FILE, from the file named by $GTOS_PASSPHRASE_FILE, or
// from a prompt on the controlling terminal (no echo).
#ifndef GTOS_CLI_PASSPHRASE_H_
#define GTOS_CLI_PASSPHRASE_H_

#include <string>

#include "types/keys.h"
#include "util/status.h"

namespace gtos::cli {

enum class PassphrasePurpose {
  kUnlock,  // one prompt
  kNew,     // prompt twice and compare
};

// `file` is the value of --passphrase-file ("" when not given). The
// passphrase is wiped when the returned SecretString goes.
Result<SecretString> GetPassphrase(const std::string& file, PassphrasePurpose purpose);

// Reads a private key record from `path` and unlocks it, asking for the
// passphrase only when the key is encrypted. The passphrase and the file's
// bytes are wiped before it returns, and so is `record.secret` (a plain
// key's secret lives on only in `secret`).
struct UnlockedKey {
  PrivateKey record;
  crypto::SecretBytes secret;
  const crypto::SigAlgo* algo = nullptr;
};
Result<UnlockedKey> LoadAndUnlockKey(const std::string& path, const std::string& passphrase_file);

// Reads a private or public key record from `path` and returns its public
// part; never asks for a passphrase.
Result<PublicKey> LoadPublicKey(const std::string& path);

}  // namespace gtos::cli

#endif  // GTOS_CLI_PASSPHRASE_H_
