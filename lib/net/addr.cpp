#include "net/addr.h"

namespace gtos::net {

bool SplitHostPort(const std::string& s, std::string* host, std::string* port) {
  size_t colon;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find("]:");
    if (close == std::string::npos) return false;
    *host = s.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = s.rfind(':');
    if (colon == std::string::npos) return false;
    *host = s.substr(0, colon);
  }
  *port = s.substr(colon + 1);
  return !port->empty() && port->find_first_not_of("0123456789") == std::string::npos;
}

std::string JoinHostPort(const std::string& host, uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace gtos::net
