#include "rpc/event_stream.h"

#include <curl/curl.h>

#include <mutex>

namespace gtos::rpc {

Status SseParser::Feed(std::string_view bytes, std::vector<SseEvent>* out) {
  for (char ch : bytes) {
    if (ch == '\n' && after_cr_) {  // the LF of a CRLF
      after_cr_ = false;
      continue;
    }
    after_cr_ = ch == '\r';
    if (ch == '\r' || ch == '\n') {
      Line(line_, out);
      line_.clear();
      continue;
    }
    line_.push_back(ch);
    if (line_.size() + cur_.data.size() > max_)
      return Fail(ErrorCode::kIO, "event stream: an event exceeds " + std::to_string(max_) + " bytes");
  }
  return Ok();
}

void SseParser::Line(std::string_view line, std::vector<SseEvent>* out) {
  if (line.empty()) {
    if (has_data_) {
      if (cur_.event.empty()) cur_.event = "message";
      out->push_back(std::move(cur_));
    }
    cur_ = SseEvent();
    has_data_ = false;
    return;
  }
  if (line[0] == ':') return;
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value = colon == line.npos ? std::string_view() : line.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  if (field == "event") {
    cur_.event = value;
  } else if (field == "data") {
    if (has_data_) cur_.data.push_back('\n');
    cur_.data.append(value);
    has_data_ = true;
  }
}

namespace {

struct StreamState {
  CURL* curl = nullptr;
  const StreamOptions* options = nullptr;
  const StreamOpenFn* on_open = nullptr;
  const StreamEventFn* on_event = nullptr;
  SseParser parser;
  bool opened = false;
  bool finished = false;  // on_event said stop
  bool timed_out = false;
  long status = 0;
  std::string error_body;  // of a non-200 answer (capped)
  std::optional<Error> error;  // from a callback
};

size_t OnData(char* data, size_t size, size_t n, void* p) {
  auto& s = *static_cast<StreamState*>(p);
  size_t len = size * n;
  if (s.status == 0) curl_easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &s.status);
  if (s.status != 200) {
    s.error_body.append(data, std::min(len, size_t{4096} - std::min(s.error_body.size(), size_t{4096})));
    return len;
  }
  if (!s.opened) {
    s.opened = true;
    if (*s.on_open) {
      if (auto st = (*s.on_open)(); !st) {
        s.error = st.error();
        return 0;
      }
    }
  }
  std::vector<SseEvent> events;
  if (auto st = s.parser.Feed(std::string_view(data, len), &events); !st) {
    s.error = st.error();
    return 0;
  }
  for (const SseEvent& e : events) {
    auto more = (*s.on_event)(e);
    if (!more) {
      s.error = more.error();
      return 0;
    }
    if (!*more) {
      s.finished = true;
      return 0;
    }
  }
  return len;
}

int OnProgress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& s = *static_cast<StreamState*>(p);
  if (s.options->deadline && std::chrono::steady_clock::now() >= *s.options->deadline) {
    s.timed_out = true;
    return 1;
  }
  return 0;
}

}  // namespace

Status StreamEvents(const std::string& base_url, std::string_view path, const StreamOptions& options,
                    const StreamOpenFn& on_open, const StreamEventFn& on_event) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string url = base + std::string(path);
  CURL* c = curl_easy_init();
  if (!c) return Fail(ErrorCode::kIO, "unable to reach " + base + ": libcurl failed to initialise");
  StreamState s;
  s.curl = c;
  s.options = &options;
  s.on_open = &on_open;
  s.on_event = &on_event;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = curl_slist_append(nullptr, "Accept: text/event-stream");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout_seconds));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
  CURLcode rc = curl_easy_perform(c);
  if (s.status == 0) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (s.error) return std::unexpected(*s.error);
  if (s.finished) return Ok();
  if (s.timed_out) return Fail(ErrorCode::kIO, "timed out waiting for events from " + base);
  if (rc != CURLE_OK) {
    std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    return Fail(ErrorCode::kIO, "unable to reach " + base + ": " + why,
                "is a node running there? check the --rpc URL");
  }
  if (s.status != 200) {
    while (!s.error_body.empty() && (s.error_body.back() == '\n' || s.error_body.back() == '\r'))
      s.error_body.pop_back();
    std::string why = "node at " + base + " refused " + std::string(path) + " (HTTP status " +
                      std::to_string(s.status) + ")";
    if (!s.error_body.empty()) why += ": " + s.error_body;
    if (s.status == 404)
      return Fail(ErrorCode::kNotFound, why, "a node older than subscriptions has no /subscribe paths (docs/rpc.md)");
    return Fail(ErrorCode::kInvalid, why);
  }
  return Ok();  // the node ended the stream
}

}  // namespace gtos::rpc
