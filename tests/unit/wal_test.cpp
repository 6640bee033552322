// The consensus write-ahead log (consensus/wal.h): framing, golden bytes,
// recovery from a torn tail, refusal of damage elsewhere, truncation per
// height; and the replica's replay (consensus/replica.h) behind a real
// private validator.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "consensus/privval.h"
#include "consensus/replica.h"
#include "consensus/wal.h"
#include "crypto/hash.h"
#include "crypto/sig.h"

using namespace gtos;
using namespace gtos::consensus;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    path = (fs::temp_directory_path() / ("gtos-wal-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter++)))
               .string();
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static inline int counter = 0;
};

Bytes ReadAll(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void WriteAll(const std::string& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

Vote MakeVote(uint64_t h, uint64_t r, uint8_t fill) {
  Vote v;
  v.type = static_cast<uint64_t>(VoteType::kPrevote);
  v.height = h;
  v.round = r;
  v.block_hash.v.fill(fill);
  v.validator.v.fill(0x11);
  v.signature.assign(64, 0x22);
  return v;
}

}  // namespace

TEST_CASE("CRC-32C check value") {
  const std::string s = "123456789";
  CHECK(crypto::Crc32c(ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size())) == 0xE3069283u);
}

TEST_CASE("WAL entries: golden frames (docs/formats.md)") {
  // The height marker of height 5 and a timeout entry, byte for byte.
  CHECK(ToHex(EncodeWalPayload(WalEntry::Height(5))) == "93600105");
  CHECK(ToHex(EncodeWalPayload(WalEntry::Timeout(TimeoutKind::kPrevote, 7, 2))) == "9563010207" "02");
  CHECK(ToHex(FrameWalEntry(WalEntry::Height(5))) == "00000004" "91f34d5a" "93600105");
  // Every kind decodes to what was encoded.
  Vote v = MakeVote(7, 1, 0xab);
  for (const WalEntry& e : {WalEntry::Height(9), WalEntry::VoteIn(v), WalEntry::OwnVote(v),
                            WalEntry::Timeout(TimeoutKind::kPrecommit, 9, 3)}) {
    auto d = DecodeWalPayload(EncodeWalPayload(e));
    REQUIRE(d.has_value());
    CHECK(d->kind == e.kind);
    CHECK(d->own == e.own);
    CHECK(d->height == e.height);
    CHECK(EncodeWalPayload(*d) == EncodeWalPayload(e));
  }
  CHECK_FALSE(DecodeWalPayload(Bytes{0x93, 0x60, 0x02, 0x05}).has_value());  // version 2
}

TEST_CASE("WAL: one height per section; reopen recovers it; StartHeight empties the file") {
  TempDir d;
  std::string p = d.path + "/cs.wal";
  {
    auto w = Wal::Open(p);
    REQUIRE(w.has_value());
    CHECK((*w)->recovered_height() == 0);
    REQUIRE((*w)->StartHeight(3));
    REQUIRE((*w)->Append(WalEntry::VoteIn(MakeVote(3, 0, 1))));
    REQUIRE((*w)->Append(WalEntry::Timeout(TimeoutKind::kPropose, 3, 0)));
    REQUIRE((*w)->Sync());
    CHECK((*w)->synced_size() == (*w)->size());
  }
  {
    auto w = Wal::Open(p);
    REQUIRE(w.has_value());
    CHECK((*w)->recovered_height() == 3);
    REQUIRE((*w)->recovered().size() == 2);
    CHECK((*w)->recovered()[0].kind == WalEntry::Kind::kVote);
    CHECK((*w)->recovered()[1].kind == WalEntry::Kind::kTimeout);
    CHECK((*w)->dropped_tail_bytes() == 0);
    REQUIRE((*w)->StartHeight(4));
  }
  auto w = Wal::Open(p);
  REQUIRE(w.has_value());
  CHECK((*w)->recovered_height() == 4);
  CHECK((*w)->recovered().empty());
  CHECK(fs::file_size(p) == FrameWalEntry(WalEntry::Height(4)).size());
}

TEST_CASE("WAL: a torn tail is dropped at every cut point; damage elsewhere names the offset") {
  TempDir d;
  std::string p = d.path + "/cs.wal";
  {
    auto w = Wal::Open(p);
    REQUIRE(w.has_value());
    REQUIRE((*w)->StartHeight(2));
    for (uint8_t i = 0; i < 3; ++i) REQUIRE((*w)->Append(WalEntry::VoteIn(MakeVote(2, i, i))));
    REQUIRE((*w)->Sync());
  }
  const Bytes whole = ReadAll(p);
  const size_t last = whole.size() - FrameWalEntry(WalEntry::VoteIn(MakeVote(2, 2, 2))).size();
  // Cut anywhere inside the last entry: the first two survive.
  for (size_t cut = last + 1; cut < whole.size(); ++cut) {
    WriteAll(p, Bytes(whole.begin(), whole.begin() + static_cast<ptrdiff_t>(cut)));
    auto w = Wal::Open(p);
    REQUIRE(w.has_value());
    CHECK((*w)->recovered().size() == 2);
    CHECK((*w)->dropped_tail_bytes() == cut - last);
    CHECK(fs::file_size(p) == last);  // truncated to the last whole entry
  }
  // The last entry's bytes changed in place (a partly written sector).
  Bytes flipped = whole;
  flipped.back() ^= 0x01;
  WriteAll(p, flipped);
  {
    auto w = Wal::Open(p);
    REQUIRE(w.has_value());
    CHECK((*w)->recovered().size() == 2);
  }
  // Zeros after the last entry (a file extended by the crash).
  Bytes zeros = whole;
  zeros.resize(whole.size() + 100, 0);
  WriteAll(p, zeros);
  {
    auto w = Wal::Open(p);
    REQUIRE(w.has_value());
    CHECK((*w)->recovered().size() == 3);
    CHECK((*w)->dropped_tail_bytes() == 100);
  }
  // A flipped byte in the middle entry: an error naming file and offset,
  // and the file is left as it was.
  Bytes mid = whole;
  const size_t first = FrameWalEntry(WalEntry::Height(2)).size();
  const size_t second = first + FrameWalEntry(WalEntry::VoteIn(MakeVote(2, 0, 0))).size();
  mid[second + 12] ^= 0x40;
  WriteAll(p, mid);
  auto w = Wal::Open(p);
  REQUIRE_FALSE(w.has_value());
  CHECK(w.error().message.find("'" + p + "'") != std::string::npos);
  CHECK(w.error().message.find("byte offset " + std::to_string(second)) != std::string::npos);
  CHECK(ReadAll(p) == mid);
}

TEST_CASE("replica: a restarted validator replays to the same round, step and lock, re-using its signatures") {
  TempDir d;
  const crypto::SigAlgo& ed = *crypto::FindAlgo(crypto::AlgoId::kEd25519);
  std::vector<Bytes> secrets;
  std::vector<Validator> vals;
  for (uint8_t i = 1; i <= 4; ++i) {
    Bytes s(ed.secret_size, i);
    Bytes pub = *ed.derive_public(s);
    vals.push_back(Validator{crypto::DeriveAddress(crypto::AlgoId::kEd25519, pub),
                             static_cast<uint64_t>(crypto::AlgoId::kEd25519), pub, 10, 0});
    secrets.push_back(s);
  }
  std::vector<size_t> order(4);
  for (size_t i = 0; i < 4; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return vals[a].address < vals[b].address; });
  std::vector<Validator> sorted;
  std::vector<Bytes> keys;
  for (size_t i : order) sorted.push_back(vals[i]), keys.push_back(secrets[i]);
  ValidatorSet vs = *ValidatorSet::Make(sorted);
  const std::string chain = "gtos-wal-test";
  const size_t proposer = *vs.IndexOf(vs.Proposer(0).address);
  const size_t me = (proposer + 1) % 4;

  Block block;
  block.header.chain_id = chain;
  block.header.height = 1;
  block.header.time_ms = 1000;
  block.header.proposer = sorted[proposer].address;
  Proposal prop;
  prop.height = 1;
  prop.block = block;
  prop.proposer = sorted[proposer].address;
  prop.signature = *crypto::SignDigest(ed, keys[proposer], sorted[proposer].consensus_key, prop.SigningDigest(chain));
  auto vote = [&](size_t who, VoteType t, const Hash32& h) {
    Vote v;
    v.type = static_cast<uint64_t>(t);
    v.height = 1;
    v.block_hash = h;
    v.validator = sorted[who].address;
    v.signature = *crypto::SignDigest(ed, keys[who], sorted[who].consensus_key, v.SigningDigest(chain));
    return v;
  };

  auto open = [&](std::unique_ptr<PrivValidator>& pv, std::unique_ptr<Signer>& signer) {
    auto p = PrivValidator::Open(d.path + "/privval_state.bin", crypto::SecretBytes(keys[me]), ed,
                                 sorted[me].consensus_key, chain);
    REQUIRE(p.has_value());
    pv = std::move(*p);
    signer = std::make_unique<PrivValSigner<PrivValidator>>(pv.get());
    auto w = Wal::Open(d.path + "/cs.wal");
    REQUIRE(w.has_value());
    auto r = std::make_unique<Replica>(std::move(*w), signer.get());
    TendermintHooks hooks;
    hooks.get_value = [&](uint64_t) { return block; };
    hooks.validate = [](const Block&) { return true; };
    auto started = r->StartHeight(TendermintConfig{chain, 1, vs, sorted[me].address, {}}, std::move(hooks));
    REQUIRE(started.has_value());
    return std::make_pair(std::move(r), *started);
  };

  std::vector<Vote> sent;
  std::vector<Evidence> evidence;
  auto collect = [&](Replica& r) {
    auto outs = r.TakeOutputs();
    REQUIRE(outs.has_value());
    for (Output& o : *outs) {
      if (auto* bv = std::get_if<BroadcastVote>(&o)) sent.push_back(bv->vote);
      if (auto* ef = std::get_if<EvidenceFound>(&o)) evidence.push_back(ef->evidence);
    }
  };
  // A second proposal of round 0 by the same proposer for another block:
  // proposal equivocation, reported, not logged.
  Proposal twin = prop;
  twin.block.header.time_ms += 1;
  twin.signature = *crypto::SignDigest(ed, keys[proposer], sorted[proposer].consensus_key, twin.SigningDigest(chain));
  {
    std::unique_ptr<PrivValidator> pv;
    std::unique_ptr<Signer> signer;
    auto [r, started] = open(pv, signer);
    CHECK(started.replayed == 0);
    REQUIRE(r->OnProposal(prop, 1000));
    REQUIRE(r->OnProposal(twin, 1001));
    collect(*r);
    REQUIRE(evidence.size() == 1);
    CHECK(evidence[0].is_proposal());
    CHECK(ToHex0x(evidence[0].Hash()) == ToHex0x(MakeProposalEvidence(prop.Signed(), twin.Signed()).Hash()));
    CHECK(r->machine()->HoldsProposal(prop));
    CHECK_FALSE(r->machine()->HoldsProposal(twin));
    for (size_t i = 0; i < 4; ++i)
      if (i != me && i != proposer) REQUIRE(r->OnVote(vote(i, VoteType::kPrevote, block.header.Hash())));
    REQUIRE(r->OnVote(vote(proposer, VoteType::kPrevote, block.header.Hash())));
    collect(*r);
    CHECK(r->machine()->locked_round() == 0);
    CHECK(r->machine()->step() == Step::kPrecommit);
  }
  REQUIRE(sent.size() == 2);  // prevote, precommit
  const std::vector<Vote> before = sent;
  sent.clear();
  // Restart: the same state, and the same two signed votes sent again.
  std::unique_ptr<PrivValidator> pv;
  std::unique_ptr<Signer> signer;
  auto [r, started] = open(pv, signer);
  CHECK(started.replayed == 4);  // the twin was not logged
  CHECK(started.own == 2);
  CHECK(started.proposals.size() == 1);
  CHECK(started.votes.size() == 3);
  CHECK(r->machine()->locked_round() == 0);
  CHECK(r->machine()->locked_hash() == block.header.Hash());
  CHECK(r->machine()->step() == Step::kPrecommit);
  collect(*r);
  CHECK(evidence.size() == 1);  // not reported again by the replay
  REQUIRE(sent.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(sent[i].type == before[i].type);
    CHECK(sent[i].block_hash == before[i].block_hash);
    CHECK(sent[i].signature == before[i].signature);
  }
}
