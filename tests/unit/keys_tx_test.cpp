#include <doctest/doctest.h>

#include <tuple>

#include "crypto/sig.h"
#include "types/json.h"
#include "types/records.h"

using namespace gtos;

namespace {

TxBody TransferFrom(const Address& from) {
  TxBody tx;
  tx.chain_id = "gtos-test";
  tx.from = from;
  tx.nonce = 1;
  tx.fee = 2000;
  TransferTx t;
  t.to.v.fill(0x22);
  t.amount = 42;
  tx.payload.body = t;
  return tx;
}

}  // namespace

TEST_CASE("key records: plain and encrypted, for every algorithm") {
  for (const crypto::SigAlgo* a : crypto::AllAlgos()) {
    CAPTURE(a->name);
    Bytes secret = a->generate();
    auto plain = MakePrivateKey(a->id, secret, std::nullopt);
    REQUIRE(plain);
    CHECK(!plain->encrypted());
    // An encrypted key costs two scrypt derivations at N = 2^17 (about a
    // second of CPU each on a slow machine): once, for one algorithm. The
    // tamper cases run on the golden vectors (vectors_test, N = 2^15).
    if (a->id == crypto::AlgoId::kSecp256k1) {
      auto enc = MakePrivateKey(a->id, secret, "correct horse");
      REQUIRE(enc);
      CHECK(enc->encrypted());
      CHECK(enc->encryption->log2_n == 17);  // the default, and the minimum for new keys
      CHECK(enc->encryption->r == 8);
      CHECK(enc->encryption->p == 1);
      CHECK(enc->public_key == plain->public_key);
      CHECK(enc->address() == crypto::DeriveAddress(a->id, plain->public_key));
      // Records survive encoding, and the encrypted one unlocks.
      auto enc_back = DecodeRecord<PrivateKey>(EncodeRecord(*enc));
      REQUIRE(enc_back);
      auto ok = UnlockPrivateKey(*enc_back, "correct horse");
      REQUIRE(ok);
      CHECK(Bytes(ok->view().begin(), ok->view().end()) == secret);
      auto none = UnlockPrivateKey(*enc_back, std::nullopt);
      REQUIRE(!none);
      CHECK(none.error().code == ErrorCode::kUsage);
    }

    // Plain secrets are redacted in JSON unless asked for.
    Json j = ToJson(AnyRecord(*plain));
    CHECK(j["secret"] == "<redacted>");
    CHECK(!FromJson(j));
    Json shown = ToJson(AnyRecord(*plain), JsonOptions{true});
    auto back = FromJson(shown);
    REQUIRE(back);
    CHECK(EncodeAny(*back) == EncodeRecord(*plain));
  }
}

TEST_CASE("new keys are never encrypted below N = 2^17") {
  const crypto::SigAlgo* a = crypto::FindAlgo(crypto::AlgoId::kEd25519);
  Bytes secret = a->generate();
  for (uint8_t log2_n : {10, 15, 16}) {
    CAPTURE(int(log2_n));
    crypto::ScryptParams p;
    p.log2_n = log2_n;
    auto k = MakePrivateKey(a->id, secret, "pw", p);  // refused before deriving: fast
    REQUIRE_FALSE(k);
    CHECK(k.error().code == ErrorCode::kInvalid);
    CHECK(k.error().message == "scrypt parameter 'log2_n': " + std::to_string(log2_n) +
                                   " is below the minimum of 17 for new keys");
  }
}

TEST_CASE("key records with scrypt parameters out of bounds are refused on decode") {
  // An encrypted record as the decoder sees it; Validate() runs before any
  // derivation, so none of these costs anything.
  const crypto::SigAlgo* a = crypto::FindAlgo(crypto::AlgoId::kEd25519);
  Bytes secret = a->generate();
  auto plain = MakePrivateKey(a->id, secret, std::nullopt);
  REQUIRE(plain);
  struct Case {
    uint64_t log2_n, r, p;
    std::string message;
  };
  for (const Case& c : {Case{14, 8, 1, "scrypt parameter 'log2_n': 14 is outside [15, 20]"},
                        Case{10, 8, 1, "scrypt parameter 'log2_n': 10 is outside [15, 20]"},
                        Case{21, 8, 1, "scrypt parameter 'log2_n': 21 is outside [15, 20]"},
                        Case{15, 4, 1, "scrypt parameter 'r': 4 is outside [8, 16]"},
                        Case{15, 17, 1, "scrypt parameter 'r': 17 is outside [8, 16]"},
                        Case{15, 8, 0, "scrypt parameter 'p': 0 is outside [1, 16]"},
                        Case{20, 16, 1, "scrypt parameters: N * r * p = 2^20 * 16 * 1 (about 2^24) exceeds the limit of 2^23"},
                        Case{18, 8, 16, "scrypt parameters: N * r * p = 2^18 * 8 * 16 (about 2^25) exceeds the limit of 2^23"}}) {
    CAPTURE(c.message);
    PrivateKey k = *plain;
    KeyEncryption e;
    e.log2_n = c.log2_n;
    e.r = c.r;
    e.p = c.p;
    e.salt = Bytes(16, 1);
    e.nonce = Bytes(12, 2);
    k.encryption = e;
    k.secret.resize(k.secret.size() + 16);
    auto back = DecodeRecord<PrivateKey>(EncodeRecord(k));
    REQUIRE_FALSE(back);
    CHECK(back.error().message == "field 'encryption': " + c.message);
  }
  // The limits themselves are accepted.
  for (auto [log2_n, r, p] : {std::tuple{15, 8, 1}, std::tuple{20, 8, 1}, std::tuple{17, 16, 4}, std::tuple{15, 16, 16}}) {
    PrivateKey k = *plain;
    KeyEncryption e;
    e.log2_n = log2_n;
    e.r = r;
    e.p = p;
    e.salt = Bytes(16, 1);
    e.nonce = Bytes(12, 2);
    k.encryption = e;
    k.secret.resize(k.secret.size() + 16);
    CHECK(DecodeRecord<PrivateKey>(EncodeRecord(k)));
  }
}

TEST_CASE("sign and verify with signer fallback, for every algorithm") {
  for (const crypto::SigAlgo* a : crypto::AllAlgos()) {
    CAPTURE(a->name);
    Bytes secret = a->generate();
    Bytes pub = *a->derive_public(secret);
    Address addr = crypto::DeriveAddress(a->id, pub);
    TxBody tx = TransferFrom(addr);
    auto stx = SignTx(tx, *a, secret, pub);
    REQUIRE(stx);
    Bytes wire = EncodeRecord(*stx);
    auto back = DecodeRecord<SignedTx>(wire);
    REQUIRE(back);
    CHECK(VerifySignedTx(*back, SignerCheck::kFallback, back->tx.Id()));

    // The same signature over a changed body fails.
    SignedTx tampered = *back;
    tampered.tx.nonce += 1;
    auto st = VerifySignedTx(tampered, SignerCheck::kFallback, tampered.tx.Id());
    REQUIRE(!st);
    CHECK(st.error().message == "signature does not verify");

    // A flipped signature bit fails.
    tampered = *back;
    tampered.signature[10] ^= 0x01;
    CHECK(!VerifySignedTx(tampered, SignerCheck::kFallback, tampered.tx.Id()));

    // A key that does not derive to 'from' fails the fallback check, but
    // its signature is valid when a bound signer is assumed.
    TxBody foreign = TransferFrom(Hash32{});
    auto fstx = SignTx(foreign, *a, secret, pub);
    REQUIRE(fstx);
    auto fb = VerifySignedTx(*fstx, SignerCheck::kFallback, foreign.Id());
    REQUIRE(!fb);
    CHECK(fb.error().message.find("public key does not derive to 'from'") == 0);
    CHECK(VerifySignedTx(*fstx, SignerCheck::kAnyKey, foreign.Id()));
  }
}

TEST_CASE("signed tx with a wrong-size signature is rejected at decode") {
  const crypto::SigAlgo* a = crypto::FindAlgo(crypto::AlgoId::kEd25519);
  Bytes secret = a->generate();
  Bytes pub = *a->derive_public(secret);
  auto stx = SignTx(TransferFrom(crypto::DeriveAddress(a->id, pub)), *a, secret, pub);
  REQUIRE(stx);
  stx->signature.pop_back();
  auto back = DecodeRecord<SignedTx>(EncodeRecord(*stx));
  REQUIRE(!back);
  CHECK(back.error().message == "field 'signature': expected 64 bytes for ed25519, got 63");
}
