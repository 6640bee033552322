// "host:port" strings as the p2p layer dials and advertises them.
//
// Kept apart from net.cpp so that the parsers can be tested and fuzzed
// (tests/fuzz/fuzz_host_port.cpp) without a Host, and shared with the
// tools that check addresses before handing them to the network.
#ifndef GTOS_NET_ADDR_H_
#define GTOS_NET_ADDR_H_

#include <cstdint>
#include <string>

namespace gtos::net {

// Splits "host:port" or "[v6]:port" into host (without brackets) and port.
// False unless the port is a non-empty string of decimal digits (its range
// is not checked: the resolver refuses what is out of range). A host may be
// empty ("[]:1", ":1").
bool SplitHostPort(const std::string& s, std::string* host, std::string* port);

// The inverse for hosts from the resolver or SplitHostPort: a host holding
// ':' (IPv6) goes in brackets.
std::string JoinHostPort(const std::string& host, uint16_t port);

}  // namespace gtos::net

#endif  // GTOS_NET_ADDR_H_
