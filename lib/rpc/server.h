// The node's HTTP interface: JSON-RPC 2.0 on POST /, binary submission of
// signed tx records on POST /tx, /healthz, /readyz and /metrics
// (docs/rpc.md).
//
// Thread safety: Start/Stop from one thread; requests are served on the
// server's own threads and only call the Backend's thread-safe methods.
#ifndef GTOS_RPC_SERVER_H_
#define GTOS_RPC_SERVER_H_

#include <memory>
#include <string>

#include "rpc/backend.h"

namespace gtos::rpc {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8545;              // 0 picks a free port (see port())
  size_t max_body_bytes = 32 << 20;
  size_t max_batch = 10'000;    // JSON-RPC batch entries / records per POST /tx
  int threads = 4;
};

class Server {
 public:
  Server(Backend& backend, ServerOptions options);
  ~Server();
  // Binds and starts serving in background threads. Fails (naming the
  // address) when the port cannot be bound.
  Status Start();
  // Stops accepting, finishes requests in flight and returns once idle
  // keep-alive connections have timed out (at most about 2 s).
  void Stop();
  int port() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace gtos::rpc

#endif  // GTOS_RPC_SERVER_H_
