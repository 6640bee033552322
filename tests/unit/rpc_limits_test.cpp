// The RPC server's pure limit logic: request heads (lib/rpc/http_head.h),
// the JSON pre-scan and the signed_tx msgpack limits (lib/rpc/body_limits.h).
#include <doctest/doctest.h>

#include "rpc/body_limits.h"
#include "rpc/http_head.h"
#include "types/records.h"

using namespace gtos;
using rpc::HeadScan;

namespace {

HeadScan Scan(std::string_view s, size_t max = 16 << 10) { return rpc::ScanRequestHead(s, max); }

// The status a head is refused with (0: accepted or incomplete).
int Refused(std::string_view s) {
  HeadScan h = Scan(s);
  return h.status == HeadScan::kBad ? h.http_status : 0;
}

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("http head: complete, incomplete, framing") {
  HeadScan h = Scan("GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n");
  REQUIRE(h.status == HeadScan::kComplete);
  CHECK(h.head.method == "GET");
  CHECK(h.head.path == "/healthz");
  CHECK(h.head.head_bytes == 38);
  CHECK(!h.head.has_body());

  CHECK(Scan("GET / HTTP/1.1\r\nHost: a\r\n").status == HeadScan::kIncomplete);
  CHECK(Scan("").status == HeadScan::kIncomplete);

  h = Scan("POST /tx HTTP/1.0\r\ncontent-LENGTH:  12 \r\n\r\n");
  REQUIRE(h.status == HeadScan::kComplete);
  CHECK(h.head.content_length == 12u);
  CHECK(h.head.has_body());

  h = Scan("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n");
  REQUIRE(h.status == HeadScan::kComplete);
  CHECK(h.head.chunked);

  std::string with_expect = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
  h = Scan(with_expect);
  REQUIRE(h.status == HeadScan::kComplete);
  CHECK(h.head.expect_continue);
  CHECK(with_expect.substr(h.head.expect_line_offset, h.head.expect_line_bytes) ==
        "Expect: 100-continue\r\n");
  // The same Content-Length twice is one length.
  CHECK(Refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") == 0);
}

TEST_CASE("http head: refusals name a status") {
  CHECK(Refused("GET / HTTP/1.1\r\nX: " + std::string(20000, 'a')) == 431);
  CHECK(Scan("GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n", 64).http_status == 431);
  CHECK(Refused("GET  / HTTP/1.1\r\n\r\n") == 400);
  CHECK(Refused("GET / HTTP/2.0\r\n\r\n") == 400);
  CHECK(Refused("GET /\x01 HTTP/1.1\r\n\r\n") == 400);
  CHECK(Refused("G(T / HTTP/1.1\r\n\r\n") == 400);
  CHECK(Refused("PUT / HTTP/1.1\r\nContent-Length: 1\r\n\r\n") == 405);
  CHECK(Refused("DELETE / HTTP/1.1\r\n\r\n") == 405);
  CHECK(Refused("POST / HTTP/1.1\r\n\r\n") == 411);
  CHECK(Refused("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  CHECK(Refused("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501);
  CHECK(Refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        501);
  CHECK(Refused("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Encoding: gzip\r\n\r\n") == 415);
  CHECK(Refused("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Encoding: identity\r\n\r\n") == 0);
  CHECK(Refused("POST / HTTP/1.1\r\nContent-Length: 1\r\nExpect: 200-ok\r\n\r\n") == 417);
  CHECK(Refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") == 400);
  CHECK(Refused("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == 400);
  CHECK(Refused("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n") == 400);
  CHECK(Refused("GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\n") == 400);
  CHECK(Refused("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n") == 0);
  CHECK(Refused("HEAD / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  // A bare LF inside the head: the library would skip that line, so the two
  // parsers would disagree on the framing.
  CHECK(Refused("POST / HTTP/1.1\r\nX: a\nContent-Length: 5\r\n\r\n") == 400);
  CHECK(Refused("POST / HTTP/1.1\r\n Content-Length: 5\r\n\r\n") == 400);
  CHECK(Refused("POST / HTTP/1.1\r\nNoColon\r\n\r\n") == 400);
  CHECK(rpc::ReasonPhrase(413) == "Payload Too Large");
}

TEST_CASE("json scan: counts values and depth without building") {
  rpc::JsonLimits l;
  l.max_values = 10;
  l.max_depth = 3;
  l.max_string_bytes = 8;
  rpc::JsonScan s = rpc::ScanJson(R"({"jsonrpc":"2.0","id":1,"params":[1,[2]]})", l);
  CHECK(s.status == rpc::JsonScan::kOk);
  CHECK(s.values == 7);  // object, "2.0", 1, params array, 1, inner array, 2
  CHECK(s.max_depth == 3);

  CHECK(rpc::ScanJson("[1,2,3,4,5,6,7,8,9]", l).status == rpc::JsonScan::kOk);  // 10 values
  s = rpc::ScanJson("[1,2,3,4,5,6,7,8,9,10]", l);
  CHECK(s.status == rpc::JsonScan::kTooManyValues);
  CHECK(s.message == "more than 10 JSON values");
  s = rpc::ScanJson("[[[[]]]]", l);
  CHECK(s.status == rpc::JsonScan::kTooDeep);
  CHECK(s.message == "JSON nested deeper than 3 levels");
  CHECK(rpc::ScanJson(R"({"a":{"b":{"c":{}}}})", l).status == rpc::JsonScan::kTooDeep);
  CHECK(rpc::ScanJson(R"(["12345678"])", l).status == rpc::JsonScan::kOk);
  CHECK(rpc::ScanJson(R"(["123456789"])", l).status == rpc::JsonScan::kStringTooLong);
  CHECK(rpc::ScanJson(R"({"123456789":1})", l).status == rpc::JsonScan::kStringTooLong);
  CHECK(rpc::ScanJson("[1,", l).status == rpc::JsonScan::kInvalid);
  CHECK(rpc::ScanJson("", l).status == rpc::JsonScan::kInvalid);
  CHECK(rpc::ScanJson("[1] x", l).status == rpc::JsonScan::kInvalid);

  // A million nested arrays stop at the cap (the SAX parser keeps one bit
  // per level, the handler nothing).
  rpc::JsonLimits d;
  std::string deep = Repeat("[", 1'000'000) + Repeat("]", 1'000'000);
  s = rpc::ScanJson(deep, d);
  CHECK(s.status == rpc::JsonScan::kTooDeep);
  CHECK(s.max_depth == d.max_depth + 1);
  std::string many = "[" + Repeat("0,", 300'000) + "0]";
  s = rpc::ScanJson(many, d);
  CHECK(s.status == rpc::JsonScan::kTooManyValues);
  CHECK(s.values == d.max_values + 1);
}

TEST_CASE("signed_tx msgpack limits: every kind fits, oversize shapes do not") {
  const crypto::SigAlgo* algo = crypto::FindAlgo(crypto::AlgoId::kEd25519);
  Bytes secret(32, 0x42);
  Bytes pub = *algo->derive_public(secret);
  TxBody body;
  body.chain_id = std::string(64, 'c');
  body.from = crypto::DeriveAddress(algo->id, pub);
  body.nonce = UINT64_MAX;
  body.fee = UINT64_MAX;
  KvPutTx kv;
  kv.ns = Bytes(1024, 1);
  kv.key = Bytes(4096, 2);
  kv.value = Bytes(64 << 10, 3);
  kv.ttl = 5;
  TransferTx transfer;
  transfer.amount = 7;
  SetSignerTx signer;
  signer.algo = algo->id == crypto::AlgoId::kEd25519 ? 1 : 1;
  signer.public_key = pub;
  CodePutTx code;
  code.code = Bytes(100, 9);
  code.ttl = 3;
  ValidatorRegisterTx reg;
  reg.stake = 1;
  reg.consensus_algo = 1;
  reg.consensus_key = pub;
  ValidatorUnbondTx unbond;
  unbond.amount = 1;
  std::vector<TxPayload> payloads(6);
  payloads[0].body = transfer;
  payloads[1].body = signer;
  payloads[2].body = code;
  payloads[3].body = kv;
  payloads[4].body = reg;
  payloads[5].body = unbond;
  // The deepest and longest: an upgrade plan with 16 changes and 1,024
  // signatures.
  UpgradePlanTx plan;
  plan.plan.chain_id = "c";
  plan.plan.name = "p";
  for (int i = 0; i < 16; ++i) plan.plan.changes.push_back({"fee_base", 1});
  for (size_t i = 0; i < rpc::kMaxRpcPlanSignatures; ++i)
    plan.signatures.push_back(PlanSignature{static_cast<uint64_t>(algo->id), pub, Bytes(64, 1)});
  payloads.emplace_back().body = plan;
  for (TxPayload& p : payloads) {
    body.payload = p;
    auto stx = SignTx(body, *algo, secret, pub);
    REQUIRE(stx);
    Bytes bytes = EncodeRecord(*stx);
    size_t off = 0;
    auto parsed = codec::ParseOne(bytes, &off, rpc::SignedTxParseLimits());
    REQUIRE_MESSAGE(parsed, TxKindName(static_cast<uint64_t>(p.kind())) << ": " << parsed.error().message);
    REQUIRE(*parsed);
    CHECK(off == bytes.size());
    // (The plan above is not a valid plan: only its parse limits matter.)
    if (p.kind() != TxKind::kUpgradePlan) CHECK(DecodeRecordFrom<SignedTx>(**parsed));
  }

  // A record of 2^20 - 1 nils: refused at its array header.
  Bytes nils = {0xdd, 0x00, 0x0f, 0xff, 0xff};
  nils.resize(nils.size() + 0xfffff, 0xc0);
  size_t off = 0;
  auto r = codec::ParseOne(nils, &off, rpc::SignedTxParseLimits());
  REQUIRE(!r);
  CHECK(r.error().message.find("array size overflow") != std::string::npos);
  off = 0;
  CHECK(codec::ParseOne(nils, &off));  // within the codec's own hard caps

  // Seven levels of one-element arrays (an upgrade_plan tx is 6 deep).
  Bytes deep = {0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0xc0};
  off = 0;
  r = codec::ParseOne(deep, &off, rpc::SignedTxParseLimits());
  REQUIRE(!r);
  CHECK(r.error().message == "record nested deeper than 6 levels");
  Bytes six = {0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0xc0};
  off = 0;
  CHECK(codec::ParseOne(six, &off, rpc::SignedTxParseLimits()));
}
