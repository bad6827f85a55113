// library/ip_address.h: is this text an IP address (the config's
// trusted_proxies, and the addresses a trusted proxy's headers name)?
#pragma once

#include <string_view>

namespace msw {

// nullptr when `text` is an IPv4 or IPv6 address; else why not, in the words
// of a config error ("must be a comma-separated list of IP addresses").
const char* checkIpAddress(std::string_view text);

}  // namespace msw
