#include <doctest/doctest.h>

#include "crypto/sig.h"
#include "types/json.h"
#include "types/records.h"

using namespace gtos;

namespace {

crypto::ScryptParams FastKdf() {
  crypto::ScryptParams p;
  p.log2_n = 10;
  return p;
}

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
    auto enc = MakePrivateKey(a->id, secret, std::string("correct horse"), FastKdf());
    REQUIRE(enc);
    CHECK(enc->encrypted());
    CHECK(enc->public_key == plain->public_key);
    CHECK(enc->address() == crypto::DeriveAddress(a->id, plain->public_key));

    // Records survive encoding, and the encrypted one unlocks only with the passphrase.
    auto enc_back = DecodeRecord<PrivateKey>(EncodeRecord(*enc));
    REQUIRE(enc_back);
    auto ok = UnlockPrivateKey(*enc_back, std::string("correct horse"));
    REQUIRE(ok);
    CHECK(Bytes(ok->view().begin(), ok->view().end()) == secret);
    auto wrong = UnlockPrivateKey(*enc_back, std::string("wrong"));
    REQUIRE(!wrong);
    CHECK(wrong.error().code == ErrorCode::kCrypto);
    auto none = UnlockPrivateKey(*enc_back, std::nullopt);
    REQUIRE(!none);
    CHECK(none.error().code == ErrorCode::kUsage);

    // A swapped public key is caught by the AEAD's associated data.
    PrivateKey swapped = *enc_back;
    auto other = MakePrivateKey(a->id, a->generate(), std::nullopt);
    swapped.public_key = other->public_key;
    CHECK(!UnlockPrivateKey(swapped, std::string("correct horse")));

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
