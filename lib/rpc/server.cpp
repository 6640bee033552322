// The HTTP transport of the RPC server: connections go through the gate
// (lib/rpc/conn_gate.h), requests through cpp-httplib's parser onto a
// Dispatcher (lib/rpc/methods.h). Nothing httplib-specific leaves this file.
//
// Why not cpp-httplib's own connection handling: the Debian 12 library
// (0.11.4) serves each connection on one pool thread from accept to close,
// with a read timeout per recv() and no deadline for a whole head or body,
// queues accepted connections without bound, reads chunked bodies and
// decompresses gzip/brotli bodies without a size limit, and listens with a
// backlog of 5. A few slow clients held every thread (issue 12). So its
// accept loop is kept, but its task queue runs the accept task inline and
// our override of process_and_close_socket() hands the socket to the gate;
// a gate worker then calls the library's protected process_request() on a
// stream over the gate's connection, one request at a time.
#include "rpc/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "rpc/conn_gate.h"
#include "rpc/methods.h"

#ifndef GTOS_VERSION
#define GTOS_VERSION "0.1.0"
#endif

namespace gtos::rpc {

namespace {

// The connection the calling gate worker is serving, for the handlers that
// read request bodies themselves.
thread_local GateConn* t_conn = nullptr;

// Runs the library's per-connection task in its accept loop: the task is
// our process_and_close_socket(), which only hands the socket on.
class InlineQueue : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

class GateStream : public httplib::Stream {
 public:
  explicit GateStream(GateConn& c) : c_(c) {}
  using httplib::Stream::write;
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override { return c_.Read(ptr, size); }
  ssize_t write(const char* ptr, size_t size) override { return c_.Write(ptr, size); }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.remote_ip();
    port = c_.remote_port();
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.local_ip();
    port = c_.local_port();
  }
  // The library compares this with FD_SETSIZE only, to protect select(),
  // which it never calls on this stream: a busy node's descriptors may be
  // past 1024 (LevelDB files, peers) without that being an error here.
  socket_t socket() const override { return c_.fd() < FD_SETSIZE ? c_.fd() : 0; }

 private:
  GateConn& c_;
};

class GateHttpServer : public httplib::Server {
 public:
  explicit GateHttpServer(ConnGate& gate) : gate_(gate) {}

  // One request of `c`, parsed and answered by the library.
  void Serve(GateConn& c) {
    GateStream stream(c);
    bool connection_closed = false;
    t_conn = &c;
    bool ok = process_request(stream, c.last_request(), connection_closed, nullptr);
    t_conn = nullptr;
    if (!ok || connection_closed) c.CloseAfter();
  }
  // The library listens with a backlog of 5: under a connection flood the
  // kernel would drop SYNs and a health probe could wait a second for its
  // retransmission. listen() again on a bound socket sets the backlog.
  void RaiseBacklog(int backlog) { ::listen(svr_sock_.load(), backlog); }

 private:
  bool process_and_close_socket(socket_t sock) override {
    gate_.Admit(sock);
    return true;
  }
  ConnGate& gate_;
};

void Reply(httplib::Response& res, HttpReply r) {
  res.status = r.status;
  if (r.status == 204) return;
  res.set_content(std::move(r.body), r.content_type.c_str());
}

GateOptions ToGateOptions(const ServerOptions& o) {
  GateOptions g;
  g.threads = static_cast<size_t>(std::max(1, o.threads));
  g.max_connections = std::max<size_t>(1, o.max_connections);
  g.header_timeout_ms = o.header_timeout_ms;
  g.body_timeout_ms = o.body_timeout_ms;
  g.idle_timeout_ms = o.idle_timeout_ms;
  g.write_timeout_ms = o.write_timeout_ms;
  g.max_header_bytes = o.max_header_bytes;
  g.max_body_bytes = o.max_body_bytes;
  g.max_inflight_body_bytes = o.max_inflight_body_bytes;
  g.health_paths = {"/healthz", "/readyz"};
  g.post_paths = {"/", "/tx"};
  g.detach_paths = {"/ws", "/subscribe/"};
  return g;
}

GateOptions WithDetach(GateOptions g, std::function<void(int, std::string, RequestHead)> detach) {
  g.detach = std::move(detach);
  return g;
}

SubsOptions ToSubsOptions(const ServerOptions& o) {
  SubsOptions s;
  s.max_subscribers = std::max<size_t>(1, o.max_subscribers);
  s.queue_bytes = std::max<size_t>(1024, o.subscriber_queue_bytes);
  return s;
}

DispatchLimits ToDispatchLimits(const ServerOptions& o) {
  DispatchLimits l;
  l.max_batch = o.max_batch;
  l.json.max_values = o.max_json_values;
  l.json.max_depth = o.max_json_depth;
  l.max_response_bytes = o.max_response_bytes;
  return l;
}

}  // namespace

struct Server::Rep {
  Rep(Backend& b, ServerOptions o)
      : backend(b),
        options(std::move(o)),
        dispatcher(b, ToDispatchLimits(options), "gtos " GTOS_VERSION),
        gate(
            WithDetach(ToGateOptions(options),
                       [this](int fd, std::string received, RequestHead head) {
                         hub.Adopt(fd, std::move(received), std::move(head));
                       }),
            [this](GateConn& c) { http.Serve(c); },
            [this](int status, const RequestHead* head, const std::string& why) {
              bool post = head && head->method == "POST";
              HttpReply r =
                  dispatcher.Refused(status, why, post && head->path == "/", post && head->path == "/tx");
              return ConnGate::Refusal{r.content_type, r.body};
            }),
        http(gate),
        hub(b.chain(), ToSubsOptions(options)) {}
  void Route();
  std::optional<std::string> ReadBody(const httplib::ContentReader& reader, bool jsonrpc,
                                      httplib::Response& res);
  std::string GateMetrics() const;

  Backend& backend;
  ServerOptions options;
  Dispatcher dispatcher;
  ConnGate gate;
  GateHttpServer http;
  SubscriptionHub hub;
  std::thread thread;
  std::atomic<bool> listen_returned{false};
  int port = 0;
  bool started = false;
};

Server::Server(Backend& backend, ServerOptions options)
    : rep_(std::make_unique<Rep>(backend, std::move(options))) {
  rep_->Route();
}

Server::~Server() { Stop(); }

// The body of POST / or /tx: a Content-Length body straight from the gate's
// buffer; a chunked one through the library's decoder, capped as it comes.
// On failure the error reply is set, the connection closes after it, and
// nullopt is returned.
std::optional<std::string> Server::Rep::ReadBody(const httplib::ContentReader& reader, bool jsonrpc,
                                                 httplib::Response& res) {
  GateConn& c = *t_conn;
  if (!c.head().chunked) return c.TakeBody();
  // Reserved whole (address space only; the in-flight budget already counts
  // it): growing by doubling would hold the old and the new copy at once.
  size_t max = options.max_body_bytes;
  std::string body;
  body.reserve(max);
  bool too_large = false;
  bool ok = reader([&](const char* data, size_t n) {
    too_large = body.size() + n > max;
    if (!too_large) body.append(data, n);
    return !too_large;
  });
  if (ok) return body;
  c.CloseAfter();
  res.set_header("Connection", "close");
  if (too_large) {
    Reply(res, dispatcher.TooLarge(max, jsonrpc));
  } else if (c.timed_out()) {
    Reply(res, dispatcher.Refused(
                   408, "request body not received within " + std::to_string(options.body_timeout_ms) + " ms",
                   jsonrpc, !jsonrpc));
  } else {
    Reply(res, dispatcher.Refused(400, "malformed chunked request body", jsonrpc, !jsonrpc));
  }
  return std::nullopt;
}

std::string Server::Rep::GateMetrics() const {
  const GateStats& s = gate.stats();
  std::string m =
      "# HELP gtos_rpc_connections Open HTTP connections.\n"
      "# TYPE gtos_rpc_connections gauge\n"
      "gtos_rpc_connections " +
      std::to_string(s.open.load()) +
      "\n# HELP gtos_rpc_refused_total HTTP connections and requests refused or cut off, by reason.\n"
      "# TYPE gtos_rpc_refused_total counter\n";
  for (auto [reason, n] :
       {std::pair{"connection_limit", &s.connection_limit}, std::pair{"header_timeout", &s.header_timeout},
        std::pair{"body_timeout", &s.body_timeout}, std::pair{"too_large", &s.too_large},
        std::pair{"busy", &s.busy}, std::pair{"bad_request", &s.bad_request}})
    m += "gtos_rpc_refused_total{reason=\"" + std::string(reason) + "\"} " + std::to_string(n->load()) + "\n";
  const SubsStats& h = hub.stats();
  m += "# HELP gtos_rpc_subscribers Open subscription connections (/ws and /subscribe/...).\n"
       "# TYPE gtos_rpc_subscribers gauge\n"
       "gtos_rpc_subscribers " + std::to_string(h.open.load()) +
       "\n# HELP gtos_rpc_subscriptions Active subscriptions.\n"
       "# TYPE gtos_rpc_subscriptions gauge\n"
       "gtos_rpc_subscriptions " + std::to_string(h.subscriptions.load()) +
       "\n# HELP gtos_rpc_subscription_events_total Notifications queued to subscribers.\n"
       "# TYPE gtos_rpc_subscription_events_total counter\n"
       "gtos_rpc_subscription_events_total " + std::to_string(h.events.load()) +
       "\n# HELP gtos_rpc_subscribers_dropped_total Subscription connections closed or refused by the node, by reason.\n"
       "# TYPE gtos_rpc_subscribers_dropped_total counter\n"
       "gtos_rpc_subscribers_dropped_total{reason=\"slow\"} " + std::to_string(h.dropped_slow.load()) +
       "\ngtos_rpc_subscribers_dropped_total{reason=\"limit\"} " + std::to_string(h.refused_limit.load()) + "\n";
  return m;
}

void Server::Rep::Route() {
  Dispatcher& d = dispatcher;
  const ServerOptions& o = options;
  http.new_task_queue = [] { return new InlineQueue; };
  http.set_payload_max_length(o.max_body_bytes);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let
  // a second node bind the same port silently.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // These only shape the Keep-Alive response header now; the gate enforces them.
  http.set_keep_alive_timeout(std::max(1, (o.idle_timeout_ms + 999) / 1000));
  http.set_keep_alive_max_count(1000);

  http.Post("/",
            [this](const httplib::Request&, httplib::Response& res, const httplib::ContentReader& reader) {
              if (auto body = ReadBody(reader, true, res))
                Reply(res, dispatcher.HandleJsonRpc(std::move(*body)));
            });
  http.Post("/tx",
            [this](const httplib::Request&, httplib::Response& res, const httplib::ContentReader& reader) {
              if (auto body = ReadBody(reader, false, res))
                Reply(res, dispatcher.HandleTxRecords(AsBytes(*body)));
            });
  http.Get("/healthz",
           [](const httplib::Request&, httplib::Response& res) { Reply(res, Dispatcher::Healthz()); });
  http.Get("/readyz", [&d](const httplib::Request&, httplib::Response& res) { Reply(res, d.Readyz()); });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    HttpReply r = dispatcher.Metrics();
    r.body += GateMetrics();
    Reply(res, std::move(r));
  });

  // The library calls this for every status >= 400, also those a handler
  // set with a body of its own: only fill empty bodies.
  size_t limit = o.max_body_bytes;
  http.set_error_handler([&d, limit](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) {
      HttpReply r = d.TooLarge(limit, req.path != "/tx");
      res.set_content(r.body, r.content_type.c_str());
    } else {
      res.set_content("HTTP status " + std::to_string(res.status) + "\n", "text/plain");
    }
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}})",
                    "application/json");
  });
}

Status Server::Start() {
  Rep& r = *rep_;
  if (r.started) return Fail(ErrorCode::kInternal, "rpc server already started");
  std::string where = r.options.host + ":" + std::to_string(r.options.port);
  if (r.options.port == 0) {
    int port = r.http.bind_to_any_port(r.options.host);
    if (port <= 0) return Fail(ErrorCode::kIO, "unable to listen on '" + where + "'");
    r.port = port;
  } else {
    if (!r.http.bind_to_port(r.options.host, r.options.port))
      return Fail(ErrorCode::kIO, "unable to listen on '" + where + "': address in use or not permitted",
                  "pick another address with --rpc-addr HOST:PORT");
    r.port = r.options.port;
  }
  r.http.RaiseBacklog(1024);
  GTOS_TRY(r.hub.Start());
  GTOS_TRY(r.gate.Start());
  r.listen_returned = false;
  r.thread = std::thread([&r] {
    r.http.listen_after_bind();
    r.listen_returned = true;
  });
  r.started = true;
  // httplib's stop() is a no-op until the listening loop runs; wait for it
  // so that a Stop() right after Start() cannot leave the thread in accept.
  while (!r.http.is_running() && !r.listen_returned)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!r.http.is_running()) {
    Stop();
    return Fail(ErrorCode::kIO, "unable to listen on '" + where + "'");
  }
  return Ok();
}

void Server::Stop() {
  Rep& r = *rep_;
  if (!r.started) return;
  r.http.stop();
  if (r.thread.joinable()) r.thread.join();
  r.gate.Stop();
  r.hub.Stop();
  r.started = false;
}

int Server::port() const { return rep_->port; }

void Server::Publish(std::shared_ptr<const CommittedBlock> block) { rep_->hub.Publish(std::move(block)); }

}  // namespace gtos::rpc
