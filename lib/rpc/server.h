// The node's HTTP interface: JSON-RPC 2.0 on POST /, binary submission of
// signed tx records on POST /tx, /healthz, /readyz and /metrics, and live
// subscriptions on GET /ws (WebSocket) and GET /subscribe/... (server-sent
// events), served by a hub of their own (lib/rpc/subs.h) (docs/rpc.md).
//
// Thread safety: Start/Stop from one thread; requests are served on the
// server's own threads and only call the Backend's thread-safe methods.
#ifndef GTOS_RPC_SERVER_H_
#define GTOS_RPC_SERVER_H_

#include <memory>
#include <string>

#include "rpc/backend.h"
#include "rpc/subs.h"

namespace gtos::rpc {

// docs/rpc.md "Limits" explains each limit; gtos-node sets them from the
// rpc_* keys of gtos.toml (cmd/gtos-node/config.cpp).
struct ServerOptions {
  // Loopback by default: the server has no authentication.
  std::string host = "127.0.0.1";
  int port = 8545;  // 0 picks a free port (see port())
  int threads = 4;  // request workers; one more is reserved for /healthz and /readyz
  size_t max_connections = 256;
  int header_timeout_ms = 5000;   // a request head, from the connection (or its first byte)
  int body_timeout_ms = 10'000;   // a request body, from the end of its head
  int idle_timeout_ms = 2000;     // a keep-alive connection between requests
  int write_timeout_ms = 10'000;  // one response, from its first byte
  size_t max_header_bytes = 16 << 10;
  size_t max_body_bytes = 32 << 20;
  size_t max_inflight_body_bytes = 64 << 20;  // request bodies held at once, all connections
  size_t max_batch = 10'000;                  // JSON-RPC batch entries / records per POST /tx
  size_t max_json_values = 200'000;
  size_t max_json_depth = 32;
  size_t max_response_bytes = 64 << 20;
  size_t max_subscribers = 64;             // subscription connections (/ws, /subscribe/...)
  size_t subscriber_queue_bytes = 1 << 20;  // unsent bytes of one before it is dropped
};

class Server {
 public:
  Server(Backend& backend, ServerOptions options);
  ~Server();
  // Binds and starts serving in background threads. Fails (naming the
  // address) when the port cannot be bound.
  Status Start();
  // Stops accepting and closes every connection: requests being handled
  // finish (a response that cannot be written at once is cut), queued and
  // idle connections are closed. Returns within about 100 ms of the last
  // handler finishing.
  void Stop();
  int port() const;
  // Hands one committed block's events to the subscribers; never blocks on
  // them. Call in commit order.
  void Publish(std::shared_ptr<const CommittedBlock> block);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace gtos::rpc

#endif  // GTOS_RPC_SERVER_H_
