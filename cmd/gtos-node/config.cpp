#include "config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <toml++/toml.h>

#include "cli/tool.h"
#include "net/addr.h"
#include "util/bytes.h"
#include "util/file.h"

namespace gtos::nodecmd {

void Settings::Merge(const Settings& o) {
  auto take = [](auto& mine, const auto& theirs) {
    if (theirs) mine = theirs;
  };
  take(datadir, o.datadir);
  take(rpc_addr, o.rpc_addr);
  take(p2p_addr, o.p2p_addr);
  take(peers, o.peers);
  take(p2p_external, o.p2p_external);
  take(max_peers, o.max_peers);
  take(max_inbound_peers, o.max_inbound_peers);
  take(max_outbound_peers, o.max_outbound_peers);
  take(max_peers_per_ip, o.max_peers_per_ip);
  take(reserved_peers, o.reserved_peers);
  take(p2p_allow_private, o.p2p_allow_private);
  take(p2p_discovery, o.p2p_discovery);
  take(log_format, o.log_format);
  take(log_level, o.log_level);
  take(mempool_max_txs, o.mempool_max_txs);
  take(mempool_max_bytes, o.mempool_max_bytes);
  take(validator_key, o.validator_key);
  take(passphrase_file, o.passphrase_file);
  take(fsync, o.fsync);
  take(state_sync, o.state_sync);
  take(snapshot_keep, o.snapshot_keep);
  take(ready_max_block_intervals, o.ready_max_block_intervals);
  take(halt_height, o.halt_height);
  take(double_sign_check_height, o.double_sign_check_height);
  for (const auto& [key, value] : o.rpc_limits) rpc_limits[key] = value;
}

const std::vector<RpcLimitKey>& RpcLimitKeys() {
  using O = rpc::ServerOptions;
  // Member, range: one line per key (docs/rpc.md "Limits" explains each).
#define GTOS_RPC_LIMIT(key, member, min, max)                                    \
  RpcLimitKey {                                                                  \
    key, min, max, [](const O& o) { return static_cast<uint64_t>(o.member); },   \
        [](O& o, uint64_t v) { o.member = static_cast<decltype(O::member)>(v); } \
  }
  static const std::vector<RpcLimitKey> keys = {
      GTOS_RPC_LIMIT("rpc_threads", threads, 1, 256),
      GTOS_RPC_LIMIT("rpc_max_connections", max_connections, 1, 65'536),
      GTOS_RPC_LIMIT("rpc_header_timeout_ms", header_timeout_ms, 100, 600'000),
      GTOS_RPC_LIMIT("rpc_body_timeout_ms", body_timeout_ms, 100, 3'600'000),
      GTOS_RPC_LIMIT("rpc_idle_timeout_ms", idle_timeout_ms, 100, 600'000),
      GTOS_RPC_LIMIT("rpc_write_timeout_ms", write_timeout_ms, 100, 600'000),
      GTOS_RPC_LIMIT("rpc_max_header_bytes", max_header_bytes, 1024, 1 << 20),
      GTOS_RPC_LIMIT("rpc_max_body_bytes", max_body_bytes, 1024, uint64_t{1} << 30),
      GTOS_RPC_LIMIT("rpc_max_inflight_body_bytes", max_inflight_body_bytes, 1024, uint64_t{1} << 34),
      GTOS_RPC_LIMIT("rpc_max_batch", max_batch, 1, 1'000'000),
      GTOS_RPC_LIMIT("rpc_max_json_values", max_json_values, 16, 100'000'000),
      GTOS_RPC_LIMIT("rpc_max_json_depth", max_json_depth, 4, 1000),
      GTOS_RPC_LIMIT("rpc_max_response_bytes", max_response_bytes, 1024, uint64_t{1} << 32),
      GTOS_RPC_LIMIT("rpc_max_subscribers", max_subscribers, 1, 65'536),
      GTOS_RPC_LIMIT("rpc_subscriber_queue_bytes", subscriber_queue_bytes, 4096, uint64_t{1} << 30),
  };
#undef GTOS_RPC_LIMIT
  return keys;
}

static std::string EnvName(std::string_view key) {
  std::string name = "GTOS_";
  for (char c : key) name += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return name;
}

namespace {

// "'gtos.toml' line 3, column 9": where a TOML error is.
std::string Where(const std::string& path, const toml::source_position& pos) {
  return "'" + path + "' line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column);
}

// toml++ 3.3 (Debian 12's) reaches __builtin_unreachable, i.e. undefined
// behaviour, when it checks some non-ASCII characters for whitespace: in a
// bare key, after a value, after a line-ending backslash in a multi-line
// basic string (upstream marzer/tomlplusplus#190 and #295; found by
// fuzz_toml_config). No gtos.toml needs them there, so the document is
// refused before toml++ sees it when a non-ASCII byte stands anywhere but
// in a comment, a single-line string or a multi-line literal string.
// A quote opens a string only where a string can start (after '=', '[',
// ',', '{', '.', or first on a line, blanks aside): toml++ reads `0"п"` as
// one bad token and checks its characters for whitespace too (found by
// fuzz_toml_config after the first version of this filter).
// Returns the position of the first such byte (line and column 1-based, the
// column counted in characters as toml++ counts it), or nullopt when there
// is none.
std::optional<toml::source_position> UnsafeNonAscii(std::string_view text) {
  enum class In { kNone, kBasic, kLiteral, kComment, kMultiBasic, kMultiLiteral } in = In::kNone;
  size_t line = 1;
  size_t line_start = 0;  // index of the first byte of the current line
  char prev = '\n';       // the last non-blank character outside strings and comments
  auto at = [&text](size_t i, std::string_view what) { return text.substr(i, what.size()) == what; };
  auto ascii = [](char c) { return static_cast<unsigned char>(c) < 0x80; };
  auto where = [&](size_t i) {
    size_t column = 1;  // UTF-8 continuation bytes (10xxxxxx) do not start a character
    for (size_t j = line_start; j < i; ++j) column += (static_cast<unsigned char>(text[j]) & 0xC0) != 0x80;
    using T = decltype(toml::source_position::line);
    return toml::source_position{static_cast<T>(line), static_cast<T>(column)};
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++line, line_start = i + 1;
    switch (in) {
      case In::kNone: {
        if (!ascii(c)) return where(i);
        const bool can_open = prev == '\n' || prev == '=' || prev == '[' || prev == ',' || prev == '{' || prev == '.';
        if (c != ' ' && c != '\t' && c != '\r') prev = c;
        if (can_open && at(i, "\"\"\"")) in = In::kMultiBasic, i += 2;
        else if (can_open && at(i, "'''")) in = In::kMultiLiteral, i += 2;
        else if (can_open && c == '"') in = In::kBasic;
        else if (can_open && c == '\'') in = In::kLiteral;
        else if (c == '#') in = In::kComment;
        break;
      }
      case In::kBasic:
      case In::kMultiBasic:
        if (in == In::kMultiBasic && !ascii(c)) return where(i);
        if (c == '\\' && i + 1 < text.size()) {
          if (text[++i] == '\n') ++line, line_start = i + 1;
          if (!ascii(text[i])) return where(i);
        } else if (in == In::kBasic && (c == '"' || c == '\n')) {
          in = In::kNone;
          if (c == '\n') prev = '\n';
        } else if (in == In::kMultiBasic && at(i, "\"\"\"")) {
          while (i + 1 < text.size() && text[i + 1] == '"') ++i;  // up to two quotes end the content
          in = In::kNone;
        }
        break;
      case In::kLiteral:
        if (c == '\'' || c == '\n') in = In::kNone;
        if (c == '\n') prev = '\n';
        break;
      case In::kMultiLiteral:
        if (at(i, "'''")) {
          while (i + 1 < text.size() && text[i + 1] == '\'') ++i;
          in = In::kNone;
        }
        break;
      case In::kComment:
        if (c == '\n') in = In::kNone, prev = '\n';
        break;
    }
  }
  return std::nullopt;
}

// The text with every non-ASCII character (a UTF-8 lead byte and its
// continuation bytes, or a stray byte >= 0x80) replaced by one 'x'.
std::string AsciiPlaceholders(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    out.push_back('x');
    ++i;
    if (b >= 0xC0)
      while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
  }
  return out;
}

// Reads the keys of gtos.toml into Settings; the first error sticks and
// names its line and column.
class TomlReader {
 public:
  TomlReader(const std::string& path, const toml::table& t) : path_(path), t_(t) {}

  void Str(const char* key, std::optional<std::string>& out) {
    if (const toml::node* n = t_.get(key)) {
      if (auto v = n->value<std::string>()) out = *v;
      else Error(*n, std::string("key '") + key + "' must be a string");
    }
  }
  void Uint(const char* key, std::optional<uint64_t>& out) {
    if (const toml::node* n = t_.get(key)) {
      auto v = n->is_integer() ? n->value<int64_t>() : std::nullopt;
      if (v && *v >= 0) out = static_cast<uint64_t>(*v);
      else Error(*n, std::string("key '") + key + "' must be a non-negative integer");
    }
  }
  void Bool(const char* key, std::optional<bool>& out) {
    if (const toml::node* n = t_.get(key)) {
      if (auto v = n->value<bool>()) out = *v;
      else Error(*n, std::string("key '") + key + "' must be true or false");
    }
  }
  void StrArray(const char* key, std::optional<std::vector<std::string>>& out,
                const char* what = "\"host:port\" strings") {
    const toml::node* n = t_.get(key);
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr) return Error(*n, std::string("key '") + key + "' must be an array of " + what);
    std::vector<std::string> items;
    for (const toml::node& e : *arr) {
      auto v = e.value<std::string>();
      if (!v) return Error(e, std::string("key '") + key + "' must be an array of " + what);
      items.push_back(*v);
    }
    out = std::move(items);
  }
  void OnlyKnown(const std::vector<std::string_view>& known) {
    for (const auto& [k, v] : t_) {
      (void)v;
      if (std::find(known.begin(), known.end(), k.str()) == known.end())
        ErrorAt(k.source().begin, "unknown key '" + std::string(k.str()) + "'");
    }
  }
  Status status() const { return error_.empty() ? Ok() : Invalid(error_); }

 private:
  void Error(const toml::node& n, const std::string& what) { ErrorAt(n.source().begin, what); }
  void ErrorAt(const toml::source_position& pos, const std::string& what) {
    if (error_.empty()) error_ = Where(path_, pos) + ": " + what;
  }

  const std::string& path_;
  const toml::table& t_;
  std::string error_;
};

}  // namespace

Result<Settings> LoadToml(const std::string& path) {
  // Read here, not by toml++: an unreadable file gets the usual I/O error.
  auto bytes = ReadFile(path);
  if (!bytes) return std::unexpected(bytes.error());
  return LoadTomlText(AsChars(*bytes), path);
}

Result<Settings> LoadTomlText(std::string_view text, const std::string& path) {
  if (auto pos = UnsafeNonAscii(text))
    return Invalid(Where(path, *pos) + ": non-ASCII character outside a comment or a quoted string");
  // toml++ is compiled in without exceptions (cmd/CMakeLists.txt and the
  // fuzz targets' TOMLPP option): a syntax error is a value, never a throw
  // or an abort.
  auto syntax = [&path](const toml::parse_error& e) {
    std::string what(e.description());  // "Error while parsing string: ..."
    if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
    return Invalid(Where(path, e.source().begin) + ": " + what);
  };
  // The filter above tells strings from the rest with a small lexer of its
  // own; only a document that is TOML agrees with toml++ about where its
  // strings are. So a document with non-ASCII characters is first parsed
  // with each of them replaced by 'x' (same lines, same columns): toml++
  // reads all-ASCII text safely, and once that copy is valid TOML, every
  // non-ASCII character of the real text is inside a string or a comment
  // for toml++ as well (found by fuzz_toml_config: `0=0["<U+FEBF>0.0`).
  if (std::string ascii = AsciiPlaceholders(text); ascii != text) {
    toml::parse_result copy = toml::parse(ascii, path);
    if (!copy) return syntax(copy.error());
  }
  toml::parse_result parsed = toml::parse(text, path);
  if (!parsed) return syntax(parsed.error());
  const toml::table& t = parsed.table();
  Settings s;
  TomlReader r(path, t);
  r.Str("datadir", s.datadir);
  r.Str("rpc_addr", s.rpc_addr);
  r.Str("p2p_addr", s.p2p_addr);
  r.StrArray("peers", s.peers);
  r.Str("p2p_external", s.p2p_external);
  r.Uint("max_peers", s.max_peers);
  r.Bool("p2p_discovery", s.p2p_discovery);
  r.Str("log_format", s.log_format);
  r.Str("log_level", s.log_level);
  r.Uint("mempool_max_txs", s.mempool_max_txs);
  r.Uint("mempool_max_bytes", s.mempool_max_bytes);
  r.Str("validator_key", s.validator_key);
  r.Str("passphrase_file", s.passphrase_file);
  r.Bool("fsync", s.fsync);
  r.Bool("state_sync", s.state_sync);
  r.Uint("snapshot_keep", s.snapshot_keep);
  r.Uint("ready_max_block_intervals", s.ready_max_block_intervals);
  r.Uint("halt_height", s.halt_height);
  r.Uint("double_sign_check_height", s.double_sign_check_height);
  r.Uint("max_inbound_peers", s.max_inbound_peers);
  r.Uint("max_outbound_peers", s.max_outbound_peers);
  r.Uint("max_peers_per_ip", s.max_peers_per_ip);
  r.StrArray("reserved_peers", s.reserved_peers, "node keys (\"0x\" and 64 hex digits)");
  r.Bool("p2p_allow_private", s.p2p_allow_private);
  for (const RpcLimitKey& k : RpcLimitKeys()) {
    std::optional<uint64_t> v;
    r.Uint(k.key, v);
    if (v) s.rpc_limits[k.key] = *v;
  }
  std::vector<std::string_view> known = {
      "datadir", "rpc_addr", "p2p_addr", "peers", "p2p_external", "max_peers", "p2p_discovery",
      "log_format", "log_level", "mempool_max_txs", "mempool_max_bytes", "validator_key",
      "passphrase_file", "fsync", "state_sync", "snapshot_keep", "max_inbound_peers", "max_outbound_peers",
      "max_peers_per_ip", "reserved_peers", "p2p_allow_private", "ready_max_block_intervals", "halt_height",
      "double_sign_check_height"};
  for (const RpcLimitKey& k : RpcLimitKeys()) known.push_back(k.key);
  r.OnlyKnown(known);
  GTOS_TRY(r.status());
  return s;
}

Result<Settings> LoadEnv() {
  Settings s;
  auto str = [](const char* name, std::optional<std::string>& out) {
    if (const char* v = std::getenv(name); v && *v) out = v;
  };
  str("GTOS_DATADIR", s.datadir);
  str("GTOS_RPC_ADDR", s.rpc_addr);
  str("GTOS_P2P_ADDR", s.p2p_addr);
  str("GTOS_P2P_EXTERNAL", s.p2p_external);
  str("GTOS_LOG_FORMAT", s.log_format);
  str("GTOS_LOG_LEVEL", s.log_level);
  str("GTOS_VALIDATOR_KEY", s.validator_key);
  str("GTOS_PASSPHRASE_FILE", s.passphrase_file);
  for (auto [name, field] : {std::pair{"GTOS_MEMPOOL_MAX_TXS", &s.mempool_max_txs},
                             std::pair{"GTOS_MEMPOOL_MAX_BYTES", &s.mempool_max_bytes},
                             std::pair{"GTOS_MAX_PEERS", &s.max_peers},
                             std::pair{"GTOS_MAX_INBOUND_PEERS", &s.max_inbound_peers},
                             std::pair{"GTOS_MAX_OUTBOUND_PEERS", &s.max_outbound_peers},
                             std::pair{"GTOS_MAX_PEERS_PER_IP", &s.max_peers_per_ip},
                             std::pair{"GTOS_SNAPSHOT_KEEP", &s.snapshot_keep},
                             std::pair{"GTOS_READY_MAX_BLOCK_INTERVALS", &s.ready_max_block_intervals},
                             std::pair{"GTOS_HALT_HEIGHT", &s.halt_height},
                             std::pair{"GTOS_DOUBLE_SIGN_CHECK_HEIGHT", &s.double_sign_check_height}}) {
    if (const char* v = std::getenv(name); v && *v) {
      auto n = ParseUint64(v, name);
      if (!n) return std::unexpected(n.error());
      *field = *n;
    }
  }
  for (const RpcLimitKey& k : RpcLimitKeys()) {
    std::string name = EnvName(k.key);
    if (const char* v = std::getenv(name.c_str()); v && *v) {
      auto n = ParseUint64(v, name);
      if (!n) return std::unexpected(n.error());
      s.rpc_limits[k.key] = *n;
    }
  }
  for (auto [name, field] : {std::pair{"GTOS_FSYNC", &s.fsync}, std::pair{"GTOS_P2P_DISCOVERY", &s.p2p_discovery},
                             std::pair{"GTOS_STATE_SYNC", &s.state_sync},
                             std::pair{"GTOS_P2P_ALLOW_PRIVATE", &s.p2p_allow_private}}) {
    if (const char* v = std::getenv(name); v && *v) {
      std::string_view sv(v);
      if (sv == "1" || sv == "true") *field = true;
      else if (sv == "0" || sv == "false") *field = false;
      else return Invalid(std::string(name) + ": '" + std::string(sv) + "' is not true or false");
    }
  }
  for (auto [name, field] : {std::pair{"GTOS_PEERS", &s.peers}, std::pair{"GTOS_RESERVED_PEERS", &s.reserved_peers}}) {
    const char* v = std::getenv(name);
    if (!v || !*v) continue;
    std::vector<std::string> list;
    std::string_view rest(v);
    while (!rest.empty()) {
      size_t c = rest.find(',');
      std::string_view p = rest.substr(0, c);
      if (!p.empty()) list.emplace_back(p);
      rest = c == std::string_view::npos ? std::string_view() : rest.substr(c + 1);
    }
    *field = list;
  }
  return s;
}

// The split is the p2p layer's own (net::SplitHostPort), so that every
// address accepted here is one the node can listen on or dial: a peer it
// could not split would be dropped silently at the first dial.
Status ParseHostPort(const std::string& addr, std::string_view what, std::string* host, int* port) {
  std::string h, p;
  if (!net::SplitHostPort(addr, &h, &p)) {
    size_t colon = addr.rfind(':');
    std::string_view tail = colon == std::string::npos ? "" : std::string_view(addr).substr(colon + 1);
    bool digits = !tail.empty() && tail.find_first_not_of("0123456789") == std::string_view::npos;
    if (colon != std::string::npos && colon > 0 && !digits)
      return cli::UsageError(std::string(what) + ": '" + addr + "' has no valid port");
    return cli::UsageError(std::string(what) + ": '" + addr + "' is not HOST:PORT",
                           addr.starts_with('[') ? "an IPv6 host is written [2001:db8::1]:26656" : "");
  }
  if (h.empty()) return cli::UsageError(std::string(what) + ": '" + addr + "' is not HOST:PORT");
  auto n = ParseUint64(p, what);
  if (!n || *n > 65535) return cli::UsageError(std::string(what) + ": '" + addr + "' has no valid port");
  *host = std::move(h);
  *port = static_cast<int>(*n);
  return Ok();
}

Result<Resolved> Resolve(const Settings& s) {
  Resolved r;
  if (!s.datadir) return cli::UsageError("no data directory", "pass --datadir D or set GTOS_DATADIR");
  r.node.datadir = *s.datadir;
  GTOS_TRY(ParseHostPort(s.rpc_addr.value_or("127.0.0.1:8545"), "rpc address", &r.node.rpc.host,
                         &r.node.rpc.port));
  if (s.log_format) {
    auto f = node::ParseLogFormat(*s.log_format);
    if (!f) return cli::UsageError(f.error().message);
    r.log_format = *f;
  }
  if (s.log_level) {
    auto l = node::ParseLogLevel(*s.log_level);
    if (!l) return cli::UsageError(l.error().message);
    r.log_level = *l;
  }
  if (s.mempool_max_txs) r.node.mempool.max_txs = *s.mempool_max_txs;
  if (s.mempool_max_bytes) r.node.mempool.max_bytes = *s.mempool_max_bytes;
  if (s.validator_key) r.node.validator_key_file = *s.validator_key;
  if (s.passphrase_file) r.node.passphrase_file = *s.passphrase_file;
  if (s.fsync) r.node.sync = *s.fsync;
  std::string host;
  int port = 0;
  node::P2pOptions& p2p = r.node.p2p;
  p2p.listen = s.p2p_addr.value_or("");
  if (!p2p.listen.empty()) GTOS_TRY(ParseHostPort(p2p.listen, "p2p address", &host, &port));
  p2p.external = s.p2p_external.value_or("");
  if (!p2p.external.empty()) GTOS_TRY(ParseHostPort(p2p.external, "p2p external address", &host, &port));
  p2p.peers = s.peers.value_or(std::vector<std::string>{});
  for (const std::string& peer : p2p.peers) {
    GTOS_TRY(ParseHostPort(peer, "peer", &host, &port));
    if (port == 0) return cli::UsageError("peer: '" + peer + "' has port 0");
  }
  if (s.max_peers) {
    if (*s.max_peers == 0 || *s.max_peers > 1000) return cli::UsageError("max_peers must be 1..1000");
    p2p.max_peers = *s.max_peers;
  }
  if (s.p2p_discovery) p2p.discovery = *s.p2p_discovery;
  auto limit = [](const std::optional<uint64_t>& v, const char* name, uint64_t lo, size_t& out) -> Status {
    if (!v) return Ok();
    if (*v < lo || *v > 1000) return cli::UsageError(std::string(name) + " must be " + std::to_string(lo) + "..1000");
    out = *v;
    return Ok();
  };
  GTOS_TRY(limit(s.max_inbound_peers, "max_inbound_peers", 0, p2p.max_inbound));
  GTOS_TRY(limit(s.max_outbound_peers, "max_outbound_peers", 0, p2p.max_outbound));
  GTOS_TRY(limit(s.max_peers_per_ip, "max_peers_per_ip", 1, p2p.max_per_ip));
  if (s.p2p_allow_private) p2p.allow_private = *s.p2p_allow_private;
  for (const std::string& k : s.reserved_peers.value_or(std::vector<std::string>{})) {
    auto key = FromHex(k, "reserved peer");
    if (!key || key->size() != 32)
      return cli::UsageError("reserved peer '" + k + "' is not a node key (\"0x\" and 64 hex digits)",
                             "gtos-keys show D/node.key --public, or the node_key of the peer's \"node started\" line");
    p2p.reserved_keys.push_back(std::move(*key));
  }
  if (s.snapshot_keep) {
    if (*s.snapshot_keep == 0 || *s.snapshot_keep > 1000) return cli::UsageError("snapshot_keep must be 1..1000");
    r.node.snapshot_keep = *s.snapshot_keep;
  }
  if (s.ready_max_block_intervals) {
    if (*s.ready_max_block_intervals < 2 || *s.ready_max_block_intervals > 100'000)
      return cli::UsageError("ready_max_block_intervals must be 2..100000");
    r.node.ready_max_block_intervals = *s.ready_max_block_intervals;
  }
  if (s.halt_height) r.node.halt_height = *s.halt_height;
  if (s.double_sign_check_height) {
    if (*s.double_sign_check_height > 1'000'000) return cli::UsageError("double_sign_check_height must be 0..1000000");
    r.node.double_sign_check_height = *s.double_sign_check_height;
  }
  for (const RpcLimitKey& k : RpcLimitKeys()) {
    auto it = s.rpc_limits.find(k.key);
    if (it == s.rpc_limits.end()) continue;
    if (it->second < k.min || it->second > k.max)
      return cli::UsageError(std::string(k.key) + " must be " + std::to_string(k.min) + ".." +
                             std::to_string(k.max));
    k.set(r.node.rpc, it->second);
  }
  if (r.node.rpc.max_inflight_body_bytes < r.node.rpc.max_body_bytes)
    return cli::UsageError(
        "rpc_max_inflight_body_bytes (" + std::to_string(r.node.rpc.max_inflight_body_bytes) +
            ") must be at least rpc_max_body_bytes (" + std::to_string(r.node.rpc.max_body_bytes) + ")",
        "a body of the largest size could never be accepted");
  r.state_sync = s.state_sync.value_or(false);
  if (r.state_sync && p2p.peers.empty())
    return cli::UsageError("state sync needs peers", "give --peer HOST:PORT (or peers in gtos.toml)");
  return r;
}

}  // namespace gtos::nodecmd
