#include <doctest/doctest.h>

#include "codec/codec.h"
#include "codec/visit.h"
#include "crypto/hash.h"
#include "types/json.h"
#include "types/records.h"

using namespace gtos;

namespace {

Bytes Hex(std::string_view h) { return *FromHex(h, "test"); }

TxBody SampleBody() {
  TxBody tx;
  tx.chain_id = "gtos-test";
  tx.from.v.fill(0x11);
  tx.nonce = 7;
  tx.fee = 5000;
  KvPutTx kv;
  kv.ns = {'n', 's'};
  kv.key = {'k'};
  kv.value = {'v', 'a', 'l'};
  kv.ttl = 10;
  tx.payload.body = kv;
  return tx;
}

std::string DecodeError(ByteView b) {
  auto r = DecodeAny(b);
  REQUIRE(!r);
  return r.error().message;
}

}  // namespace

TEST_CASE("writer emits the shortest encodings") {
  codec::Writer w;
  w.Uint(0);
  w.Uint(127);
  w.Uint(128);
  w.Uint(256);
  w.Uint(65536);
  w.Uint(1ull << 32);
  CHECK(ToHex(w.bytes()) == "007fcc80cd0100ce00010000cf0000000100000000");
}

TEST_CASE("unsigned tx encodes to a stable layout and round-trips") {
  UnsignedTx utx{SampleBody()};
  Bytes b = EncodeRecord(utx);
  // [3, 1, [chain_id, from, nonce, fee, [kind=4, ns, key, value, ttl]]]
  CHECK(ToHex(b).substr(0, 10) == "930301" "95" "a9");
  auto back = DecodeRecord<UnsignedTx>(b);
  REQUIRE(back);
  CHECK(EncodeRecord(*back) == b);
  CHECK(back->tx.Id() == utx.tx.Id());
  CHECK(back->tx.Id() == crypto::Sha256Tagged("GTOS-TX-V1", utx.tx.Encode()));
}

TEST_CASE("decoder rejects non-canonical integers naming the field") {
  UnsignedTx utx{SampleBody()};
  Bytes b = EncodeRecord(utx);
  // nonce 7 is the positive fixint 0x07 right after the 32-byte from.
  std::string hex = ToHex(b);
  std::string from = "c420" + std::string(64, '1');
  size_t at = hex.find(from);
  REQUIRE(at != std::string::npos);
  size_t nonce_at = at + from.size();
  CHECK(hex.substr(nonce_at, 2) == "07");
  std::string bad = hex.substr(0, nonce_at) + "cc07" + hex.substr(nonce_at + 2);
  CHECK(DecodeError(Hex(bad)) == "field 'tx.nonce': non-canonical encoding (at byte " +
                                     std::to_string(nonce_at / 2) + ")");
}

TEST_CASE("decoder errors: truncation, trailing bytes, type, version, size") {
  UnsignedTx utx{SampleBody()};
  Bytes b = EncodeRecord(utx);
  Bytes truncated(b.begin(), b.end() - 1);
  CHECK(DecodeError(truncated) == "truncated record");
  Bytes trailing = b;
  trailing.push_back(0x00);
  CHECK(DecodeError(trailing) == "trailing bytes after record");
  Bytes unknown_type = b;
  unknown_type[1] = 0x7f;
  CHECK(DecodeError(unknown_type) == "field 'type': unknown record type 127");
  Bytes unknown_version = b;
  unknown_version[2] = 0x09;
  CHECK(DecodeError(unknown_version) ==
        "field 'version': unknown version 9 of unsigned_tx (this build reads version 1)");
  auto wrong = DecodeRecord<SignedTx>(b);
  REQUIRE(!wrong);
  CHECK(wrong.error().message == "field 'type': expected record type signed_tx, got unsigned_tx");
  CHECK(DecodeError(Hex("c1")).find("malformed msgpack") == 0);
  CHECK(DecodeError(Hex("81a161a162")) == "maps are not allowed in records");
  // A 33-byte 'from' is the wrong size for a fixed 32-byte field.
  TxBody tx = SampleBody();
  codec::Writer w;
  w.Array(3);
  w.Uint(3);
  w.Uint(1);
  w.Array(5);
  w.Str(tx.chain_id);
  w.Bin(Bytes(33, 1));
  w.Uint(tx.nonce);
  w.Uint(tx.fee);
  codec::EncodeObject(w, tx.payload);
  CHECK(DecodeError(w.bytes()).find("field 'tx.from': 33 bytes exceeds the maximum of 32") == 0);
}

TEST_CASE("oversize value field is refused") {
  TxBody tx = SampleBody();
  std::get<KvPutTx>(tx.payload.body).value.assign(kMaxValueBytes + 1, 'x');
  Bytes b = EncodeRecord(UnsignedTx{tx});
  std::string err = DecodeError(b);
  CHECK(err.find("value") != std::string::npos);
}

TEST_CASE("extra and missing elements are named") {
  codec::Writer w;
  w.Array(4);
  w.Uint(2);
  w.Uint(1);
  w.Uint(1);
  w.Bin(Bytes(32, 0));
  std::string e = DecodeError(w.bytes());
  CHECK(e.find("field 'public_key'") == 0);
}

TEST_CASE("json round trip of every tx kind") {
  std::vector<TxPayload> payloads;
  payloads.push_back({TransferTx{Hash32{}, 5}});
  payloads.push_back({CodePutTx{{1, 2, 3}, 9}});
  payloads.push_back({SampleBody().payload});
  payloads.push_back({ValidatorUnbondTx{3}});
  for (const TxPayload& p : payloads) {
    TxBody tx = SampleBody();
    tx.payload = p;
    AnyRecord rec = UnsignedTx{tx};
    Json j = ToJson(rec);
    CHECK(j["type"] == "unsigned_tx");
    CHECK(j["id"] == ToHex0x(tx.Id()));
    auto back = FromJson(j);
    REQUIRE(back);
    CHECK(EncodeAny(*back) == EncodeAny(rec));
  }
}

TEST_CASE("json errors name the field") {
  Json j = ToJson(AnyRecord(UnsignedTx{SampleBody()}));
  Json bad = j;
  bad["tx"]["nonce"] = -1;
  CHECK(FromJson(bad).error().message == "field 'tx.nonce': expected a non-negative integer");
  bad = j;
  bad["tx"]["payload"]["kind"] = "nope";
  CHECK(FromJson(bad).error().message == "field 'tx.payload.kind': unknown value 'nope'");
  bad = j;
  bad["tx"]["extra"] = 1;
  CHECK(FromJson(bad).error().message == "field 'tx.extra': unknown field");
  bad = j;
  bad["tx"]["from"] = "0x12";
  CHECK(FromJson(bad).error().message == "field 'tx.from': expected 32 bytes, got 1");
  bad = j;
  bad["tx"].erase("fee");
  CHECK(FromJson(bad).error().message == "field 'tx.fee': missing");
  CHECK(!FromJsonText("{not json"));
}

TEST_CASE("min fee grows with bytes times ttl and detects overflow") {
  ChainParams params;
  TxBody tx = SampleBody();
  auto f1 = MinFee(tx, params);
  std::get<KvPutTx>(tx.payload.body).ttl = 20;
  auto f2 = MinFee(tx, params);
  REQUIRE(f1);
  REQUIRE(f2);
  CHECK(*f2 - *f1 == 10 * (2 + 1 + 3) * params.fee_per_byte_block);
  std::get<KvPutTx>(tx.payload.body).ttl = UINT64_MAX;
  CHECK(!MinFee(tx, params));
  tx.fee = 0;
  std::get<KvPutTx>(tx.payload.body).ttl = 10;
  auto st = CheckTxParams(tx, params);
  REQUIRE(!st);
  CHECK(st.error().message.find("below the minimum fee") != std::string::npos);
  std::get<KvPutTx>(tx.payload.body).ttl = 0;
  CHECK(CheckTxParams(tx, params).error().message == "field 'payload.ttl': must be at least 1");
}

TEST_CASE("chain id charset") {
  CHECK(CheckChainId("gtos-dev_1.0"));
  CHECK(!CheckChainId(""));
  CHECK(!CheckChainId("has space"));
  CHECK(!CheckChainId(std::string(65, 'a')));
}

TEST_CASE("timing parameters: defaults, --param, range checks") {
  ChainParams p;
  CHECK(p.clock_precision_ms == 500);
  CHECK(p.message_delay_ms == 2000);
  CHECK(p.Validate());
  REQUIRE(p.Set("clock_precision_ms", "0"));
  REQUIRE(p.Set("message_delay_ms", "1"));
  CHECK(p.clock_precision_ms == 0);
  CHECK(p.message_delay_ms == 1);
  CHECK(p.Validate());
  REQUIRE(p.Set("clock_precision_ms", "60001"));
  CHECK(p.Validate().error().message == "parameter clock_precision_ms must be at most 60000 (one minute)");
  REQUIRE(p.Set("clock_precision_ms", "60000"));
  CHECK(p.Validate());
  REQUIRE(p.Set("message_delay_ms", "0"));
  CHECK(p.Validate().error().message == "parameter message_delay_ms must be at least 1");
  REQUIRE(p.Set("message_delay_ms", "600001"));
  CHECK(p.Validate().error().message == "parameter message_delay_ms must be at most 600000 (ten minutes)");
  REQUIRE(p.Set("message_delay_ms", "600000"));
  CHECK(p.Validate());
  CHECK(!p.Set("message_delay_ms", "x"));
}

TEST_CASE("MessageDelayFor: message_delay_ms + round * (message_delay_ms / 2), saturating") {
  ChainParams p;  // 2000 ms
  CHECK(MessageDelayFor(p, 0) == 2000);
  CHECK(MessageDelayFor(p, 1) == 3000);
  CHECK(MessageDelayFor(p, 4) == 6000);
  p.message_delay_ms = 3;  // half rounds down
  CHECK(MessageDelayFor(p, 2) == 5);
  p.message_delay_ms = 1;  // half is 0: no growth
  CHECK(MessageDelayFor(p, 1'000'000) == 1);
  p.message_delay_ms = 600'000;
  CHECK(MessageDelayFor(p, UINT64_MAX) == UINT64_MAX);             // the product overflows
  CHECK(MessageDelayFor(p, UINT64_MAX / 300'000) == UINT64_MAX);   // the sum overflows
  CHECK(MessageDelayFor(p, UINT64_MAX / 300'000 - 2) == 600'000 + (UINT64_MAX / 300'000 - 2) * 300'000);
}

TEST_CASE("ProposalTimely: the window [time - precision, time + delay(round) + precision], inclusive") {
  ChainParams p;  // precision 500, delay 2000
  const uint64_t t = 1'700'000'000'000;
  CHECK(!ProposalTimely(p, 0, t, t - 501));  // from the future beyond the precision
  CHECK(ProposalTimely(p, 0, t, t - 500));
  CHECK(ProposalTimely(p, 0, t, t));
  CHECK(ProposalTimely(p, 0, t, t + 2500));
  CHECK(!ProposalTimely(p, 0, t, t + 2501));  // stale
  CHECK(ProposalTimely(p, 1, t, t + 3500));   // a later round allows more delay
  CHECK(!ProposalTimely(p, 1, t, t + 3501));
  CHECK(ProposalTimely(p, 2, t, t + 4500));
  CHECK(!ProposalTimely(p, 2, t, t + 4501));
  // Precision 0: the receiver's clock must be at or after the block time.
  p.clock_precision_ms = 0;
  CHECK(!ProposalTimely(p, 0, t, t - 1));
  CHECK(ProposalTimely(p, 0, t, t));
  CHECK(ProposalTimely(p, 0, t, t + 2000));
  CHECK(!ProposalTimely(p, 0, t, t + 2001));
  // Saturation near 2^64: nothing wraps.
  p = ChainParams();
  CHECK(ProposalTimely(p, 0, UINT64_MAX, UINT64_MAX));
  CHECK(ProposalTimely(p, 0, UINT64_MAX, UINT64_MAX - 500));
  CHECK(!ProposalTimely(p, 0, UINT64_MAX, UINT64_MAX - 501));
  CHECK(ProposalTimely(p, 0, UINT64_MAX - 100, UINT64_MAX));    // the upper bound saturates
  CHECK(ProposalTimely(p, UINT64_MAX, 0, UINT64_MAX));          // the round's delay saturates
  CHECK(!ProposalTimely(p, 0, 0, UINT64_MAX));
  CHECK(ProposalTimely(p, 0, 0, 0));
  CHECK(ProposalTimely(p, 0, 400, 0));                          // receive + precision >= time
  CHECK(!ProposalTimely(p, 0, 501, 0));
}

TEST_CASE("genesis_time_ms must be below 2^62, the largest block time") {
  Genesis g;
  g.chain_id = "t";
  g.genesis_time_ms = kMaxBlockTimeMs - 1;
  CHECK(g.Validate());
  g.genesis_time_ms = kMaxBlockTimeMs;
  REQUIRE(!g.Validate());
  CHECK(g.Validate().error().message.find("genesis_time_ms") != std::string::npos);
  g.genesis_time_ms = UINT64_MAX;
  CHECK(!g.Validate());
}

// Found by fuzz_snapshot_chunk: msgpack-c allocates an array's elements when
// it reads the header, so a 5-byte header claiming 2^20 elements cost 32 MiB
// before the data was found short. An array longer than the bytes left is
// now data that ends too early, without the allocation.
TEST_CASE("ParseOne: an array claiming more elements than bytes left is incomplete, not allocated") {
  size_t off = 0;
  Bytes header = Hex("dd000fffff");  // array32 of 1,048,575 elements, none present
  auto r = codec::ParseOne(header, &off);
  REQUIRE(r);
  CHECK(!*r);
  CHECK(off == 0);
  Bytes nested;
  for (int i = 0; i < 16; ++i) nested.insert(nested.end(), header.begin(), header.end());
  off = 0;
  r = codec::ParseOne(nested, &off);
  REQUIRE(r);
  CHECK(!*r);
  CHECK(DecodeError(header).find("truncated") != std::string::npos);

  // With the bytes there, the hard cap still applies: 2^20 + 1 elements.
  Bytes over = Hex("dd00100001");
  over.resize(over.size() + codec::kMaxArrayLen + 1, 0x00);
  off = 0;
  r = codec::ParseOne(over, &off);
  REQUIRE(!r);
  CHECK(r.error().message.find("oversize") != std::string::npos);
  // And an array of exactly the cap parses.
  Bytes at = Hex("dd00100000");
  at.resize(at.size() + codec::kMaxArrayLen, 0x00);
  off = 0;
  r = codec::ParseOne(at, &off);
  REQUIRE(r);
  REQUIRE(*r);
  CHECK(off == at.size());
  CHECK((**r).handle.get().via.array.size == codec::kMaxArrayLen);
}

// Found by fuzz_json_record and fuzz_genesis: a number too large for a
// double made nlohmann throw out_of_range, which FromJsonText did not
// catch, so `gtos-inspect --encode` died on such a line.
TEST_CASE("FromJsonText: a number out of range is an error, not an exception") {
  for (std::string_view text : {R"({"type":"public_key","version":1,"algo":5e6251})",
                                R"({"type":"genesis","version":1,"chain_id":"x","genesis_time_ms":1e999})",
                                R"([-1e400])"}) {
    Result<AnyRecord> r = Invalid("not run");
    CHECK_NOTHROW(r = FromJsonText(text));
    REQUIRE(!r);
    CHECK(r.error().message.find("invalid JSON: ") == 0);
    CHECK(r.error().message.find("number overflow") != std::string::npos);
  }
}
