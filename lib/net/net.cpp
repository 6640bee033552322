// The p2p Host (docs/p2p.md) over standalone asio.
//
// Design:
//  - One I/O thread runs an asio::io_context. Every connection, timer and
//    table below is touched only on that thread; the public methods post
//    closures to it (Send, Broadcast, Penalize) or read the small snapshot
//    `infos`/`stats` kept under a mutex (Peers, Stats, SetPeerHeight).
//  - A Peer is owned by a shared_ptr that every pending operation holds, so
//    it outlives its last callback; a closed Peer ignores callbacks.
//  - Handshake (net/secret.h): a 40-byte intro both ways (ephemeral X25519
//    key), then a sealed Hello both ways carrying the node key and its
//    signature of this connection's challenge; then the connection is open
//    and the Handler is told. Nothing but the intro and one Hello of at
//    most kMaxHandshakeBody bytes is read before the peer is verified.
//  - Reading: 4-byte big-endian length, checked against the limit of the
//    connection's state (handshake or open) before anything is allocated;
//    the body buffer then grows with the bytes that actually arrive, so a
//    peer that announces a large frame and stalls holds little memory. The
//    body is opened (decrypted and authenticated), its message type is
//    checked against the state and the type's size limit, its elements are
//    counted, and only then is it decoded. After each frame the peer's
//    token buckets (bytes/s, msgs/s) are charged; while either is in debt
//    the next read waits on a timer, so a fast sender is slowed by TCP flow
//    control rather than dropped.
//  - Writing: each message is encoded once (a broadcast shares the record
//    between peers) and queued; it is sealed for the peer when its turn to
//    be written comes; one async_write at a time per peer. Gossip (txs,
//    peer lists) has a queue of its own, written only when the consensus
//    and control queue is empty. The queues are
//    bounded in bytes: gossip beyond it is dropped, anything else
//    disconnects the peer as too slow.
//  - Caps: inbound connections are refused at accept beyond the per-IP and
//    handshake caps; after the handshake a peer that is not reserved is
//    refused beyond max_inbound / max_outbound / max_peers.
//  - Dialling: every address we dial is a Target (configured seeds, and
//    addresses learned by peer exchange) with its own backoff timer. Seeds
//    are redialled forever; a learned address is forgotten after
//    kMaxDialFailures failed attempts in a row.
//  - Stop posts a shutdown closure that closes everything without calling
//    the Handler and stops the io_context, then joins the thread; pending
//    callbacks are destroyed, never run.
#include "net/net.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <asio.hpp>

#include "crypto/hash.h"
#include "crypto/sig.h"
#include "net/addr.h"
#include "net/secret.h"

namespace gtos::net {
namespace {

using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;
using Frame = std::shared_ptr<const Bytes>;  // an encoded message record (plaintext)

constexpr size_t kMaxKnownAddresses = 1000;  // dial targets, seeds included
constexpr int kMaxDialFailures = 5;          // for learned addresses
constexpr uint64_t kPeerExchangeEveryPings = 12;
constexpr size_t kKeepReadBufferBytes = 1 << 20;
constexpr size_t kFirstBodyChunk = 64 << 10;  // then the buffer doubles as bytes arrive

Frame MakeFrame(const Message& m) { return std::make_shared<const Bytes>(EncodeMessage(m)); }

Hash32 RandomHash() {
  Hash32 h;
  crypto::RandomBytes(h.v);
  return h;
}

uint64_t RandomU64() {
  Hash32 h = RandomHash();
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | h.v[i];
  return v;
}

std::string EndpointString(const tcp::endpoint& ep) {
  return JoinHostPort(ep.address().to_string(), ep.port());
}

// Tokens refill at `rate` per second up to one second's worth; a frame may
// overdraw, and reading resumes once the debt is repaid.
struct TokenBucket {
  double rate = 1;
  double tokens = 1;
  Clock::time_point last = Clock::now();

  void Init(uint64_t r) {
    rate = static_cast<double>(std::max<uint64_t>(r, 1));
    tokens = rate;
  }
  void Take(double n, Clock::time_point now) {
    tokens = std::min(rate, tokens + rate * std::chrono::duration<double>(now - last).count()) - n;
    last = now;
  }
  Clock::duration Debt() const {
    if (tokens >= 0) return Clock::duration::zero();
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(-tokens / rate));
  }
};

}  // namespace

bool DialableAddress(const std::string& addr, bool allow_private) {
  std::string host, port;
  if (!SplitHostPort(addr, &host, &port) || port.size() > 5) return false;
  unsigned long pn = std::stoul(port);
  if (pn == 0 || pn > 65535) return false;
  std::error_code ec;
  asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) return false;  // names only come from configuration
  if (ip.is_unspecified() || ip.is_multicast()) return false;
  if (allow_private) return true;
  if (ip.is_loopback()) return false;
  if (ip.is_v4()) {
    auto b = ip.to_v4().to_bytes();
    if (b[0] == 10 || b[0] == 0 || b[0] >= 240) return false;                 // private, "this", reserved
    if (b[0] == 172 && (b[1] & 0xf0) == 16) return false;                    // 172.16/12
    if (b[0] == 192 && b[1] == 168) return false;                            // 192.168/16
    if (b[0] == 169 && b[1] == 254) return false;                            // link-local
    if (b[0] == 100 && (b[1] & 0xc0) == 64) return false;                    // shared 100.64/10
    if (b[0] == 192 && b[1] == 0 && (b[2] == 0 || b[2] == 2)) return false;  // IETF, TEST-NET-1
    if (b[0] == 198 && (b[1] & 0xfe) == 18) return false;                    // benchmarking
    return true;
  }
  auto v6 = ip.to_v6();
  if (v6.is_v4_mapped()) return DialableAddress(JoinHostPort(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string(), static_cast<uint16_t>(pn)), false);
  auto b = v6.to_bytes();
  if ((b[0] & 0xfe) == 0xfc) return false;                      // unique local fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false;      // link-local fe80::/10
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return false;  // documentation
  return true;
}

struct Host::Impl {
  // kIntro: waiting for the peer's intro; kHello: session keys agreed,
  // waiting for its sealed Hello; kOpen: verified.
  enum class State { kConnecting, kIntro, kHello, kOpen, kClosed };

  struct Peer {
    explicit Peer(tcp::socket s)
        : socket(std::move(s)),
          handshake_timer(socket.get_executor()),
          ping_timer(socket.get_executor()),
          read_timer(socket.get_executor()) {}
    PeerInfo info;
    State state = State::kConnecting;
    std::string target;  // the address we dialled (outbound only)
    std::string ip;      // remote IP (inbound caps)
    bool reserved = false;
    std::optional<crypto::X25519Key> ephemeral;  // until the session keys are derived
    std::array<uint8_t, 32> challenge{};
    std::optional<SecretChannel> channel;
    Bytes remote_key;  // from its Hello, verified by its signature
    tcp::socket socket;
    asio::steady_timer handshake_timer, ping_timer, read_timer;
    uint8_t intro[kIntroBytes] = {};
    uint8_t header[kFrameHeaderBytes] = {};
    Bytes body;
    size_t body_want = 0, body_have = 0;
    std::deque<Frame> queue;         // consensus and control records; front() may be the raw intro
    std::deque<Frame> gossip_queue;  // txs and peer lists: written only while `queue` is empty
    bool intro_queued = false;
    size_t queued_bytes = 0;
    bool writing = false;
    Bytes wire;  // the sealed frame being written
    TokenBucket bytes_bucket, msgs_bucket;
    Clock::time_point last_recv = Clock::now();
    uint64_t pings = 0;
    bool asked_peers = false;
  };
  using PeerPtr = std::shared_ptr<Peer>;

  struct Target {
    bool seed = false;
    uint64_t backoff_ms = 0;
    int failures = 0;
    PeerId conn = 0;  // the connection dialled for it, while there is one
    std::unique_ptr<asio::steady_timer> timer;
  };

  Impl(NetOptions o, Handler* h) : opt(std::move(o)), handler(h) {
    for (const Bytes& k : opt.reserved_keys) reserved_keys.insert(k);
  }

  // ---- state ----
  // Declared first so that it is destroyed last: sockets and timers below
  // (and the peers that pending callbacks still own) unregister from it.
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  NetOptions opt;
  Handler* handler;
  const crypto::SigAlgo* algo = nullptr;
  std::string advertised;
  int bound_port = 0;
  std::atomic<uint64_t> local_height{0};
  std::thread thread;
  std::mutex stop_mu;

  // I/O thread only.
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_timer{io};
  tcp::resolver resolver{io};
  bool stopping = false;
  PeerId next_id = 1;
  std::map<PeerId, PeerPtr> peers;  // every connection, open or not
  std::map<std::string, Target> targets;
  std::set<std::string> self_addrs;
  std::map<Bytes, Clock::time_point> bans;  // node key -> until; at most opt.max_bans
  std::set<Bytes> reserved_keys;            // configured, seeds', Reserve()d

  // Shared with callers.
  mutable std::mutex mu;
  std::map<PeerId, PeerInfo> infos;  // open peers; GUARDED_BY(mu)
  std::map<PeerId, size_t> queued;   // open peers' send queue bytes; GUARDED_BY(mu)
  NetStats stats;                    // GUARDED_BY(mu)

  // ---- helpers ----
  void Log(const PeerPtr& p, const std::string& what) {
    if (opt.log) opt.log("peer " + std::to_string(p->info.id) + " (" + p->info.address + "): " + what);
  }
  template <class F>
  void Count(F f) {
    std::lock_guard lock(mu);
    f(stats);
  }
  bool Banned(const Bytes& key) {
    auto it = bans.find(key);
    if (it == bans.end()) return false;
    if (Clock::now() < it->second) return true;
    bans.erase(it);
    return false;
  }
  void Ban(const Bytes& key) {
    if (key.empty()) return;
    auto now = Clock::now();
    if (bans.size() >= opt.max_bans && !bans.count(key)) {
      std::erase_if(bans, [now](const auto& b) { return b.second <= now; });
      while (!bans.empty() && bans.size() >= opt.max_bans) {
        auto oldest = std::min_element(bans.begin(), bans.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
        bans.erase(oldest);
      }
    }
    if (opt.max_bans > 0) bans[key] = now + std::chrono::milliseconds(opt.ban_ms);
  }
  // True when some connection (open or in progress) reaches `addr`.
  bool ConnectedTo(const std::string& addr) const {
    for (const auto& [id, p] : peers)
      if (p->target == addr || (p->state == State::kOpen && p->info.listen == addr)) return true;
    return false;
  }
  bool IsSeed(const std::string& target) const {
    auto t = targets.find(target);
    return !target.empty() && t != targets.end() && t->second.seed;
  }

  // ---- lifecycle ----
  gtos::Status Listen() {
    std::string host, port;
    if (!SplitHostPort(opt.listen, &host, &port)) return Fail(ErrorCode::kUsage, "listen address '" + opt.listen + "' is not host:port");
    std::error_code ec;
    auto results = resolver.resolve(host.empty() ? "0.0.0.0" : host, port, tcp::resolver::passive, ec);
    if (ec || results.empty())
      return Fail(ErrorCode::kIO, "listen on '" + opt.listen + "': " + (ec ? ec.message() : "no address"));
    tcp::endpoint ep = results.begin()->endpoint();
    if (acceptor.open(ep.protocol(), ec) || acceptor.set_option(tcp::acceptor::reuse_address(true), ec) ||
        acceptor.bind(ep, ec) || acceptor.listen(asio::socket_base::max_listen_connections, ec))
      return Fail(ErrorCode::kIO, "listen on '" + opt.listen + "': " + ec.message());
    bound_port = acceptor.local_endpoint(ec).port();
    advertised = opt.external.empty() ? JoinHostPort(host, static_cast<uint16_t>(bound_port)) : opt.external;
    self_addrs.insert(advertised);
    self_addrs.insert(opt.listen);
    return Ok();
  }

  void Stop() {
    std::lock_guard lock(stop_mu);
    if (!thread.joinable()) return;
    asio::post(io, [this] { Shutdown(); });
    thread.join();
  }

  void Shutdown() {
    stopping = true;
    std::error_code ec;
    acceptor.close(ec);
    accept_timer.cancel();
    resolver.cancel();
    for (auto& [addr, t] : targets) t.timer->cancel();
    for (auto& [id, p] : peers) {
      p->state = State::kClosed;
      p->socket.close(ec);
      p->handshake_timer.cancel();
      p->ping_timer.cancel();
      p->read_timer.cancel();
    }
    peers.clear();
    {
      std::lock_guard lock(mu);
      infos.clear();
      queued.clear();
    }
    io.stop();
  }

  // Why an inbound connection from `ip` is refused at accept, or "".
  std::string AcceptRefusal(const std::string& ip) const {
    size_t handshaking = 0, from_ip = 0, handshaking_from_ip = 0;
    for (const auto& [id, p] : peers) {
      if (p->info.outbound) continue;
      bool hs = p->state != State::kOpen;
      handshaking += hs;
      if (p->ip == ip) {
        ++from_ip;
        handshaking_from_ip += hs;
      }
    }
    if (handshaking >= opt.max_handshaking) return "too many connections in their handshake";
    if (handshaking_from_ip >= opt.max_handshaking_per_ip) return "too many handshakes from " + ip;
    if (from_ip >= opt.max_per_ip) return "too many connections from " + ip;
    return "";
  }

  void Accept() {
    acceptor.async_accept([this](std::error_code ec, tcp::socket socket) {
      if (stopping || ec == asio::error::operation_aborted) return;
      if (ec) {  // e.g. out of file descriptors: retry shortly
        accept_timer.expires_after(std::chrono::milliseconds(100));
        accept_timer.async_wait([this](std::error_code e) {
          if (!e && !stopping) Accept();
        });
        return;
      }
      tcp::endpoint remote = socket.remote_endpoint(ec);
      std::string ip = ec ? std::string("?") : remote.address().to_string();
      if (std::string why = AcceptRefusal(ip); !why.empty()) {
        socket.close(ec);
        Count([](NetStats& s) { ++s.refused_connections; });
        if (opt.log) opt.log("refused inbound connection from " + ip + ": " + why);
      } else {
        auto p = NewPeer(std::move(socket), false);
        p->ip = ip;
        p->info.address = EndpointString(remote);
        Begin(p);
      }
      Accept();
    });
  }

  PeerPtr NewPeer(tcp::socket socket, bool outbound) {
    auto p = std::make_shared<Peer>(std::move(socket));
    p->info.id = next_id++;
    p->info.outbound = outbound;
    p->bytes_bucket.Init(opt.rate_bytes_per_s);
    p->msgs_bucket.Init(opt.rate_msgs_per_s);
    peers[p->info.id] = p;
    p->handshake_timer.expires_after(std::chrono::milliseconds(opt.handshake_timeout_ms));
    p->handshake_timer.async_wait([this, p](std::error_code ec) {
      if (!ec && p->state != State::kOpen) Close(p, "handshake timeout");
    });
    return p;
  }

  // The socket is connected: send our intro and read the peer's.
  void Begin(const PeerPtr& p) {
    p->state = State::kIntro;
    p->last_recv = Clock::now();
    auto eph = crypto::X25519Generate();
    if (!eph) return Close(p, eph.error().message);
    Bytes intro = MakeIntro(*eph);
    p->ephemeral.emplace(std::move(*eph));
    p->intro_queued = true;
    Enqueue(p, std::make_shared<const Bytes>(std::move(intro)), false);
    ReadIntro(p);
  }

  // Closes the connection; the Handler hears of it if it was open, and the
  // dial target behind it (if any) is scheduled again.
  void Close(const PeerPtr& p, const std::string& why) {
    if (p->state == State::kClosed) return;
    bool was_open = p->state == State::kOpen;
    p->state = State::kClosed;
    Log(p, "disconnected: " + why);
    std::error_code ec;
    p->socket.close(ec);
    p->handshake_timer.cancel();
    p->ping_timer.cancel();
    p->read_timer.cancel();
    p->queue.clear();
    p->gossip_queue.clear();
    p->ephemeral.reset();
    p->channel.reset();
    peers.erase(p->info.id);
    if (was_open) {
      {
        std::lock_guard lock(mu);
        infos.erase(p->info.id);
        queued.erase(p->info.id);
      }
      if (!stopping) handler->OnDisconnected(p->info.id);
    }
    if (stopping) return;
    if (auto t = targets.find(p->target); !p->target.empty() && t != targets.end()) {
      t->second.conn = 0;
      if (!was_open && !t->second.seed && ++t->second.failures >= kMaxDialFailures) {
        targets.erase(t);
      } else {
        ScheduleDial(t->first);
      }
    }
    if (was_open && p->info.listen != p->target)
      if (auto t = targets.find(p->info.listen); t != targets.end() && t->second.conn == 0) ScheduleDial(t->first);
  }

  // ---- dialling ----
  void AddTarget(const std::string& addr, bool seed) {
    if (self_addrs.count(addr) || targets.count(addr) || targets.size() >= kMaxKnownAddresses) return;
    Target t;
    t.seed = seed;
    t.backoff_ms = opt.reconnect_min_ms;
    t.timer = std::make_unique<asio::steady_timer>(io);
    targets.emplace(addr, std::move(t));
    Dial(addr);
  }

  void ScheduleDial(const std::string& addr) {
    Target& t = targets.at(addr);
    uint64_t delay = t.backoff_ms;
    t.backoff_ms = std::min(std::max<uint64_t>(t.backoff_ms * 2, 1), std::max(opt.reconnect_max_ms, opt.reconnect_min_ms));
    t.timer->expires_after(std::chrono::milliseconds(delay));
    t.timer->async_wait([this, addr](std::error_code ec) {
      if (!ec && !stopping) Dial(addr);
    });
  }

  // Outbound connections to learned (not seed) addresses, open or dialling.
  size_t LearnedOutbound() const {
    size_t n = 0;
    for (const auto& [id, p] : peers) n += p->info.outbound && !p->reserved && !IsSeed(p->target);
    return n;
  }

  void Dial(const std::string& addr) {
    auto it = targets.find(addr);
    if (it == targets.end() || it->second.conn != 0 || self_addrs.count(addr) || ConnectedTo(addr)) return;
    if (!it->second.seed && (LearnedOutbound() >= opt.max_outbound || OpenUnreserved() >= opt.max_peers)) {
      ScheduleDial(addr);
      return;
    }
    std::string host, port;
    if (!SplitHostPort(addr, &host, &port)) {
      targets.erase(it);
      return;
    }
    auto p = NewPeer(tcp::socket(io), true);
    p->target = addr;
    p->info.address = addr;
    it->second.conn = p->info.id;
    resolver.async_resolve(host, port, [this, p](std::error_code ec, tcp::resolver::results_type results) {
      if (p->state == State::kClosed) return;
      if (ec) return Close(p, "resolve: " + ec.message());
      asio::async_connect(p->socket, results, [this, p](std::error_code e, const tcp::endpoint& ep) {
        if (p->state == State::kClosed) return;
        if (e) return Close(p, "connect: " + e.message());
        p->info.address = EndpointString(ep);
        p->ip = ep.address().to_string();
        Begin(p);
      });
    });
  }

  // ---- reading ----
  void ReadIntro(const PeerPtr& p) {
    asio::async_read(p->socket, asio::buffer(p->intro), [this, p](std::error_code ec, size_t) {
      if (p->state == State::kClosed) return;
      if (ec) return Close(p, ec == asio::error::eof ? "closed by peer" : "read: " + ec.message());
      p->last_recv = Clock::now();
      auto theirs = ParseIntro(ByteView(p->intro, kIntroBytes));
      if (!theirs) {
        Count([](NetStats& s) { ++s.dropped_frames; });
        return Close(p, theirs.error().message);
      }
      auto keys = DeriveSession(*p->ephemeral, ByteView(theirs->data(), theirs->size()));
      p->ephemeral.reset();  // forward secrecy: the ephemeral secret is wiped now
      if (!keys) return Close(p, "key agreement: " + keys.error().message);
      auto channel = SecretChannel::Create(*keys);
      if (!channel) return Close(p, channel.error().message);
      p->channel.emplace(std::move(*channel));
      p->challenge = keys->challenge;
      p->state = State::kHello;
      Hello h;
      h.chain_id = opt.chain_id;
      h.genesis_hash = opt.genesis_hash;
      h.node_key = opt.node_public;
      auto sig = crypto::SignDigest(*algo, opt.node_secret, opt.node_public, AuthDigest(p->challenge));
      if (!sig) return Close(p, "signing hello: " + sig.error().message);
      h.signature = std::move(*sig);
      h.listen = advertised;
      h.height = local_height.load();
      Enqueue(p, MakeFrame(h), false);
      ReadHeader(p);
    });
  }

  void ReadHeader(const PeerPtr& p) {
    asio::async_read(p->socket, asio::buffer(p->header), [this, p](std::error_code ec, size_t) {
      if (p->state == State::kClosed) return;
      if (ec) return Close(p, ec == asio::error::eof ? "closed by peer" : "read: " + ec.message());
      uint32_t n = (uint32_t{p->header[0]} << 24) | (uint32_t{p->header[1]} << 16) |
                   (uint32_t{p->header[2]} << 8) | uint32_t{p->header[3]};
      size_t limit = (p->state == State::kOpen ? opt.max_frame_bytes : kMaxHandshakeBody) + kSealOverhead;
      // The length is authenticated only with the body, so a bad one may
      // be the work of anyone on the path: close, no penalty.
      if (n <= kSealOverhead || n > limit) {
        Count([](NetStats& s) { ++s.dropped_frames; });
        return Close(p, "frame length " + std::to_string(n) + " outside " + std::to_string(kSealOverhead + 1) + ".." +
                            std::to_string(limit));
      }
      p->body_want = n;
      p->body_have = 0;
      p->body.resize(std::min<size_t>(n, kFirstBodyChunk));
      ReadBody(p);
    });
  }

  // Reads into body[body_have, body.size()); grows the buffer (doubling,
  // up to body_want) only as bytes arrive.
  void ReadBody(const PeerPtr& p) {
    auto buf = asio::buffer(p->body.data() + p->body_have, p->body.size() - p->body_have);
    asio::async_read(p->socket, buf, [this, p](std::error_code ec, size_t got) {
      if (p->state == State::kClosed) return;
      if (ec) return Close(p, "read: " + ec.message());
      p->body_have += got;
      p->last_recv = Clock::now();
      if (p->body_have < p->body_want) {
        p->body.resize(std::min(p->body_want, 2 * p->body.size()));
        return ReadBody(p);
      }
      OnFrame(p);
    });
  }

  void OnFrame(const PeerPtr& p) {
    size_t n = p->body_want;
    auto now = Clock::now();
    p->bytes_bucket.Take(static_cast<double>(n + kFrameHeaderBytes), now);
    p->msgs_bucket.Take(1, now);
    {
      std::lock_guard lock(mu);
      ++stats.frames_in;
      stats.bytes_in += n + kFrameHeaderBytes;
      if (auto it = infos.find(p->info.id); it != infos.end()) it->second.bytes_in += n + kFrameHeaderBytes;
    }
    // Altered, replayed, reordered or dropped frames fail here. That is
    // not proof against the peer (anyone on the path can flip a byte), so
    // the connection is closed without a penalty.
    if (gtos::Status opened = p->channel->Open(p->header, p->body); !opened) {
      Count([](NetStats& s) { ++s.bad_frames; });
      return Close(p, "frame " + std::to_string(p->channel->received()) + " failed authentication");
    }
    ByteView plain(p->body.data(), n - kSealOverhead);
    auto type = PeekMessageType(plain);
    if (!type) {
      Count([](NetStats& s) { ++s.dropped_frames; });
      return Misbehave(p, type.error().message);
    }
    std::string_view name = RecordTypeName(static_cast<uint64_t>(*type));
    if (p->state == State::kHello && *type != RecordType::kP2pHello) {
      Count([](NetStats& s) { ++s.dropped_frames; });
      return Close(p, "expected p2p_hello, got " + std::string(name));
    }
    if (p->state == State::kOpen && *type == RecordType::kP2pHello) {
      Count([](NetStats& s) { ++s.dropped_frames; });
      return Misbehave(p, "unexpected p2p_hello after the handshake");
    }
    if (size_t max = MaxMessageBytes(*type, opt.max_frame_bytes); plain.size() > max) {
      Count([](NetStats& s) { ++s.dropped_frames; });
      return Misbehave(p, std::string(name) + " of " + std::to_string(plain.size()) + " bytes exceeds " +
                              std::to_string(max));
    }
    auto msg = DecodeMessage(plain);
    if (p->body.capacity() > kKeepReadBufferBytes) Bytes().swap(p->body);
    if (!msg) {
      Count([](NetStats& s) { ++s.dropped_frames; });
      return Misbehave(p, "undecodable frame: " + msg.error().message);
    }
    Dispatch(p, std::move(*msg));
    if (p->state == State::kClosed) return;
    auto wait = std::max(p->bytes_bucket.Debt(), p->msgs_bucket.Debt());
    if (wait == Clock::duration::zero()) return ReadHeader(p);
    p->read_timer.expires_after(wait);
    p->read_timer.async_wait([this, p](std::error_code e) {
      if (!e && p->state != State::kClosed) ReadHeader(p);
    });
  }

  // A protocol violation: an open (authenticated) peer is banned, a peer
  // still in its handshake is only disconnected.
  void Misbehave(const PeerPtr& p, const std::string& why) {
    if (p->state == State::kOpen) return AddPenalty(p, opt.ban_score, why);
    Close(p, why);
  }

  void AddPenalty(const PeerPtr& p, int points, const std::string& why) {
    p->info.score += points;
    {
      std::lock_guard lock(mu);
      if (auto it = infos.find(p->info.id); it != infos.end()) it->second.score = p->info.score;
    }
    Log(p, "penalty " + std::to_string(points) + ": " + why);
    if (p->info.score < opt.ban_score) return;
    Ban(p->remote_key);
    Count([](NetStats& s) { ++s.disconnects_penalty; });
    Close(p, "banned: " + why);
  }

  void Dispatch(const PeerPtr& p, Message msg) {
    if (p->state == State::kHello) {
      if (auto* h = std::get_if<Hello>(&msg)) return OnHello(p, *h);
      return Close(p, "expected p2p_hello, got " + std::string(MessageName(msg)));
    }
    if (auto* ping = std::get_if<net::Ping>(&msg)) return Enqueue(p, MakeFrame(Pong{.nonce = ping->nonce}), false);
    if (std::holds_alternative<Pong>(msg)) return;
    if (std::holds_alternative<GetPeers>(msg)) return Enqueue(p, MakeFrame(PeerList(p)), true);
    if (auto* list = std::get_if<net::Peers>(&msg)) {
      if (!p->asked_peers) return AddPenalty(p, 10, "unsolicited p2p_peers");
      p->asked_peers = false;
      if (opt.discovery)
        for (const std::string& a : list->addresses)
          if (DialableAddress(a, opt.allow_private_addrs)) AddTarget(a, false);
      return;
    }
    if (auto* st = std::get_if<Status>(&msg)) SetHeight(p, st->height);
    handler->OnMessage(p->info.id, std::move(msg));
  }

  net::Peers PeerList(const PeerPtr& asker) const {
    net::Peers out;
    for (const auto& [id, q] : peers) {
      if (out.addresses.size() >= kMaxPeerAddresses) break;
      if (q->state == State::kOpen && q != asker && !q->info.listen.empty()) out.addresses.push_back(q->info.listen);
    }
    return out;
  }

  void SetHeight(const PeerPtr& p, uint64_t height) {
    p->info.height = height;
    std::lock_guard lock(mu);
    if (auto it = infos.find(p->info.id); it != infos.end()) it->second.height = height;
  }

  // ---- handshake ----
  size_t OpenUnreserved() const {
    size_t n = 0;
    for (const auto& [id, p] : peers) n += p->state == State::kOpen && !p->reserved;
    return n;
  }
  size_t OpenInboundUnreserved() const {
    size_t n = 0;
    for (const auto& [id, p] : peers) n += p->state == State::kOpen && !p->reserved && !p->info.outbound;
    return n;
  }

  void OnHello(const PeerPtr& p, const Hello& h) {
    if (h.protocol != kProtocolVersion)
      return Close(p, "protocol version " + std::to_string(h.protocol) + ", this build speaks " +
                          std::to_string(kProtocolVersion));
    if (h.chain_id != opt.chain_id) return Close(p, "chain id '" + h.chain_id + "', want '" + opt.chain_id + "'");
    if (h.genesis_hash != opt.genesis_hash) return Close(p, "genesis hash " + ToHex0x(h.genesis_hash) + " differs");
    if (!algo->check_public(h.node_key)) return Close(p, "invalid node key");
    if (!algo->verify(h.node_key, AuthDigest(p->challenge), h.signature))
      return Close(p, "node key " + ToHex0x(h.node_key) + " not proven: bad hello signature");
    if (h.node_key == opt.node_public) {
      if (!p->target.empty()) self_addrs.insert(p->target);
      return Close(p, "connected to ourselves");
    }
    if (Banned(h.node_key)) return Close(p, "node key " + ToHex0x(h.node_key) + " is banned");
    p->remote_key = h.node_key;
    p->info.listen = h.listen;
    p->info.height = h.height;
    if (IsSeed(p->target)) reserved_keys.insert(p->remote_key);  // its inbound connections are reserved too
    p->reserved = reserved_keys.count(p->remote_key) > 0;
    // One connection per node key. Two dialled the same way: the newer one
    // goes. Two crossing dials: both sides keep the one dialled by the
    // smaller node key, so simultaneous dials settle on one connection.
    for (const auto& [id, q] : peers) {
      if (q == p || q->state != State::kOpen || q->remote_key != p->remote_key) continue;
      bool keep_new = q->info.outbound != p->info.outbound &&
                      p->info.outbound == (opt.node_public < p->remote_key);
      if (!keep_new) return Close(p, "duplicate connection to node " + ToHex0x(p->remote_key));
      Close(PeerPtr(q), "replaced by a crossing connection");
      break;
    }
    if (!p->reserved) {
      const char* full = nullptr;
      if (OpenUnreserved() >= opt.max_peers) full = "too many peers";
      else if (!p->info.outbound && OpenInboundUnreserved() >= opt.max_inbound) full = "too many inbound peers";
      if (full) {
        Count([](NetStats& s) { ++s.refused_connections; });
        return Close(p, full);
      }
    }
    p->state = State::kOpen;
    p->handshake_timer.cancel();
    p->info.node_key = p->remote_key;
    if (auto t = targets.find(p->target); !p->target.empty() && t != targets.end()) {
      t->second.backoff_ms = opt.reconnect_min_ms;
      t->second.failures = 0;
    }
    p->info.connected_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count());
    {
      std::lock_guard lock(mu);
      infos[p->info.id] = p->info;
      queued[p->info.id] = p->queued_bytes;
    }
    Log(p, std::string("connected") + (p->reserved ? " (reserved)" : ""));
    handler->OnConnected(p->info);
    if (p->state != State::kOpen) return;  // the handler may have penalised it
    AskPeers(p);
    Ping(p);
  }

  void AskPeers(const PeerPtr& p) {
    if (!opt.discovery || p->state != State::kOpen) return;
    p->asked_peers = true;
    Enqueue(p, MakeFrame(GetPeers{}), false);
  }

  // Keepalive: a Ping every interval; a peer silent for three intervals is
  // dead. Every kPeerExchangeEveryPings pings we also ask for peers again.
  void Ping(const PeerPtr& p) {
    auto interval = std::chrono::milliseconds(std::max<uint64_t>(opt.ping_interval_ms, 1));
    p->ping_timer.expires_after(interval);
    p->ping_timer.async_wait([this, p, interval](std::error_code ec) {
      if (ec || p->state != State::kOpen) return;
      if (Clock::now() - p->last_recv > 3 * interval) return Close(p, "no traffic for 3 ping intervals");
      Enqueue(p, MakeFrame(net::Ping{.nonce = RandomU64()}), false);
      if (++p->pings % kPeerExchangeEveryPings == 0) AskPeers(p);
      if (p->state == State::kOpen) Ping(p);
    });
  }

  // ---- writing ----
  void PublishQueued(const PeerPtr& p) {
    if (p->state != State::kOpen) return;
    std::lock_guard lock(mu);
    queued[p->info.id] = p->queued_bytes;
  }

  // Gossip waits behind consensus: a proposal or vote is written before
  // any tx batch queued ahead of it (one frame already being written
  // excepted), so a tx flood cannot delay consensus by the length of the
  // queue. Both queues share the byte bound, and gossip is dropped once
  // 3/4 of it is used, so that a flood never leaves consensus frames
  // without room (which would close the connection as too slow).
  void Enqueue(const PeerPtr& p, Frame f, bool gossip) {
    if (p->state == State::kClosed) return;
    bool empty = p->queue.empty() && p->gossip_queue.empty();
    size_t bound = gossip ? opt.send_queue_bytes / 4 * 3 : opt.send_queue_bytes;
    if (!empty && p->queued_bytes + f->size() > bound) {
      if (gossip) return Count([](NetStats& s) { ++s.dropped_gossip; });
      return Close(p, "too slow: send queue full");
    }
    p->queued_bytes += f->size();
    (gossip ? p->gossip_queue : p->queue).push_back(std::move(f));
    PublishQueued(p);
    if (!p->writing) Write(p);
  }

  // Writes the front of `queue`, or of `gossip_queue` when `queue` is
  // empty: the raw intro first, every later record sealed (in the order
  // written, which is the order the peer opens them).
  void Write(const PeerPtr& p) {
    const bool from_gossip = p->queue.empty();
    Frame f = from_gossip ? p->gossip_queue.front() : p->queue.front();
    if (p->intro_queued) {
      p->intro_queued = false;
      p->wire = *f;
    } else {
      if (!p->channel) return;  // the session keys come with the peer's intro; Write resumes then
      auto sealed = p->channel->Seal(*f);
      if (!sealed) return Close(p, "sealing: " + sealed.error().message);
      p->wire = std::move(*sealed);
    }
    p->writing = true;
    asio::async_write(p->socket, asio::buffer(p->wire), [this, p, f, from_gossip](std::error_code ec, size_t n) {
      if (p->state == State::kClosed) return;
      if (ec) return Close(p, "write: " + ec.message());
      {
        std::lock_guard lock(mu);
        ++stats.frames_out;
        stats.bytes_out += n;
        if (auto it = infos.find(p->info.id); it != infos.end()) it->second.bytes_out += n;
      }
      p->queued_bytes -= f->size();
      (from_gossip ? p->gossip_queue : p->queue).pop_front();
      PublishQueued(p);
      if (p->wire.capacity() > kKeepReadBufferBytes) Bytes().swap(p->wire);
      p->writing = false;
      if (!p->queue.empty() || !p->gossip_queue.empty()) Write(p);
    });
  }

  PeerPtr FindOpen(PeerId id) const {
    auto it = peers.find(id);
    return it != peers.end() && it->second->state == State::kOpen ? it->second : nullptr;
  }
};

Result<std::unique_ptr<Host>> Host::Start(NetOptions options, Handler* handler) {
  if (handler == nullptr) return Fail(ErrorCode::kUsage, "p2p: no handler");
  const crypto::SigAlgo* algo = crypto::FindAlgo(crypto::AlgoId::kEd25519);
  if (algo == nullptr) return Fail(ErrorCode::kInternal, "p2p: ed25519 is not registered");
  auto pub = algo->derive_public(options.node_secret);
  if (!pub) return Fail(ErrorCode::kUsage, "p2p: invalid node key: " + pub.error().message);
  if (*pub != options.node_public) return Fail(ErrorCode::kUsage, "p2p: node public key does not match the secret");
  if (options.max_frame_bytes == 0) options.max_frame_bytes = codec::kMaxRecordBytes;
  if (options.max_peers == 0) return Fail(ErrorCode::kUsage, "p2p: max_peers must be at least 1");
  for (const Bytes& k : options.reserved_keys)
    if (!algo->check_public(k)) return Fail(ErrorCode::kUsage, "p2p: reserved peer key " + ToHex0x(k) + " is not an ed25519 public key");

  auto impl = std::make_unique<Impl>(std::move(options), handler);
  impl->algo = algo;
  if (!impl->opt.listen.empty()) GTOS_TRY(impl->Listen());
  if (impl->advertised.empty()) impl->advertised = impl->opt.external;
  if (!impl->advertised.empty()) impl->self_addrs.insert(impl->advertised);

  Impl* i = impl.get();
  asio::post(i->io, [i] {
    if (i->acceptor.is_open()) i->Accept();
    for (const std::string& seed : i->opt.seeds) i->AddTarget(seed, true);
  });
  i->thread = std::thread([i] { i->io.run(); });
  return std::unique_ptr<Host>(new Host(std::move(impl)));
}

Host::Host(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Host::~Host() {
  if (impl_) Stop();
}

void Host::Stop() { impl_->Stop(); }

void Host::Send(PeerId peer, const Message& msg) {
  Frame f = MakeFrame(msg);
  bool gossip = IsGossip(msg);
  Impl* i = impl_.get();
  asio::post(i->io, [i, peer, f = std::move(f), gossip] {
    if (auto p = i->FindOpen(peer)) i->Enqueue(p, f, gossip);
  });
}

void Host::Broadcast(const Message& msg, std::optional<PeerId> except) {
  Frame f = MakeFrame(msg);
  bool gossip = IsGossip(msg);
  Impl* i = impl_.get();
  asio::post(i->io, [i, f = std::move(f), gossip, except] {
    std::vector<Impl::PeerPtr> open;
    for (const auto& [id, p] : i->peers)
      if (p->state == Impl::State::kOpen && id != except) open.push_back(p);
    for (const auto& p : open) i->Enqueue(p, f, gossip);
  });
}

void Host::Penalize(PeerId peer, int points, const std::string& why) {
  Impl* i = impl_.get();
  asio::post(i->io, [i, peer, points, why] {
    if (auto p = i->FindOpen(peer)) i->AddPenalty(p, points, why);
  });
}

void Host::SetPeerHeight(PeerId peer, uint64_t height) {
  std::lock_guard lock(impl_->mu);
  if (auto it = impl_->infos.find(peer); it != impl_->infos.end()) it->second.height = height;
}

void Host::SetLocalHeight(uint64_t height) { impl_->local_height.store(height); }

std::vector<PeerInfo> Host::Peers() const {
  std::lock_guard lock(impl_->mu);
  std::vector<PeerInfo> out;
  for (const auto& [id, info] : impl_->infos) out.push_back(info);
  return out;
}

NetStats Host::Stats() const {
  std::lock_guard lock(impl_->mu);
  NetStats s = impl_->stats;
  s.peers = impl_->infos.size();
  return s;
}

int Host::port() const { return impl_->bound_port; }

std::optional<size_t> Host::QueuedBytes(PeerId peer) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->queued.find(peer);
  if (it == impl_->queued.end()) return std::nullopt;
  return it->second;
}

void Host::Reserve(const Bytes& node_key) {
  Impl* i = impl_.get();
  asio::post(i->io, [i, node_key] {
    i->reserved_keys.insert(node_key);
    for (auto& [id, p] : i->peers)
      if (p->remote_key == node_key) p->reserved = true;
  });
}

}  // namespace gtos::net
