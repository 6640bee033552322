#include "config.h"

#include <cstdlib>

#include <toml++/toml.h>

#include "cli/tool.h"
#include "net/addr.h"
#include "util/file.h"
#include "util/bytes.h"

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
}

namespace {

// toml++ 3.3 (Debian 12's) reaches __builtin_unreachable, i.e. undefined
// behaviour, when it checks some non-ASCII characters for whitespace: in a
// bare key, after a value, after a line-ending backslash in a multi-line
// basic string (upstream marzer/tomlplusplus#190 and #295; found by
// fuzz_toml_config). No gtos.toml needs them there, so the document is
// refused before toml++ sees it when a non-ASCII byte stands anywhere but
// in a comment, a single-line string or a multi-line literal string.
// Returns the 1-based line of the first such byte, 0 when there is none.
size_t UnsafeNonAsciiLine(std::string_view text) {
  enum class In { kNone, kBasic, kLiteral, kComment, kMultiBasic, kMultiLiteral } in = In::kNone;
  size_t line = 1;
  auto at = [&text](size_t i, std::string_view what) { return text.substr(i, what.size()) == what; };
  auto ascii = [](char c) { return static_cast<unsigned char>(c) < 0x80; };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++line;
    switch (in) {
      case In::kNone:
        if (!ascii(c)) return line;
        if (at(i, "\"\"\"")) in = In::kMultiBasic, i += 2;
        else if (at(i, "'''")) in = In::kMultiLiteral, i += 2;
        else if (c == '"') in = In::kBasic;
        else if (c == '\'') in = In::kLiteral;
        else if (c == '#') in = In::kComment;
        break;
      case In::kBasic:
      case In::kMultiBasic:
        if (in == In::kMultiBasic && !ascii(c)) return line;
        if (c == '\\' && i + 1 < text.size()) {
          if (text[++i] == '\n') ++line;
          if (!ascii(text[i])) return line;
        } else if (in == In::kBasic && (c == '"' || c == '\n')) {
          in = In::kNone;
        } else if (in == In::kMultiBasic && at(i, "\"\"\"")) {
          while (i + 1 < text.size() && text[i + 1] == '"') ++i;  // up to two quotes end the content
          in = In::kNone;
        }
        break;
      case In::kLiteral:
        if (c == '\'' || c == '\n') in = In::kNone;
        break;
      case In::kMultiLiteral:
        if (at(i, "'''")) {
          while (i + 1 < text.size() && text[i + 1] == '\'') ++i;
          in = In::kNone;
        }
        break;
      case In::kComment:
        if (c == '\n') in = In::kNone;
        break;
    }
  }
  return 0;
}

std::unexpected<Error> NonAsciiError(const std::string& path, size_t line) {
  return Invalid("'" + path + "' line " + std::to_string(line) +
                 ": non-ASCII character outside a comment or a quoted string");
}

std::unexpected<Error> ParseError(const std::string& path, const toml::parse_error& e) {
  return Invalid("'" + path + "' line " + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
}

// The settings a parsed gtos.toml holds; errors name `path` and the key.
Result<Settings> FromTable(const toml::table& t, const std::string& path) {
  Settings s;
  std::string err;
  auto str = [&](const char* key, std::optional<std::string>& out) {
    if (auto* n = t.get(key)) {
      if (auto v = n->value<std::string>()) out = *v;
      else if (err.empty()) err = std::string("key '") + key + "' must be a string";
    }
  };
  auto num = [&](const char* key, std::optional<uint64_t>& out) {
    if (auto* n = t.get(key)) {
      auto v = n->value<int64_t>();
      if (v && *v >= 0) out = static_cast<uint64_t>(*v);
      else if (err.empty()) err = std::string("key '") + key + "' must be a non-negative integer";
    }
  };
  str("datadir", s.datadir);
  str("rpc_addr", s.rpc_addr);
  str("p2p_addr", s.p2p_addr);
  str("p2p_external", s.p2p_external);
  num("max_peers", s.max_peers);
  if (auto* n = t.get("p2p_discovery")) {
    if (auto v = n->value<bool>()) s.p2p_discovery = *v;
    else if (err.empty()) err = "key 'p2p_discovery' must be true or false";
  }
  str("log_format", s.log_format);
  str("log_level", s.log_level);
  num("mempool_max_txs", s.mempool_max_txs);
  num("mempool_max_bytes", s.mempool_max_bytes);
  str("validator_key", s.validator_key);
  str("passphrase_file", s.passphrase_file);
  for (auto [key, field] : {std::pair{"fsync", &s.fsync}, std::pair{"state_sync", &s.state_sync}}) {
    if (auto* n = t.get(key)) {
      if (auto v = n->value<bool>()) *field = *v;
      else if (err.empty()) err = std::string("key '") + key + "' must be true or false";
    }
  }
  num("snapshot_keep", s.snapshot_keep);
  if (auto* n = t.get("peers")) {
    auto* arr = n->as_array();
    std::vector<std::string> peers;
    if (arr)
      for (auto& e : *arr) {
        if (auto v = e.value<std::string>()) peers.push_back(*v);
        else arr = nullptr;
        if (!arr) break;
      }
    if (!arr && err.empty()) err = "key 'peers' must be an array of \"host:port\" strings";
    s.peers = peers;
  }
  static const char* kKnown[] = {"datadir",         "rpc_addr",      "p2p_addr",        "peers",
                                 "log_format",      "log_level",     "mempool_max_txs", "mempool_max_bytes",
                                 "validator_key",   "passphrase_file", "fsync",           "p2p_external",
                                 "max_peers",       "p2p_discovery", "state_sync",      "snapshot_keep"};
  for (auto& [k, v] : t) {
    (void)v;
    bool known = false;
    for (const char* name : kKnown) known = known || k.str() == name;
    if (!known && err.empty()) err = "unknown key '" + std::string(k.str()) + "'";
  }
  if (!err.empty()) return Invalid("'" + path + "': " + err);
  return s;
}

}  // namespace

Result<Settings> LoadToml(const std::string& path) {
  auto bytes = ReadFile(path);
  if (!bytes) return std::unexpected(bytes.error());
  return LoadTomlText(AsChars(*bytes), path);
}

Result<Settings> LoadTomlText(std::string_view text, const std::string& path) {
  if (size_t line = UnsafeNonAsciiLine(text)) return NonAsciiError(path, line);
  toml::table t;
  try {
    t = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return ParseError(path, e);
  }
  return FromTable(t, path);
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
                             std::pair{"GTOS_SNAPSHOT_KEEP", &s.snapshot_keep}}) {
    if (const char* v = std::getenv(name); v && *v) {
      auto n = ParseUint64(v, name);
      if (!n) return std::unexpected(n.error());
      *field = *n;
    }
  }
  for (auto [name, field] : {std::pair{"GTOS_FSYNC", &s.fsync}, std::pair{"GTOS_P2P_DISCOVERY", &s.p2p_discovery},
                             std::pair{"GTOS_STATE_SYNC", &s.state_sync}}) {
    if (const char* v = std::getenv(name); v && *v) {
      std::string_view sv(v);
      if (sv == "1" || sv == "true") *field = true;
      else if (sv == "0" || sv == "false") *field = false;
      else return Invalid(std::string(name) + ": '" + std::string(sv) + "' is not true or false");
    }
  }
  if (const char* v = std::getenv("GTOS_PEERS"); v && *v) {
    std::vector<std::string> peers;
    std::string_view rest(v);
    while (!rest.empty()) {
      size_t c = rest.find(',');
      std::string_view p = rest.substr(0, c);
      if (!p.empty()) peers.emplace_back(p);
      rest = c == std::string_view::npos ? std::string_view() : rest.substr(c + 1);
    }
    s.peers = peers;
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
  if (s.snapshot_keep) {
    if (*s.snapshot_keep == 0 || *s.snapshot_keep > 1000) return cli::UsageError("snapshot_keep must be 1..1000");
    r.node.snapshot_keep = *s.snapshot_keep;
  }
  r.state_sync = s.state_sync.value_or(false);
  if (r.state_sync && p2p.peers.empty())
    return cli::UsageError("state sync needs peers", "give --peer HOST:PORT (or peers in gtos.toml)");
  return r;
}

}  // namespace gtos::nodecmd
