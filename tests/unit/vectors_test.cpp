// Golden vectors (tests/vectors/*.json, docs/formats.md): every record in
// them must decode, re-encode to the same bytes, convert to and from its JSON
// form, and carry the keys, addresses, ids and signatures stated beside it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "crypto/hash.h"
#include "crypto/sig.h"
#include "types/json.h"
#include "types/params.h"
#include "types/records.h"

using namespace gtos;

namespace {

Json LoadVectors(const std::string& name) {
  std::string path = std::string(GTOS_SOURCE_DIR) + "/tests/vectors/" + name;
  std::ifstream in(path);
  INFO("vector file: ", path);
  REQUIRE(in.good());
  Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  REQUIRE(!j.is_discarded());
  REQUIRE(j.contains("vectors"));
  REQUIRE(j["vectors"].is_array());
  return j;
}

Bytes Hex(const Json& j) {
  REQUIRE(j.is_string());
  auto b = FromHex(j.get<std::string>(), "vector");
  REQUIRE(b);
  return *b;
}

std::string Str(const Json& j) {
  REQUIRE(j.is_string());
  return j.get<std::string>();
}

const crypto::SigAlgo& AlgoOf(const Json& v) {
  const crypto::SigAlgo* a = crypto::FindAlgo(Str(v["algo"]));
  REQUIRE(a != nullptr);
  return *a;
}

// secret -> public key -> address, as stated in the vector.
void CheckKeyChain(const Json& v) {
  const crypto::SigAlgo& a = AlgoOf(v);
  Bytes secret = Hex(v["secret_key"]);
  Bytes pub = Hex(v["public_key"]);
  CHECK(secret.size() == a.secret_size);
  CHECK(pub.size() == a.public_size);
  auto derived = a.derive_public(secret);
  REQUIRE(derived);
  CHECK(ToHex(*derived) == ToHex(pub));
  CHECK(a.check_public(pub));
  CHECK(ToHex0x(crypto::DeriveAddress(a.id, pub)) == Str(v["address"]));
  // The address is SHA-256 of the algorithm id byte followed by the key.
  Bytes pre{static_cast<uint8_t>(a.id)};
  pre.insert(pre.end(), pub.begin(), pub.end());
  CHECK(ToHex0x(crypto::Sha256(pre)) == Str(v["address"]));
}

// Decodes `bytes` as R, checks it re-encodes identically, and returns it.
template <class R>
R DecodeExact(const Bytes& bytes) {
  auto r = DecodeRecord<R>(bytes);
  if (!r) FAIL_CHECK("decode failed: ", r.error().message);
  REQUIRE(r);
  CHECK(ToHex(EncodeRecord(*r)) == ToHex(bytes));
  // DecodeAny reaches the same record through the type tag.
  auto any = DecodeAny(bytes);
  REQUIRE(any);
  CHECK(std::holds_alternative<R>(*any));
  CHECK(ToHex(EncodeAny(*any)) == ToHex(bytes));
  return *r;
}

// The JSON form printed by gtos-inspect converts back to the same bytes, and
// the record prints as exactly that JSON.
void CheckJson(const AnyRecord& rec, const Json& expected, const Bytes& bytes, bool show_secrets = false) {
  CHECK(ToJson(rec, JsonOptions{show_secrets}).dump() == expected.dump());
  auto back = FromJson(expected);
  if (!back) FAIL_CHECK("FromJson failed: ", back.error().message);
  REQUIRE(back);
  CHECK(ToHex(EncodeAny(*back)) == ToHex(bytes));
  // And once more through JSON text, as gtos-inspect --encode reads it.
  auto text = FromJsonText(expected.dump());
  REQUIRE(text);
  CHECK(ToHex(EncodeAny(*text)) == ToHex(bytes));
}

// n - s for a 32-byte big-endian s < n.
Bytes NegateMod(const Bytes& s, std::string_view order_hex) {
  Bytes n = *FromHex(order_hex, "order");
  Bytes out(32);
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = int{n[i]} - int{s[i]} - borrow;
    borrow = d < 0;
    out[i] = static_cast<uint8_t>(d + (borrow << 8));
  }
  return out;
}

constexpr std::string_view kOrderK1 = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
constexpr std::string_view kOrderR1 = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

}  // namespace

TEST_CASE("key vectors: plain, public and encrypted key records") {
  Json file = LoadVectors("key_vectors.json");
  std::set<std::string> algos;
  for (const Json& v : file["vectors"]) {
    const crypto::SigAlgo& a = AlgoOf(v);
    CAPTURE(a.name);
    algos.insert(std::string(a.name));
    CheckKeyChain(v);
    Bytes secret = Hex(v["secret_key"]);
    Bytes pub = Hex(v["public_key"]);

    // Plain private key: decodes to the stated fields and re-encodes.
    Bytes plain_bytes = Hex(v["private_key_record"]);
    PrivateKey plain = DecodeExact<PrivateKey>(plain_bytes);
    CHECK(plain.algo == static_cast<uint64_t>(a.id));
    CHECK(!plain.encrypted());
    CHECK(plain.public_key == pub);
    CHECK(plain.secret == secret);
    CHECK(ToHex0x(plain.address()) == Str(v["address"]));
    // The library's own constructor writes the same bytes.
    auto made = MakePrivateKey(a.id, secret, std::nullopt);
    REQUIRE(made);
    CHECK(ToHex(EncodeRecord(*made)) == ToHex(plain_bytes));
    CheckJson(AnyRecord(plain), v["private_key_json"], plain_bytes, /*show_secrets=*/true);
    // Without --unsafe-show-secrets the secret is redacted, and then the JSON
    // cannot be encoded back.
    Json redacted = ToJson(AnyRecord(plain));
    CHECK(redacted["secret"] == "<redacted>");
    CHECK(!FromJson(redacted));

    // Public key record.
    Bytes pub_bytes = Hex(v["public_key_record"]);
    PublicKey pk = DecodeExact<PublicKey>(pub_bytes);
    CHECK(pk.algo == static_cast<uint64_t>(a.id));
    CHECK(pk.public_key == pub);
    CHECK(ToHex(EncodeRecord(PublicOf(plain))) == ToHex(pub_bytes));
    CHECK(ToHex0x(pk.address()) == Str(v["address"]));
    CheckJson(AnyRecord(pk), v["public_key_json"], pub_bytes);

    // Encrypted private key (scrypt log2_n = 15: the floor, what keys used
    // before 2^17; such keys stay readable).
    Bytes enc_bytes = Hex(v["encrypted_private_key_record"]);
    PrivateKey enc = DecodeExact<PrivateKey>(enc_bytes);
    REQUIRE(enc.encrypted());
    CHECK(enc.encryption->scheme == KeyEncryption::kScryptChaCha20Poly1305);
    CHECK(enc.encryption->log2_n == 15);
    CHECK(enc.encryption->r == 8);
    CHECK(enc.encryption->p == 1);
    CHECK(enc.encryption->salt.size() == 16);
    CHECK(enc.encryption->nonce.size() == 12);
    CHECK(enc.secret.size() == a.secret_size + 16);
    CHECK(enc.public_key == pub);
    CheckJson(AnyRecord(enc), v["encrypted_private_key_json"], enc_bytes);

    // The same key under scrypt log2_n = 10 (below the floor): refused on
    // decode, naming the parameter, with a hint.
    auto weak = DecodeRecord<PrivateKey>(Hex(v["weak_encrypted_private_key_record"]));
    REQUIRE_FALSE(weak);
    CHECK(weak.error().code == ErrorCode::kInvalid);
    CHECK(weak.error().message ==
          "field 'encryption': scrypt parameter 'log2_n': 10 is outside [15, 20]");
    CHECK(weak.error().hint.find("too weak") != std::string::npos);

    std::string pass = Str(v["passphrase"]);
    auto unlocked = UnlockPrivateKey(enc, pass);
    if (!unlocked) FAIL_CHECK("unlock failed: ", unlocked.error().message);
    REQUIRE(unlocked);
    CHECK(ToHex(unlocked->view()) == ToHex(secret));
    // Each unlock costs a scrypt derivation (N = 2^15); the tamper checks
    // below are the same for every algorithm, so run them once.
    if (a.id != crypto::AlgoId::kEd25519) continue;
    auto wrong = UnlockPrivateKey(enc, pass + "!");
    REQUIRE(!wrong);
    CHECK(wrong.error().code == ErrorCode::kCrypto);
    auto none = UnlockPrivateKey(enc, std::nullopt);
    REQUIRE(!none);
    CHECK(none.error().code == ErrorCode::kUsage);
    // The tag covers the ciphertext, and the associated data binds the
    // algorithm and public key: altering either fails to unlock.
    PrivateKey flipped = enc;
    flipped.secret[0] ^= 0x01;
    auto f = UnlockPrivateKey(flipped, pass);
    REQUIRE(!f);
    CHECK(f.error().code == ErrorCode::kCrypto);
    PrivateKey swapped = enc;
    auto other = MakePrivateKey(a.id, a.generate(), std::nullopt);
    REQUIRE(other);
    swapped.public_key = other->public_key;
    REQUIRE(swapped.public_key != enc.public_key);
    auto s = UnlockPrivateKey(swapped, pass);
    REQUIRE(!s);
    CHECK(s.error().code == ErrorCode::kCrypto);
  }
  CHECK(algos == std::set<std::string>{"ed25519", "secp256k1", "secp256r1"});
}

TEST_CASE("tx vectors: every kind under every algorithm") {
  Json file = LoadVectors("tx_vectors.json");
  const ChainParams defaults;
  std::set<std::string> seen;
  for (const Json& v : file["vectors"]) {
    const crypto::SigAlgo& a = AlgoOf(v);
    std::string name = Str(v["name"]);
    CAPTURE(name);
    seen.insert(std::string(a.name) + "/" + Str(v["kind"]));
    CheckKeyChain(v);
    Bytes secret = Hex(v["secret_key"]);
    Bytes pub = Hex(v["public_key"]);

    // Unsigned record: exact round trip, kind, sender, id, fee.
    Bytes unsigned_bytes = Hex(v["unsigned_tx"]);
    UnsignedTx utx = DecodeExact<UnsignedTx>(unsigned_bytes);
    CHECK(TxKindName(static_cast<uint64_t>(utx.tx.payload.kind())) == Str(v["kind"]));
    CHECK(ToHex0x(utx.tx.from) == Str(v["address"]));
    Bytes body = utx.tx.Encode();
    // [3, 1, body]: the record is the fixarray header, the tag, the version
    // and the body array the id hashes.
    Bytes framed{0x93, 0x03, 0x01};
    framed.insert(framed.end(), body.begin(), body.end());
    CHECK(ToHex(framed) == ToHex(unsigned_bytes));
    Hash32 id = utx.tx.Id();
    CHECK(ToHex0x(id) == Str(v["id"]));
    CHECK(ToHex0x(crypto::Sha256Tagged("GTOS-TX-V1", body)) == Str(v["id"]));
    auto min_fee = MinFee(utx.tx, defaults);
    REQUIRE(min_fee);
    CHECK(*min_fee == v["min_fee"].get<uint64_t>());
    CHECK(utx.tx.fee == *min_fee);
    auto params_ok = CheckTxParams(utx.tx, defaults);
    if (!params_ok) FAIL_CHECK("CheckTxParams: ", params_ok.error().message);
    CheckJson(AnyRecord(utx), v["unsigned_tx_json"], unsigned_bytes);

    // Signed record: exact round trip, same body and id, verifies.
    Bytes signed_bytes = Hex(v["signed_tx"]);
    SignedTx stx = DecodeExact<SignedTx>(signed_bytes);
    CHECK(ToHex(stx.tx.Encode()) == ToHex(body));
    CHECK(stx.tx.Id() == id);
    CHECK(stx.algo == static_cast<uint64_t>(a.id));
    CHECK(stx.public_key == pub);
    CHECK(ToHex(stx.signature) == ToHex(Hex(v["signature"])));
    CHECK(stx.signature.size() == a.signature_size);
    auto verified = VerifySignedTx(stx, SignerCheck::kFallback, id);
    if (!verified) FAIL_CHECK("verify failed: ", verified.error().message);
    CHECK(a.verify(pub, id, stx.signature));
    CheckJson(AnyRecord(stx), v["signed_tx_json"], signed_bytes);

    // Re-signing: deterministic algorithms reproduce the bytes exactly; the
    // randomized one produces another signature that verifies too.
    auto resigned = SignTx(utx.tx, a, secret, pub);
    REQUIRE(resigned);
    CHECK(VerifySignedTx(*resigned, SignerCheck::kFallback, id));
    if (v["deterministic"].get<bool>()) {
      CHECK(a.id != crypto::AlgoId::kSecp256r1);
      CHECK(ToHex(EncodeRecord(*resigned)) == ToHex(signed_bytes));
    } else {
      SignedTx pinned = *resigned;
      pinned.signature = stx.signature;
      CHECK(ToHex(EncodeRecord(pinned)) == ToHex(signed_bytes));
    }

    // Negative checks, so that the positive ones mean something.
    SignedTx bad = stx;
    bad.signature[5] ^= 0x40;
    CHECK(!VerifySignedTx(bad, SignerCheck::kFallback, id));
    Hash32 other_id = id;
    other_id.v[0] ^= 0x01;
    CHECK(!VerifySignedTx(stx, SignerCheck::kFallback, other_id));
    SignedTx other_from = stx;
    other_from.tx.from.v[31] ^= 0x01;
    CHECK(!VerifySignedTx(other_from, SignerCheck::kFallback, other_from.tx.Id()));
    if (a.id != crypto::AlgoId::kEd25519) {
      // ECDSA: the signature is low-S; its high-S twin (r, n - s) is refused.
      Bytes s(stx.signature.begin() + 32, stx.signature.end());
      Bytes high = NegateMod(s, a.id == crypto::AlgoId::kSecp256k1 ? kOrderK1 : kOrderR1);
      SignedTx twin = stx;
      std::copy(high.begin(), high.end(), twin.signature.begin() + 32);
      CHECK(ToHex(s) < ToHex(high));
      CHECK(!a.verify(pub, id, twin.signature));
    }
    // Any change to the body changes the id and breaks the signature.
    SignedTx other_nonce = stx;
    other_nonce.tx.nonce += 1;
    CHECK(other_nonce.tx.Id() != id);
    CHECK(!VerifySignedTx(other_nonce, SignerCheck::kFallback, other_nonce.tx.Id()));
  }
  std::set<std::string> want;
  for (const crypto::SigAlgo* a : crypto::AllAlgos())
    for (uint64_t k = 1; !TxKindName(k).empty(); ++k)
      want.insert(std::string(a->name) + "/" + std::string(TxKindName(k)));
  CHECK(want.size() == 39);  // 13 kinds x 3 algorithms
  CHECK(seen == want);
}

TEST_CASE("vectors: a non-canonical copy of a vector is rejected naming the field") {
  Json file = LoadVectors("tx_vectors.json");
  Bytes u = Hex(file["vectors"][0]["unsigned_tx"]);
  // The nonce of the first vector is 0 (positive fixint 0x00, right after the
  // 32-byte 'from'); rewrite it as uint 8 (cc 00).
  UnsignedTx utx = DecodeExact<UnsignedTx>(u);
  REQUIRE(utx.tx.nonce == 0);
  size_t at = 3 + 1 + 1 + utx.tx.chain_id.size() + 2 + 32;
  REQUIRE(u[at] == 0x00);
  Bytes bad = u;
  bad[at] = 0xcc;
  bad.insert(bad.begin() + static_cast<std::ptrdiff_t>(at) + 1, 0x00);
  auto r = DecodeRecord<UnsignedTx>(bad);
  REQUIRE(!r);
  CHECK(r.error().message.find("field 'tx.nonce': non-canonical encoding") != std::string::npos);
}

// ---- evidence vectors ---------------------------------------------------------

namespace {

// The two evidence vectors, built from the ed25519 vector key (RFC 8032
// test 1) on chain "gtos-vectors": vote evidence (two precommits of height
// 7, round 1) and proposal evidence (two proposals of height 7, round 2:
// block hashes SHA-256("block-a") and SHA-256("block-b"), valid_round -1
// and 1). ed25519 is deterministic, so rebuilding them reproduces the
// file's bytes exactly.
constexpr std::string_view kEvidenceChain = "gtos-vectors";

Evidence BuildEvidence(const std::string& kind, const Bytes& secret, const Bytes& pub) {
  const crypto::SigAlgo& a = *crypto::FindAlgo("ed25519");
  const Address who = crypto::DeriveAddress(a.id, pub);
  auto sign = [&](Statement s) {
    auto sig = crypto::SignDigest(a, secret, pub, s.SigningDigest(kEvidenceChain));
    REQUIRE(sig);
    s.signature = *sig;
    return s;
  };
  Statement x, y;
  x.height = y.height = 7;
  x.validator = y.validator = who;
  x.block_hash = crypto::Sha256(AsBytes("block-a"));
  y.block_hash = crypto::Sha256(AsBytes("block-b"));
  if (kind == "vote") {
    x.type = y.type = static_cast<uint64_t>(StatementType::kPrecommit);
    x.round = y.round = 1;
    return Evidence{sign(x), sign(y)};
  }
  x.type = y.type = static_cast<uint64_t>(StatementType::kProposal);
  x.round = y.round = 2;
  x.valid_round_plus_1 = 0;
  y.valid_round_plus_1 = 2;
  return MakeProposalEvidence(sign(y), sign(x));
}

Bytes EncodeEvidence(const Evidence& e) {
  codec::Writer w;
  codec::EncodeObject(w, e);
  return w.Take();
}

// A block record carrying the evidence: its JSON form is the block's.
Block EvidenceBlock(const Evidence& e) {
  Block b;
  b.header.chain_id = std::string(kEvidenceChain);
  b.header.height = 8;
  b.evidence = {e};
  b.header.evidence_root = MerkleRoot({e.Hash()});
  return b;
}

Json EvidenceVector(const std::string& kind, const Json& key) {
  Bytes secret = Hex(key["secret_key"]);
  Bytes pub = Hex(key["public_key"]);
  Evidence e = BuildEvidence(kind, secret, pub);
  Json j = ToJson(AnyRecord(EvidenceBlock(e)));
  return Json{{"kind", kind},
              {"chain_id", std::string(kEvidenceChain)},
              {"algo", "ed25519"},
              {"public_key", ToHex(pub)},
              {"validator", Str(key["address"])},
              {"evidence", ToHex(EncodeEvidence(e))},
              {"hash", ToHex0x(e.Hash())},
              {"digest_a", ToHex0x(e.a.SigningDigest(kEvidenceChain))},
              {"digest_b", ToHex0x(e.b.SigningDigest(kEvidenceChain))},
              {"json", j["evidence"][0]}};
}

}  // namespace

// Regenerate (after an intended change, then review the diff):
//   GTOS_WRITE_VECTORS=1 build/tests/vectors_test -tc='evidence vectors*'
TEST_CASE("evidence vectors: vote and proposal evidence bytes, hashes, digests and JSON") {
  Json keys = LoadVectors("key_vectors.json");
  Json key;
  for (const Json& k : keys["vectors"])
    if (Str(k["algo"]) == "ed25519") key = k;
  REQUIRE(key.is_object());
  const char* w = std::getenv("GTOS_WRITE_VECTORS");
  if (w && std::string_view(w) == "1") {
    Json out{{"format", "GTOS evidence golden vectors; docs/formats.md sections 13, 14.4 and 15"},
             {"notes",
              {"evidence is the bare msgpack array [a, b] as it sits in a block's evidence list (hex, no 0x)",
               "hash is Evidence::Hash(): SHA-256 of the domain GTOS-EVIDENCE-V1 (votes) or "
               "GTOS-PROPOSAL-EVIDENCE-V1 (proposals) followed by those bytes",
               "digest_a and digest_b are what the statements' signatures cover (GTOS-VOTE-V1, GTOS-PROPOSAL-V1)",
               "signed with the ed25519 key of key_vectors.json; regenerate with GTOS_WRITE_VECTORS=1 "
               "build/tests/vectors_test -tc='evidence vectors*' and review the diff"}},
             {"vectors", {EvidenceVector("vote", key), EvidenceVector("proposal", key)}}};
    std::ofstream f(std::string(GTOS_SOURCE_DIR) + "/tests/vectors/evidence_vectors.json");
    f << out.dump(2) << "\n";
    REQUIRE(f.good());
  }
  Json file = LoadVectors("evidence_vectors.json");
  CHECK(file["vectors"].size() == 2);  // one per kind
  std::set<std::string> kinds;
  for (const Json& v : file["vectors"]) {
    std::string kind = Str(v["kind"]);
    CAPTURE(kind);
    kinds.insert(kind);
    // Pinned: the file as this build would write it.
    CHECK(EvidenceVector(kind, key).dump() == v.dump());
    Bytes bytes = Hex(v["evidence"]);
    size_t off = 0;
    auto p = codec::ParseOne(bytes, &off);
    REQUIRE(p);
    REQUIRE(*p);
    CHECK(off == bytes.size());
    codec::Reader r((**p).handle.get(), (**p).raw, "");
    Evidence e;
    codec::DecodeVisitor dv(r);
    e.Fields(dv);
    auto fin = r.Finish();
    if (!fin) FAIL_CHECK("decode failed: ", fin.error().message);
    CHECK(ToHex(EncodeEvidence(e)) == ToHex(bytes));
    CHECK(e.is_proposal() == (kind == "proposal"));
    CHECK(ToHex0x(e.Hash()) == Str(v["hash"]));
    const char* domain = kind == "proposal" ? "GTOS-PROPOSAL-EVIDENCE-V1" : "GTOS-EVIDENCE-V1";
    CHECK(ToHex0x(crypto::Sha256Tagged(domain, bytes)) == Str(v["hash"]));
    CHECK(ToHex0x(e.a.SigningDigest(Str(v["chain_id"]))) == Str(v["digest_a"]));
    CHECK(ToHex0x(e.b.SigningDigest(Str(v["chain_id"]))) == Str(v["digest_b"]));
    Bytes pub = Hex(v["public_key"]);
    const crypto::SigAlgo& a = AlgoOf(v);
    CHECK(ToHex0x(e.a.validator) == Str(v["validator"]));
    CHECK(a.verify(pub, e.a.SigningDigest(Str(v["chain_id"])), e.a.signature));
    CHECK(a.verify(pub, e.b.SigningDigest(Str(v["chain_id"])), e.b.signature));
    // A vote statement has exactly the six fields of a vote (so vote
    // evidence kept its bytes when the proposal kind was added); a proposal
    // statement has the seventh.
    CHECK(bytes[0] == 0x92);
    CHECK(bytes[1] == (kind == "proposal" ? 0x97 : 0x96));
    // JSON: through a block record, both ways.
    Block b = EvidenceBlock(e);
    Json j = ToJson(AnyRecord(b));
    CHECK(j["evidence"][0].dump() == v["json"].dump());
    auto back = FromJson(j);
    if (!back) FAIL_CHECK("FromJson failed: ", back.error().message);
    REQUIRE(back);
    REQUIRE(std::holds_alternative<Block>(*back));
    CHECK(ToHex(EncodeRecord(std::get<Block>(*back))) == ToHex(EncodeRecord(b)));
    // Altered: another signature byte fails; a swapped proposal pair hashes
    // differently (the executor refuses it: not canonical).
    Evidence bad = e;
    bad.b.signature[3] ^= 0x01;
    CHECK(!a.verify(pub, bad.b.SigningDigest(Str(v["chain_id"])), bad.b.signature));
    CHECK(Evidence{e.b, e.a}.Hash() != e.Hash());
  }
  CHECK(kinds == std::set<std::string>{"vote", "proposal"});
}
