#include "rpc/methods.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include "rpc/params.h"
#include "rpc/queries.h"
#include "types/records.h"

namespace gtos::rpc {

namespace {

// Up to four params per method; nullptr for an omitted optional one.
using Args = std::array<const Json*, 4>;

struct ParamSpec {
  std::string_view name;
  bool required = true;
};

struct Context {
  Backend& backend;
  std::string_view node_version;
};

struct MethodDef {
  std::string_view name;
  std::vector<ParamSpec> params;
  RpcResult (*fn)(const Context&, const Args&);
};

// Serialises without ever throwing on invalid UTF-8 (it is replaced).
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// A height, or "latest" for the head (HeightParam of rpc/params.h takes
// only numbers).
std::expected<uint64_t, RpcError> HeightOrLatest(const Json* x, std::string_view name, const chain::Chain& c) {
  if (x->is_string() && x->get_ref<const std::string&>() == "latest") return c.height();
  if (!x->is_number_unsigned())
    return BadParam(name, "expected a block height (a non-negative integer) or \"latest\"");
  return x->get<uint64_t>();
}

// An optional count from 1 to max; `absent` when omitted.
std::expected<uint64_t, RpcError> CountParam(const Json* x, std::string_view name, uint64_t absent, uint64_t max) {
  if (!x) return absent;
  if (!x->is_number_unsigned() || x->get<uint64_t>() == 0 || x->get<uint64_t>() > max)
    return BadParam(name, "expected an integer from 1 to " + std::to_string(max));
  return x->get<uint64_t>();
}

// Propagates a failed param parse out of a method.
#define GTOS_PARAM(var, expr) \
  auto var = (expr);          \
  if (!var) return std::unexpected(std::move(var.error()))

// One signed_tx record from data[*offset...] under the RPC's msgpack
// limits (lib/rpc/body_limits.h); advances *offset. An error names what is
// wrong ("truncated record", "oversize value in record (...)").
// What a msgpack value starting with byte `b` is, for "expected an array,
// got ..." errors.
const char* MsgpackKindOf(uint8_t b) {
  if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3)) return "an integer";
  if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf) return "a map";
  if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd) return "an array";
  if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) return "a string";
  if (b == 0xc0) return "nil";
  if (b == 0xc2 || b == 0xc3) return "a boolean";
  if (b >= 0xc4 && b <= 0xc6) return "a byte string";
  if (b == 0xca || b == 0xcb) return "a float";
  return "an extension or unused byte";
}

Result<codec::Parsed> FrameSignedTx(ByteView data, size_t* offset) {
  size_t start = *offset;
  if (start < data.size()) {
    const char* kind = MsgpackKindOf(data[start]);
    if (std::string_view(kind) != "an array") {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", data[start]);
      return Invalid(std::string("expected a msgpack array (a signed_tx record), got ") + kind + " (first byte " +
                     hex + ")");
    }
  }
  auto p = codec::ParseOne(data, offset, SignedTxParseLimits());
  if (!p) return std::unexpected(p.error());
  if (!*p) return Invalid("truncated record");
  if (*offset - start > kMaxSignedTxBytes)
    return Invalid("record of " + std::to_string(*offset - start) + " bytes exceeds the limit of " +
                   std::to_string(kMaxSignedTxBytes));
  if ((**p).handle.get().type != msgpack::type::ARRAY)
    return Invalid("expected a msgpack array (a signed_tx record)");
  return std::move(**p);
}

Result<SignedTx> DecodeSignedTx(ByteView bytes) {
  size_t off = 0;
  auto p = FrameSignedTx(bytes, &off);
  if (!p) return std::unexpected(p.error());
  if (off != bytes.size()) return Invalid("trailing bytes after record");
  return DecodeRecordFrom<SignedTx>(*p);
}

RpcResult SendRaw(const Context& ctx, const Args& a) {
  GTOS_PARAM(raw, BytesParam(a[0], "tx", kMaxSignedTxBytes));
  auto stx = DecodeSignedTx(*raw);
  if (!stx) return BadParam("tx", stx.error().message);
  Hash32 id = stx->tx.Id();
  auto r = ctx.backend.SubmitTx(std::move(*stx));
  if (!r)
    return RpcFail(r.error().code == ErrorCode::kUsage ? kMempoolFull : kTxRejected, r.error().message,
                   Json{{"id", ToHex0x(id)}});
  return ToHex0x(*r);
}

RpcResult GetAccount(const Context& ctx, const Args& a) {
  GTOS_PARAM(addr, HashParam(a[0], "address"));
  return AccountInfo(ctx.backend.chain(), *addr, ctx.backend.NextNonce(*addr));
}

RpcResult GetKv(const Context& ctx, const Args& a, bool with_value) {
  GTOS_PARAM(enc, EncodingParam(a[3]));
  GTOS_PARAM(addr, HashParam(a[0], "address"));
  GTOS_PARAM(ns, BytesParamAs(a[1], "namespace", kMaxNamespaceBytes, *enc));
  GTOS_PARAM(key, BytesParamAs(a[2], "key", kMaxKeyBytes, *enc));
  return KvInfo(ctx.backend.chain(), *addr, *ns, *key, with_value, *enc == Encoding::kText);
}

// ---- operator methods (docs/rpc.md "Operator methods") ----

constexpr uint64_t kMaxMempoolSenders = 1000;
constexpr uint64_t kMaxMempoolTxs = 1000;

RpcResult Syncing(const Context& ctx) {
  SyncStatus s = ctx.backend.Syncing();
  Json j;
  j["catching_up"] = s.catching_up;
  j["head"] = s.head;
  j["peers_best_height"] = s.peers_best;
  j["peers"] = s.peers;
  j["ready"] = s.not_ready.empty();
  j["not_ready"] = s.not_ready;
  return j;
}

RpcResult NetPeers(const Context& ctx) {
  Json out = Json::array();
  for (const PeerView& p : ctx.backend.Peers()) {
    Json j;
    j["id"] = p.id;
    j["node_key"] = ToHex0x(p.node_key);
    j["address"] = p.address;
    j["listen"] = p.listen;
    j["direction"] = p.outbound ? "outbound" : "inbound";
    j["height"] = p.height;
    j["score"] = p.score;
    j["connected_ms"] = p.connected_ms;
    j["bytes_in"] = p.bytes_in;
    j["bytes_out"] = p.bytes_out;
    out.push_back(std::move(j));
  }
  return out;
}

RpcResult MempoolSummary(const Context& ctx, const Args& a) {
  GTOS_PARAM(max, CountParam(a[0], "max_senders", 100, kMaxMempoolSenders));
  MempoolView v = ctx.backend.MempoolInfo(*max);
  Json j;
  j["txs"] = v.txs;
  j["bytes"] = v.bytes;
  Json senders = Json::array();
  for (const MempoolSender& m : v.senders)
    senders.push_back(Json{{"address", ToHex0x(m.address)},
                           {"txs", m.txs},
                           {"bytes", m.bytes},
                           {"lowest_nonce", m.lowest_nonce},
                           {"highest_nonce", m.highest_nonce}});
  j["senders"] = std::move(senders);
  return j;
}

RpcResult MempoolTxs(const Context& ctx, const Args& a) {
  std::optional<Address> from;
  if (a[0] && !a[0]->is_null()) {
    GTOS_PARAM(addr, HashParam(a[0], "address"));
    from = *addr;
  }
  GTOS_PARAM(max, CountParam(a[1], "limit", 100, kMaxMempoolTxs));
  Json out = Json::array();
  for (const SignedTx& t : ctx.backend.MempoolTxs(*max, from)) {
    Json j = ToJson(t);
    j["id"] = ToHex0x(t.tx.Id());
    out.push_back(std::move(j));
  }
  return out;
}

RpcResult GetCode(const Context& ctx, const Args& a, bool with_value) {
  GTOS_PARAM(hash, HashParam(a[0], "hash"));
  GTOS_PARAM(enc, EncodingParam(a[1]));
  return CodeInfo(ctx.backend.chain(), *hash, with_value, *enc == Encoding::kText);
}

RpcResult GetValidator(const Context& ctx, const Args& a) {
  GTOS_PARAM(addr, HashParam(a[0], "address"));
  return ValidatorInfoJson(ctx.backend.chain(), *addr);
}

RpcResult GetDelegations(const Context& ctx, const Args& a) {
  GTOS_PARAM(addr, HashParam(a[0], "delegator"));
  return Delegations(ctx.backend.chain(), *addr);
}

RpcResult GetDelegation(const Context& ctx, const Args& a) {
  GTOS_PARAM(d, HashParam(a[0], "delegator"));
  GTOS_PARAM(v, HashParam(a[1], "validator"));
  return DelegationInfo(ctx.backend.chain(), *d, *v);
}

RpcResult GetRewards(const Context& ctx, const Args& a) {
  GTOS_PARAM(addr, HashParam(a[0], "delegator"));
  return Rewards(ctx.backend.chain(), *addr);
}

RpcResult GetUnbondings(const Context& ctx, const Args& a) {
  GTOS_PARAM(addr, HashParam(a[0], "delegator"));
  return Unbondings(ctx.backend.chain(), *addr);
}

const std::vector<MethodDef>& Methods() {
  static const std::vector<MethodDef> methods = {
      {"tos_chainProfile",
       {},
       [](const Context& c, const Args&) { return ChainProfile(c.backend.chain(), c.node_version); }},
      {"tos_blockNumber",
       {},
       [](const Context& c, const Args&) -> RpcResult { return c.backend.chain().height(); }},
      {"tos_getBlockByNumber",
       {{"height"}, {"full_txs", false}},
       [](const Context& c, const Args& a) -> RpcResult {
         GTOS_PARAM(h, HeightOrLatest(a[0], "height", c.backend.chain()));
         GTOS_PARAM(full, BoolParam(a[1], "full_txs", false));
         return BlockByNumber(c.backend.chain(), *h, *full);
       }},
      {"tos_getHeaderByNumber",
       {{"height"}},
       [](const Context& c, const Args& a) -> RpcResult {
         GTOS_PARAM(h, HeightOrLatest(a[0], "height", c.backend.chain()));
         return HeaderByNumber(c.backend.chain(), *h);
       }},
      {"tos_getTransaction",
       {{"id"}},
       [](const Context& c, const Args& a) -> RpcResult {
         GTOS_PARAM(id, HashParam(a[0], "id"));
         return TransactionById(c.backend.chain(), *id);
       }},
      {"tos_getReceipt",
       {{"id"}},
       [](const Context& c, const Args& a) -> RpcResult {
         GTOS_PARAM(id, HashParam(a[0], "id"));
         return ReceiptById(c.backend.chain(), *id);
       }},
      {"tos_sendRawTransaction", {{"tx"}}, SendRaw},
      {"tos_getAccount", {{"address"}}, GetAccount},
      {"tos_getSigner",
       {{"address"}},
       [](const Context& c, const Args& a) -> RpcResult {
         GTOS_PARAM(addr, HashParam(a[0], "address"));
         return SignerInfo(c.backend.chain(), *addr);
       }},
      {"tos_getKV",
       {{"address"}, {"namespace"}, {"key"}, {"encoding", false}},
       [](const Context& c, const Args& a) { return GetKv(c, a, true); }},
      {"tos_getKVMeta",
       {{"address"}, {"namespace"}, {"key"}, {"encoding", false}},
       [](const Context& c, const Args& a) { return GetKv(c, a, false); }},
      {"tos_getCode",
       {{"hash"}, {"encoding", false}},
       [](const Context& c, const Args& a) { return GetCode(c, a, true); }},
      {"tos_getCodeMeta", {{"hash"}}, [](const Context& c, const Args& a) { return GetCode(c, a, false); }},
      {"tos_getRetentionPolicy",
       {},
       [](const Context& c, const Args&) { return RetentionPolicy(c.backend.chain()); }},
      {"tos_getParams",
       {{"height", false}},
       [](const Context& c, const Args& a) -> RpcResult {
         // Only the params after the head are kept: "latest" (or nothing).
         if (a[0] && !(a[0]->is_string() && a[0]->get_ref<const std::string&>() == "latest"))
           return BadParam("height", "only \"latest\" is supported (the params in force after the head)");
         return ParamsInForce(c.backend.chain());
       }},
      {"tos_getUpgradePlan",
       {},
       [](const Context& c, const Args&) { return UpgradePlanInfo(c.backend.chain(), c.node_version); }},
      {"tos_getPruneWatermark",
       {},
       [](const Context& c, const Args&) { return PruneWatermark(c.backend.chain()); }},
      {"dpos_getValidators", {}, [](const Context& c, const Args&) { return Validators(c.backend.chain()); }},
      {"dpos_getEpochInfo", {}, [](const Context& c, const Args&) { return EpochInfo(c.backend.chain()); }},
      {"tos_syncing", {}, [](const Context& c, const Args&) { return Syncing(c); }},
      {"net_peers", {}, [](const Context& c, const Args&) { return NetPeers(c); }},
      {"tos_mempool", {{"max_senders", false}}, MempoolSummary},
      {"tos_getMempoolTxs", {{"address", false}, {"limit", false}}, MempoolTxs},
      {"dpos_getValidator", {{"address"}}, GetValidator},
      {"dpos_getDelegations", {{"delegator"}}, GetDelegations},
      {"dpos_getDelegation", {{"delegator"}, {"validator"}}, GetDelegation},
      {"dpos_getRewards", {{"delegator"}}, GetRewards},
      {"dpos_getUnbondings", {{"delegator"}}, GetUnbondings},
      {"tos_getSupply", {}, [](const Context& c, const Args&) { return Supply(c.backend.chain()); }},
      {"tos_getBlockByHash",
       {{"hash"}, {"full_txs", false}},
       [](const Context& c, const Args& a) -> RpcResult {
         GTOS_PARAM(hash, HashParam(a[0], "hash"));
         GTOS_PARAM(full, BoolParam(a[1], "full_txs", false));
         return BlockByHash(c.backend.chain(), *hash, *full);
       }},
  };
  return methods;
}

std::string ParamList(const MethodDef& m) {
  std::string s;
  for (const ParamSpec& p : m.params) s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s.empty() ? "no params" : s;
}

// Maps "params" (array by position, object by name) onto the method's
// params. Omitted optional params and explicit nulls for them stay nullptr.
std::expected<Args, RpcError> BindParams(const MethodDef& m, const Json* params) {
  Args args{};
  std::string method(m.name);
  if (params && params->is_array()) {
    if (params->size() > m.params.size())
      return RpcFail(kInvalidParams, "too many params: " + method + " takes " + ParamList(m) + ", got " +
                                         std::to_string(params->size()));
    for (size_t i = 0; i < params->size(); ++i) args[i] = &(*params)[i];
  } else if (params && params->is_object()) {
    for (auto it = params->begin(); it != params->end(); ++it) {
      size_t i = 0;
      while (i < m.params.size() && m.params[i].name != it.key()) ++i;
      if (i == m.params.size())
        return RpcFail(kInvalidParams,
                       "unknown param '" + it.key() + "': " + method + " takes " + ParamList(m));
      args[i] = &*it;
    }
  }
  for (size_t i = 0; i < m.params.size(); ++i) {
    if (args[i] && args[i]->is_null() && !m.params[i].required) args[i] = nullptr;
    if (!args[i] && m.params[i].required)
      return RpcFail(kInvalidParams, "missing param '" + std::string(m.params[i].name) + "': " + method +
                                         " takes " + ParamList(m));
  }
  return args;
}

uint64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// Process CPU time (user + system) and start time, for process_* metrics.
double ProcessCpuSeconds() {
  struct rusage ru {};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Wall-clock start of this process, read once (the first /metrics).
double ProcessStartSeconds() {
  static const double start = [] {
    // /proc/self/stat field 22 is the start time in clock ticks after boot.
    FILE* f = std::fopen("/proc/self/stat", "r");
    if (!f) return 0.0;
    char buf[1024];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = 0;
    const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
    if (!p) return 0.0;
    // After ")" come field 3, 4, ...: skip to the space before field 22.
    const char* q = p + 1;
    for (int field = 2; field < 22 && *q; ++q)
      if (*q == ' ') ++field;
    unsigned long long ticks = 0;
    if (std::sscanf(q, "%llu", &ticks) != 1) return 0.0;
    FILE* u = std::fopen("/proc/uptime", "r");
    double uptime = 0;
    if (u) {
      if (std::fscanf(u, "%lf", &uptime) != 1) uptime = 0;
      std::fclose(u);
    }
    double boot = static_cast<double>(std::time(nullptr)) - uptime;
    return boot + static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }();
  return start;
}

}  // namespace

std::span<const std::string_view> MethodNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const MethodDef& m : Methods()) v.push_back(m.name);
    return v;
  }();
  return names;
}

Dispatcher::Dispatcher(Backend& backend, DispatchLimits limits, std::string node_version)
    : backend_(backend), limits_(std::move(limits)), node_version_(std::move(node_version)) {
  static_assert(kMaxMethods >= 16);
}

RpcResult Dispatcher::Call(std::string_view method, const Json* params) {
  const std::vector<MethodDef>& methods = Methods();
  size_t i = 0;
  while (i < methods.size() && methods[i].name != method) ++i;
  requests_[i].fetch_add(1, std::memory_order_relaxed);  // i == size(): unknown
  if (i == methods.size()) return RpcFail(kMethodNotFound, "method '" + std::string(method) + "' not found");
  auto args = BindParams(methods[i], params);
  if (!args) return std::unexpected(args.error());
  try {
    return methods[i].fn(Context{backend_, node_version_}, *args);
  } catch (const std::exception& e) {
    return RpcFail(kInternalError, std::string("internal error: ") + e.what());
  }
}

Json Dispatcher::ErrorResponse(const RpcError& e, const Json& id) {
  CountError();
  Json err = {{"code", e.code}, {"message", e.message}};
  if (!e.data.is_null()) err["data"] = e.data;
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

Json Dispatcher::HandleOne(const Json& request, bool* notification) {
  *notification = false;
  if (!request.is_object())
    return ErrorResponse({kInvalidRequest, "invalid request: expected a JSON object", nullptr}, nullptr);
  auto id_it = request.find("id");
  Json id = nullptr;
  if (id_it != request.end()) {
    if (!id_it->is_string() && !id_it->is_number() && !id_it->is_null())
      return ErrorResponse(
          {kInvalidRequest, "invalid request: \"id\" must be a string, a number or null", nullptr}, nullptr);
    id = *id_it;
  }
  auto v = request.find("jsonrpc");
  if (v == request.end() || !v->is_string() || v->get_ref<const std::string&>() != "2.0")
    return ErrorResponse({kInvalidRequest, "invalid request: \"jsonrpc\" must be \"2.0\"", nullptr}, id);
  auto m = request.find("method");
  if (m == request.end() || !m->is_string())
    return ErrorResponse({kInvalidRequest, "invalid request: \"method\" must be a string", nullptr}, id);
  auto p = request.find("params");
  const Json* params = nullptr;
  if (p != request.end() && !p->is_null()) {
    if (!p->is_array() && !p->is_object())
      return ErrorResponse(
          {kInvalidRequest, "invalid request: \"params\" must be an array or an object", nullptr}, id);
    params = &*p;
  }
  RpcResult r = Call(m->get_ref<const std::string&>(), params);
  *notification = id_it == request.end();
  if (!r) return ErrorResponse(r.error(), id);
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(*r)}};
}

std::string Dispatcher::DumpCapped(Json response, size_t room, bool* capped) {
  std::string s = Dump(response);
  *capped = s.size() > room;
  if (!*capped) return s;
  Json id = response.is_object() && response.contains("id") ? response["id"] : Json(nullptr);
  return Dump(ErrorResponse({kResponseTooLarge,
                             "response too large: the reply would exceed the limit of " +
                                 std::to_string(limits_.max_response_bytes) + " bytes",
                             Json{{"limit", limits_.max_response_bytes}}},
                            id));
}

HttpReply Dispatcher::HandleJsonRpc(std::string body) {
  // Counted before anything is built: a body of a million tiny values would
  // otherwise cost tens of bytes of json per byte of body.
  JsonScan scan = ScanJson(body, limits_.json);
  // The scan stops at the first limit it crosses; a body that is also not
  // JSON further on still gets the parse error (JSON-RPC 2.0: -32700 for
  // invalid JSON). accept() builds nothing (one bit per nesting level).
  if (scan.status != JsonScan::kOk && scan.status != JsonScan::kInvalid &&
      !Json::accept(body, /*ignore_comments=*/false))
    scan.status = JsonScan::kInvalid;
  if (scan.status == JsonScan::kInvalid)
    return {200, "application/json",
            Dump(ErrorResponse({kParseError, "parse error: invalid JSON", nullptr}, nullptr))};
  if (scan.status != JsonScan::kOk)
    return {413, "application/json",
            Dump(ErrorResponse({kInvalidRequest, "request too large: " + scan.message, nullptr}, nullptr))};
  Json request = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  body = std::string();  // the parsed copy is all that is needed from here
  if (request.is_discarded())
    return {200, "application/json",
            Dump(ErrorResponse({kParseError, "parse error: invalid JSON", nullptr}, nullptr))};
  bool notification = false;
  const size_t cap = limits_.max_response_bytes;
  if (!request.is_array()) {
    Json r = HandleOne(request, &notification);
    if (notification) return {204, "application/json", ""};
    bool capped = false;
    return {200, "application/json", DumpCapped(std::move(r), cap, &capped)};
  }
  if (request.empty())
    return {200, "application/json",
            Dump(ErrorResponse({kInvalidRequest, "invalid request: empty batch", nullptr}, nullptr))};
  if (request.size() > limits_.max_batch)
    return {413, "application/json",
            Dump(ErrorResponse({kInvalidRequest,
                                "batch of " + std::to_string(request.size()) +
                                    " requests exceeds the limit of " + std::to_string(limits_.max_batch),
                                nullptr},
                               nullptr))};
  // Responses are serialised one by one, so that the reply is never held
  // twice and its size is known as it grows. Once it would pass the cap,
  // the remaining calls are not run: each gets -38006.
  std::string out = "[";
  bool full = false;
  for (const Json& one : request) {
    std::string entry;
    if (!full) {
      Json r = HandleOne(one, &notification);
      if (notification) continue;
      entry = DumpCapped(std::move(r), cap > out.size() + 1 ? cap - out.size() - 1 : 0, &full);
    } else {
      if (one.is_object() && !one.contains("id")) continue;  // a notification: no reply, not run
      Json id = one.is_object() ? one["id"] : Json(nullptr);
      if (!id.is_string() && !id.is_number()) id = nullptr;
      entry = Dump(
          ErrorResponse({kResponseTooLarge,
                         "not run: the batch's reply reached the limit of " + std::to_string(cap) + " bytes",
                         Json{{"limit", cap}}},
                        id));
    }
    if (out.size() > 1) out += ',';
    out += entry;
  }
  if (out.size() == 1) return {204, "application/json", ""};
  out += ']';
  return {200, "application/json", std::move(out)};
}

HttpReply Dispatcher::HandleTxRecords(ByteView body) {
  auto error_entry = [this](int code, const std::string& message, Json data = nullptr) {
    CountError();
    Json err = {{"code", code}, {"message", message}};
    if (!data.is_null()) err["data"] = std::move(data);
    return Json{{"error", std::move(err)}};
  };
  // Frame every record first, so that an oversize batch is refused before
  // anything is submitted. Only offsets are kept: each record's msgpack
  // objects live while it is framed and again while it is decoded, never
  // all records' at once.
  std::vector<size_t> records;  // offsets in body
  std::optional<Error> frame_error;
  for (size_t off = 0; off < body.size();) {
    size_t start = off;
    auto p = FrameSignedTx(body, &off);
    if (!p) {
      frame_error = p.error();
      break;
    }
    records.push_back(start);
    if (records.size() > limits_.max_batch) {
      CountError();
      Json e = {
          {"error",
           {{"code", kInvalidRequest},
            {"message", "more than " + std::to_string(limits_.max_batch) + " records in one request"}}}};
      return {413, "application/json", Dump(e)};
    }
  }
  Json out = Json::array();
  size_t slot = MethodNames().size() + 1;
  for (size_t i = 0; i < records.size(); ++i) {
    requests_[slot].fetch_add(1, std::memory_order_relaxed);
    std::string where = "record " + std::to_string(i + 1);
    size_t off = records[i];
    auto framed = FrameSignedTx(body, &off);  // succeeded once already
    auto stx =
        framed ? DecodeRecordFrom<SignedTx>(*framed) : Result<SignedTx>(std::unexpected(framed.error()));
    if (!stx) {
      out.push_back(error_entry(kInvalidParams, where + ": " + stx.error().message));
      return {200, "application/json", Dump(out)};
    }
    Hash32 id = stx->tx.Id();
    auto r = backend_.SubmitTx(std::move(*stx));
    if (r) {
      out.push_back(Json{{"id", ToHex0x(*r)}});
    } else {
      int code = r.error().code == ErrorCode::kUsage ? kMempoolFull : kTxRejected;
      out.push_back(error_entry(code, r.error().message, Json{{"id", ToHex0x(id)}, {"record", i + 1}}));
    }
  }
  if (frame_error) {
    requests_[slot].fetch_add(1, std::memory_order_relaxed);
    out.push_back(error_entry(kInvalidParams,
                              "record " + std::to_string(records.size() + 1) + ": " + frame_error->message));
  }
  return {200, "application/json", Dump(out)};
}

HttpReply Dispatcher::Refused(int status, std::string_view message, bool jsonrpc, bool tx) {
  std::string m(message);
  int code = status >= 500 ? kInternalError : kInvalidRequest;
  if (jsonrpc) return {status, "application/json", Dump(ErrorResponse({code, m, nullptr}, nullptr))};
  CountError();
  if (tx) return {status, "application/json", Dump(Json{{"error", {{"code", code}, {"message", m}}}})};
  return {status, "text/plain", m + "\n"};
}

HttpReply Dispatcher::TooLarge(size_t limit, bool jsonrpc) {
  return Refused(413, "request body exceeds the limit of " + std::to_string(limit) + " bytes", jsonrpc,
                 !jsonrpc);
}

HttpReply Dispatcher::Healthz() { return {200, "text/plain", "ok"}; }

// Ready: Backend::NotReadyReason is empty (docs/node.md "Health and
// metrics" is the one definition); otherwise 503 with the reason.
HttpReply Dispatcher::Readyz() const {
  std::string why = backend_.NotReadyReason();
  if (why.empty()) return {200, "text/plain", "ready"};
  return {503, "text/plain", "not ready: " + why};
}

HttpReply Dispatcher::Metrics() const {
  std::string s;
  auto line = [&s](std::string_view text) {
    s += text;
    s += '\n';
  };
  const chain::Chain& c = backend_.chain();
  line("# HELP gtos_head_height Height of the newest committed block.");
  line("# TYPE gtos_head_height gauge");
  line("gtos_head_height " + std::to_string(c.height()));
  line("# HELP gtos_oldest_available_height Lowest height whose block body is still stored.");
  line("# TYPE gtos_oldest_available_height gauge");
  line("gtos_oldest_available_height " + std::to_string(c.oldest_body()));
  line("# HELP gtos_mempool_txs Transactions waiting in the mempool.");
  line("# TYPE gtos_mempool_txs gauge");
  line("gtos_mempool_txs " + std::to_string(backend_.MempoolSize()));
  line("# HELP gtos_rpc_requests_total RPC requests by JSON-RPC method; \"/tx\" counts records on POST /tx.");
  line("# TYPE gtos_rpc_requests_total counter");
  auto names = MethodNames();
  for (size_t i = 0; i <= names.size() + 1; ++i) {
    std::string label = i < names.size() ? std::string(names[i]) : i == names.size() ? "unknown" : "/tx";
    line("gtos_rpc_requests_total{method=\"" + label + "\"} " +
         std::to_string(requests_[i].load(std::memory_order_relaxed)));
  }
  line("# HELP gtos_rpc_errors_total RPC error responses, including rejected /tx records.");
  line("# TYPE gtos_rpc_errors_total counter");
  line("gtos_rpc_errors_total " + std::to_string(errors_.load(std::memory_order_relaxed)));
  line("# HELP process_resident_memory_bytes Resident memory size in bytes.");
  line("# TYPE process_resident_memory_bytes gauge");
  line("process_resident_memory_bytes " + std::to_string(ResidentBytes()));
  char num[64];
  line("# HELP process_cpu_seconds_total User and system CPU time of the process.");
  line("# TYPE process_cpu_seconds_total counter");
  std::snprintf(num, sizeof num, "%.3f", ProcessCpuSeconds());
  line(std::string("process_cpu_seconds_total ") + num);
  line("# HELP process_start_time_seconds Start time of the process since the Unix epoch.");
  line("# TYPE process_start_time_seconds gauge");
  std::snprintf(num, sizeof num, "%.3f", ProcessStartSeconds());
  line(std::string("process_start_time_seconds ") + num);
  line("# HELP gtos_build_info The running build; always 1.");
  line("# TYPE gtos_build_info gauge");
  line("gtos_build_info{version=\"" + node_version_ + "\"} 1");
  std::string extra = backend_.Metrics();
  if (!extra.empty() && extra.back() != '\n') extra += '\n';
  s += extra;
  return {200, "text/plain; version=0.0.4; charset=utf-8", std::move(s)};
}

}  // namespace gtos::rpc
