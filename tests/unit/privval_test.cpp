#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "consensus/privval.h"
#include "crypto/sig.h"
#include "util/file.h"

using namespace gtos;
using namespace gtos::consensus;
namespace fs = std::filesystem;

namespace {

constexpr const char* kChain = "gtos-privval-test";

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("gtos-privval-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

struct Key {
  const crypto::SigAlgo* algo;
  Bytes secret;
  Bytes pub;
  explicit Key(crypto::AlgoId id = crypto::AlgoId::kEd25519) : algo(crypto::FindAlgo(id)) {
    REQUIRE(algo != nullptr);
    secret = algo->generate();
    pub = *algo->derive_public(secret);
  }
};

std::unique_ptr<PrivValidator> OpenPv(const Key& k, const std::string& path, PrivValidatorOptions opts = {}) {
  auto pv = PrivValidator::Open(path, crypto::SecretBytes(k.secret), *k.algo, k.pub, kChain, opts);
  REQUIRE_MESSAGE(pv.has_value(), (pv ? std::string() : pv.error().message));
  return std::move(*pv);
}

Hash32 H(uint8_t b) {
  Hash32 h;
  h.v.fill(b);
  return h;
}

Vote MakeVote(VoteType t, uint64_t height, uint64_t round, const Hash32& block) {
  Vote v;
  v.type = static_cast<uint64_t>(t);
  v.height = height;
  v.round = round;
  v.block_hash = block;
  return v;
}

bool Verifies(const Key& k, const Vote& v, const Bytes& sig) {
  return k.algo->verify(k.pub, v.SigningDigest(kChain), sig);
}

bool Contains(const std::string& s, std::string_view what) { return s.find(what) != std::string::npos; }

}  // namespace

TEST_CASE("privval refuses double signs, re-returns identical signatures, survives restarts") {
  TempDir dir;
  const std::string path = (dir.path / "privval_state.bin").string();
  Key key;

  auto pv = OpenPv(key, path);
  CHECK(!pv->last_signed());
  CHECK(!fs::exists(path));

  // Prevote h1r0 for block A.
  Vote prevote_a = MakeVote(VoteType::kPrevote, 1, 0, H(0xaa));
  auto s1 = pv->SignVote(prevote_a);
  REQUIRE(s1);
  CHECK(Verifies(key, prevote_a, *s1));
  CHECK(fs::exists(path));

  // The same vote again: the same signature.
  auto s1b = pv->SignVote(prevote_a);
  REQUIRE(s1b);
  CHECK(*s1b == *s1);

  // A different block at h1r0 prevote: refused.
  Vote prevote_b = MakeVote(VoteType::kPrevote, 1, 0, H(0xbb));
  auto bad = pv->SignVote(prevote_b);
  REQUIRE(!bad);
  CHECK(Contains(bad.error().message, "would double-sign"));
  CHECK(Contains(bad.error().message, "prevote at height 1 round 0"));
  // Nil is a different vote, too.
  CHECK(!pv->SignVote(MakeVote(VoteType::kPrevote, 1, 0, Hash32{})));

  // Precommit h1r0 after the prevote: a higher step.
  Vote precommit_a = MakeVote(VoteType::kPrecommit, 1, 0, H(0xaa));
  auto s2 = pv->SignVote(precommit_a);
  REQUIRE(s2);
  CHECK(Verifies(key, precommit_a, *s2));

  // Prevote h1r0 after precommit h1r0: lower step, refused even for the
  // vote signed before; the error names both positions.
  auto lower = pv->SignVote(prevote_a);
  REQUIRE(!lower);
  CHECK(Contains(lower.error().message, "prevote at height 1 round 0"));
  CHECK(Contains(lower.error().message, "precommit at height 1 round 0"));
  CHECK(Contains(lower.error().message, "lower than"));
  // A proposal at h1r0 is lower than its precommit too.
  CHECK(!pv->SignProposal(1, 0, H(0x11)));

  // Restart: a new PrivValidator on the same file.
  pv.reset();
  pv = OpenPv(key, path);
  REQUIRE(pv->last_signed());
  CHECK(pv->last_signed()->height == 1);
  CHECK(pv->last_signed()->step == static_cast<uint64_t>(SignStep::kPrecommit));
  Vote precommit_b = MakeVote(VoteType::kPrecommit, 1, 0, H(0xbb));
  auto conflict = pv->SignVote(precommit_b);
  REQUIRE(!conflict);
  CHECK(Contains(conflict.error().message, "would double-sign"));
  auto again = pv->SignVote(precommit_a);
  REQUIRE(again);
  CHECK(*again == *s2);
  CHECK(!pv->SignVote(prevote_a));

  // Next round and next height: fine, and proposals order before prevotes.
  CHECK(pv->SignVote(MakeVote(VoteType::kPrevote, 1, 1, Hash32{})));
  auto prop = pv->SignProposal(2, 0, H(0x22));
  REQUIRE(prop);
  CHECK(key.algo->verify(key.pub, H(0x22), *prop));
  CHECK(*pv->SignProposal(2, 0, H(0x22)) == *prop);
  CHECK(!pv->SignProposal(2, 0, H(0x23)));
  Vote prevote_h2 = MakeVote(VoteType::kPrevote, 2, 0, H(0xcc));
  auto s3 = pv->SignVote(prevote_h2);
  REQUIRE(s3);
  CHECK(Verifies(key, prevote_h2, *s3));
  CHECK(!pv->SignVote(precommit_a));  // lower height
  CHECK(pv->SignVote(MakeVote(VoteType::kPrecommit, 3, 0, H(1))));
}

TEST_CASE("privval state file: corrupt, foreign or unreadable is an error, never a reset") {
  TempDir dir;
  const std::string path = (dir.path / "privval_state.bin").string();
  Key key;
  {
    auto pv = OpenPv(key, path);
    REQUIRE(pv->SignVote(MakeVote(VoteType::kPrevote, 5, 0, H(1))));
  }
  auto good = ReadFile(path);
  REQUIRE(good);
  auto decoded = DecodePrivValState(*good);
  REQUIRE(decoded);
  CHECK(decoded->height == 5);
  CHECK(EncodePrivValState(*decoded) == *good);

  auto open = [&](const Key& k, std::string chain = kChain) {
    return PrivValidator::Open(path, crypto::SecretBytes(k.secret), *k.algo, k.pub, chain);
  };

  SUBCASE("truncated") {
    Bytes cut(good->begin(), good->end() - 3);
    REQUIRE(WriteFileAtomic(path, cut));
    auto pv = open(key);
    REQUIRE(!pv);
    CHECK(Contains(pv.error().message, "corrupt"));
  }
  SUBCASE("garbage") {
    REQUIRE(WriteFileAtomic(path, AsBytes("not a state file")));
    CHECK(!open(key));
  }
  SUBCASE("empty") {
    REQUIRE(WriteFileAtomic(path, Bytes{}));
    CHECK(!open(key));
  }
  SUBCASE("trailing bytes") {
    Bytes more = *good;
    more.push_back(0);
    REQUIRE(WriteFileAtomic(path, more));
    CHECK(!open(key));
  }
  SUBCASE("bad step") {
    PrivValState s = *decoded;
    s.step = 7;
    REQUIRE(WriteFileAtomic(path, EncodePrivValState(s)));
    CHECK(!open(key));
  }
  SUBCASE("another key's file") {
    Key other;
    auto pv = open(other);
    REQUIRE(!pv);
    CHECK(Contains(pv.error().message, "belongs to key"));
  }
  SUBCASE("another chain's file") {
    CHECK(!open(key, "other-chain"));
  }
  SUBCASE("unreadable path (parent is a file)") {
    const std::string blocker = (dir.path / "file").string();
    REQUIRE(WriteFileAtomic(blocker, AsBytes("x")));
    auto pv = PrivValidator::Open(blocker + "/privval_state.bin", crypto::SecretBytes(key.secret), *key.algo,
                                  key.pub, kChain);
    CHECK(!pv);
  }
  // In every case the file was left as it was: nothing reset it.
  CHECK(fs::exists(path));
}

TEST_CASE("privval rejects a secret that does not match the public key") {
  TempDir dir;
  Key a, b;
  auto pv = PrivValidator::Open((dir.path / "s.bin").string(), crypto::SecretBytes(a.secret), *a.algo, b.pub,
                                kChain);
  CHECK(!pv);
}

TEST_CASE("privval persists before releasing: no durable state, no signature") {
  TempDir dir;
  const fs::path sub = dir.path / "sub";
  fs::create_directories(sub);
  const std::string path = (sub / "privval_state.bin").string();
  Key key;
  auto pv = OpenPv(key, path);
  Vote v1 = MakeVote(VoteType::kPrevote, 1, 0, H(0xaa));
  auto s1 = pv->SignVote(v1);
  REQUIRE(s1);

  // Replace the state file's directory by a plain file: writing the state
  // now fails (even as root), so signing must fail and release nothing.
  fs::rename(sub, dir.path / "sub.moved");
  REQUIRE(WriteFileAtomic(sub.string(), AsBytes("not a directory")));
  Vote v2 = MakeVote(VoteType::kPrecommit, 1, 0, H(0xaa));
  auto s2 = pv->SignVote(v2);
  REQUIRE(!s2);
  CHECK(s2.error().code == ErrorCode::kIO);
  CHECK(Contains(s2.error().message, "unable to persist"));
  // The in-memory state did not advance: the last signed is still v1, and
  // its stored signature is still returned.
  REQUIRE(pv->last_signed());
  CHECK(pv->last_signed()->step == static_cast<uint64_t>(SignStep::kPrevote));
  CHECK(*pv->SignVote(v1) == *s1);

  // A validator that has never signed fails the same way.
  Key fresh;
  auto pv2 = OpenPv(fresh, (dir.path / "nowhere" / "privval_state.bin").string());
  CHECK(!pv2->SignVote(v1));
  CHECK(!pv2->last_signed());

  // Put the directory back: signing works again and is durable.
  fs::remove(sub);
  fs::rename(dir.path / "sub.moved", sub);
  auto s2b = pv->SignVote(v2);
  REQUIRE(s2b);
  CHECK(Verifies(key, v2, *s2b));
  auto reopened = OpenPv(key, path);
  CHECK(reopened->last_signed()->signature == *s2b);
}

TEST_CASE("privval test-only switch allows conflicting signatures") {
  TempDir dir;
  const std::string path = (dir.path / "privval_state.bin").string();
  Key key(crypto::AlgoId::kSecp256k1);
  auto pv = OpenPv(key, path, PrivValidatorOptions{.allow_double_sign_for_tests = true});
  Vote a = MakeVote(VoteType::kPrevote, 3, 1, H(0xaa));
  Vote b = MakeVote(VoteType::kPrevote, 3, 1, H(0xbb));
  auto sa = pv->SignVote(a);
  auto sb = pv->SignVote(b);
  REQUIRE(sa);
  REQUIRE(sb);
  CHECK(*sa != *sb);
  CHECK(Verifies(key, a, *sa));
  CHECK(Verifies(key, b, *sb));
  // Lower positions are signed too; the file keeps the highest, first one.
  CHECK(pv->SignVote(MakeVote(VoteType::kPrevote, 2, 0, H(1))));
  auto reopened = OpenPv(key, path);
  REQUIRE(reopened->last_signed());
  CHECK(reopened->last_signed()->digest == a.SigningDigest(kChain));
  // Without the switch the same file refuses the conflicting vote.
  CHECK(!reopened->SignVote(b));
}

TEST_CASE("privval state: version 1 files are read; version 2 keeps the last signed vote") {
  PrivValState v1;
  v1.version = 1;
  v1.chain_id = "c";
  v1.algo = static_cast<uint64_t>(crypto::AlgoId::kEd25519);
  v1.public_key.assign(32, 7);
  v1.height = 3;
  v1.step = static_cast<uint64_t>(SignStep::kPrevote);
  v1.signature.assign(64, 1);
  Bytes old = EncodePrivValState(v1);
  auto d = DecodePrivValState(old);
  REQUIRE(d.has_value());
  CHECK(d->version == PrivValState::kVersion);
  CHECK_FALSE(d->vote.has_value());
  CHECK(d->height == 3);
  PrivValState v2 = *d;
  v2.vote = Vote{};
  v2.vote->type = static_cast<uint64_t>(VoteType::kPrevote);
  v2.vote->height = 3;
  v2.vote->signature.assign(64, 1);
  auto back = DecodePrivValState(EncodePrivValState(v2));
  REQUIRE(back.has_value());
  REQUIRE(back->vote.has_value());
  CHECK(back->vote->height == 3);
  CHECK(EncodePrivValState(*back) == EncodePrivValState(v2));
}
