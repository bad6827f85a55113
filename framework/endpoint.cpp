// framework/endpoint.cpp: building the endpoint records and finding one at a handshake.
#include "framework/endpoint.h"

#include <algorithm>

#include "msw/module.h"

namespace msw {

EndpointTable::EndpointTable(const Config& cfg) : outsidePort_(cfg.port) {
  Endpoint def;
  def.auth = cfg.authRequired ? AuthMode::kToken : AuthMode::kOptional;
  def.port = cfg.port;
  def.flavor = cfg.flavor;
  def.heartbeatText = cfg.heartbeat != "none";
  all_.push_back(def);
  for (const EndpointConfig& e : cfg.endpoints) {
    Endpoint ep;
    ep.index = static_cast<uint16_t>(all_.size());
    ep.name = e.name;
    ep.path = e.path;
    ep.port = e.port ? e.port : cfg.port;
    ep.route = e.route;
    ep.envelope = e.envelope;
    ep.auth = e.auth;
    ep.authArg = e.authParam + "=";
    if (size_t dot = e.controller.find('.'); dot != std::string::npos) {
      ep.module = Controller::lower(e.controller.substr(0, dot));
      ep.controller = Controller::lower(e.controller.substr(dot + 1));
    }
    ep.flavor = e.flavor;
    ep.heartbeatText = e.heartbeatText();
    if (ep.port != cfg.port && std::find(extraPorts_.begin(), extraPorts_.end(), ep.port) == extraPorts_.end())
      extraPorts_.push_back(ep.port);
    all_.push_back(std::move(ep));
  }
  for (Endpoint& ep : all_) {
    auto it = std::find(flavors_.begin(), flavors_.end(), ep.flavor);
    if (it == flavors_.end()) it = flavors_.insert(flavors_.end(), ep.flavor);
    ep.flavorId = static_cast<uint16_t>(it - flavors_.begin());
  }
}

const Endpoint* EndpointTable::resolve(int port, std::string_view path) const {
  for (size_t i = 1; i < all_.size(); ++i)
    if (all_[i].port == port && all_[i].path == path) return &all_[i];
  return port == outsidePort_ ? &all_[0] : nullptr;
}

}  // namespace msw
