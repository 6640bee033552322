// Built as C++17: see ws_session.h.
#include "rpc/ws_session.h"

#include <websocketpp/config/core.hpp>
#include <websocketpp/server.hpp>

namespace gtos::rpc {

namespace {
using Endpoint = websocketpp::server<websocketpp::config::core>;
}

// One endpoint per session: its handlers then belong to this session alone,
// and an endpoint without a transport costs a few hundred bytes.
struct WsSession::Rep {
  Callbacks cb;
  Endpoint endpoint;
  Endpoint::connection_ptr con;
  bool done = false;

  void Done() {
    if (done) return;
    done = true;
    if (cb.done) cb.done();
  }
};

WsSession::WsSession(Callbacks callbacks, size_t max_message_bytes) : rep_(std::make_unique<Rep>()) {
  Rep& r = *rep_;
  r.cb = std::move(callbacks);
  r.endpoint.clear_access_channels(websocketpp::log::alevel::all);
  r.endpoint.clear_error_channels(websocketpp::log::elevel::all);
  r.endpoint.set_max_message_size(max_message_bytes);
  r.endpoint.set_message_handler([&r](websocketpp::connection_hdl, Endpoint::message_ptr m) {
    if (r.cb.message) r.cb.message(std::move(m->get_raw_payload()));
  });
  r.endpoint.set_close_handler([&r](websocketpp::connection_hdl) { r.Done(); });
  r.endpoint.set_fail_handler([&r](websocketpp::connection_hdl) { r.Done(); });
  r.con = r.endpoint.get_connection();
  r.con->set_write_handler([&r](websocketpp::connection_hdl, char const* data, size_t n) {
    r.cb.write(std::string_view(data, n));
    return websocketpp::lib::error_code();
  });
  r.con->set_shutdown_handler([&r](websocketpp::connection_hdl) {
    r.Done();
    return websocketpp::lib::error_code();
  });
  r.con->start();
}

WsSession::~WsSession() {
  // The connection's handlers refer to rep_; drop them before it goes.
  if (rep_ && rep_->con) {
    rep_->cb = Callbacks();
    rep_->done = true;
  }
}

void WsSession::Feed(const char* data, size_t n) {
  size_t off = 0;
  while (off < n && !rep_->done) {
    size_t used = rep_->con->read_some(data + off, n - off);
    if (used == 0) break;  // the connection takes no more input
    off += used;
  }
}

void WsSession::Eof() {
  if (!rep_->done) rep_->con->eof();
  rep_->Done();
}

bool WsSession::Send(std::string_view text) {
  if (!open()) return false;
  return !rep_->con->send(std::string(text), websocketpp::frame::opcode::text);
}

void WsSession::Close(uint16_t code, const std::string& reason) {
  if (rep_->done) return;
  if (open()) {
    websocketpp::lib::error_code ec;
    rep_->con->close(code, reason, ec);
    if (!ec) return;  // done when the peer answers (or the hub gives up)
  }
  rep_->Done();
}

bool WsSession::open() const {
  return !rep_->done && rep_->con->get_state() == websocketpp::session::state::open;
}

}  // namespace gtos::rpc
