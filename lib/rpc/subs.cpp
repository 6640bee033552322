// The subscription hub: see subs.h. One thread, epoll over the subscriber
// sockets and an eventfd that Adopt and Publish ring.
#include "rpc/subs.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "rpc/queries.h"
#include "rpc/ws_session.h"
#include "state/executor.h"
#include "state/schema.h"

namespace gtos::rpc {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kReadChunk = 16 << 10;

// One stream a connection asked for.
struct Filter {
  enum What { kHeads, kReceipt, kKv } what = kHeads;
  Hash32 tx;      // kReceipt
  Address owner;  // kKv
  Bytes ns;       // kKv
};

const char* EventName(Filter::What w) {
  return w == Filter::kHeads ? "head" : w == Filter::kReceipt ? "receipt" : "kv";
}

// Parses the subscription a client names: ["newHeads"], ["receipt", TX_ID]
// or ["kv", OWNER, NAMESPACE] (also the SSE path's segments). The error
// says what is wrong with which parameter.
Result<Filter> ParseFilter(const std::vector<std::string>& p) {
  Filter f;
  if (p.empty()) return Invalid("missing subscription kind: newHeads, receipt or kv");
  const std::string& kind = p[0];
  size_t want = kind == "newHeads" || kind == "heads" ? 1 : kind == "receipt" ? 2 : kind == "kv" ? 3 : 0;
  if (want == 0) return Invalid("unknown subscription kind '" + kind + "' (newHeads, receipt or kv)");
  if (p.size() != want)
    return Invalid("subscription '" + kind + "' takes " + std::to_string(want - 1) + " parameter(s), got " +
                   std::to_string(p.size() - 1));
  if (want == 1) return f;
  if (want == 2) {
    f.what = Filter::kReceipt;
    auto id = Hash32FromHex(p[1], "tx id");
    if (!id) return std::unexpected(id.error());
    f.tx = *id;
    return f;
  }
  f.what = Filter::kKv;
  auto owner = Hash32FromHex(p[1], "owner");
  if (!owner) return std::unexpected(owner.error());
  auto ns = FromHex(p[2], "namespace");
  if (!ns) return std::unexpected(ns.error());
  if (ns->size() > kMaxNamespaceBytes) return Invalid("namespace longer than " + std::to_string(kMaxNamespaceBytes) + " bytes");
  f.owner = *owner;
  f.ns = std::move(*ns);
  return f;
}

std::string HttpError(int status, const std::string& why) {
  std::string body = why + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(ReasonPhrase(status)) +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// "/subscribe/kv/0x../0x.." -> {"kv", "0x..", "0x.."}; empty segments kept
// so that "/subscribe/heads/" is an error rather than "heads".
std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  size_t from = 0;
  for (;;) {
    size_t slash = path.find('/', from);
    out.emplace_back(path.substr(from, slash == std::string_view::npos ? path.npos : slash - from));
    if (slash == std::string_view::npos) return out;
    from = slash + 1;
  }
}

}  // namespace

BlockEvents MakeBlockEvents(const BlockHeader& header, const std::vector<Hash32>& tx_ids,
                            const std::vector<Receipt>& receipts,
                            const std::vector<std::pair<std::string, std::optional<std::string>>>& kv_changes) {
  BlockEvents ev;
  ev.height = header.height;
  ev.head = HeaderJson(header);
  Json txs = Json::array();
  for (const Hash32& id : tx_ids) txs.push_back(ToHex0x(id));
  ev.head["txs"] = std::move(txs);
  for (const Receipt& r : receipts) ev.receipts.emplace_back(r.tx_id, ToJson(r));
  for (const auto& [key, after] : kv_changes) {
    auto parts = state::schema::ParseKvKey(key);
    if (!parts) continue;
    Json j = {{"owner", ToHex0x(parts->owner)},
              {"namespace", ToHex0x(parts->ns)},
              {"key", ToHex0x(parts->key)},
              {"event", after ? "write" : "expired"},
              {"height", header.height}};
    if (after) {
      auto obj = state::DecodeValue<StoredObject>(*after, "kv value");
      if (!obj) continue;
      j["value"] = ToHex0x(obj->data);
      j["created_block"] = obj->created_block;
      j["expire_block"] = obj->expire_block;
    } else {
      j["expire_block"] = header.height;
    }
    ev.kv.push_back({parts->owner, std::move(parts->ns), std::move(j)});
  }
  return ev;
}

// ---- one subscriber connection ------------------------------------------------------

namespace {

struct Conn {
  int fd = -1;
  uint64_t id = 0;
  bool ws = false;
  std::unique_ptr<WsSession> session;  // ws only
  std::map<std::string, Filter> subs;  // by subscription id; SSE: one, id ""
  std::string out;                     // bytes not yet sent, from out_pos
  size_t out_pos = 0;
  bool want_out = false;     // EPOLLOUT registered
  bool close_after = false;  // close once `out` is sent
  bool dead = false;         // close now (peer gone, dropped)
  bool sse_one_shot = false;  // the receipt stream ends with its event
  Clock::time_point last_write = Clock::now();
  size_t pending() const { return out.size() - out_pos; }
};

}  // namespace

struct SubscriptionHub::Rep {
  Rep(const chain::Chain& c, SubsOptions o) : chain(c), options(o) {}

  void Loop();
  void TakeAdopted();
  void TakePublished();
  void Start(int fd, std::string received, const RequestHead& head);
  void StartSse(Conn& c, const RequestHead& head);
  void StartWs(Conn& c, std::string received);
  void OnMessage(Conn& c, const std::string& text);
  Json Subscribe(Conn& c, const Json& params, std::string* id);
  void Deliver(Conn& c, const std::string& sub_id, Filter::What what, const Json& result);
  void FanOut(const BlockEvents& ev);
  void Append(Conn& c, std::string_view bytes);
  void Flush(Conn& c);
  void Read(Conn& c);
  void WatchOut(Conn& c, bool on);
  void Reap();
  void Keepalive(Clock::time_point now);
  // REQUIRES: mu held or the hub thread running (wakefd is closed under mu
  // after the thread ends, so that a late Publish cannot write to a reused
  // descriptor).
  void Wake() {
    uint64_t one = 1;
    if (wakefd >= 0) (void)!write(wakefd, &one, sizeof(one));
  }

  const chain::Chain& chain;
  const SubsOptions options;
  SubsStats stats;
  std::atomic<bool> stopping{false};
  bool started = false;  // written under mu
  int epfd = -1, wakefd = -1;
  std::thread thread;

  std::mutex mu;  // guards the members up to the next blank line
  struct Adopted {
    int fd;
    std::string received;
    RequestHead head;
  };
  std::deque<Adopted> adopted;
  std::deque<std::shared_ptr<const CommittedBlock>> published;
  bool overflow = false;  // published events were thrown away: every stream has a gap

  // Hub thread only.
  std::map<uint64_t, std::unique_ptr<Conn>> conns;
  uint64_t next_id = 1, next_sub = 1;
};

SubscriptionHub::SubscriptionHub(const chain::Chain& chain, SubsOptions options)
    : rep_(std::make_unique<Rep>(chain, options)) {}

SubscriptionHub::~SubscriptionHub() { Stop(); }

const SubsStats& SubscriptionHub::stats() const { return rep_->stats; }

Status SubscriptionHub::Start() {
  Rep& r = *rep_;
  if (r.started) return Fail(ErrorCode::kInternal, "subscription hub already started");
  r.epfd = epoll_create1(EPOLL_CLOEXEC);
  r.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r.epfd < 0 || r.wakefd < 0) return Fail(ErrorCode::kIO, std::string("epoll: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;  // connection ids start at 1
  epoll_ctl(r.epfd, EPOLL_CTL_ADD, r.wakefd, &ev);
  {
    std::lock_guard<std::mutex> l(r.mu);  // Publish and Adopt read these
    r.started = true;
    r.stopping = false;
  }
  r.thread = std::thread([&r] { r.Loop(); });
  return Ok();
}

void SubscriptionHub::Stop() {
  Rep& r = *rep_;
  if (!r.started) return;
  {
    std::lock_guard<std::mutex> l(r.mu);
    r.stopping = true;
    r.Wake();
  }
  if (r.thread.joinable()) r.thread.join();
  for (auto& [id, c] : r.conns) close(c->fd);
  r.conns.clear();
  std::lock_guard<std::mutex> l(r.mu);
  for (auto& a : r.adopted) close(a.fd);
  r.adopted.clear();
  r.published.clear();
  close(r.epfd);
  close(r.wakefd);
  r.epfd = r.wakefd = -1;
  r.stats.open = 0;
  r.stats.subscriptions = 0;
  r.started = false;
}

void SubscriptionHub::Adopt(int fd, std::string received, RequestHead head) {
  Rep& r = *rep_;
  {
    std::lock_guard<std::mutex> l(r.mu);
    if (r.started && !r.stopping) {
      r.adopted.push_back({fd, std::move(received), std::move(head)});
      r.Wake();
      return;
    }
  }
  close(fd);
}

void SubscriptionHub::Publish(std::shared_ptr<const CommittedBlock> block) {
  Rep& r = *rep_;
  std::lock_guard<std::mutex> l(r.mu);
  if (!r.started || r.stopping) return;  // no subscriber can be waiting
  if (r.published.size() >= r.options.max_pending_blocks) {
    r.published.clear();
    r.overflow = true;
  }
  r.published.push_back(std::move(block));
  r.Wake();
}

void SubscriptionHub::Rep::Loop() {
  epoll_event events[64];
  while (!stopping) {
    int n = epoll_wait(epfd, events, 64, 1000);
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == 0) {
        uint64_t v;
        (void)!read(wakefd, &v, sizeof(v));
        continue;
      }
      auto it = conns.find(id);
      if (it == conns.end()) continue;
      Conn& c = *it->second;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) Read(c);
      if (!c.dead && (events[i].events & EPOLLOUT)) Flush(c);
    }
    TakeAdopted();
    TakePublished();
    Keepalive(Clock::now());
    Reap();
  }
}

void SubscriptionHub::Rep::TakeAdopted() {
  std::deque<Adopted> in;
  {
    std::lock_guard<std::mutex> l(mu);
    in.swap(adopted);
  }
  for (Adopted& a : in) {
    if (conns.size() >= options.max_subscribers) {
      stats.refused_limit++;
      std::string reply = HttpError(503, "too many subscribers (rpc_max_subscribers " +
                                             std::to_string(options.max_subscribers) + "); try again later");
      (void)!send(a.fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      close(a.fd);
      continue;
    }
    Start(a.fd, std::move(a.received), a.head);
  }
}

void SubscriptionHub::Rep::Start(int fd, std::string received, const RequestHead& head) {
  auto owned = std::make_unique<Conn>();
  Conn& c = *owned;
  c.fd = fd;
  c.id = next_id++;
  conns.emplace(c.id, std::move(owned));
  stats.open = conns.size();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = c.id;
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  if (head.path == "/ws") {
    StartWs(c, std::move(received));
  } else {
    StartSse(c, head);
  }
  Flush(c);
}

void SubscriptionHub::Rep::StartSse(Conn& c, const RequestHead& head) {
  static constexpr std::string_view kPrefix = "/subscribe/";
  std::vector<std::string> seg = Segments(std::string_view(head.path).substr(kPrefix.size()));
  auto f = ParseFilter(seg);
  if (!f) {
    Append(c, HttpError(seg.empty() || seg[0].empty() || f.error().message.starts_with("unknown") ? 404 : 400,
                        f.error().message));
    c.close_after = true;
    return;
  }
  Append(c,
         "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
         "Connection: close\r\n\r\n: subscribed\n\n");
  if (head.method == "HEAD") {
    c.close_after = true;
    return;
  }
  c.subs.emplace("", *f);
  stats.subscriptions++;
  if (f->what == Filter::kReceipt) {
    c.sse_one_shot = true;
    // Committed before the subscription: answered now (the hub sees every
    // later commit, published after the chain has it).
    if (auto r = ReceiptById(chain, f->tx)) Deliver(c, "", Filter::kReceipt, *r);
  }
}

void SubscriptionHub::Rep::StartWs(Conn& c, std::string received) {
  c.ws = true;
  WsSession::Callbacks cb;
  cb.write = [this, &c](std::string_view bytes) { Append(c, bytes); };
  cb.message = [this, &c](std::string text) { OnMessage(c, text); };
  cb.done = [&c] { c.close_after = true; };
  c.session = std::make_unique<WsSession>(std::move(cb), options.max_message_bytes);
  c.session->Feed(received.data(), received.size());
}

void SubscriptionHub::Rep::OnMessage(Conn& c, const std::string& text) {
  Json req = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  Json reply = {{"jsonrpc", "2.0"}, {"id", nullptr}};
  auto error = [&](int code, const std::string& msg) {
    reply["error"] = {{"code", code}, {"message", msg}};
    c.session->Send(reply.dump(-1, ' ', false, Json::error_handler_t::replace));
  };
  if (req.is_discarded()) return error(-32700, "parse error: not JSON");
  if (!req.is_object() || !req.contains("method") || !req["method"].is_string())
    return error(-32600, "invalid request: an object with a string \"method\" expected (batches are not served on /ws)");
  if (req.contains("id")) reply["id"] = req["id"];
  const std::string method = req["method"].get<std::string>();
  const Json params = req.value("params", Json::array());
  if (!params.is_array()) return error(-32602, "invalid params: an array expected");
  if (method == "tos_subscribe") {
    std::string id;
    Json r = Subscribe(c, params, &id);
    if (r.contains("error")) {
      reply["error"] = std::move(r["error"]);
      c.session->Send(reply.dump(-1, ' ', false, Json::error_handler_t::replace));
      return;
    }
    reply["result"] = id;
    c.session->Send(reply.dump());
    // A receipt committed before the subscription comes at once, after the id.
    const Filter& f = c.subs[id];
    if (f.what == Filter::kReceipt)
      if (auto rec = ReceiptById(chain, f.tx)) Deliver(c, id, Filter::kReceipt, *rec);
    return;
  }
  if (method == "tos_unsubscribe") {
    if (params.size() != 1 || !params[0].is_string()) return error(-32602, "invalid params: [SUBSCRIPTION_ID] expected");
    bool found = c.subs.erase(params[0].get<std::string>()) > 0;
    if (found) stats.subscriptions--;
    reply["result"] = found;
    c.session->Send(reply.dump());
    return;
  }
  error(-32601, "method '" + method +
                    "' is not served on /ws (only tos_subscribe and tos_unsubscribe); send other calls to POST /");
}

// The result of tos_subscribe: {} with *id set, or {"error": {...}}.
Json SubscriptionHub::Rep::Subscribe(Conn& c, const Json& params, std::string* id) {
  auto fail = [](int code, const std::string& m) { return Json{{"error", {{"code", code}, {"message", m}}}}; };
  std::vector<std::string> p;
  for (const Json& v : params) {
    if (!v.is_string()) return fail(-32602, "invalid params: every parameter is a string");
    p.push_back(v.get<std::string>());
  }
  auto f = ParseFilter(p);
  if (!f) return fail(-32602, "invalid params: " + f.error().message);
  if (c.subs.size() >= options.max_subscriptions)
    return fail(-32005, "too many subscriptions on this connection (at most " +
                            std::to_string(options.max_subscriptions) + ")");
  char buf[19];
  std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(next_sub++));
  *id = buf;
  c.subs.emplace(*id, *f);
  stats.subscriptions++;
  return Json::object();
}

// One notification of subscription `sub_id` on c. A receipt ends its
// subscription (a tx is committed once).
void SubscriptionHub::Rep::Deliver(Conn& c, const std::string& sub_id, Filter::What what, const Json& result) {
  stats.events++;
  if (c.ws) {
    Json n = {{"jsonrpc", "2.0"},
              {"method", "tos_subscription"},
              {"params", {{"subscription", sub_id}, {"result", result}}}};
    c.session->Send(n.dump(-1, ' ', false, Json::error_handler_t::replace));
  } else {
    Append(c, std::string("event: ") + EventName(what) + "\ndata: " +
                  result.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n");
  }
  if (what == Filter::kReceipt) {
    if (c.subs.erase(sub_id)) stats.subscriptions--;
    if (c.sse_one_shot) c.close_after = true;
  }
}

void SubscriptionHub::Rep::TakePublished() {
  std::deque<std::shared_ptr<const CommittedBlock>> in;
  bool gap = false;
  {
    std::lock_guard<std::mutex> l(mu);
    in.swap(published);
    std::swap(gap, overflow);
  }
  if (gap) {  // events were lost for every stream: none may go on as if complete
    for (auto& [id, c] : conns) {
      c->dead = true;
      stats.dropped_slow++;
    }
    return;
  }
  for (const auto& b : in) {
    if (conns.empty()) break;  // nobody to tell: no JSON built
    FanOut(MakeBlockEvents(b->header, b->tx_ids, b->receipts, b->kv_changes));
  }
}

void SubscriptionHub::Rep::FanOut(const BlockEvents& ev) {
  for (auto& [cid, cp] : conns) {
    Conn& c = *cp;
    if (c.dead || c.subs.empty()) continue;
    // Copied: Deliver may end a receipt subscription while we walk.
    std::vector<std::pair<std::string, Filter>> subs(c.subs.begin(), c.subs.end());
    for (const auto& [sid, f] : subs) {
      if (c.dead) break;
      if (f.what == Filter::kHeads) {
        Deliver(c, sid, f.what, ev.head);
      } else if (f.what == Filter::kReceipt) {
        for (const auto& [tx, r] : ev.receipts)
          if (tx == f.tx) Deliver(c, sid, f.what, r);
      } else {
        for (const BlockEvents::Kv& k : ev.kv)
          if (k.owner == f.owner && k.ns == f.ns) Deliver(c, sid, f.what, k.json);
      }
    }
    if (!c.dead) Flush(c);
  }
}

void SubscriptionHub::Rep::Append(Conn& c, std::string_view bytes) {
  if (c.dead) return;
  if (c.pending() + bytes.size() > options.queue_bytes) {
    c.dead = true;  // a slow reader: dropped, never waited for
    stats.dropped_slow++;
    return;
  }
  if (c.out_pos > 0 && c.out_pos >= c.out.size() / 2) {
    c.out.erase(0, c.out_pos);
    c.out_pos = 0;
  }
  c.out.append(bytes);
}

void SubscriptionHub::Rep::Flush(Conn& c) {
  while (c.pending() > 0) {
    ssize_t n = send(c.fd, c.out.data() + c.out_pos, c.pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return WatchOut(c, true);
    if (n <= 0) {
      c.dead = true;
      return;
    }
    c.out_pos += static_cast<size_t>(n);
    c.last_write = Clock::now();
  }
  c.out.clear();
  c.out_pos = 0;
  WatchOut(c, false);
  if (c.close_after) c.dead = true;
}

void SubscriptionHub::Rep::Read(Conn& c) {
  char buf[kReadChunk];
  for (int i = 0; i < 4 && !c.dead; ++i) {
    ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      if (c.session) c.session->Eof();
      c.dead = true;
      return;
    }
    // An SSE client has nothing more to say; what it sends is dropped.
    if (c.session) c.session->Feed(buf, static_cast<size_t>(n));
  }
  if (!c.dead) Flush(c);
}

void SubscriptionHub::Rep::WatchOut(Conn& c, bool on) {
  if (c.want_out == on) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.u64 = c.id;
  epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev);
  c.want_out = on;
}

// An SSE comment after keepalive_ms of silence: proxies keep the stream,
// and a peer that went away without a FIN is found by the write.
void SubscriptionHub::Rep::Keepalive(Clock::time_point now) {
  for (auto& [id, c] : conns) {
    if (c->ws || c->dead || c->pending() > 0) continue;
    if (now - c->last_write < std::chrono::milliseconds(options.keepalive_ms)) continue;
    Append(*c, ": keepalive\n\n");
    Flush(*c);
  }
}

void SubscriptionHub::Rep::Reap() {
  for (auto it = conns.begin(); it != conns.end();) {
    Conn& c = *it->second;
    if (!c.dead) {
      ++it;
      continue;
    }
    stats.subscriptions -= c.subs.size();
    epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nullptr);
    shutdown(c.fd, SHUT_RDWR);
    close(c.fd);
    it = conns.erase(it);
  }
  stats.open = conns.size();
}

}  // namespace gtos::rpc
