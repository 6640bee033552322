#include "rpc/conn_gate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace gtos::rpc {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kReadChunk = 16 << 10;
constexpr size_t kHealthQueue = 256;
constexpr milliseconds kLinger{2000};          // reading and dropping what a refused client still sends
constexpr milliseconds kSweepEvery{100};       // deadline resolution
constexpr size_t kKeepBufferBytes = 64 << 10;  // a larger buffer is freed between requests

void AddressOf(int fd, bool peer, std::string* ip, int* port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
               : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) return;
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    *port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    *port = ntohs(a->sin6_port);
  }
  *ip = buf;
}

// A response the gate writes itself, best effort: it is small and the
// socket buffer is empty, so one non-blocking send nearly always takes it.
void SendCanned(int fd, int status, const ConnGate::Refusal& r) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(ReasonPhrase(status)) +
                    "\r\nContent-Type: " + r.content_type +
                    "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" +
                    r.body;
  (void)!send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

// ---- GateConn: used by the worker serving it -----------------------------------

GateConn::GateConn(int fd, uint64_t id, const GateOptions& o, const std::atomic<bool>& stopping)
    : fd_(fd), id_(id), options_(o), stopping_(stopping) {}

bool GateConn::last_request() const { return served_ + 1 >= options_.max_requests_per_connection; }

bool GateConn::WaitFor(short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
    if (stopping_.load()) return false;
    pollfd p{fd_, events, 0};
    int r = poll(&p, 1, static_cast<int>(std::clamp<long long>(left, 0, 100)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
    if (left <= 0) return false;
  }
}

ssize_t GateConn::Read(char* buf, size_t n) {
  if (limit_ != std::string::npos) {  // everything of this request is buffered
    size_t end = std::min(limit_, in_.size());
    if (pos_ >= end) return 0;
    size_t k = std::min(n, end - pos_);
    std::memcpy(buf, in_.data() + pos_, k);
    pos_ += k;
    return static_cast<ssize_t>(k);
  }
  if (pos_ >= in_.size()) {  // chunked: refill from the socket
    size_t cap = 2 * options_.max_body_bytes + (64 << 10);
    if (raw_read_ >= cap) return -1;
    in_.resize(std::min(kReadChunk, cap - raw_read_));
    pos_ = 0;
    for (;;) {
      ssize_t r = recv(fd_, in_.data(), in_.size(), 0);
      if (r > 0) {
        in_.resize(static_cast<size_t>(r));
        raw_read_ += static_cast<size_t>(r);
        break;
      }
      if (r == 0) {
        in_.clear();
        return 0;
      }
      if (errno == EINTR) continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !WaitFor(POLLIN, read_deadline_)) {
        timed_out_ = !stopping_.load() && Clock::now() >= read_deadline_;
        close_after_ = true;
        in_.clear();
        return -1;
      }
    }
  }
  size_t k = std::min(n, in_.size() - pos_);
  std::memcpy(buf, in_.data() + pos_, k);
  pos_ += k;
  return static_cast<ssize_t>(k);
}

ssize_t GateConn::Write(const char* buf, size_t n) {
  if (!writing_) {
    // A health answer is a few bytes that fit any socket buffer; a client
    // that does not read them is not waited for.
    writing_ = true;
    write_deadline_ = Clock::now() + milliseconds(health_ ? 0 : options_.write_timeout_ms);
  }
  size_t done = 0;
  while (done < n) {
    ssize_t r = send(fd_, buf + done, n - done, MSG_NOSIGNAL);
    if (r > 0) {
      done += static_cast<size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && WaitFor(POLLOUT, write_deadline_)) continue;
    close_after_ = true;
    return -1;
  }
  return static_cast<ssize_t>(n);
}

std::string GateConn::TakeBody() {
  // Reuses the buffer: the body is moved to its front, the next request's
  // bytes (pipelined, rare) are copied out.
  size_t start = head_.head_bytes, end = std::min(limit_, in_.size());
  std::string rest = in_.substr(end);
  std::string body = std::move(in_);
  body.resize(end);
  body.erase(0, start);
  in_ = std::move(rest);
  pos_ = limit_ = 0;
  return body;
}

// ---- the gate ----------------------------------------------------------------------

struct ConnGate::Rep {
  Rep(GateOptions o, ServeFn s, RefusalFn r)
      : options(std::move(o)), serve(std::move(s)), refusal(std::move(r)) {}

  void PollLoop();
  void WorkerLoop(bool health);
  void TakeIncoming();
  void TakeReturned();
  void OnEvent(GateConn& c);
  void ReadHead(GateConn& c);
  void TryHead(GateConn& c);
  void OnHead(GateConn& c, RequestHead head);
  void ReadBody(GateConn& c);
  void Dispatch(GateConn& c, bool health);
  bool Detaches(const RequestHead& h) const;
  void Detach(GateConn& c);
  void Resume(GateConn& c);
  void Refuse(GateConn& c, int status, const RequestHead* head, const std::string& why);
  void Linger(GateConn& c);
  void Drain(GateConn& c);
  void Close(GateConn& c);
  void Sweep(Clock::time_point now);
  bool EvictOne();
  void MarkEvictable(GateConn& c);
  void Watch(GateConn& c, bool on);
  bool Charge(GateConn& c, size_t bytes);
  void Wake();
  size_t MaxQueued() const { return std::max<size_t>(16, 4 * options.threads); }

  const GateOptions options;
  ServeFn serve;
  RefusalFn refusal;
  GateStats stats;
  std::atomic<bool> stopping{false};
  bool started = false;
  int epfd = -1, wakefd = -1;
  std::thread poller;
  std::vector<std::thread> workers;

  std::mutex mu;  // guards the members up to the next blank line
  std::condition_variable work_cv, health_cv;
  std::deque<int> incoming;         // accepted, not yet seen by the poller
  std::vector<GateConn*> returned;  // served, back to the poller
  std::deque<GateConn*> work_q, health_q;
  bool workers_stop = false;

  // Poller thread only (and Stop, once the poller has ended).
  std::unordered_map<uint64_t, std::unique_ptr<GateConn>> conns;
  std::deque<std::pair<uint64_t, uint64_t>> evict_order;  // (id, evict_seq), oldest first
  uint64_t next_id = 1, next_seq = 1;
  std::atomic<size_t> inflight_body{0};
};

ConnGate::ConnGate(GateOptions options, ServeFn serve, RefusalFn refusal)
    : rep_(std::make_unique<Rep>(std::move(options), std::move(serve), std::move(refusal))) {}

ConnGate::~ConnGate() { Stop(); }

const GateStats& ConnGate::stats() const { return rep_->stats; }

Status ConnGate::Start() {
  Rep& r = *rep_;
  if (r.started) return Fail(ErrorCode::kInternal, "connection gate already started");
  r.epfd = epoll_create1(EPOLL_CLOEXEC);
  r.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r.epfd < 0 || r.wakefd < 0) return Fail(ErrorCode::kIO, std::string("epoll: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;  // connection ids start at 1
  epoll_ctl(r.epfd, EPOLL_CTL_ADD, r.wakefd, &ev);
  r.started = true;
  r.poller = std::thread([&r] { r.PollLoop(); });
  for (size_t i = 0; i < std::max<size_t>(1, r.options.threads); ++i)
    r.workers.emplace_back([&r] { r.WorkerLoop(false); });
  r.workers.emplace_back([&r] { r.WorkerLoop(true); });
  return Ok();
}

void ConnGate::Stop() {
  Rep& r = *rep_;
  if (!r.started) return;
  r.stopping = true;
  r.Wake();
  if (r.poller.joinable()) r.poller.join();
  {
    std::lock_guard<std::mutex> l(r.mu);
    r.workers_stop = true;
  }
  r.work_cv.notify_all();
  r.health_cv.notify_all();
  for (std::thread& t : r.workers) t.join();
  r.workers.clear();
  for (auto& [id, c] : r.conns) close(c->fd_);
  r.conns.clear();
  for (int fd : r.incoming) close(fd);
  r.incoming.clear();
  r.returned.clear();
  r.work_q.clear();
  r.health_q.clear();
  close(r.epfd);
  close(r.wakefd);
  r.stats.open = 0;
  r.started = false;
}

void ConnGate::Admit(int fd) {
  Rep& r = *rep_;
  int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int dropped = -1;
  {
    std::lock_guard<std::mutex> l(r.mu);
    if (r.stopping) {
      dropped = fd;
    } else {
      // A flood can outrun the poller for a moment; then a waiting socket
      // makes room: the oldest that has sent nothing yet (or hung up), so
      // that a client that sent its request (a health probe among the
      // flood) keeps its place, else the oldest.
      if (r.incoming.size() >= r.options.max_connections + 1024) {
        size_t victim = 0;
        for (size_t i = 0; i < std::min<size_t>(r.incoming.size(), 64); ++i) {
          char b;
          if (recv(r.incoming[i], &b, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) {
            victim = i;
            break;
          }
        }
        dropped = r.incoming[victim];
        r.incoming.erase(r.incoming.begin() + static_cast<std::ptrdiff_t>(victim));
      }
      r.incoming.push_back(fd);
    }
  }
  if (dropped >= 0) {
    r.stats.connection_limit++;
    SendCanned(dropped, 503, r.refusal(503, nullptr, "too many connections"));
    close(dropped);
  }
  r.Wake();
}

void ConnGate::Rep::Wake() {
  uint64_t one = 1;
  (void)!write(wakefd, &one, sizeof(one));
}

void ConnGate::Rep::PollLoop() {
  epoll_event events[128];
  auto last_sweep = Clock::now();
  while (!stopping) {
    int n = epoll_wait(epfd, events, 128, static_cast<int>(kSweepEvery.count()));
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == 0) {
        uint64_t v;
        (void)!read(wakefd, &v, sizeof(v));
        continue;
      }
      auto it = conns.find(id);
      if (it != conns.end()) OnEvent(*it->second);
    }
    TakeIncoming();
    TakeReturned();
    auto now = Clock::now();
    if (now - last_sweep >= kSweepEvery) {
      Sweep(now);
      last_sweep = now;
    }
  }
}

void ConnGate::Rep::TakeIncoming() {
  std::deque<int> fds;
  {
    std::lock_guard<std::mutex> l(mu);
    fds.swap(incoming);
  }
  for (int fd : fds) {
    if (conns.size() >= options.max_connections && !EvictOne()) {
      stats.connection_limit++;
      SendCanned(fd, 503, refusal(503, nullptr, "too many connections"));
      close(fd);
      continue;
    }
    auto c = std::unique_ptr<GateConn>(new GateConn(fd, next_id++, options, stopping));
    AddressOf(fd, true, &c->remote_ip_, &c->remote_port_);
    AddressOf(fd, false, &c->local_ip_, &c->local_port_);
    c->state_ = GateConn::State::kHead;
    c->deadline_ = Clock::now() + milliseconds(options.header_timeout_ms);
    GateConn& ref = *c;
    conns.emplace(ref.id_, std::move(c));
    stats.open = conns.size();
    MarkEvictable(ref);
    Watch(ref, true);
    // Look at once: a client that sent its request with the connection (a
    // health probe) is served rather than left evictable behind a flood of
    // newer connections, and one that already hung up frees its slot.
    ReadHead(ref);
  }
}

void ConnGate::Rep::TakeReturned() {
  std::vector<GateConn*> back;
  {
    std::lock_guard<std::mutex> l(mu);
    back.swap(returned);
  }
  for (GateConn* c : back) Resume(*c);
}

void ConnGate::Rep::Watch(GateConn& c, bool on) {
  if (c.registered_ == on) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = c.id_;
  epoll_ctl(epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, c.fd_, &ev);
  c.registered_ = on;
}

void ConnGate::Rep::MarkEvictable(GateConn& c) {
  c.evict_seq_ = next_seq++;
  evict_order.emplace_back(c.id_, c.evict_seq_);
  if (evict_order.size() > 4 * conns.size() + 1024) {  // drop stale entries now and then
    std::deque<std::pair<uint64_t, uint64_t>> live;
    for (auto& e : evict_order) {
      auto it = conns.find(e.first);
      if (it != conns.end() && it->second->evict_seq_ == e.second) live.push_back(e);
    }
    evict_order.swap(live);
  }
}

// Closes the connection that has waited longest without being served.
bool ConnGate::Rep::EvictOne() {
  while (!evict_order.empty()) {
    auto [id, seq] = evict_order.front();
    evict_order.pop_front();
    auto it = conns.find(id);
    if (it == conns.end() || it->second->evict_seq_ != seq) continue;
    GateConn& c = *it->second;
    if (c.state_ == GateConn::State::kQueued) continue;
    stats.connection_limit++;
    Close(c);
    return true;
  }
  return false;
}

void ConnGate::Rep::OnEvent(GateConn& c) {
  switch (c.state_) {
    case GateConn::State::kHead:
    case GateConn::State::kIdle:
      ReadHead(c);
      break;
    case GateConn::State::kBody:
      ReadBody(c);
      break;
    case GateConn::State::kLinger:
      Drain(c);
      break;
    default:
      break;
  }
}

void ConnGate::Rep::ReadHead(GateConn& c) {
  char buf[kReadChunk];
  ssize_t r = recv(c.fd_, buf, sizeof(buf), 0);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (r <= 0) return Close(c);
  if (c.state_ == GateConn::State::kIdle) {  // the next request begins: its head has header_timeout
    c.state_ = GateConn::State::kHead;
    c.deadline_ = Clock::now() + milliseconds(options.header_timeout_ms);
  }
  c.in_.append(buf, static_cast<size_t>(r));
  TryHead(c);
}

void ConnGate::Rep::TryHead(GateConn& c) {
  size_t from = c.scanned_ > 3 ? c.scanned_ - 3 : 0;
  if (c.in_.find("\r\n\r\n", from) == std::string::npos && c.in_.size() < options.max_header_bytes) {
    c.scanned_ = c.in_.size();
    return;
  }
  c.scanned_ = 0;
  HeadScan s = ScanRequestHead(c.in_, options.max_header_bytes);
  if (s.status == HeadScan::kBad) {
    (s.http_status == 431 ? stats.too_large : stats.bad_request)++;
    return Refuse(c, s.http_status, nullptr, s.error);
  }
  if (s.status == HeadScan::kComplete) OnHead(c, std::move(s.head));
}

void ConnGate::Rep::OnHead(GateConn& c, RequestHead head) {
  c.head_ = std::move(head);
  const RequestHead& h = c.head_;
  auto now = Clock::now();
  if (Detaches(h)) return Detach(c);
  if (h.method == "POST" && !Contains(options.post_paths, h.path)) {
    stats.bad_request++;
    return Refuse(c, 404, &h, "no such path");
  }
  if (h.content_length && *h.content_length > options.max_body_bytes) {
    stats.too_large++;
    return Refuse(c, 413, &h,
                  "request body exceeds the limit of " + std::to_string(options.max_body_bytes) + " bytes");
  }
  if (h.expect_continue) {  // answered here; the line is cut so that the library does not answer again
    c.in_.erase(h.expect_line_offset, h.expect_line_bytes);
    c.head_.head_bytes -= h.expect_line_bytes;
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    (void)!send(c.fd_, kContinue.data(), kContinue.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  c.read_deadline_ = now + milliseconds(options.body_timeout_ms);
  if (h.chunked) {
    if (!Charge(c, options.max_body_bytes)) return;
    c.limit_ = std::string::npos;
    return Dispatch(c, false);
  }
  c.limit_ = h.head_bytes + h.content_length.value_or(0);
  if (c.in_.size() >= c.limit_) {
    if (h.has_body() && !Charge(c, *h.content_length)) return;
    bool health = h.method != "POST" && Contains(options.health_paths, h.path);
    return Dispatch(c, health);
  }
  if (!Charge(c, *h.content_length)) return;
  c.in_.reserve(c.limit_);
  c.state_ = GateConn::State::kBody;
  c.deadline_ = c.read_deadline_;
  ReadBody(c);
}

bool ConnGate::Rep::Charge(GateConn& c, size_t bytes) {
  size_t used = inflight_body.load();
  do {
    if (used + bytes > options.max_inflight_body_bytes) {
      stats.busy++;
      Refuse(c, 503, &c.head_, "too many request bodies in memory; try again");
      return false;
    }
  } while (!inflight_body.compare_exchange_weak(used, used + bytes));
  c.charged_ += bytes;
  return true;
}

void ConnGate::Rep::ReadBody(GateConn& c) {
  size_t want = c.limit_ - c.in_.size();
  size_t old = c.in_.size();
  c.in_.resize(old + std::min(want, size_t{256} << 10));
  ssize_t r = recv(c.fd_, c.in_.data() + old, c.in_.size() - old, 0);
  int err = errno;
  c.in_.resize(old + static_cast<size_t>(std::max<ssize_t>(r, 0)));
  if (r < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)) return;
  if (r <= 0) return Close(c);
  if (c.in_.size() >= c.limit_) Dispatch(c, false);
}

bool ConnGate::Rep::Detaches(const RequestHead& h) const {
  if (!options.detach || (h.method != "GET" && h.method != "HEAD")) return false;
  for (const std::string& p : options.detach_paths)
    if (p.ends_with('/') ? h.path.starts_with(p) : h.path == p) return true;
  return false;
}

void ConnGate::Rep::Detach(GateConn& c) {
  Watch(c, false);
  int fd = c.fd_;
  std::string received = std::move(c.in_);
  RequestHead head = std::move(c.head_);
  inflight_body -= c.charged_;
  conns.erase(c.id_);  // destroys c; the socket stays open
  stats.open = conns.size();
  stats.detached++;
  options.detach(fd, std::move(received), std::move(head));
}

void ConnGate::Rep::Dispatch(GateConn& c, bool health) {
  Watch(c, false);
  {
    std::lock_guard<std::mutex> l(mu);
    auto& q = health ? health_q : work_q;
    if (q.size() < (health ? kHealthQueue : MaxQueued())) {
      c.state_ = GateConn::State::kQueued;
      c.health_ = health;
      c.pos_ = 0;
      c.raw_read_ = 0;
      c.writing_ = false;
      q.push_back(&c);
      (health ? health_cv : work_cv).notify_one();
      return;
    }
  }
  stats.busy++;
  Refuse(c, 503, &c.head_, "server busy; try again");
}

void ConnGate::Rep::WorkerLoop(bool health) {
  auto& q = health ? health_q : work_q;
  auto& cv = health ? health_cv : work_cv;
  for (;;) {
    GateConn* c = nullptr;
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return workers_stop || !q.empty(); });
      if (workers_stop) return;
      c = q.front();
      q.pop_front();
    }
    serve(*c);
    inflight_body -= c->charged_;  // the body is gone with the handler
    c->charged_ = 0;
    {
      std::lock_guard<std::mutex> l(mu);
      returned.push_back(c);
    }
    Wake();
  }
}

void ConnGate::Rep::Resume(GateConn& c) {
  inflight_body -= c.charged_;
  c.charged_ = 0;
  c.served_++;
  if (c.timed_out_) stats.body_timeout++;
  if (c.close_after_ || c.head_.chunked || c.served_ >= options.max_requests_per_connection) return Linger(c);
  // Drop this request's bytes; what follows is the next request.
  c.in_.erase(0, std::min(c.limit_, c.in_.size()));
  if (c.in_.capacity() > kKeepBufferBytes) c.in_.shrink_to_fit();
  c.pos_ = c.limit_ = 0;
  c.head_ = RequestHead{};
  c.state_ = GateConn::State::kIdle;
  c.deadline_ = Clock::now() + milliseconds(options.idle_timeout_ms);
  MarkEvictable(c);
  Watch(c, true);
  if (!c.in_.empty()) {
    c.state_ = GateConn::State::kHead;
    c.deadline_ = Clock::now() + milliseconds(options.header_timeout_ms);
    TryHead(c);
  }
}

void ConnGate::Rep::Refuse(GateConn& c, int status, const RequestHead* head, const std::string& why) {
  SendCanned(c.fd_, status, refusal(status, head, why));
  Linger(c);
}

// Closes our side for writing and reads what the client still sends for a
// moment: closing with unread bytes would reset the connection, and the
// client could lose the answer it was sent.
void ConnGate::Rep::Linger(GateConn& c) {
  inflight_body -= c.charged_;
  c.charged_ = 0;
  shutdown(c.fd_, SHUT_WR);
  c.in_ = std::string();
  c.state_ = GateConn::State::kLinger;
  c.deadline_ = Clock::now() + kLinger;
  MarkEvictable(c);
  Watch(c, true);
}

void ConnGate::Rep::Drain(GateConn& c) {
  char buf[kReadChunk];
  for (int i = 0; i < 16; ++i) {
    ssize_t r = recv(c.fd_, buf, sizeof(buf), 0);
    if (r > 0) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    return Close(c);
  }
}

void ConnGate::Rep::Close(GateConn& c) {
  inflight_body -= c.charged_;
  Watch(c, false);
  close(c.fd_);
  conns.erase(c.id_);  // destroys c
  stats.open = conns.size();
}

void ConnGate::Rep::Sweep(Clock::time_point now) {
  std::vector<GateConn*> expired;
  for (auto& [id, c] : conns) {
    auto s = c->state_;
    if (s != GateConn::State::kQueued && c->deadline_ <= now) expired.push_back(c.get());
  }
  for (GateConn* c : expired) {
    if (c->state_ == GateConn::State::kHead || c->state_ == GateConn::State::kBody) {
      bool head = c->state_ == GateConn::State::kHead;
      (head ? stats.header_timeout : stats.body_timeout)++;
      std::string why =
          head ? "request head not received within " + std::to_string(options.header_timeout_ms) + " ms"
               : "request body not received within " + std::to_string(options.body_timeout_ms) + " ms";
      SendCanned(c->fd_, 408, refusal(408, head ? nullptr : &c->head_, why));
    }
    Close(*c);
  }
}

}  // namespace gtos::rpc
