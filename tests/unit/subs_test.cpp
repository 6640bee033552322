// Subscription pieces without a node: the server-sent event parser
// (lib/rpc/event_stream.h), the K-key parser (lib/state/schema.h), the
// events of a block (lib/rpc/subs.h) and a WebSocket session fed bytes
// (lib/rpc/ws_session.h).
#include <doctest/doctest.h>

#include "rpc/event_stream.h"
#include "rpc/subs.h"
#include "rpc/ws_session.h"
#include "state/executor.h"
#include "state/schema.h"

using namespace gtos;

TEST_CASE("sse parser: events, comments, line endings, split input") {
  rpc::SseParser p;
  std::vector<rpc::SseEvent> ev;
  std::string text = ": subscribed\n\nevent: head\ndata: {\"height\":1}\n\ndata: a\r\ndata: b\r\n\r\nevent: kv\rdata: x\r\r";
  // Fed one byte at a time: the split must not matter.
  for (char c : text) REQUIRE(p.Feed(std::string_view(&c, 1), &ev));
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].event == "head");
  CHECK(ev[0].data == "{\"height\":1}");
  CHECK(ev[1].event == "message");
  CHECK(ev[1].data == "a\nb");
  CHECK(ev[2].event == "kv");
  CHECK(ev[2].data == "x");
  // An event without data is no event; an unfinished one waits.
  ev.clear();
  REQUIRE(p.Feed("event: head\n\ndata: half", &ev));
  CHECK(ev.empty());
  REQUIRE(p.Feed("\n\n", &ev));
  REQUIRE(ev.size() == 1);
  CHECK(ev[0].data == "half");
}

TEST_CASE("sse parser: an event past the size limit is an error") {
  rpc::SseParser p(64);
  std::vector<rpc::SseEvent> ev;
  CHECK_FALSE(p.Feed("data: " + std::string(100, 'x'), &ev));
}

TEST_CASE("kv key: parse is the inverse of build; malformed keys refused") {
  Address owner;
  owner.v[0] = 7;
  owner.v[31] = 9;
  Bytes ns = {'a', 'p', 'p'}, key = {0, 1, 2};
  std::string k = state::schema::KvKey(owner, ns, key);
  auto p = state::schema::ParseKvKey(k);
  REQUIRE(p);
  CHECK(p->owner == owner);
  CHECK(p->ns == ns);
  CHECK(p->key == key);
  CHECK_FALSE(state::schema::ParseKvKey(k.substr(0, 34)));            // too short
  CHECK_FALSE(state::schema::ParseKvKey(k.substr(0, 36)));            // ns past the end
  CHECK_FALSE(state::schema::ParseKvKey("A" + k.substr(1)));          // another table
  auto empty_key = state::schema::ParseKvKey(state::schema::KvKey(owner, ns, {}));
  REQUIRE(empty_key);
  CHECK(empty_key->key.empty());
}

TEST_CASE("block events: head with tx ids, receipts, kv write and expiry") {
  BlockHeader h;
  h.height = 12;
  Hash32 id;
  id.v[0] = 0xab;
  Receipt r;
  r.tx_id = id;
  r.height = 12;
  Address owner;
  owner.v[5] = 1;
  Bytes ns = {'n'}, k1 = {'x'}, k2 = {'y'};
  std::vector<std::pair<std::string, std::optional<std::string>>> kv = {
      {state::schema::KvKey(owner, ns, k1), state::EncodeValue(StoredObject{12, 20, Bytes{'h', 'i'}})},
      {state::schema::KvKey(owner, ns, k2), std::nullopt},
  };
  rpc::BlockEvents ev = rpc::MakeBlockEvents(h, {id}, {r}, kv);
  CHECK(ev.height == 12);
  CHECK(ev.head["height"] == 12);
  CHECK(ev.head["hash"] == ToHex0x(h.Hash()));
  CHECK(ev.head["txs"] == Json::array({ToHex0x(id)}));
  REQUIRE(ev.receipts.size() == 1);
  CHECK(ev.receipts[0].first == id);
  CHECK(ev.receipts[0].second["tx_id"] == ToHex0x(id));
  REQUIRE(ev.kv.size() == 2);
  CHECK(ev.kv[0].owner == owner);
  CHECK(ev.kv[0].json["event"] == "write");
  CHECK(ev.kv[0].json["value"] == "0x6869");
  CHECK(ev.kv[0].json["expire_block"] == 20);
  CHECK(ev.kv[1].json["event"] == "expired");
  CHECK(ev.kv[1].json["key"] == "0x79");
  CHECK(ev.kv[1].json["expire_block"] == 12);
}

namespace {

// A masked client text frame of `payload` (< 126 bytes), as RFC 6455 5.3
// requires of clients; the mask is fixed, which the test may do.
std::string ClientFrame(std::string_view payload) {
  const uint8_t mask[4] = {1, 2, 3, 4};
  std::string f;
  f.push_back(static_cast<char>(0x81));
  f.push_back(static_cast<char>(0x80 | payload.size()));
  for (uint8_t m : mask) f.push_back(static_cast<char>(m));
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

}  // namespace

TEST_CASE("ws session: handshake, a message each way, close") {
  std::string out;
  std::vector<std::string> got;
  bool done = false;
  rpc::WsSession::Callbacks cb;
  cb.write = [&](std::string_view b) { out.append(b); };
  cb.message = [&](std::string m) { got.push_back(std::move(m)); };
  cb.done = [&] { done = true; };
  rpc::WsSession s(cb, 1024);
  std::string req =
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  s.Feed(req.data(), req.size());
  // RFC 6455's own example key and accept value.
  CHECK(out.starts_with("HTTP/1.1 101"));
  CHECK(out.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos);
  REQUIRE(s.open());
  std::string frame = ClientFrame("{\"x\":1}");
  s.Feed(frame.data(), frame.size());
  REQUIRE(got.size() == 1);
  CHECK(got[0] == "{\"x\":1}");
  out.clear();
  CHECK(s.Send("hello"));
  CHECK(out == std::string("\x81\x05hello"));  // server frames are not masked
  CHECK_FALSE(done);
  s.Close(1000, "bye");
  CHECK_FALSE(s.open());
}

TEST_CASE("ws session: a bad handshake ends the session with an HTTP error") {
  std::string out;
  bool done = false;
  rpc::WsSession::Callbacks cb;
  cb.write = [&](std::string_view b) { out.append(b); };
  cb.message = [](std::string) {};
  cb.done = [&] { done = true; };
  rpc::WsSession s(cb, 1024);
  std::string req = "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n";
  s.Feed(req.data(), req.size());
  CHECK(out.starts_with("HTTP/1.1 4"));
  CHECK(done);
  CHECK_FALSE(s.open());
}
