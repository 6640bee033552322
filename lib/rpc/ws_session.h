// One server side of a WebSocket connection (RFC 6455), done by
// websocketpp over its iostream transport: the subscription hub
// (lib/rpc/subs.h) feeds it the bytes it reads from the socket, the
// handshake request first, and sends the bytes the session hands back. The
// library does the handshake, framing, masking, fragmentation, ping/pong and
// the close handshake; nothing here touches a socket.
//
// websocketpp 0.8.2 does not compile as C++20 or later, so ws_session.cpp is
// the one file built as C++17 (lib/CMakeLists.txt) and this header uses
// nothing newer.
//
// Thread safety: a WsSession is used by one thread at a time; callbacks run
// on the caller's thread, inside Feed, Send or Close.
#ifndef GTOS_RPC_WS_SESSION_H_
#define GTOS_RPC_WS_SESSION_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace gtos::rpc {

class WsSession {
 public:
  struct Callbacks {
    std::function<void(std::string_view bytes)> write;  // to the socket, in order
    std::function<void(std::string message)> message;   // one whole data message
    std::function<void()> done;  // closed or failed: close the socket once written
  };
  // Messages larger than max_message_bytes close the session (1009).
  WsSession(Callbacks callbacks, size_t max_message_bytes);
  ~WsSession();
  WsSession(const WsSession&) = delete;
  WsSession& operator=(const WsSession&) = delete;

  // Bytes received from the peer.
  void Feed(const char* data, size_t n);
  // The peer's end of stream.
  void Eof();
  // One text message; false when the session is not open.
  bool Send(std::string_view text);
  // Starts the close handshake (or ends a session not yet open).
  void Close(uint16_t code, const std::string& reason);
  bool open() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace gtos::rpc

#endif  // GTOS_RPC_WS_SESSION_H_
