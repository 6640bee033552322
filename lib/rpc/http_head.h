// The head of one HTTP/1.x request (request line and header fields), read
// by the RPC server's connection gate (lib/rpc/conn_gate.h) before any
// worker thread or the HTTP library sees the request, so that a request is
// routed, refused or sized from its head alone (docs/rpc.md, "Limits").
//
// The scanner is strict where the HTTP library is lenient, so that the two
// never disagree on where a request ends: every line must end in CRLF, the
// request line is exactly METHOD SP TARGET SP HTTP/1.0|HTTP/1.1, and a body
// is framed by one Content-Length or by Transfer-Encoding: chunked, never
// both. Pure functions; thread-safe.
#ifndef GTOS_RPC_HTTP_HEAD_H_
#define GTOS_RPC_HTTP_HEAD_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gtos::rpc {

struct RequestHead {
  size_t head_bytes = 0;  // through the blank line that ends the head
  std::string method;     // GET, HEAD or POST
  std::string path;       // the target up to '?' or '#', not percent-decoded
  std::optional<uint64_t> content_length;
  bool chunked = false;
  // "Expect: 100-continue", and where its line is (offset, bytes with CRLF)
  // so that the gate, which answers it, can cut the line out.
  bool expect_continue = false;
  size_t expect_line_offset = 0;
  size_t expect_line_bytes = 0;

  bool has_body() const { return chunked || content_length.value_or(0) > 0; }
};

struct HeadScan {
  enum Status { kIncomplete, kComplete, kBad };
  Status status = kIncomplete;
  RequestHead head;     // when kComplete
  int http_status = 0;  // when kBad: 400, 405, 411, 415, 417, 431 or 501
  std::string error;    // when kBad: why, lowercase ("bad request line")
};

// Scans `buf`, the bytes received so far on a connection, for one request
// head. kIncomplete: no blank line yet and fewer than max_head_bytes bytes;
// past that, kBad with 431. Methods other than GET, HEAD and POST are 405;
// a body on GET or HEAD, and a POST with neither Content-Length nor chunked
// framing (411), are refused; so are Content-Encoding other than identity
// (415), other transfer codings (501) and other Expect values (417).
HeadScan ScanRequestHead(std::string_view buf, size_t max_head_bytes);

// The reason phrase of the statuses the gate sends itself ("Payload Too Large").
std::string_view ReasonPhrase(int status);

}  // namespace gtos::rpc

#endif  // GTOS_RPC_HTTP_HEAD_H_
