// The HTTP transport of the RPC server: cpp-httplib routes onto a
// Dispatcher (lib/rpc/methods.h). Nothing httplib-specific leaves this file.
#include "rpc/server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "rpc/methods.h"

#ifndef GTOS_VERSION
#define GTOS_VERSION "0.1.0"
#endif

namespace gtos::rpc {

struct Server::Rep {
  Rep(Backend& b, ServerOptions o)
      : backend(b), options(std::move(o)), dispatcher(b, options.max_batch, "gtos " GTOS_VERSION) {}
  void Route();

  Backend& backend;
  ServerOptions options;
  Dispatcher dispatcher;
  httplib::Server http;
  std::thread thread;
  std::atomic<bool> listen_returned{false};
  int port = 0;
  bool started = false;
};

namespace {

void Reply(httplib::Response& res, HttpReply r) {
  res.status = r.status;
  if (r.status == 204) return;
  res.set_content(std::move(r.body), r.content_type.c_str());
}

}  // namespace

Server::Server(Backend& backend, ServerOptions options)
    : rep_(std::make_unique<Rep>(backend, std::move(options))) {
  rep_->Route();
}

Server::~Server() { Stop(); }

void Server::Rep::Route() {
  Dispatcher& d = dispatcher;
  const ServerOptions& o = options;
  int threads = std::max(1, o.threads);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_payload_max_length(o.max_body_bytes);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let
  // a second node bind the same port silently.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // An idle keep-alive connection holds a worker thread: keep that short.
  http.set_keep_alive_timeout(2);
  // Headers and body go out in separate writes: without TCP_NODELAY each
  // reply waits for the client's delayed ACK (~40 ms).
  http.set_tcp_nodelay(true);
  http.set_keep_alive_max_count(1000);
  http.set_read_timeout(30);
  http.set_write_timeout(30);

  http.Post("/", [&d](const httplib::Request& req, httplib::Response& res) {
    Reply(res, d.HandleJsonRpc(req.body));
  });
  http.Post("/tx", [&d](const httplib::Request& req, httplib::Response& res) {
    Reply(res, d.HandleTxRecords(AsBytes(req.body)));
  });
  http.Get("/healthz",
           [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  http.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    bool ready = backend.Ready();
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ready" : "not ready", "text/plain");
  });
  http.Get("/metrics", [&d](const httplib::Request&, httplib::Response& res) { Reply(res, d.Metrics()); });

  // httplib answers a body over the limit with 413 before any handler
  // runs; give that answer a JSON body too.
  size_t limit = o.max_body_bytes;
  http.set_error_handler([&d, limit](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 413) {
      HttpReply r = d.TooLarge(limit, req.path != "/tx");
      res.set_content(r.body, r.content_type.c_str());
    } else if (res.body.empty()) {
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
  r.started = false;
}

int Server::port() const { return rep_->port; }

}  // namespace gtos::rpc
