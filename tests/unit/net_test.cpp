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

#include "crypto/hash.h"
#include "crypto/sig.h"
#include "net/net.h"

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
  Bytes f = {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16), static_cast<uint8_t>(n >> 8),
             static_cast<uint8_t>(n)};
  f.insert(f.end(), record.begin(), record.end());
  return f;
}

Hash32 AuthDigestFor(const std::string& chain, const Hash32& genesis, const Hash32& nonce, ByteView key) {
  Bytes d(chain.begin(), chain.end());
  d.insert(d.end(), genesis.v.begin(), genesis.v.end());
  d.insert(d.end(), nonce.v.begin(), nonce.v.end());
  d.insert(d.end(), key.begin(), key.end());
  return crypto::Sha256Tagged("GTOS-P2P-AUTH-V1", d);
}

// A hand-driven peer: every operation runs its own io_context for at most a
// few seconds, so a test never hangs on a Host that misbehaves.
class RawClient {
 public:
  explicit RawClient(int port) : socket_(io_) {
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
    std::error_code ec;
    socket_.connect(ep, ec);
    REQUIRE_MESSAGE(!ec, ec.message());
  }
  void Write(const Bytes& b) {
    std::error_code ec;
    asio::write(socket_, asio::buffer(b), ec);
  }
  void Send(const Message& m) { Write(Frame(EncodeMessage(m))); }
  // The next frame, or nullopt when the connection closed (or nothing came
  // within the timeout).
  std::optional<Message> Read(std::chrono::milliseconds timeout = 10s) {
    uint8_t header[4];
    if (!ReadExactly(asio::buffer(header), timeout)) return std::nullopt;
    uint32_t n = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) | (uint32_t{header[2]} << 8) | header[3];
    Bytes body(n);
    if (!ReadExactly(asio::buffer(body), timeout)) return std::nullopt;
    auto m = DecodeMessage(body);
    REQUIRE_MESSAGE(m.has_value(), (m ? std::string() : m.error().message));
    return *m;
  }
  // Reads (and discards) until the Host closes the connection.
  bool Closed(std::chrono::milliseconds timeout = 10s) {
    if (closed_) return true;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline)
      if (!Read(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())))
        return !timed_out_;
    return false;
  }
  // Hello and Auth with `key`; returns the Host's Hello. With a `chain` or
  // `genesis` override the handshake is meant to fail.
  std::optional<Hello> Handshake(const NodeKey& key, std::string chain = kChain, Hash32 genesis = H(0x11),
                                 bool bad_signature = false) {
    auto first = Read();
    if (!first || !std::holds_alternative<Hello>(*first)) return std::nullopt;
    Hello theirs = std::get<Hello>(*first);
    Hello mine;
    mine.chain_id = chain;
    mine.genesis_hash = genesis;
    mine.node_key = key.pub;
    mine.nonce = H(0x77);
    Send(mine);
    auto second = Read();
    if (!second || !std::holds_alternative<Auth>(*second)) return std::nullopt;
    CHECK(Ed().verify(theirs.node_key, AuthDigestFor(chain, genesis, mine.nonce, theirs.node_key),
                      std::get<Auth>(*second).signature));
    Hash32 digest = AuthDigestFor(chain, genesis, theirs.nonce, key.pub);
    if (bad_signature) digest.v[0] ^= 1;
    Send(Auth{.signature = *Ed().sign(key.secret, digest)});
    return theirs;
  }

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
  hello.nonce = H(3);
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
          Auth{.signature = Bytes(64, 4)},
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
  auto p = DecodeMessage(EncodeMessage(AllMessages()[10]));
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
  CHECK(ErrorOf(EncodeMessage(Auth{.signature = Bytes(65, 1)})).find("p2p_auth: field 'signature'") !=
        std::string::npos);
  Hello short_key;
  short_key.node_key = Bytes(31, 1);
  CHECK(ErrorOf(EncodeMessage(short_key)).find("p2p_hello: field 'node_key'") != std::string::npos);
  Hello long_chain;
  long_chain.chain_id = std::string(65, 'a');
  long_chain.node_key = Bytes(32, 1);
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
    CHECK_FALSE(raw.Handshake(k, "other-chain").has_value());
    CHECK(raw.Closed());
  }
  {
    RawClient raw(a.host->port());
    CHECK_FALSE(raw.Handshake(k, kChain, H(0x22)).has_value());
    CHECK(raw.Closed());
  }
  {
    RawClient raw(a.host->port());
    CHECK(raw.Handshake(k, kChain, H(0x11), /*bad_signature=*/true).has_value());
    CHECK(raw.Closed());
  }
  {  // our own node key
    RawClient raw(a.host->port());
    CHECK_FALSE(raw.Handshake(a.key).has_value());
    CHECK(raw.Closed());
  }
  {  // a first frame that is not Hello
    RawClient raw(a.host->port());
    REQUIRE(raw.Read().has_value());
    raw.Send(Ping{.nonce = 1});
    CHECK(raw.Closed());
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

TEST_CASE("net: oversized and garbage frames drop and ban the peer; others are unaffected") {
  Node a;
  Node b({Addr(*a.host)});
  REQUIRE(WaitUntil([&] { return a.ConnectedTo(b); }));

  NodeKey k1;
  {
    RawClient raw(a.host->port());
    REQUIRE(raw.Handshake(k1).has_value());
    REQUIRE(WaitUntil([&] { return a.host->Peers().size() == 2; }));
    raw.Write({0xff, 0xff, 0xff, 0xff});
    CHECK(raw.Closed());
  }
  REQUIRE(WaitUntil([&] { return a.host->Stats().disconnects_penalty == 1; }));
  {  // banned: refused after Hello
    RawClient raw(a.host->port());
    CHECK_FALSE(raw.Handshake(k1).has_value());
    CHECK(raw.Closed());
  }
  NodeKey k2;
  {
    RawClient raw(a.host->port());
    REQUIRE(raw.Handshake(k2).has_value());
    REQUIRE(WaitUntil([&] { return a.host->Peers().size() == 2; }));
    raw.Write(Frame(AsBytes("abc")));
    CHECK(raw.Closed());
  }
  REQUIRE(WaitUntil([&] { return a.host->Stats().disconnects_penalty == 2; }));
  NodeKey k3;
  {  // a zero-length frame
    RawClient raw(a.host->port());
    REQUIRE(raw.Handshake(k3).has_value());
    raw.Write({0, 0, 0, 0});
    CHECK(raw.Closed());
  }
  REQUIRE(WaitUntil([&] { return a.host->Stats().disconnects_penalty == 3; }));
  CHECK(a.host->Stats().dropped_frames >= 3);

  CHECK(a.ConnectedTo(b));
  b.host->Send(*b.PeerOf(a), net::Status{.height = 5});
  REQUIRE(WaitUntil([&] { return a.rec.count("p2p_status") == 1; }));
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
  CHECK(a.rec.disconnected() == 1);
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
