// framework/endpoint.h: the endpoints a node serves (docs/endpoints.md).
//
// An Endpoint is the immutable record a connection points to (by index)
// from its handshake on: how its messages are routed, what envelope its
// answers have, how it authenticates. Index 0 is the default endpoint:
// every path no [endpoint.NAME] claims, on the outside port, with
// [outside]'s ack, flavor and heartbeat. Built once by Server at start;
// a reload changes only the reloadable limits, which workers keep apart
// (LiveSettings), so these records never change and any thread may read them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "library/config.h"
#include "msw/app.h"

namespace msw {

struct Endpoint {
  uint16_t index = 0;
  std::string name = "default";
  std::string path;  // empty for the default endpoint
  int port = 0;
  RouteMode route = RouteMode::kMethod;
  EnvelopeKind envelope = EnvelopeKind::kMsw;
  AuthMode auth = AuthMode::kToken;
  std::string authArg = "auth=";  // auth_param + "=", as lws looks it up
  std::string module;             // of `controller`, lower case; empty when none
  std::string controller;
  std::string flavor;
  uint16_t flavorId = 0;  // index in EndpointTable::flavors(); 0 = no flavor (msw's own names)
  bool heartbeatText = true;

  bool flat() const { return envelope == EnvelopeKind::kFlat; }
  EndpointInfo info() const { return EndpointInfo{name, flavor, flat()}; }
};

class EndpointTable {
 public:
  explicit EndpointTable(const Config& cfg);

  const Endpoint& at(uint16_t i) const { return all_[i]; }
  size_t size() const { return all_.size(); }
  // Only the default endpoint: handshakes need not look anything up.
  bool onlyDefault() const { return all_.size() == 1; }
  // The ports other than the outside one that endpoints listen on.
  const std::vector<int>& extraPorts() const { return extraPorts_; }
  // Every flavor an endpoint has, each once: [0] is "" (msw's own names),
  // so a room can count its members of another flavor with one number.
  const std::vector<std::string>& flavors() const { return flavors_; }
  // The endpoint for a request on `port` for `path` (query cut off), or
  // nullptr when nothing serves that path on that port.
  const Endpoint* resolve(int port, std::string_view path) const;

 private:
  std::vector<Endpoint> all_;
  std::vector<int> extraPorts_;
  std::vector<std::string> flavors_{""};
  int outsidePort_;
};

}  // namespace msw
