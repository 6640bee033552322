#include "rpc/http_head.h"

#include <algorithm>

namespace gtos::rpc {

namespace {

HeadScan Bad(int status, std::string error) {
  HeadScan s;
  s.status = HeadScan::kBad;
  s.http_status = status;
  s.error = std::move(error);
  return s;
}

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return Lower(x) == Lower(y); });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "METHOD SP TARGET SP HTTP/1.x"; fills method and path.
bool ParseRequestLine(std::string_view line, RequestHead* h) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = line.substr(sp2 + 1);
  if (!std::all_of(method.begin(), method.end(), IsTokenChar)) return false;
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return false;
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  h->method = std::string(method);
  h->path = std::string(target.substr(0, target.find_first_of("?#")));
  return true;
}

// One header field; returns a refusal, or nullopt when accepted.
std::optional<HeadScan> TakeField(std::string_view line, size_t offset, RequestHead* h, bool* seen_te) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return Bad(400, "bad header line");
  std::string_view name = line.substr(0, colon), value = Trim(line.substr(colon + 1));
  if (!std::all_of(name.begin(), name.end(), IsTokenChar)) return Bad(400, "bad header name");
  for (char c : value)
    if (c == '\0' || c == '\r' || c == '\n') return Bad(400, "bad header value");
  if (IEquals(name, "content-length")) {
    if (value.empty() || value.size() > 18 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return Bad(400, "bad content-length");
    uint64_t n = 0;
    for (char c : value) n = n * 10 + static_cast<uint64_t>(c - '0');
    if (h->content_length && *h->content_length != n) return Bad(400, "conflicting content-length");
    h->content_length = n;
  } else if (IEquals(name, "transfer-encoding")) {
    if (*seen_te || !IEquals(value, "chunked"))
      return Bad(501, "only the chunked transfer coding is supported");
    *seen_te = true;
    h->chunked = true;
  } else if (IEquals(name, "content-encoding")) {
    if (!IEquals(value, "identity")) return Bad(415, "compressed request bodies are not accepted");
  } else if (IEquals(name, "expect")) {
    if (!IEquals(value, "100-continue")) return Bad(417, "unsupported expectation");
    h->expect_continue = true;
    h->expect_line_offset = offset;
    h->expect_line_bytes = line.size() + 2;
  }
  return std::nullopt;
}

}  // namespace

HeadScan ScanRequestHead(std::string_view buf, size_t max_head_bytes) {
  size_t end = buf.find("\r\n\r\n");
  bool too_large = end == std::string_view::npos ? buf.size() >= max_head_bytes : end + 4 > max_head_bytes;
  if (too_large) return Bad(431, "request head larger than " + std::to_string(max_head_bytes) + " bytes");
  if (end == std::string_view::npos) return HeadScan{};
  HeadScan s;
  RequestHead& h = s.head;
  h.head_bytes = end + 4;
  std::string_view head = buf.substr(0, end + 2);  // every line with its CRLF
  size_t eol = head.find("\r\n");
  std::string_view request_line = head.substr(0, eol);
  if (request_line.find('\n') != std::string_view::npos || !ParseRequestLine(request_line, &h))
    return Bad(400, "bad request line");
  bool seen_te = false;
  for (size_t pos = eol + 2; pos < head.size();) {
    size_t next = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, next - pos);
    if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos)
      return Bad(400, "header line not ended by CRLF");
    if (line.front() == ' ' || line.front() == '\t') return Bad(400, "folded header line");
    if (auto refused = TakeField(line, pos, &h, &seen_te)) return *refused;
    pos = next + 2;
  }
  bool get = h.method == "GET" || h.method == "HEAD";
  if (!get && h.method != "POST") return Bad(405, "method " + h.method + " not allowed");
  if (h.chunked && h.content_length) return Bad(400, "both content-length and chunked framing");
  if (get && h.has_body()) return Bad(400, "a " + h.method + " request has no body");
  if (!get && !h.chunked && !h.content_length) return Bad(411, "content-length required");
  s.status = HeadScan::kComplete;
  return s;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

}  // namespace gtos::rpc
