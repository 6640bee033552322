// lib/net: message records (round trips and rejections) and Hosts talking
// over loopback in one process, plus a raw asio client for the handshakes
// and frames a well-behaved Host never sends.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include <asio.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "crypto/hash.h"
#include "crypto/sig.h"
#include "net/net.h"
#include "net/secret.h"

using namespace gtos;
using namespace gtos::net;
using namespace std::chrono_literals;

namespace {

constexpr const char* kChain = "gtos-net-test";

Hash32 H(uint8_t b) {
  Hash32 h;
  h.v.fill(b);
  return h;
}

const crypto::SigAlgo& Ed() { return *crypto::FindAlgo(crypto::AlgoId::kEd25519); }

struct NodeKey {
  Bytes secret, pub;
  NodeKey() : secret(Ed().generate()), pub(*Ed().derive_public(secret)) {}
};

// Polls `cond` until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 15s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

class Recorder : public Handler {
 public:
  void OnConnected(const PeerInfo& peer) override {
    std::lock_guard lock(mu_);
    connected_.push_back(peer);
  }
  void OnDisconnected(PeerId peer) override {
    std::lock_guard lock(mu_);
    disconnected_.push_back(peer);
  }
  void OnMessage(PeerId peer, Message msg) override {
    std::lock_guard lock(mu_);
    messages_.emplace_back(peer, std::move(msg));
  }
  size_t connected() const {
    std::lock_guard lock(mu_);
    return connected_.size();
  }
  size_t disconnected() const {
    std::lock_guard lock(mu_);
    return disconnected_.size();
  }
  std::vector<std::pair<PeerId, Message>> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }
  size_t count(std::string_view name) const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [p, m] : messages_) n += MessageName(m) == name;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<PeerInfo> connected_;
  std::vector<PeerId> disconnected_;
  std::vector<std::pair<PeerId, Message>> messages_;
};

NetOptions Options(const NodeKey& key, std::vector<std::string> seeds = {}) {
  NetOptions o;
  o.listen = "127.0.0.1:0";
  o.seeds = std::move(seeds);
  o.chain_id = kChain;
  o.genesis_hash = H(0x11);
  o.node_secret = key.secret;
  o.node_public = key.pub;
  o.max_frame_bytes = 1 << 20;
  o.ping_interval_ms = 1000;
  o.handshake_timeout_ms = 5000;
  o.reconnect_min_ms = 50;
  o.reconnect_max_ms = 500;
  o.allow_private_addrs = true;  // every test host is on 127.0.0.1
  // NET_TEST_LOG=1 prints every Host's connection log, for debugging.
  if (std::getenv("NET_TEST_LOG")) o.log = [](const std::string& s) { fprintf(stderr, "%s\n", s.c_str()); };
  return o;
}

std::string Addr(const Host& h) { return "127.0.0.1:" + std::to_string(h.port()); }

struct Node {
  NodeKey key;
  Recorder rec;
  std::unique_ptr<Host> host;
  explicit Node(std::vector<std::string> seeds = {}, std::function<void(NetOptions&)> tweak = {}) {
    NetOptions o = Options(key, std::move(seeds));
    if (tweak) tweak(o);
    auto h = Host::Start(std::move(o), &rec);
    REQUIRE_MESSAGE(h.has_value(), (h ? std::string() : h.error().message));
    host = std::move(*h);
  }
  bool ConnectedTo(const Node& other) const {
    for (const PeerInfo& p : host->Peers())
      if (p.node_key == other.key.pub) return true;
    return false;
  }
  std::optional<PeerId> PeerOf(const Node& other) const {
    for (const PeerInfo& p : host->Peers())
      if (p.node_key == other.key.pub) return p.id;
    return std::nullopt;
  }
};

Bytes Frame(ByteView record) {
  uint32_t n = static_cast<uint32_t>(record.size());
  Bytes f(4 + record.size());
  f[0] = static_cast<uint8_t>(n >> 24);
  f[1] = static_cast<uint8_t>(n >> 16);
  f[2] = static_cast<uint8_t>(n >> 8);
  f[3] = static_cast<uint8_t>(n);
  std::copy(record.begin(), record.end(), f.begin() + 4);
  return f;
}

// A hand-driven peer that speaks the session protocol (net/secret.h) step
// by step: every operation runs its own io_context for at most a few
// seconds, so a test never hangs on a Host that misbehaves.
class RawClient {
 public:
  // Connects and, unless `intro` is false, exchanges intros so that Send
  // and Read are sealed.
  explicit RawClient(int port, bool intro = true) : socket_(io_) {
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
    std::error_code ec;
    socket_.connect(ep, ec);
    REQUIRE_MESSAGE(!ec, ec.message());
    if (intro) REQUIRE(Intro());
  }
  bool Intro() {
    auto eph = crypto::X25519Generate();
    REQUIRE(eph.has_value());
    Write(MakeIntro(*eph));
    Bytes theirs(kIntroBytes);
    if (!ReadExactly(asio::buffer(theirs), 10s)) return false;
    auto pub = ParseIntro(theirs);
    REQUIRE(pub.has_value());
    auto keys = DeriveSession(*eph, ByteView(pub->data(), pub->size()));
    REQUIRE(keys.has_value());
    challenge_ = keys->challenge;
    auto ch = SecretChannel::Create(*keys);
    REQUIRE(ch.has_value());
    channel_.emplace(std::move(*ch));
    return true;
  }
  void Write(const Bytes& b) {
    std::error_code ec;
    asio::write(socket_, asio::buffer(b), ec);
  }
  // A sealed frame carrying any bytes.
  void SendRecord(ByteView record) { Write(*channel_->Seal(record)); }
  void Send(const Message& m) { SendRecord(EncodeMessage(m)); }
  // The next frame, or nullopt when the connection closed (or nothing came
  // within the timeout).
  std::optional<Message> Read(std::chrono::milliseconds timeout = 10s) {
    uint8_t header[4];
    if (!ReadExactly(asio::buffer(header), timeout)) return std::nullopt;
    uint32_t n = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) | (uint32_t{header[2]} << 8) | header[3];
    Bytes body(n);
    if (!ReadExactly(asio::buffer(body), timeout)) return std::nullopt;
    REQUIRE(channel_->Open(header, body).has_value());
    auto m = DecodeMessage(ByteView(body.data(), body.size() - kSealOverhead));
    REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.error().message));
    return *m;
  }
  // Reads (and discards) until the Host closes the connection.
  bool Closed(std::chrono::milliseconds timeout = 10s) {
    if (closed_) return true;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    uint8_t byte[1];
    while (std::chrono::steady_clock::now() < deadline)
      if (!ReadExactly(asio::buffer(byte), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                deadline - std::chrono::steady_clock::now())))
        return !timed_out_;
    return false;
  }
  // Hello both ways with `key`; returns the Host's Hello (its signature
  // checked). With a `chain` or `genesis` override the handshake is meant
  // to fail.
  std::optional<Hello> Handshake(const NodeKey& key, std::string chain = kChain, Hash32 genesis = H(0x11),
                                 bool bad_signature = false) {
    auto first = Read();
    if (!first || !std::holds_alternative<Hello>(*first)) return std::nullopt;
    Hello theirs = std::get<Hello>(*first);
    CHECK(Ed().verify(theirs.node_key, AuthDigest(challenge_), theirs.signature));
    Hello mine;
    mine.chain_id = chain;
    mine.genesis_hash = genesis;
    mine.node_key = key.pub;
    Hash32 digest = AuthDigest(challenge_);
    if (bad_signature) digest.v[0] ^= 1;
    mine.signature = *Ed().sign(key.secret, digest);
    Send(mine);
    return theirs;
  }
  const std::array<uint8_t, 32>& challenge() const { return challenge_; }
  // A sealed frame, not sent (the channel's counter advances).
  Bytes SealOnly(ByteView record) { return *channel_->Seal(record); }

 private:
  bool ReadExactly(asio::mutable_buffer buf, std::chrono::milliseconds timeout) {
    bool done = false;
    std::error_code result;
    asio::async_read(socket_, buf, [&](std::error_code ec, size_t) {
      done = true;
      result = ec;
    });
    io_.restart();
    io_.run_for(timeout);
    timed_out_ = !done;
    if (!done) {
      socket_.cancel();
      io_.restart();
      io_.run();
      return false;
    }
    if (result) closed_ = true;
    return !result;
  }

  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  std::optional<SecretChannel> channel_;
  std::array<uint8_t, 32> challenge_{};
  bool timed_out_ = false;
  bool closed_ = false;  // a read failed: the Host closed the connection
};

SignedTx SampleTx(uint64_t nonce) {
  SignedTx t;
  t.tx.chain_id = kChain;
  t.tx.from = H(1);
  t.tx.nonce = nonce;
  t.tx.fee = 10;
  t.algo = 1;
  t.public_key = Bytes(32, 2);
  t.signature = Bytes(64, 3);
  return t;
}

Vote SampleVote() {
  Vote v;
  v.type = static_cast<uint64_t>(VoteType::kPrecommit);
  v.height = 7;
  v.round = 2;
  v.block_hash = H(4);
  v.validator = H(5);
  v.signature = Bytes(64, 6);
  return v;
}

Block SampleBlock(uint64_t height) {
  Block b;
  b.header.chain_id = kChain;
  b.header.height = height;
  b.header.time_ms = 1000 + height;
  b.txs = {SampleTx(1), SampleTx(2)};
  b.evidence = {Evidence{SampleVote(), SampleVote()}};
  Commit c;
  c.height = height;
  c.block_hash = H(9);
  c.signatures = {CommitSig{H(5), Bytes(64, 1)}};
  b.commit = c;
  return b;
}

std::vector<Message> AllMessages() {
  Hello hello;
  hello.chain_id = kChain;
  hello.genesis_hash = H(1);
  hello.node_key = Bytes(32, 2);
  hello.signature = Bytes(64, 3);
  hello.listen = "127.0.0.1:26656";
  hello.height = 42;
  consensus::Proposal prop;
  prop.height = 3;
  prop.round = 1;
  prop.valid_round = 0;
  prop.block = SampleBlock(3);
  prop.proposer = H(8);
  prop.signature = Bytes(64, 9);
  consensus::Proposal fresh = prop;
  fresh.valid_round = -1;
  return {hello,
          Ping{.nonce = 1ull << 40},
          Pong{.nonce = 5},
          GetPeers{},
          Peers{.addresses = {"10.0.0.1:1", "[::1]:2", std::string(255, 'a')}},
          Peers{},
          net::Status{.height = 9, .head_hash = H(7)},
          Txs{.txs = {SampleTx(1), SampleTx(2)}},
          ProposalMsg{prop},
          ProposalMsg{fresh},
          VoteMsg{SampleVote()},
          EvidenceMsg{Evidence{SampleVote(), SampleVote()}},
          GetBlocks{.from = 5, .max = 100},
          Blocks{.blocks = {SampleBlock(5), SampleBlock(6)}}};
}

std::string ErrorOf(const Bytes& b) {
  auto m = DecodeMessage(b);
  return m ? std::string("(decoded)") : m.error().message;
}

}  // namespace

TEST_CASE("net messages: every type round-trips byte for byte") {
  for (const Message& m : AllMessages()) {
    CAPTURE(MessageName(m));
    Bytes enc = EncodeMessage(m);
    auto dec = DecodeMessage(enc);
    REQUIRE_MESSAGE(dec.has_value(), (dec ? std::string() : dec.error().message));
    CHECK(dec->index() == m.index());
    CHECK(EncodeMessage(*dec) == enc);
    CHECK(MessageName(*dec) == MessageName(m));
  }
  auto p = DecodeMessage(EncodeMessage(AllMessages()[9]));
  REQUIRE(p.has_value());
  CHECK(std::get<ProposalMsg>(*p).proposal.valid_round == -1);
  CHECK(std::get<ProposalMsg>(*p).proposal.block.commit.has_value());
  CHECK(MessageName(Ping{}) == "p2p_ping");
  CHECK(MessageName(Blocks{}) == "p2p_blocks");
}

TEST_CASE("net messages: malformed, non-canonical, trailing and oversized records are rejected") {
  Bytes ping = EncodeMessage(Ping{.nonce = 5});
  CHECK(ErrorOf(ping) == "(decoded)");

  Bytes trailing = ping;
  trailing.push_back(0);
  CHECK(ErrorOf(trailing).find("trailing") != std::string::npos);
  CHECK(ErrorOf(Bytes(ping.begin(), ping.end() - 1)).find("truncated") != std::string::npos);
  CHECK(ErrorOf({}).find("truncated") != std::string::npos);
  CHECK(ErrorOf({0x05}) != "(decoded)");  // not an array

  // nonce 5 as a uint64 (0xcf + 8 bytes) instead of a fixint
  std::string e = ErrorOf({0x93, 0x42, 0x01, 0xcf, 0, 0, 0, 0, 0, 0, 0, 5});
  CHECK(e.find("p2p_ping") != std::string::npos);
  CHECK(e.find("nonce") != std::string::npos);
  CHECK(ErrorOf({0x93, 0x42, 0x02, 0x05}).find("version") != std::string::npos);
  CHECK(ErrorOf({0x92, 0x42, 0x01}).find("nonce") != std::string::npos);  // missing field
  CHECK(ErrorOf({0x94, 0x42, 0x01, 0x05, 0x05}).find("extra") != std::string::npos);
  CHECK(ErrorOf({0x93, 0x3f, 0x01, 0x05}).find("unknown record type") != std::string::npos);
  CHECK(ErrorOf({0x93, 0x04, 0x01, 0x05}).find("not a p2p message") != std::string::npos);

  Peers many;
  many.addresses.assign(kMaxPeerAddresses + 1, "1.2.3.4:5");
  e = ErrorOf(EncodeMessage(many));
  CHECK(e.find("p2p_peers") != std::string::npos);
  CHECK(e.find("addresses") != std::string::npos);
  CHECK(ErrorOf(EncodeMessage(Peers{.addresses = {std::string(256, 'a')}})).find("addresses.0") != std::string::npos);
  Hello long_sig;
  long_sig.node_key = Bytes(32, 1);
  long_sig.signature = Bytes(65, 1);
  CHECK(ErrorOf(EncodeMessage(long_sig)).find("p2p_hello: field 'signature'") != std::string::npos);
  Hello short_key;
  short_key.node_key = Bytes(31, 1);
  short_key.signature = Bytes(64, 1);
  CHECK(ErrorOf(EncodeMessage(short_key)).find("p2p_hello: field 'node_key'") != std::string::npos);
  Hello long_chain;
  long_chain.chain_id = std::string(65, 'a');
  long_chain.node_key = Bytes(32, 1);
  long_chain.signature = Bytes(64, 1);
  CHECK(ErrorOf(EncodeMessage(long_chain)).find("chain_id") != std::string::npos);

  Txs txs;
  txs.txs.assign(kMaxGossipTxs + 1, SampleTx(1));
  CHECK(ErrorOf(EncodeMessage(txs)).find("p2p_txs: field 'txs'") != std::string::npos);
  txs.txs.resize(kMaxGossipTxs);
  CHECK(ErrorOf(EncodeMessage(txs)) == "(decoded)");
  Blocks blocks;
  blocks.blocks.assign(kMaxSyncBlocks + 1, Block{});
  CHECK(ErrorOf(EncodeMessage(blocks)).find("p2p_blocks: field 'blocks'") != std::string::npos);

  ProposalMsg prop;
  prop.proposal.valid_round = static_cast<int64_t>(consensus::kMaxRound) + 1;
  CHECK(ErrorOf(EncodeMessage(prop)).find("valid_round") != std::string::npos);

  VoteMsg vote{SampleVote()};
  vote.vote.type = 9;
  CHECK(ErrorOf(EncodeMessage(vote)).find("p2p_vote: field 'type'") != std::string::npos);
}

TEST_CASE("net: two hosts handshake and deliver messages in order") {
  Node a;
  Node b({Addr(*a.host)});
  REQUIRE(WaitUntil([&] { return a.ConnectedTo(b) && b.ConnectedTo(a); }));
  CHECK(a.rec.connected() == 1);
  CHECK(b.rec.connected() == 1);
  PeerInfo a_at_b = b.host->Peers().at(0);
  CHECK(a_at_b.outbound);
  CHECK(a_at_b.listen == Addr(*a.host));
  CHECK_FALSE(a.host->Peers().at(0).outbound);

  PeerId to_a = *b.PeerOf(a);
  for (uint64_t h = 1; h <= 200; ++h) b.host->Send(to_a, net::Status{.height = h, .head_hash = H(1)});
  b.host->Send(to_a, VoteMsg{SampleVote()});
  REQUIRE(WaitUntil([&] { return a.rec.messages().size() == 201; }));
  auto msgs = a.rec.messages();
  for (uint64_t h = 1; h <= 200; ++h) {
    REQUIRE(std::holds_alternative<net::Status>(msgs[h - 1].second));
    CHECK(std::get<net::Status>(msgs[h - 1].second).height == h);
  }
  CHECK(std::holds_alternative<VoteMsg>(msgs[200].second));
  CHECK(a.host->Peers().at(0).height == 200);  // the Host saw the Status pass
  a.host->SetPeerHeight(a.host->Peers().at(0).id, 300);
  CHECK(a.host->Peers().at(0).height == 300);
  CHECK(a.host->Stats().frames_in >= 201);

  // Penalties add up to a ban.
  PeerId b_at_a = *a.PeerOf(b);
  a.host->Penalize(b_at_a, 40, "test");
  REQUIRE(WaitUntil([&] { return a.host->Peers().size() == 1 && a.host->Peers()[0].score == 40; }));
  a.host->Penalize(b_at_a, 60, "test");
  REQUIRE(WaitUntil([&] { return a.rec.disconnected() == 1; }));
  CHECK(a.host->Stats().disconnects_penalty == 1);

  a.host->Stop();
  a.host->Stop();  // idempotent
}

TEST_CASE("net: broadcast reaches every peer, except the one excluded") {
  Node a;
  Node b({Addr(*a.host)});
  Node c({Addr(*a.host), Addr(*b.host)});
  REQUIRE(WaitUntil([&] {
    return a.host->Peers().size() == 2 && b.host->Peers().size() == 2 && c.host->Peers().size() == 2;
  }));
  a.host->Broadcast(VoteMsg{SampleVote()});
  REQUIRE(WaitUntil([&] { return b.rec.count("p2p_vote") == 1 && c.rec.count("p2p_vote") == 1; }));
  b.host->Broadcast(Txs{.txs = {SampleTx(3)}}, b.PeerOf(c));
  REQUIRE(WaitUntil([&] { return a.rec.count("p2p_txs") == 1; }));
  // C is excluded: a later broadcast to all arrives at C with nothing before it.
  b.host->Broadcast(net::Status{.height = 1});
  REQUIRE(WaitUntil([&] { return c.rec.count("p2p_status") == 1; }));
  CHECK(c.rec.count("p2p_txs") == 0);
}

TEST_CASE("net: handshakes with the wrong chain, genesis or signature are refused") {
  Node a;
  NodeKey k;
  {
    RawClient raw(a.host->port());
    raw.Handshake(k, "other-chain");
    CHECK(raw.Closed());
  }
  {
    RawClient raw(a.host->port());
    raw.Handshake(k, kChain, H(0x22));
    CHECK(raw.Closed());
  }
  {
    RawClient raw(a.host->port());
    raw.Handshake(k, kChain, H(0x11), /*bad_signature=*/true);
    CHECK(raw.Closed());
  }
  {  // our own node key
    RawClient raw(a.host->port());
    raw.Handshake(a.key);
    CHECK(raw.Closed());
  }
  {  // a first frame that is not Hello
    RawClient raw(a.host->port());
    REQUIRE(raw.Read().has_value());
    raw.Send(Ping{.nonce = 1});
    CHECK(raw.Closed());
  }
  {  // a v1 peer (plaintext length-prefixed hello) is told apart
    RawClient raw(a.host->port(), /*intro=*/false);
    Bytes v1 = Frame(AsBytes(std::string(200, 'x')));
    v1.resize(kIntroBytes);
    raw.Write(v1);
    CHECK(raw.Closed());
  }
  {  // a signature over another connection's challenge (a relay's replay)
    RawClient first(a.host->port());
    RawClient second(a.host->port());
    auto theirs = second.Read();
    REQUIRE(theirs.has_value());
    Hello mine;
    mine.chain_id = kChain;
    mine.genesis_hash = H(0x11);
    mine.node_key = k.pub;
    mine.signature = *Ed().sign(k.secret, AuthDigest(first.challenge()));
    second.Send(mine);
    CHECK(second.Closed());
  }
  CHECK(a.rec.connected() == 0);
  {  // and a good one works
    RawClient raw(a.host->port());
    CHECK(raw.Handshake(k).has_value());
    REQUIRE(WaitUntil([&] { return a.rec.connected() == 1; }));
  }
  // A host on another chain never connects.
  Node other({Addr(*a.host)}, [](NetOptions& o) { o.chain_id = "other-chain"; });
  REQUIRE(WaitUntil([&] { return a.rec.disconnected() == 1; }));  // the raw client left
  CHECK(a.rec.connected() == 1);
  CHECK(other.rec.connected() == 0);
}

TEST_CASE("net: garbage in sealed frames bans the peer; bad lengths close it; others are unaffected") {
  Node a;
  Node b({Addr(*a.host)});
  REQUIRE(WaitUntil([&] { return a.ConnectedTo(b); }));

  NodeKey k1;
  {  // an authenticated peer sealing garbage is banned
    RawClient raw(a.host->port());
    REQUIRE(raw.Handshake(k1).has_value());
    REQUIRE(WaitUntil([&] { return a.host->Peers().size() == 2; }));
    raw.SendRecord(AsBytes("abc"));
    CHECK(raw.Closed());
  }
  REQUIRE(WaitUntil([&] { return a.host->Stats().disconnects_penalty == 1; }));
  {  // banned: refused after its Hello
    RawClient raw(a.host->port());
    raw.Handshake(k1);
    CHECK(raw.Closed());
    CHECK(a.host->Peers().size() == 1);
  }
  NodeKey k2;
  {  // a sealed message of a type that exceeds its size limit
    RawClient raw(a.host->port());
    REQUIRE(raw.Handshake(k2).has_value());
    REQUIRE(WaitUntil([&] { return a.host->Peers().size() == 2; }));
    Bytes vote = EncodeMessage(VoteMsg{SampleVote()});
    vote.resize(5000, 0xc0);  // a vote record followed by nils: over the 4 KiB limit of p2p_vote
    raw.SendRecord(vote);
    CHECK(raw.Closed());
  }
  REQUIRE(WaitUntil([&] { return a.host->Stats().disconnects_penalty == 2; }));
  NodeKey k3, k4;
  for (const Bytes& header : {Bytes{0xff, 0xff, 0xff, 0xff}, Bytes{0, 0, 0, 0}}) {
    // Lengths out of range: closed, not banned (a byte on the path could
    // have changed them).
    RawClient raw(a.host->port());
    REQUIRE(raw.Handshake(header[0] ? k3 : k4).has_value());
    raw.Write(header);
    CHECK(raw.Closed());
  }
  CHECK(a.host->Stats().disconnects_penalty == 2);
  CHECK(a.host->Stats().dropped_frames >= 4);

  CHECK(a.ConnectedTo(b));
  b.host->Send(*b.PeerOf(a), net::Status{.height = 5});
  REQUIRE(WaitUntil([&] { return a.rec.count("p2p_status") == 1; }));
}

TEST_CASE("net session: the test vectors of docs/p2p.md, computed independently in Python") {
  std::ifstream in(std::string(GTOS_SOURCE_DIR) + "/tests/vectors/p2p_session.json");
  REQUIRE(in.good());
  nlohmann::json v = nlohmann::json::parse(in);
  auto hex = [&](const char* k) { return *FromHex(v[k].get<std::string>(), k); };
  auto a = crypto::X25519FromSecret(hex("ephemeral_a_secret"));
  auto b = crypto::X25519FromSecret(hex("ephemeral_b_secret"));
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(MakeIntro(*a) == hex("intro_a"));
  CHECK(MakeIntro(*b) == hex("intro_b"));
  std::array<uint8_t, 32> shared;
  REQUIRE(crypto::X25519Shared(*a, b->pub, shared).has_value());
  CHECK(Bytes(shared.begin(), shared.end()) == hex("shared"));
  auto ka = DeriveSession(*a, *ParseIntro(hex("intro_b")));
  auto kb = DeriveSession(*b, *ParseIntro(hex("intro_a")));
  REQUIRE(ka.has_value());
  REQUIRE(kb.has_value());
  CHECK(Bytes(ka->send_key.begin(), ka->send_key.end()) == hex("a_send_key"));
  CHECK(Bytes(ka->recv_key.begin(), ka->recv_key.end()) == hex("a_recv_key"));
  CHECK(ka->send_key == kb->recv_key);
  CHECK(ka->recv_key == kb->send_key);
  CHECK(Bytes(ka->challenge.begin(), ka->challenge.end()) == hex("challenge"));
  CHECK(kb->challenge == ka->challenge);
  Hash32 digest = AuthDigest(ka->challenge);
  CHECK(Bytes(digest.v.begin(), digest.v.end()) == hex("auth_digest"));
  Bytes seed = hex("node_a_seed");
  CHECK(*Ed().derive_public(seed) == hex("node_a_public"));
  CHECK(*Ed().sign(seed, digest) == hex("node_a_signature"));  // ed25519 is deterministic

  auto ca = SecretChannel::Create(*ka);
  auto cb = SecretChannel::Create(*kb);
  REQUIRE(ca.has_value());
  REQUIRE(cb.has_value());
  Bytes record = hex("record");
  for (int i = 0; i < 2; ++i) {
    Bytes frame = *ca->Seal(record);
    CHECK(frame == *FromHex(v["a_frames"][i].get<std::string>(), "frame"));
    Bytes body(frame.begin() + 4, frame.end());
    REQUIRE(cb->Open(frame.data(), body).has_value());
    CHECK(Bytes(body.begin(), body.end() - 16) == record);
  }
  // The same frame again (a replay), or frame 0 after frame 1, fails.
  Bytes again = *FromHex(v["a_frames"][1].get<std::string>(), "frame");
  Bytes body(again.begin() + 4, again.end());
  CHECK_FALSE(cb->Open(again.data(), body).has_value());
  // A small-order public key is refused.
  Bytes zero(32, 0);
  CHECK_FALSE(DeriveSession(*a, zero).has_value());
  CHECK_FALSE(ParseIntro(Bytes(40, 0)).has_value());
}

TEST_CASE("net: a frame altered, replayed or sent in the clear closes the connection without a penalty") {
  Node a;
  for (int mode = 0; mode < 3; ++mode) {
    CAPTURE(mode);
    NodeKey k;
    RawClient raw(a.host->port());
    REQUIRE(raw.Handshake(k).has_value());
    REQUIRE(WaitUntil([&] { return a.host->Peers().size() == 1; }));
    Bytes ping = EncodeMessage(Ping{.nonce = 1});
    if (mode == 0) {  // one bit flipped in transit
      // Build the sealed frame by hand from a copy of the channel state:
      // seal, then flip a ciphertext byte.
      raw.SendRecord(ping);  // frame 1 passes
      Bytes sealed = raw.SealOnly(ping);
      sealed[6] ^= 0x01;
      raw.Write(sealed);
    } else if (mode == 1) {  // a replayed frame
      Bytes sealed = raw.SealOnly(ping);
      raw.Write(sealed);
      raw.Write(sealed);
    } else {  // plaintext record after the handshake
      raw.Write(Frame(ping));
    }
    CHECK(raw.Closed());
    REQUIRE(WaitUntil([&] { return a.host->Peers().empty(); }));
    CHECK(a.host->Stats().disconnects_penalty == 0);
    // Not banned: the same key connects again.
    RawClient again(a.host->port());
    REQUIRE(again.Handshake(k).has_value());
    REQUIRE(WaitUntil([&] { return a.host->Peers().size() == 1; }));
  }
  CHECK(a.host->Stats().bad_frames >= 2);  // the plaintext frame fails on its length first
}

TEST_CASE("net: nothing large is read before the handshake, and handshake caps hold") {
  Node a({}, [](NetOptions& o) {
    o.max_handshaking_per_ip = 3;
    o.max_per_ip = 5;
    o.handshake_timeout_ms = 1500;
  });
  {  // a sealed frame above 4 KiB before Hello
    RawClient raw(a.host->port());
    raw.Write({0x00, 0x10, 0x00, 0x00});
    CHECK(raw.Closed());
  }
  {  // idle connections: at most 3 in their handshake from one IP
    std::vector<std::unique_ptr<RawClient>> idle;
    for (int i = 0; i < 6; ++i) idle.push_back(std::make_unique<RawClient>(a.host->port(), /*intro=*/false));
    REQUIRE(WaitUntil([&] { return a.host->Stats().refused_connections >= 3; }));
    int closed = 0;
    for (auto& c : idle) closed += c->Closed(100ms);
    CHECK(closed == 3);
    // ... and the handshake deadline ends the others.
    for (auto& c : idle) CHECK(c->Closed(5s));
  }
  // A real peer still connects.
  Node b({Addr(*a.host)});
  REQUIRE(WaitUntil([&] { return a.ConnectedTo(b); }));
}

TEST_CASE("net: inbound caps refuse unreserved peers, reserved ones still get in") {
  NodeKey reserved;
  Node a({}, [&](NetOptions& o) {
    o.max_inbound = 2;
    o.reserved_keys = {reserved.pub};
  });
  std::vector<std::unique_ptr<RawClient>> peers;
  for (int i = 0; i < 2; ++i) {
    NodeKey k;
    peers.push_back(std::make_unique<RawClient>(a.host->port()));
    REQUIRE(peers.back()->Handshake(k).has_value());
  }
  REQUIRE(WaitUntil([&] { return a.host->Peers().size() == 2; }));
  NodeKey third;
  RawClient over(a.host->port());
  REQUIRE(over.Handshake(third).has_value());
  CHECK(over.Closed());
  RawClient vip(a.host->port());
  REQUIRE(vip.Handshake(reserved).has_value());
  REQUIRE(WaitUntil([&] { return a.host->Peers().size() == 3; }));
}

TEST_CASE("net: addresses from peer exchange are validated") {
  struct Row {
    const char* addr;
    bool public_ok, private_ok;
  };
  const Row rows[] = {
      {"1.2.3.4:26656", true, true},        {"172.32.0.1:5", true, true},
      {"[2606:4700::1]:5", true, true},     {"127.0.0.1:1", false, true},
      {"10.1.2.3:5", false, true},          {"172.16.0.1:5", false, true},
      {"192.168.1.1:5", false, true},       {"169.254.1.1:5", false, true},
      {"100.64.0.1:5", false, true},        {"[::1]:5", false, true},
      {"[fe80::1]:5", false, true},         {"[fd00::1]:5", false, true},
      {"[::ffff:10.0.0.1]:5", false, true}, {"0.0.0.0:5", false, false},
      {"224.0.0.1:5", false, false},        {"[::]:5", false, false},
      {"example.org:26656", false, false},  {"1.2.3.4:0", false, false},
      {"1.2.3.4:65536", false, false},      {"1.2.3.4", false, false},
      {"1.2.3.4:99999999999", false, false}, {":26656", false, false},
  };
  for (const Row& r : rows) {
    CAPTURE(r.addr);
    CHECK(DialableAddress(r.addr, false) == r.public_ok);
    CHECK(DialableAddress(r.addr, true) == r.private_ok);
  }
}

TEST_CASE("net: discovery dials addresses learned from peers") {
  // Only a discovers: b and c would otherwise dial a as well, and which of
  // two simultaneous connections survives is a race.
  auto no_discovery = [](NetOptions& o) { o.discovery = false; };
  Node c({}, no_discovery);
  Node b({Addr(*c.host)}, no_discovery);
  REQUIRE(WaitUntil([&] { return b.ConnectedTo(c) && c.ConnectedTo(b); }));
  Node a({Addr(*b.host)});
  REQUIRE(WaitUntil([&] { return a.ConnectedTo(c) && c.ConnectedTo(a); }));
  CHECK(a.ConnectedTo(b));
  for (const PeerInfo& p : a.host->Peers()) CHECK(p.outbound);

  // Without discovery only the seed is dialled.
  Node d({Addr(*b.host)}, [](NetOptions& o) { o.discovery = false; });
  REQUIRE(WaitUntil([&] { return d.ConnectedTo(b); }));
  CHECK(d.host->Peers().size() == 1);
}

TEST_CASE("net: a seed is redialled after it restarts on the same port") {
  auto a = std::make_unique<Node>();
  NodeKey a_key = a->key;
  int port = a->host->port();
  Node b({"127.0.0.1:" + std::to_string(port)});
  REQUIRE(WaitUntil([&] { return b.ConnectedTo(*a); }));
  a.reset();
  REQUIRE(WaitUntil([&] { return b.host->Peers().empty() && b.rec.disconnected() == 1; }));

  Recorder rec;
  NetOptions o = Options(a_key);
  o.listen = "127.0.0.1:" + std::to_string(port);
  auto restarted = Host::Start(std::move(o), &rec);
  REQUIRE_MESSAGE(restarted.has_value(), (restarted ? std::string() : restarted.error().message));
  REQUIRE(WaitUntil([&] { return b.host->Peers().size() == 1 && rec.connected() == 1; }));
  CHECK(b.rec.connected() == 2);
  (*restarted)->Stop();
}

TEST_CASE("net: a full send queue drops gossip, then disconnects a slow peer") {
  Node a({}, [](NetOptions& o) {
    o.send_queue_bytes = 64 << 10;
    o.ping_interval_ms = 60'000;
  });
  NodeKey k;
  RawClient raw(a.host->port());  // completes the handshake, then never reads
  REQUIRE(raw.Handshake(k).has_value());
  REQUIRE(WaitUntil([&] { return a.host->Peers().size() == 1; }));
  PeerId id = a.host->Peers()[0].id;

  Peers big;
  big.addresses.assign(kMaxPeerAddresses, std::string(200, 'x'));
  for (int i = 0; i < 4000 && a.host->Stats().dropped_gossip == 0; ++i) a.host->Send(id, big);
  REQUIRE(WaitUntil([&] { return a.host->Stats().dropped_gossip > 0; }));
  CHECK(a.host->Peers().size() == 1);  // gossip overflow is not fatal

  for (int i = 0; i < 10'000 && !a.host->Peers().empty(); ++i) a.host->Send(id, VoteMsg{SampleVote()});
  REQUIRE(WaitUntil([&] { return a.host->Peers().empty(); }));
  // Peers() forgets the peer just before the handler hears of it.
  CHECK(WaitUntil([&] { return a.rec.disconnected() == 1; }));
}

TEST_CASE("net: consensus frames overtake queued gossip") {
  Node a({}, [](NetOptions& o) { o.ping_interval_ms = 60'000; });
  NodeKey k;
  RawClient raw(a.host->port());
  REQUIRE(raw.Handshake(k).has_value());
  REQUIRE(WaitUntil([&] { return a.host->Peers().size() == 1; }));
  PeerId id = a.host->Peers()[0].id;
  // The client reads nothing yet: the first tx batches fill the socket
  // buffers, the rest wait in the gossip queue; then one vote is sent.
  Txs batch;
  for (uint64_t i = 0; i < 1000; ++i) batch.txs.push_back(SampleTx(i));
  constexpr int kBatches = 200;  // ~36 MB in all, far more than socket buffers hold
  for (int i = 0; i < kBatches; ++i) a.host->Send(id, batch);
  a.host->Send(id, VoteMsg{SampleVote()});
  // Reading now: the vote arrives long before the last batch (before this
  // change it came after all of them).
  int before_vote = -1;
  for (int frame = 0; frame <= kBatches + 2; ++frame) {
    auto m = raw.Read();
    REQUIRE(m.has_value());
    if (std::holds_alternative<VoteMsg>(*m)) {
      before_vote = frame;
      break;
    }
  }
  CHECK(before_vote >= 0);
  CHECK(before_vote < kBatches * 3 / 4);
}

TEST_CASE("net: inbound rate limits slow a peer down without dropping it") {
  Node a({}, [](NetOptions& o) { o.rate_msgs_per_s = 50; });
  Node b({Addr(*a.host)});
  REQUIRE(WaitUntil([&] { return b.ConnectedTo(a); }));
  auto start = std::chrono::steady_clock::now();
  for (uint64_t h = 1; h <= 120; ++h) b.host->Send(*b.PeerOf(a), net::Status{.height = h});
  REQUIRE(WaitUntil([&] { return a.rec.count("p2p_status") == 120; }));
  // 50 msgs/s with a one-second burst: at least ~1.2 s for the rest.
  CHECK(std::chrono::steady_clock::now() - start >= 1s);
  CHECK(a.ConnectedTo(b));
}

TEST_CASE("net: start fails on a taken port and on a mismatched key") {
  Node a;
  Recorder rec;
  NodeKey k;
  NetOptions o = Options(k);
  o.listen = Addr(*a.host);
  auto taken = Host::Start(o, &rec);
  CHECK_FALSE(taken.has_value());
  o.listen = "127.0.0.1:0";
  o.node_public = NodeKey().pub;
  CHECK_FALSE(Host::Start(o, &rec).has_value());
}
