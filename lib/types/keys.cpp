#include "types/keys.h"

#include "codec/codec.h"

namespace gtos {

std::string_view AlgoName(uint64_t id) {
  const crypto::SigAlgo* a = crypto::FindAlgo(id);
  return a ? a->name : std::string_view();
}

Status CheckPublicKey(std::string_view field, uint64_t algo, const Bytes& pub) {
  const crypto::SigAlgo* a = crypto::FindAlgo(algo);
  if (!a) return Invalid("field '" + std::string(field) + "': unknown algorithm " + std::to_string(algo));
  if (pub.size() != a->public_size)
    return Invalid("field '" + std::string(field) + "': expected " + std::to_string(a->public_size) +
                   " bytes for " + std::string(a->name) + ", got " + std::to_string(pub.size()));
  auto st = a->check_public(pub);
  if (!st) return Invalid("field '" + std::string(field) + "': " + st.error().message);
  return Ok();
}


// Authenticated data of an encrypted key: binds the ciphertext to the
// algorithm and public key stored beside it.
static Bytes KeyAad(uint64_t algo, const Bytes& pub) {
  codec::Writer w;
  w.Str("GTOS-KEY-V1");
  w.Uint(algo);
  w.Bin(pub);
  return w.Take();
}

Status PrivateKey::Validate() const {
  GTOS_TRY(CheckPublicKey("public_key", algo, public_key));
  const crypto::SigAlgo* a = crypto::FindAlgo(algo);
  size_t want = a->secret_size + (encryption ? 16 : 0);
  if (secret.size() != want)
    return Invalid("field 'secret': expected " + std::to_string(want) + " bytes, got " +
                   std::to_string(secret.size()));
  if (encryption) {
    const KeyEncryption& e = *encryption;
    crypto::ScryptParams p{static_cast<uint8_t>(e.log2_n), static_cast<uint32_t>(e.r),
                           static_cast<uint32_t>(e.p)};
    if (e.log2_n > 255) return Invalid("field 'encryption.log2_n': out of range");
    auto st = crypto::CheckScryptParams(p);
    if (!st) {
      Error err{ErrorCode::kInvalid, "field 'encryption': " + st.error().message, ""};
      if (e.log2_n < crypto::kMinLog2N || e.r < crypto::kMinR)
        err.hint = "keys encrypted with a scrypt cost below N = 2^15, r = 8 are refused as too weak; "
                   "re-encrypt it with an earlier gtos-keys (export --unsafe-hex, then import), "
                   "see docs/formats.md section 6.1";
      return std::unexpected(err);
    }
    if (e.salt.size() != 16) return Invalid("field 'encryption.salt': expected 16 bytes");
    if (e.nonce.size() != 12) return Invalid("field 'encryption.nonce': expected 12 bytes");
  }
  return Ok();
}

Address PrivateKey::address() const {
  return crypto::DeriveAddress(static_cast<crypto::AlgoId>(algo), public_key);
}

Status PublicKey::Validate() const { return CheckPublicKey("public_key", algo, public_key); }

Address PublicKey::address() const {
  return crypto::DeriveAddress(static_cast<crypto::AlgoId>(algo), public_key);
}

PublicKey PublicOf(const PrivateKey& key) { return PublicKey{key.algo, key.public_key}; }

Result<PrivateKey> MakePrivateKey(crypto::AlgoId algo, ByteView secret,
                                  std::optional<std::string_view> passphrase,
                                  const crypto::ScryptParams& params) {
  const crypto::SigAlgo* a = crypto::FindAlgo(algo);
  if (!a) return Invalid("unknown algorithm");
  if (secret.size() != a->secret_size)
    return Invalid("secret key: expected " + std::to_string(a->secret_size) + " bytes for " +
                   std::string(a->name) + ", got " + std::to_string(secret.size()));
  auto pub = a->derive_public(secret);
  if (!pub) return Invalid("secret key: " + pub.error().message);
  PrivateKey key;
  key.algo = static_cast<uint64_t>(algo);
  key.public_key = std::move(*pub);
  if (!passphrase) {
    key.secret.assign(secret.begin(), secret.end());
    return key;
  }
  auto sealed = crypto::Seal(*passphrase, secret, KeyAad(key.algo, key.public_key), params);
  if (!sealed) return std::unexpected(sealed.error());
  KeyEncryption e;
  e.log2_n = sealed->params.log2_n;
  e.r = sealed->params.r;
  e.p = sealed->params.p;
  e.salt = std::move(sealed->salt);
  e.nonce = std::move(sealed->nonce);
  key.encryption = std::move(e);
  key.secret = std::move(sealed->ciphertext);
  return key;
}

Result<crypto::SecretBytes> UnlockPrivateKey(const PrivateKey& key,
                                             std::optional<std::string_view> passphrase) {
  GTOS_TRY(key.Validate());
  const crypto::SigAlgo* a = crypto::FindAlgo(key.algo);
  crypto::SecretBytes secret;
  if (!key.encryption) {
    secret = crypto::SecretBytes(key.secret);
  } else {
    if (!passphrase)
      return Fail(ErrorCode::kUsage, "key is encrypted and no passphrase was given",
                  "pass --passphrase-file FILE or set GTOS_PASSPHRASE_FILE");
    const KeyEncryption& e = *key.encryption;
    crypto::Sealed sealed{{static_cast<uint8_t>(e.log2_n), static_cast<uint32_t>(e.r),
                           static_cast<uint32_t>(e.p)},
                          e.salt, e.nonce, key.secret};
    auto plain = crypto::Open(*passphrase, sealed, KeyAad(key.algo, key.public_key));
    if (!plain) return std::unexpected(plain.error());
    secret = std::move(*plain);
  }
  auto pub = a->derive_public(secret.view());
  if (!pub || *pub != key.public_key)
    return Invalid("private key does not match its recorded public key");
  return secret;
}

}  // namespace gtos
