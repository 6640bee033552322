#include "rpc/client.h"

#include <curl/curl.h>

#include <map>
#include <mutex>

namespace gtos::rpc {

namespace {

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// The "error" member of a response as an RpcError; nullopt when absent.
std::optional<RpcError> ErrorOf(const Json& response) {
  auto e = response.find("error");
  if (e == response.end() || !e->is_object()) return std::nullopt;
  RpcError err;
  auto code = e->find("code");
  if (code != e->end() && code->is_number_integer()) err.code = code->get<int>();
  auto msg = e->find("message");
  if (msg != e->end() && msg->is_string()) err.message = msg->get<std::string>();
  auto data = e->find("data");
  if (data != e->end()) err.data = *data;
  return err;
}

}  // namespace

Error ToError(const RpcError& e) {
  std::string message = e.message.empty() ? "node error " + std::to_string(e.code) : e.message;
  if (!e.data.is_null()) message += " " + Dump(e.data);
  return Error{e.code == kNotFound ? ErrorCode::kNotFound : ErrorCode::kInvalid, std::move(message), ""};
}

Client::Client(std::string url, ClientOptions options) : url_(std::move(url)), options_(options) {
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

Client::~Client() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<HttpResponse> Client::Perform(std::string_view path, const std::string* content_type, ByteView body,
                                     bool post) {
  CURL* c = static_cast<CURL*>(curl_);
  if (!c) return Fail(ErrorCode::kIO, "unable to reach " + url_ + ": libcurl failed to initialise");
  curl_easy_reset(c);  // keeps the open connection
  std::string url = url_ + std::string(path);
  HttpResponse out;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  if (content_type) headers = curl_slist_append(headers, ("Content-Type: " + *content_type).c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(options_.timeout_seconds));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.connect_timeout_seconds));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
  if (post) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    return Fail(ErrorCode::kIO, "unable to reach " + url_ + ": " + why,
                "is a node running there? check the --rpc URL");
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  char* ct = nullptr;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
  if (ct) out.content_type = ct;
  return out;
}

Result<HttpResponse> Client::Post(std::string_view path, std::string_view content_type, ByteView body) {
  std::string ct(content_type);
  return Perform(path, &ct, body, true);
}

Result<HttpResponse> Client::Get(std::string_view path) { return Perform(path, nullptr, {}, false); }

static Result<Json> ParseReply(const std::string& url, const HttpResponse& r) {
  Json j = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return Fail(ErrorCode::kIO, "unexpected reply from " + url + ": HTTP status " + std::to_string(r.status) +
                                    " with a reply that is not JSON-RPC");
  return j;
}

Result<RpcResult> Client::CallRaw(std::string_view method, Json params) {
  Json req = {{"jsonrpc", "2.0"}, {"id", next_id_++}, {"method", std::string(method)}};
  if (!params.is_null()) req["params"] = std::move(params);
  std::string body = Dump(req);
  auto r = Post("/", "application/json", AsBytes(body));
  if (!r) return std::unexpected(r.error());
  auto j = ParseReply(url_, *r);
  if (!j) return std::unexpected(j.error());
  if (!j->is_object())
    return Fail(ErrorCode::kIO,
                "unexpected reply from " + url_ + ": reply to " + std::string(method) + " is not an object");
  if (auto e = ErrorOf(*j)) return RpcResult(std::unexpected(std::move(*e)));
  auto res = j->find("result");
  if (res == j->end())
    return Fail(ErrorCode::kIO,
                "unexpected reply from " + url_ + ": reply to " + std::string(method) + " has no result");
  return RpcResult(std::move(*res));
}

Result<Json> Client::Call(std::string_view method, Json params) {
  auto r = CallRaw(method, std::move(params));
  if (!r) return std::unexpected(r.error());
  if (!*r) return std::unexpected(ToError(r->error()));
  return std::move(**r);
}

Result<std::vector<RpcResult>> Client::CallBatch(const std::vector<std::pair<std::string, Json>>& calls) {
  if (calls.empty()) return std::vector<RpcResult>();
  uint64_t first = next_id_;
  Json req = Json::array();
  for (const auto& [method, params] : calls) {
    Json one = {{"jsonrpc", "2.0"}, {"id", next_id_++}, {"method", method}};
    if (!params.is_null()) one["params"] = params;
    req.push_back(std::move(one));
  }
  std::string body = Dump(req);
  auto r = Post("/", "application/json", AsBytes(body));
  if (!r) return std::unexpected(r.error());
  auto j = ParseReply(url_, *r);
  if (!j) return std::unexpected(j.error());
  if (j->is_object()) {  // the whole batch was refused
    if (auto e = ErrorOf(*j)) return std::unexpected(ToError(*e));
  }
  if (!j->is_array())
    return Fail(ErrorCode::kIO, "unexpected reply from " + url_ + ": reply to a batch is not an array");
  std::map<uint64_t, const Json*> by_id;
  for (const Json& one : *j) {
    auto id = one.find("id");
    if (one.is_object() && id != one.end() && id->is_number_unsigned()) by_id[id->get<uint64_t>()] = &one;
  }
  std::vector<RpcResult> out;
  out.reserve(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    auto it = by_id.find(first + i);
    if (it == by_id.end())
      return Fail(ErrorCode::kIO,
                  "unexpected reply from " + url_ + ": reply to a batch lacks call " + std::to_string(i + 1));
    if (auto e = ErrorOf(*it->second)) {
      out.emplace_back(std::unexpected(std::move(*e)));
      continue;
    }
    auto res = it->second->find("result");
    if (res == it->second->end())
      return Fail(ErrorCode::kIO, "unexpected reply from " + url_ +
                                      ": reply to a batch has no result for call " + std::to_string(i + 1));
    out.emplace_back(*res);
  }
  return out;
}

}  // namespace gtos::rpc
