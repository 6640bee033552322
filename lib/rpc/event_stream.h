// A client of a node's server-sent event streams (GET /subscribe/...,
// docs/rpc.md "Subscriptions") over libcurl, for gtos-inspect rpc watch and
// gtos-tx send --wait.
//
// Thread safety: one EventStream per thread; SseParser is a plain value.
#ifndef GTOS_RPC_EVENT_STREAM_H_
#define GTOS_RPC_EVENT_STREAM_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace gtos::rpc {

struct SseEvent {
  std::string event;  // "message" when the stream named none
  std::string data;   // data lines joined by '\n'
};

// The text/event-stream format (WHATWG HTML, "Server-sent events"): lines
// ending in LF, CRLF or CR; "field: value"; a blank line ends an event;
// lines starting ':' are comments. Fields other than event and data are
// ignored. An event past max_event_bytes is an error.
class SseParser {
 public:
  explicit SseParser(size_t max_event_bytes = 16 << 20) : max_(max_event_bytes) {}
  // Appends bytes; the events they complete go to `out`.
  Status Feed(std::string_view bytes, std::vector<SseEvent>* out);

 private:
  void Line(std::string_view line, std::vector<SseEvent>* out);
  size_t max_;
  std::string line_;
  bool after_cr_ = false;
  SseEvent cur_;
  bool has_data_ = false;
};

struct StreamOptions {
  int connect_timeout_seconds = 10;
  // Give up (kIO "timed out") at this moment; checked about once a second.
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

// GETs base_url + path and calls on_open() once the node has answered 200
// (it has registered the subscription then), then on_event for every event,
// until on_event returns false (Ok), the node ends the stream (Ok), or an
// error: the node unreachable or gone mid-stream, or a status other than
// 200 (kNotFound for 404, kInvalid otherwise, with the node's text). An
// error returned by on_open or on_event stops the stream and is returned.
using StreamOpenFn = std::function<Status()>;
using StreamEventFn = std::function<Result<bool>(const SseEvent&)>;
Status StreamEvents(const std::string& base_url, std::string_view path, const StreamOptions& options,
                    const StreamOpenFn& on_open, const StreamEventFn& on_event);

}  // namespace gtos::rpc

#endif  // GTOS_RPC_EVENT_STREAM_H_
