// libFuzzer target for "host:port" parsing: net::SplitHostPort (what the
// p2p layer dials and listens on, lib/net/addr.h), nodecmd::ParseHostPort
// (how gtos-node checks --rpc-addr, --p2p-addr, --p2p-external and every
// --peer before starting, cmd/gtos-node/config.h) and the comma-separated
// GTOS_PEERS list (nodecmd::LoadEnv).
//
// Properties:
//   1. SplitHostPort is exact: the address is rebuilt from host and port
//      ("[host]:port" for a bracketed one), the port is decimal digits;
//   2. JoinHostPort and SplitHostPort are inverse for hosts without
//      brackets and ports 0..65535;
//   3. ParseHostPort accepts exactly the addresses SplitHostPort splits
//      into a non-empty host and a port of at most 65535, with that host
//      and port: gtos-node never starts with an address its network layer
//      cannot dial or bind (and never refuses one it could);
//   4. GTOS_PEERS is split at commas, empty items dropped, nothing else
//      changed.
#include <stdlib.h>

#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "gtos-node/config.h"
#include "net/addr.h"

namespace gtos::fuzz {
const char* const kTargetName = "fuzz_host_port";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gtos;
  using gtos::fuzz::Fail;
  ByteView in(data, size);
  const std::string s(AsChars(in));

  // 1. SplitHostPort is exact.
  std::string host, port;
  bool split = net::SplitHostPort(s, &host, &port);
  if (split) {
    std::string rebuilt = (!s.empty() && s[0] == '[' ? "[" + host + "]" : host) + ":" + port;
    if (rebuilt != s) Fail("SplitHostPort loses or adds characters", in, "host '" + host + "' port '" + port + "'");
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) Fail("SplitHostPort accepts a non-numeric port", in);
  }
  uint64_t port_value = 0;
  std::string digits = split ? port.substr(std::min(port.find_first_not_of('0'), port.size())) : "";
  bool port_ok = split && digits.size() <= 5 && (port_value = digits.empty() ? 0 : std::stoull(digits)) <= 65535;

  // 2. Join and split are inverse.
  if (port_ok && host.find_first_of("[]") == std::string::npos) {
    std::string joined = net::JoinHostPort(host, static_cast<uint16_t>(port_value));
    std::string h2, p2;
    if (!net::SplitHostPort(joined, &h2, &p2) || h2 != host || p2 != std::to_string(port_value))
      Fail("SplitHostPort(JoinHostPort(host, port)) is not (host, port)", in, "joined '" + joined + "'");
  }

  // 3. The node's check agrees with the network's parser.
  std::string phost;
  int pport = -1;
  auto st = nodecmd::ParseHostPort(s, "peer", &phost, &pport);
  bool want = port_ok && !host.empty();
  if (st.has_value() != want)
    Fail(st ? "gtos-node accepts an address the p2p layer cannot use" : "gtos-node refuses an address the p2p layer can use",
         in, st ? "host '" + phost + "' port " + std::to_string(pport) : st.error().message);
  if (st && (phost != host || static_cast<uint64_t>(pport) != port_value))
    Fail("gtos-node and the p2p layer read different hosts or ports", in, "node: '" + phost + "' " + std::to_string(pport));

  // 4. GTOS_PEERS.
  if (s.find('\0') == std::string::npos) {
    ::setenv("GTOS_PEERS", s.c_str(), 1);
    auto env = nodecmd::LoadEnv();
    ::unsetenv("GTOS_PEERS");
    if (!env) Fail("LoadEnv fails on GTOS_PEERS alone", in, env.error().message);
    std::string joined, want_list;
    if (env->peers)
      for (const std::string& p : *env->peers) {
        if (p.empty() || p.find(',') != std::string::npos) Fail("GTOS_PEERS yields an empty or comma-holding item", in);
        joined += (joined.empty() ? "" : ",") + p;
      }
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] != ',' || (!want_list.empty() && want_list.back() != ',')) want_list += s[i];
    while (!want_list.empty() && want_list.back() == ',') want_list.pop_back();
    if (joined != want_list) Fail("GTOS_PEERS is not split at commas", in, "got '" + joined + "'");
    if (s.empty() == env->peers.has_value()) Fail("GTOS_PEERS set/unset does not match", in);
  }
  return 0;
}
