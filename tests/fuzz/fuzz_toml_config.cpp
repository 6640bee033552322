// libFuzzer target for gtos.toml (cmd/gtos-node/config.h, man gtos.toml(5)):
// the loader gtos-node runs on --config, then Resolve, which turns the
// settings into node options. toml++ is compiled into this target
// (header-only) so that its parser is instrumented too.
//
// Properties:
//   1. LoadTomlText (the text) and LoadToml (the same text in a file)
//      agree;
//   2. a document toml++ cannot parse, or holding a key gtos-node does not
//      know, is refused with an error naming the file; so is one with a
//      non-ASCII byte outside comments and strings, which toml++ 3.3 must
//      not see (its parser reaches __builtin_unreachable on some); a
//      refused document is not parsed by the target either;
//   3. accepted settings survive a round trip: written back as TOML by
//      toml++ (single-line basic strings) and loaded again, they are the same
//      settings;
//   4. Resolve (with a data directory) never crashes, and the node options
//      it returns are within their documented ranges; every peer it accepts
//      is one the p2p layer can split (net::SplitHostPort) with a port
//      from 1 to 65535.
#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>

#include <toml++/toml.h>

#include "fuzz_util.h"
#include "gtos-node/config.h"
#include "net/addr.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_toml_config";
}

namespace {

using namespace gtos;
using gtos::fuzz::Fail;
using nodecmd::Settings;

// The keys gtos-node knows (cmd/gtos-node/config.cpp), rpc_* limits included.
bool Known(std::string_view key) {
  constexpr const char* kKnown[] = {
      "datadir",         "rpc_addr",          "p2p_addr",           "peers",           "log_format",
      "log_level",       "mempool_max_txs",   "mempool_max_bytes",  "validator_key",   "passphrase_file",
      "fsync",           "p2p_external",      "max_peers",          "p2p_discovery",   "state_sync",
      "snapshot_keep",   "max_inbound_peers", "max_outbound_peers", "max_peers_per_ip", "reserved_peers",
      "p2p_allow_private"};
  for (const char* name : kKnown)
    if (key == name) return true;
  for (const nodecmd::RpcLimitKey& k : nodecmd::RpcLimitKeys())
    if (key == k.key) return true;
  return false;
}

bool Same(const Settings& a, const Settings& b) {
  return a.datadir == b.datadir && a.rpc_addr == b.rpc_addr && a.p2p_addr == b.p2p_addr && a.peers == b.peers &&
         a.p2p_external == b.p2p_external && a.max_peers == b.max_peers && a.p2p_discovery == b.p2p_discovery &&
         a.log_format == b.log_format && a.log_level == b.log_level && a.mempool_max_txs == b.mempool_max_txs &&
         a.mempool_max_bytes == b.mempool_max_bytes && a.validator_key == b.validator_key &&
         a.passphrase_file == b.passphrase_file && a.fsync == b.fsync && a.state_sync == b.state_sync &&
         a.snapshot_keep == b.snapshot_keep && a.max_inbound_peers == b.max_inbound_peers &&
         a.max_outbound_peers == b.max_outbound_peers && a.max_peers_per_ip == b.max_peers_per_ip &&
         a.reserved_peers == b.reserved_peers && a.p2p_allow_private == b.p2p_allow_private &&
         a.rpc_limits == b.rpc_limits;
}

// The settings as a gtos.toml document, written by toml++.
std::string ToToml(const Settings& s) {
  toml::table t;
  auto str = [&t](const char* k, const std::optional<std::string>& v) {
    if (v) t.insert(k, *v);
  };
  auto num = [&t](const char* k, const std::optional<uint64_t>& v) {
    if (v) t.insert(k, static_cast<int64_t>(*v));
  };
  auto flag = [&t](const char* k, const std::optional<bool>& v) {
    if (v) t.insert(k, *v);
  };
  str("datadir", s.datadir);
  str("rpc_addr", s.rpc_addr);
  str("p2p_addr", s.p2p_addr);
  str("p2p_external", s.p2p_external);
  str("log_format", s.log_format);
  str("log_level", s.log_level);
  str("validator_key", s.validator_key);
  str("passphrase_file", s.passphrase_file);
  num("max_peers", s.max_peers);
  num("mempool_max_txs", s.mempool_max_txs);
  num("mempool_max_bytes", s.mempool_max_bytes);
  num("snapshot_keep", s.snapshot_keep);
  flag("p2p_discovery", s.p2p_discovery);
  flag("fsync", s.fsync);
  flag("state_sync", s.state_sync);
  num("max_inbound_peers", s.max_inbound_peers);
  num("max_outbound_peers", s.max_outbound_peers);
  num("max_peers_per_ip", s.max_peers_per_ip);
  flag("p2p_allow_private", s.p2p_allow_private);
  for (const auto& [key, value] : s.rpc_limits) num(key.c_str(), value);
  auto strs = [&t](const char* k, const std::optional<std::vector<std::string>>& v) {
    if (!v) return;
    toml::array a;
    for (const std::string& e : *v) a.push_back(e);
    t.insert(k, std::move(a));
  };
  strs("peers", s.peers);
  strs("reserved_peers", s.reserved_peers);
  // Single-line basic strings only (a newline as \n). toml++ 3.3's writer
  // puts a value with a newline and quote runs in a ''' literal without
  // checking that it holds no ''' itself, which is not TOML, and a """
  // string may hold non-ASCII, which gtos.toml refuses there (see
  // UnsafeNonAscii in cmd/gtos-node/config.cpp); both found by this target.
  std::ostringstream out;
  out << toml::toml_formatter(t, toml::toml_formatter::default_flags & ~toml::format_flags::allow_literal_strings &
                                     ~toml::format_flags::allow_multi_line_strings);
  return out.str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);
  std::string_view text = AsChars(in);

  // 1. Text and file agree.
  auto s = nodecmd::LoadTomlText(text, "gtos.toml");
  std::string path = fuzz::WriteScratch("gtos.toml", in);
  auto f = nodecmd::LoadToml(path);
  if (s.has_value() != f.has_value() || (s && !Same(*s, *f)))
    Fail("LoadToml and LoadTomlText disagree", in, (s ? "" : s.error().message) + " / " + (f ? "" : f.error().message));

  // 2. Refusals. A document refused for a non-ASCII byte outside strings
  // and comments must hold one. A refused document is never handed to
  // toml++ here: LoadTomlText's guards are what keep toml++ 3.3 from its
  // undefined behaviour, so only text they let through is parsed below.
  if (!s) {
    // (the reason ends the message; a key named in another error may hold the same words)
    if (s.error().message.ends_with(": non-ASCII character outside a comment or a quoted string") &&
        std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
      Fail("an ASCII document is refused as non-ASCII", in);
    if (s.error().message.find("'gtos.toml'") == std::string::npos) Fail("a gtos.toml error does not name the file", in, s.error().message);
    return 0;
  }
  // An accepted document is TOML with known keys only. toml++ is compiled
  // without exceptions here as in gtos-node (tests/fuzz/CMakeLists.txt,
  // TOMLPP): a syntax error is a value.
  toml::parse_result parsed = toml::parse(text, std::string_view("gtos.toml"));
  const bool parses = static_cast<bool>(parsed);
  bool unknown = false;
  if (parses)
    for (auto& [k, v] : parsed.table()) {
      (void)v;
      unknown = unknown || !Known(k.str());
    }
  if (!parses || unknown) Fail("LoadTomlText accepts an unparsable document or an unknown key", in);

  // 3. Round trip.
  std::string again = ToToml(*s);
  auto s2 = nodecmd::LoadTomlText(again, "again.toml");
  if (!s2) Fail("settings written back as TOML are refused", in, s2.error().message + "\n" + again);
  if (!Same(*s, *s2)) Fail("settings change when written back as TOML and loaded", in, again);

  // 4. Resolve.
  Settings withdir = *s;
  if (!withdir.datadir) withdir.datadir = "/nonexistent";
  auto r = nodecmd::Resolve(withdir);
  if (!r) return 0;
  const auto& p2p = r->node.p2p;
  if (r->node.rpc.port < 0 || r->node.rpc.port > 65535) Fail("Resolve returns an rpc port out of range", in);
  if (p2p.max_peers < 1 || p2p.max_peers > 1000) Fail("Resolve returns max_peers out of range", in);
  if (r->node.snapshot_keep < 1 || r->node.snapshot_keep > 1000) Fail("Resolve returns snapshot_keep out of range", in);
  for (const std::string& peer : p2p.peers) {
    std::string host, port;
    bool ok = net::SplitHostPort(peer, &host, &port);
    std::string digits = ok ? port.substr(std::min(port.find_first_not_of('0'), port.size())) : "";
    if (!ok || host.empty() || digits.empty() || digits.size() > 5 || std::stoul(digits) > 65535)
      Fail("Resolve accepts a peer the p2p layer cannot dial", in, "peer '" + peer + "'");
  }
  return 0;
}
