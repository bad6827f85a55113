#include "library/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

namespace msw {

const char* checkIpAddress(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return "must be a comma-separated list of IP addresses";
  std::string s(text);
  in6_addr out;
  bool ok = inet_pton(AF_INET, s.c_str(), &out) == 1 || inet_pton(AF_INET6, s.c_str(), &out) == 1;
  return ok ? nullptr : "must be a comma-separated list of IP addresses";
}

}  // namespace msw
