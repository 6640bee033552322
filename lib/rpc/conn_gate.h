// The connection side of the RPC server (docs/rpc.md, "Limits"). Every
// accepted socket is handed to the gate, which owns it until it is closed:
//
// - one poller thread (epoll) reads request heads and Content-Length
//   bodies of every connection, so a slow client costs a buffer, never a
//   thread: a head must be complete within header_timeout of the
//   connection (or of its first byte after an idle keep-alive), a body
//   within body_timeout of its head;
// - a request is refused from its head alone (lib/rpc/http_head.h): a body
//   over max_body_bytes is 413 before a byte of it is read, a body that
//   would take the bodies held in memory past max_inflight_body_bytes is
//   503, and so is a request when the worker queue is full;
// - whole requests go to `threads` workers; GET and HEAD of the health
//   paths go to one more worker reserved for them, so /healthz and /readyz
//   answer while every other worker is busy;
// - at most max_connections are open: a new one closes the oldest that is
//   not being served (idle, sending its head or body, or closing), or is
//   refused with 503 when every open one is being served;
// - GET of a detach path (the subscription streams) leaves the gate with
//   its socket once its head is read: it never takes a worker.
//
// A worker serves one request through GateConn: the HTTP library parses
// the buffered head from Read(), takes a Content-Length body whole with
// TakeBody() (or streams a chunked one from Read(), capped and under the
// body deadline), and writes the response with Write(). After it, the
// connection goes back to the poller for its next request, or is closed.
// Nothing here knows the HTTP library.
//
// Thread safety: Admit may be called from any thread; Start and Stop from
// one thread. A GateConn is used by the one worker serving it.
#ifndef GTOS_RPC_CONN_GATE_H_
#define GTOS_RPC_CONN_GATE_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rpc/http_head.h"
#include "util/status.h"

namespace gtos::rpc {

struct GateOptions {
  size_t threads = 4;            // request workers, besides the health worker
  size_t max_connections = 256;  // open at once
  int header_timeout_ms = 5000;
  int body_timeout_ms = 10'000;
  int idle_timeout_ms = 2000;     // a keep-alive connection without a request
  int write_timeout_ms = 10'000;  // one response (health answers never wait)
  size_t max_header_bytes = 16 << 10;
  size_t max_body_bytes = 32 << 20;
  size_t max_inflight_body_bytes = 64 << 20;  // bodies held at once (a chunked one counts max_body_bytes)
  size_t max_requests_per_connection = 1000;
  std::vector<std::string> health_paths;  // served by the reserved worker (GET, HEAD)
  std::vector<std::string> post_paths;    // other POST paths are 404 before the body is read
  // GET and HEAD of these paths (exact, or every path under one that ends
  // in '/') leave the gate as soon as their head is read: `detach` takes
  // the socket and every byte received on it, and owns both from then on.
  // This is how long-lived subscription streams stay off the workers.
  std::vector<std::string> detach_paths;
  std::function<void(int fd, std::string received, RequestHead head)> detach;
};

// Counters since Start, for /metrics.
struct GateStats {
  std::atomic<uint64_t> open{0};              // connections open now
  std::atomic<uint64_t> connection_limit{0};  // closed or refused to stay within max_connections
  std::atomic<uint64_t> header_timeout{0};
  std::atomic<uint64_t> body_timeout{0};  // bodies cut off at the deadline (any framing)
  std::atomic<uint64_t> too_large{0};     // 413 and 431
  std::atomic<uint64_t> busy{0};          // 503: queue full or body memory exhausted
  std::atomic<uint64_t> bad_request{0};   // 400, 404, 405, 411, 415, 417, 501 from the gate
  std::atomic<uint64_t> detached{0};      // handed to options.detach
};

class GateConn {
 public:
  GateConn(const GateConn&) = delete;
  GateConn& operator=(const GateConn&) = delete;

  const RequestHead& head() const { return head_; }
  // Bytes of this request: the buffered head and body, then (chunked only)
  // the socket until the body deadline. 0 at the end of a Content-Length
  // request; -1 on a socket error, at the deadline, past the raw byte cap
  // of a chunked body (2 x max_body_bytes + 64 KiB), or when stopping.
  ssize_t Read(char* buf, size_t n);
  // Writes all of buf: n, or -1 when the peer is gone or the response's
  // write deadline passed (the connection is then closed).
  ssize_t Write(const char* buf, size_t n);
  // The whole Content-Length body, moved out of the connection's buffer.
  // REQUIRES: head().content_length.
  std::string TakeBody();
  // Close the connection after this response.
  void CloseAfter() { close_after_ = true; }
  // This is the connection's last request (max_requests_per_connection).
  bool last_request() const;
  bool timed_out() const { return timed_out_; }
  int fd() const { return fd_; }
  const std::string& remote_ip() const { return remote_ip_; }
  int remote_port() const { return remote_port_; }
  const std::string& local_ip() const { return local_ip_; }
  int local_port() const { return local_port_; }

 private:
  friend class ConnGate;
  // kQueued: with a worker, queued or being served; only the poller
  // changes the state, and never of a kQueued connection.
  enum class State { kHead, kIdle, kBody, kQueued, kLinger };
  using Clock = std::chrono::steady_clock;
  GateConn(int fd, uint64_t id, const GateOptions& o, const std::atomic<bool>& stopping);
  // Waits for `events` on the socket until `deadline` (in slices, to notice
  // stopping); false when it did not come.
  bool WaitFor(short events, Clock::time_point deadline);

  const int fd_;
  const uint64_t id_;
  const GateOptions& options_;
  const std::atomic<bool>& stopping_;
  State state_ = State::kHead;
  bool registered_ = false;  // in the epoll set
  bool health_ = false;
  bool close_after_ = false;
  bool timed_out_ = false;
  Clock::time_point deadline_;        // of the state in the poller
  Clock::time_point read_deadline_;   // of a chunked body being served
  Clock::time_point write_deadline_;  // of the response, from its first byte
  bool writing_ = false;
  uint64_t evict_seq_ = 0;
  std::string in_;       // received, not yet dropped: this request, then maybe the next
  size_t pos_ = 0;       // next byte of in_ for Read
  size_t limit_ = 0;     // end of this request in in_; npos: chunked (read the socket)
  size_t scanned_ = 0;   // bytes of in_ already searched for the end of a head
  size_t charged_ = 0;   // bytes of the body budget held
  size_t raw_read_ = 0;  // chunked: bytes read from the socket for this request
  size_t served_ = 0;
  RequestHead head_;
  std::string remote_ip_, local_ip_;
  int remote_port_ = 0, local_port_ = 0;
};

class ConnGate {
 public:
  // Serves one request; runs on a worker thread.
  using ServeFn = std::function<void(GateConn&)>;
  // The body of a response the gate sends itself (413, 503, ...); `head`
  // is null when the head could not be read.
  struct Refusal {
    std::string content_type = "text/plain";
    std::string body;
  };
  using RefusalFn = std::function<Refusal(int status, const RequestHead* head, const std::string& why)>;

  ConnGate(GateOptions options, ServeFn serve, RefusalFn refusal);
  ~ConnGate();
  Status Start();
  // Takes ownership of an accepted socket.
  void Admit(int fd);
  // Closes every connection: requests being served finish (a blocked read
  // or write gives up), queued ones are closed unanswered. Idempotent.
  void Stop();
  const GateStats& stats() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace gtos::rpc

#endif  // GTOS_RPC_CONN_GATE_H_
