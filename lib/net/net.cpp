// The p2p Host (docs/p2p.md) over standalone asio.
//
// Design:
//  - One I/O thread runs an asio::io_context. Every connection, timer and
//    table below is touched only on that thread; the public methods post
//    closures to it (Send, Broadcast, Penalize) or read the small snapshot
//    `infos`/`stats` kept under a mutex (Peers, Stats, SetPeerHeight).
//  - A Peer is owned by a shared_ptr that every pending operation holds, so
//    it outlives its last callback; a closed Peer ignores callbacks.
//  - Reading: 4-byte big-endian length, checked against max_frame_bytes
//    before anything is allocated, then the record. After each frame the
//    peer's token buckets (bytes/s, msgs/s) are charged; while either is in
//    debt the next read waits on a timer, so a fast sender is slowed by TCP
//    flow control rather than dropped.
//  - Writing: each message is framed once (a broadcast shares one buffer
//    between peers) and queued; one async_write at a time per peer. The
//    queue is bounded in bytes: gossip beyond it is dropped, anything else
//    disconnects the peer as too slow.
//  - Handshake: Hello both ways, then Auth both ways (each side signs the
//    other's nonce), then the connection is open and the Handler is told.
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

namespace gtos::net {
namespace {

using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;
using Frame = std::shared_ptr<const Bytes>;  // length prefix + record

constexpr size_t kMaxKnownAddresses = 1000;  // dial targets, seeds included
constexpr int kMaxDialFailures = 5;          // for learned addresses
constexpr uint64_t kPeerExchangeEveryPings = 12;
constexpr size_t kKeepReadBufferBytes = 1 << 20;
constexpr std::string_view kAuthDomain = "GTOS-P2P-AUTH-V1";

Frame MakeFrame(const Message& m) {
  Bytes record = EncodeMessage(m);
  auto frame = std::make_shared<Bytes>(4 + record.size());
  uint32_t n = static_cast<uint32_t>(record.size());
  (*frame)[0] = static_cast<uint8_t>(n >> 24);
  (*frame)[1] = static_cast<uint8_t>(n >> 16);
  (*frame)[2] = static_cast<uint8_t>(n >> 8);
  (*frame)[3] = static_cast<uint8_t>(n);
  std::copy(record.begin(), record.end(), frame->begin() + 4);
  return frame;
}

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

// The authentication digest of docs/p2p.md: what `node_key` signs to prove
// it holds the key, bound to this chain and to the verifier's nonce.
static Hash32 AuthDigest(const NetOptions& o, const Hash32& nonce, ByteView node_key) {
  Bytes d(o.chain_id.begin(), o.chain_id.end());
  d.insert(d.end(), o.genesis_hash.v.begin(), o.genesis_hash.v.end());
  d.insert(d.end(), nonce.v.begin(), nonce.v.end());
  d.insert(d.end(), node_key.begin(), node_key.end());
  return crypto::Sha256Tagged(kAuthDomain, d);
}

struct Host::Impl {
  enum class State { kConnecting, kHello, kAuth, kOpen, kClosed };

  struct Peer {
    explicit Peer(tcp::socket s)
        : socket(std::move(s)),
          handshake_timer(socket.get_executor()),
          ping_timer(socket.get_executor()),
          read_timer(socket.get_executor()) {}
    PeerInfo info;
    State state = State::kConnecting;
    std::string target;  // the address we dialled (outbound only)
    Hash32 nonce;        // ours, for the remote to sign
    Bytes remote_key;    // from its Hello, authenticated by its Auth
    tcp::socket socket;
    asio::steady_timer handshake_timer, ping_timer, read_timer;
    uint8_t header[4] = {};
    Bytes body;
    std::deque<Frame> queue;
    size_t queued_bytes = 0;
    bool writing = false;
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

  Impl(NetOptions o, Handler* h) : opt(std::move(o)), handler(h) {}

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
  std::map<Bytes, Clock::time_point> bans;  // node key -> until

  // Shared with callers.
  mutable std::mutex mu;
  std::map<PeerId, PeerInfo> infos;  // open peers; GUARDED_BY(mu)
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
  size_t OpenCount() const {
    size_t n = 0;
    for (const auto& [id, p] : peers) n += p->state == State::kOpen;
    return n;
  }
  bool Banned(const Bytes& key) {
    auto it = bans.find(key);
    if (it == bans.end()) return false;
    if (Clock::now() < it->second) return true;
    bans.erase(it);
    return false;
  }
  // True when some connection (open or in progress) reaches `addr`.
  bool ConnectedTo(const std::string& addr) const {
    for (const auto& [id, p] : peers)
      if (p->target == addr || (p->state == State::kOpen && p->info.listen == addr)) return true;
    return false;
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
    }
    io.stop();
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
      if (peers.size() >= opt.max_peers) {
        socket.close(ec);
      } else {
        auto p = NewPeer(std::move(socket), false);
        p->info.address = EndpointString(p->socket.remote_endpoint(ec));
        Begin(p);
      }
      Accept();
    });
  }

  PeerPtr NewPeer(tcp::socket socket, bool outbound) {
    auto p = std::make_shared<Peer>(std::move(socket));
    p->info.id = next_id++;
    p->info.outbound = outbound;
    p->nonce = RandomHash();
    p->bytes_bucket.Init(opt.rate_bytes_per_s);
    p->msgs_bucket.Init(opt.rate_msgs_per_s);
    peers[p->info.id] = p;
    p->handshake_timer.expires_after(std::chrono::milliseconds(opt.handshake_timeout_ms));
    p->handshake_timer.async_wait([this, p](std::error_code ec) {
      if (!ec && p->state != State::kOpen) Close(p, "handshake timeout");
    });
    return p;
  }

  // The socket is connected: say Hello and start reading.
  void Begin(const PeerPtr& p) {
    p->state = State::kHello;
    p->last_recv = Clock::now();
    Hello h;
    h.chain_id = opt.chain_id;
    h.genesis_hash = opt.genesis_hash;
    h.node_key = opt.node_public;
    h.nonce = p->nonce;
    h.listen = advertised;
    h.height = local_height.load();
    Enqueue(p, MakeFrame(h), false);
    ReadHeader(p);
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
    peers.erase(p->info.id);
    if (was_open) {
      {
        std::lock_guard lock(mu);
        infos.erase(p->info.id);
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

  void Dial(const std::string& addr) {
    auto it = targets.find(addr);
    if (it == targets.end() || it->second.conn != 0 || self_addrs.count(addr) || ConnectedTo(addr)) return;
    if (peers.size() >= opt.max_peers) {
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
        Begin(p);
      });
    });
  }

  // ---- reading ----
  void ReadHeader(const PeerPtr& p) {
    asio::async_read(p->socket, asio::buffer(p->header), [this, p](std::error_code ec, size_t) {
      if (p->state == State::kClosed) return;
      if (ec) return Close(p, ec == asio::error::eof ? "closed by peer" : "read: " + ec.message());
      uint32_t n = (uint32_t{p->header[0]} << 24) | (uint32_t{p->header[1]} << 16) |
                   (uint32_t{p->header[2]} << 8) | uint32_t{p->header[3]};
      if (n == 0 || n > opt.max_frame_bytes) {
        Count([](NetStats& s) { ++s.dropped_frames; });
        return Misbehave(p, "frame length " + std::to_string(n) + " outside 1.." + std::to_string(opt.max_frame_bytes));
      }
      p->body.resize(n);
      ReadBody(p);
    });
  }

  void ReadBody(const PeerPtr& p) {
    asio::async_read(p->socket, asio::buffer(p->body), [this, p](std::error_code ec, size_t n) {
      if (p->state == State::kClosed) return;
      if (ec) return Close(p, "read: " + ec.message());
      auto now = Clock::now();
      p->last_recv = now;
      p->bytes_bucket.Take(static_cast<double>(n + 4), now);
      p->msgs_bucket.Take(1, now);
      Count([n](NetStats& s) {
        ++s.frames_in;
        s.bytes_in += n + 4;
      });
      auto msg = DecodeMessage(p->body);
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
    bans[p->remote_key] = Clock::now() + std::chrono::milliseconds(opt.ban_ms);
    Count([](NetStats& s) { ++s.disconnects_penalty; });
    Close(p, "banned: " + why);
  }

  void Dispatch(const PeerPtr& p, Message msg) {
    if (p->state == State::kHello) {
      if (auto* h = std::get_if<Hello>(&msg)) return OnHello(p, *h);
      Count([](NetStats& s) { ++s.dropped_frames; });
      return Close(p, "expected p2p_hello, got " + std::string(MessageName(msg)));
    }
    if (p->state == State::kAuth) {
      if (auto* a = std::get_if<Auth>(&msg)) return OnAuth(p, *a);
      Count([](NetStats& s) { ++s.dropped_frames; });
      return Close(p, "expected p2p_auth, got " + std::string(MessageName(msg)));
    }
    if (std::holds_alternative<Hello>(msg) || std::holds_alternative<Auth>(msg)) {
      Count([](NetStats& s) { ++s.dropped_frames; });
      return Misbehave(p, "unexpected " + std::string(MessageName(msg)) + " after the handshake");
    }
    if (auto* ping = std::get_if<net::Ping>(&msg)) return Enqueue(p, MakeFrame(Pong{.nonce = ping->nonce}), false);
    if (std::holds_alternative<Pong>(msg)) return;
    if (std::holds_alternative<GetPeers>(msg)) return Enqueue(p, MakeFrame(PeerList(p)), true);
    if (auto* list = std::get_if<net::Peers>(&msg)) {
      if (!p->asked_peers) return;  // unsolicited
      p->asked_peers = false;
      if (opt.discovery)
        for (const std::string& a : list->addresses) AddTarget(a, false);
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
  void OnHello(const PeerPtr& p, const Hello& h) {
    if (h.protocol != kProtocolVersion)
      return Close(p, "protocol version " + std::to_string(h.protocol) + ", this build speaks " +
                          std::to_string(kProtocolVersion));
    if (h.chain_id != opt.chain_id) return Close(p, "chain id '" + h.chain_id + "', want '" + opt.chain_id + "'");
    if (h.genesis_hash != opt.genesis_hash) return Close(p, "genesis hash " + ToHex0x(h.genesis_hash) + " differs");
    if (h.node_key == opt.node_public) {
      if (!p->target.empty()) self_addrs.insert(p->target);
      return Close(p, "connected to ourselves");
    }
    if (!algo->check_public(h.node_key)) return Close(p, "invalid node key");
    if (Banned(h.node_key)) return Close(p, "node key " + ToHex0x(h.node_key) + " is banned");
    p->remote_key = h.node_key;
    p->info.listen = h.listen;
    p->info.height = h.height;
    auto sig = crypto::SignDigest(*algo, opt.node_secret, opt.node_public,
                                  AuthDigest(opt, h.nonce, opt.node_public));
    if (!sig) return Close(p, "signing auth: " + sig.error().message);
    p->state = State::kAuth;
    Enqueue(p, MakeFrame(Auth{.signature = std::move(*sig)}), false);
  }

  void OnAuth(const PeerPtr& p, const Auth& a) {
    if (!algo->verify(p->remote_key, AuthDigest(opt, p->nonce, p->remote_key), a.signature))
      return Close(p, "bad auth signature");
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
    if (OpenCount() >= opt.max_peers) return Close(p, "too many peers");
    p->state = State::kOpen;
    p->handshake_timer.cancel();
    p->info.node_key = p->remote_key;
    if (auto t = targets.find(p->target); !p->target.empty() && t != targets.end()) {
      t->second.backoff_ms = opt.reconnect_min_ms;
      t->second.failures = 0;
    }
    {
      std::lock_guard lock(mu);
      infos[p->info.id] = p->info;
    }
    Log(p, "connected");
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
  void Enqueue(const PeerPtr& p, Frame f, bool gossip) {
    if (p->state == State::kClosed) return;
    if (!p->queue.empty() && p->queued_bytes + f->size() > opt.send_queue_bytes) {
      if (gossip) return Count([](NetStats& s) { ++s.dropped_gossip; });
      return Close(p, "too slow: send queue full");
    }
    p->queued_bytes += f->size();
    p->queue.push_back(std::move(f));
    if (!p->writing) Write(p);
  }

  void Write(const PeerPtr& p) {
    p->writing = true;
    Frame f = p->queue.front();  // kept alive until the write completes
    asio::async_write(p->socket, asio::buffer(*f), [this, p, f](std::error_code ec, size_t n) {
      if (p->state == State::kClosed) return;
      if (ec) return Close(p, "write: " + ec.message());
      Count([n](NetStats& s) {
        ++s.frames_out;
        s.bytes_out += n;
      });
      p->queued_bytes -= f->size();
      p->queue.pop_front();
      if (p->queue.empty()) {
        p->writing = false;
      } else {
        Write(p);
      }
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

}  // namespace gtos::net
