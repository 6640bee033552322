#include "crypto/session.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <limits>

namespace gtos::crypto {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

Status CryptoFail(const std::string& what) { return Fail(ErrorCode::kCrypto, what); }

Result<X25519Key> FromPkey(EVP_PKEY* pkey) {
  X25519Key k;
  size_t sl = k.secret.size(), pl = k.pub.size();
  if (EVP_PKEY_get_raw_private_key(pkey, k.secret.data(), &sl) != 1 || sl != k.secret.size() ||
      EVP_PKEY_get_raw_public_key(pkey, k.pub.data(), &pl) != 1 || pl != k.pub.size())
    return std::unexpected(Error{ErrorCode::kCrypto, "x25519: reading the key failed"});
  return k;
}

}  // namespace

void Wipe(void* p, size_t n) {
  if (p != nullptr && n != 0) OPENSSL_cleanse(p, n);
}

X25519Key::X25519Key(X25519Key&& o) noexcept : secret(o.secret), pub(o.pub) { Wipe(o.secret.data(), o.secret.size()); }
X25519Key& X25519Key::operator=(X25519Key&& o) noexcept {
  if (this != &o) {
    secret = o.secret;
    pub = o.pub;
    Wipe(o.secret.data(), o.secret.size());
  }
  return *this;
}
X25519Key::~X25519Key() { Wipe(secret.data(), secret.size()); }

Result<X25519Key> X25519Generate() {
  PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1)
    return std::unexpected(Error{ErrorCode::kCrypto, "x25519: key generation failed"});
  Pkey pkey(raw);
  return FromPkey(pkey.get());
}

Result<X25519Key> X25519FromSecret(ByteView secret) {
  if (secret.size() != kX25519Bytes)
    return std::unexpected(Error{ErrorCode::kCrypto, "x25519: secret of " + std::to_string(secret.size()) + " bytes, expected 32"});
  Pkey pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size()));
  if (!pkey) return std::unexpected(Error{ErrorCode::kCrypto, "x25519: invalid secret"});
  return FromPkey(pkey.get());
}

Status X25519Shared(const X25519Key& mine, ByteView their_pub, std::span<uint8_t, kX25519Bytes> out) {
  if (their_pub.size() != kX25519Bytes)
    return CryptoFail("x25519: public key of " + std::to_string(their_pub.size()) + " bytes, expected 32");
  Pkey me(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, mine.secret.data(), mine.secret.size()));
  Pkey peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, their_pub.data(), their_pub.size()));
  if (!me || !peer) return CryptoFail("x25519: invalid key");
  PkeyCtx ctx(EVP_PKEY_CTX_new(me.get(), nullptr));
  size_t len = out.size();
  bool ok = ctx && EVP_PKEY_derive_init(ctx.get()) == 1 && EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) == 1 &&
            EVP_PKEY_derive(ctx.get(), out.data(), &len) == 1 && len == out.size();
  // OpenSSL refuses an all-zero result already; check again so the
  // property does not depend on the library version.
  uint8_t any = 0;
  for (uint8_t b : out) any |= b;
  if (!ok || any == 0) {
    Wipe(out.data(), out.size());
    return CryptoFail("x25519: key agreement failed (public key of small order?)");
  }
  return Ok();
}

Status HkdfSha256(ByteView ikm, ByteView salt, ByteView info, std::span<uint8_t> out) {
  PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  size_t len = out.size();
  static const uint8_t kZero = 0;
  auto p = [](ByteView v) { return v.empty() ? &kZero : v.data(); };
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), p(salt), static_cast<int>(salt.size())) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), p(ikm), static_cast<int>(ikm.size())) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), p(info), static_cast<int>(info.size())) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != out.size())
    return CryptoFail("hkdf-sha256 failed");
  return Ok();
}

struct AeadStream::Ctx {
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  ~Ctx() { EVP_CIPHER_CTX_free(c); }
};

AeadStream::AeadStream(std::unique_ptr<Ctx> ctx, bool encrypt) : ctx_(std::move(ctx)), encrypt_(encrypt) {}
AeadStream::AeadStream(AeadStream&&) noexcept = default;
AeadStream& AeadStream::operator=(AeadStream&&) noexcept = default;
AeadStream::~AeadStream() = default;

Result<AeadStream> AeadStream::Create(ByteView key, bool encrypt) {
  if (key.size() != kAeadKeyBytes)
    return std::unexpected(Error{ErrorCode::kCrypto, "chacha20-poly1305: key of " + std::to_string(key.size()) + " bytes"});
  auto ctx = std::make_unique<Ctx>();
  // The key is copied into OpenSSL's context, which wipes it when freed.
  if (ctx->c == nullptr ||
      EVP_CipherInit_ex(ctx->c, EVP_chacha20_poly1305(), nullptr, key.data(), nullptr, encrypt ? 1 : 0) != 1)
    return std::unexpected(Error{ErrorCode::kCrypto, "chacha20-poly1305: init failed"});
  return AeadStream(std::move(ctx), encrypt);
}

namespace {
// Nonce: 4 zero bytes, then the counter as u64 little-endian.
void NonceFor(uint64_t n, uint8_t iv[12]) {
  std::fill(iv, iv + 4, uint8_t{0});
  for (int i = 0; i < 8; ++i) iv[4 + i] = static_cast<uint8_t>(n >> (8 * i));
}
constexpr size_t kMaxAeadMessage = static_cast<size_t>(std::numeric_limits<int>::max()) - 64;
}  // namespace

Status AeadStream::Seal(ByteView aad, ByteView plaintext, uint8_t* out) {
  if (!encrypt_ || !ctx_) return CryptoFail("chacha20-poly1305: not a sealing stream");
  if (counter_ == std::numeric_limits<uint64_t>::max()) return CryptoFail("chacha20-poly1305: nonce space exhausted");
  if (plaintext.size() > kMaxAeadMessage) return CryptoFail("chacha20-poly1305: message too large");
  uint8_t iv[12];
  NonceFor(counter_, iv);
  EVP_CIPHER_CTX* c = ctx_->c;
  int len = 0;
  if (EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, iv, 1) != 1 ||
      (!aad.empty() && EVP_CipherUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      (!plaintext.empty() && EVP_CipherUpdate(c, out, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1) ||
      EVP_CipherFinal_ex(c, out + plaintext.size(), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAeadTagBytes), out + plaintext.size()) != 1)
    return CryptoFail("chacha20-poly1305: sealing failed");
  ++counter_;
  return Ok();
}

Status AeadStream::Open(ByteView aad, ByteView in, uint8_t* out) {
  if (encrypt_ || !ctx_) return CryptoFail("chacha20-poly1305: not an opening stream");
  if (in.size() < kAeadTagBytes) return CryptoFail("chacha20-poly1305: message shorter than its tag");
  if (in.size() > kMaxAeadMessage) return CryptoFail("chacha20-poly1305: message too large");
  if (counter_ == std::numeric_limits<uint64_t>::max()) return CryptoFail("chacha20-poly1305: nonce space exhausted");
  size_t n = in.size() - kAeadTagBytes;
  uint8_t tag[kAeadTagBytes];
  std::copy(in.data() + n, in.data() + in.size(), tag);
  uint8_t iv[12];
  NonceFor(counter_, iv);
  EVP_CIPHER_CTX* c = ctx_->c;
  int len = 0;
  uint8_t final_block[16];
  bool ok = EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, iv, 0) == 1 &&
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kAeadTagBytes), tag) == 1 &&
            (aad.empty() || EVP_CipherUpdate(c, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1) &&
            (n == 0 || EVP_CipherUpdate(c, out, &len, in.data(), static_cast<int>(n)) == 1) &&
            EVP_CipherFinal_ex(c, final_block, &len) == 1;
  if (!ok) {
    Wipe(out, n);
    return CryptoFail("chacha20-poly1305: authentication failed");
  }
  ++counter_;
  return Ok();
}

}  // namespace gtos::crypto
