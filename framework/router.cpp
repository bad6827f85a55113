#include "framework/router.h"

#include <algorithm>

#include "framework/app_impl.h"
#include "framework/connection.h"
#include "framework/frame_builder.h"
#include "framework/message.h"
#include "framework/method.h"
#include "framework/server.h"
#include "framework/worker.h"
#include "library/log.h"

namespace msw {

void Router::route(Connection* c, std::string_view text, bool binary) {
  const Endpoint& ep = worker_.endpointOf(c);
  if (!binary && ep.heartbeatText && text.size() == 1 && text[0] == '2') {  // MSwoole heartbeat
    worker_.sendHeartbeat(c);
    return;
  }
  if (ep.route == RouteMode::kRaw) return routeRaw(c, ep, text, binary);
  if (binary) {
    if (rateLimited(c)) return;  // a flood of binary frames is a flood too
    refuse(c, ep, 400, "badRequest", "binary frames are not accepted: send JSON text", {});
    return;
  }
  if (rateLimited(c)) return;
  Message m = parseMessage(text, ep.flat());
  if (!m.error.empty()) {
    refuse(c, ep, 400, "badRequest", m.error, {});
    return;
  }
  if (const Payload& ack = worker_.settingsOf(c).ack) worker_.send(c, ack);
  Target t = ep.route == RouteMode::kType ? resolveByType(ep, m.root) : resolveByMethod(m.root);
  if (!t.action) {
    refuse(c, ep, t.status, t.event, t.info, m.rid);
    return;
  }
  invoke(c, ep, t, m.root, m.rid);
}

void Router::refuse(Connection* c, const Endpoint& ep, int status, const std::string& event, const std::string& info,
                    JsonRef rid) {
  LOG_INFO("conn %llu: %d %s (endpoint %s)", logFd(c->fd), status, event.c_str(), ep.name.c_str());
  worker_.send(c, buildReply(ep.flat(), status, event, info, rid));
}

bool Router::rateLimited(Connection* c) {
  const EndpointSettings& settings = worker_.settingsOf(c);
  if (settings.rateLimit <= 0) return false;
  const Endpoint& ep = worker_.endpointOf(c);
  double now = worker_.now();
  c->tokens = std::min<double>(settings.rateBurst, c->tokens + (now - c->refillAt) * settings.rateLimit);
  c->refillAt = now;
  if (c->tokens >= 1) {
    c->tokens -= 1;
    return false;
  }
  if (now - c->abuseWindow >= 1.0) {
    c->abuseWindow = now;
    c->rejected = 0;
  }
  worker_.stats().rateLimited.add();
  if (++c->rejected > static_cast<uint32_t>(settings.rateBurst)) {
    LOG_WARN("conn %llu: over rate_limit after %u refusals in 1 s: closing 4029", logFd(c->fd), c->rejected);
    worker_.close(c, kCloseRateAbuse, {});
    return true;
  }
  // A raw endpoint's client reads no JSON: its extra frames are dropped.
  if (ep.route != RouteMode::kRaw)
    worker_.send(c, buildReply(ep.flat(), 429, "rateLimited", "too many messages: slow down", {}));
  return true;
}

const Controller* Router::controllerOf(const Endpoint& ep) {
  const std::shared_ptr<const RouteTable>& routes = worker_.routes();
  if (!routes) return nullptr;
  bool same = !cachedFor_.owner_before(routes) && !routes.owner_before(cachedFor_) && !cachedFor_.expired();
  if (!same) {
    cachedFor_ = routes;
    controllers_.assign(server_.endpoints().size(), nullptr);
    for (size_t i = 1; i < controllers_.size(); ++i) {
      const Endpoint& e = server_.endpoints().at(static_cast<uint16_t>(i));
      if (!e.module.empty()) controllers_[i] = routes->find(e.module, e.controller);
    }
  }
  return controllers_[ep.index];
}

// The "type" mode: the field names an action of the endpoint's controller;
// the rest of the object is the action's data.
Router::Target Router::resolveByType(const Endpoint& ep, Json& root) {
  Target t;
  JsonRef type = root["type"];
  if (!type.isString() || type.str().empty() || type.str().size() > 64) {
    t.status = 400;
    t.event = "badRequest";
    t.info = "message needs a \"type\": a string of 1 to 64 characters";
    return t;
  }
  std::string name = Controller::lower(type.str());
  root.remove("type");
  t.full = ep.module + "." + ep.controller + "." + name;
  const Controller* ctl = controllerOf(ep);
  if (!ctl) {
    t.status = 404;
    t.event = "controllerNotFound";
    t.info = "no controller " + ep.module + "." + ep.controller;
    return t;
  }
  t.action = ctl->find(name);
  if (!t.action) {
    t.status = 405;
    t.event = "methodNotFound";
    t.info = "unknown type " + name;
  }
  return t;
}

// The "raw" mode: every frame, text or binary, as it came.
void Router::routeRaw(Connection* c, const Endpoint& ep, std::string_view data, bool binary) {
  if (rateLimited(c)) return;
  const Controller* ctl = controllerOf(ep);
  if (!ctl || !ctl->frameHook()) {
    LOG_ERROR("conn %llu: endpoint %s: %s.%s is not loaded or has no onFrame: closing 1011", logFd(c->fd),
              ep.name.c_str(), ep.module.c_str(), ep.controller.c_str());
    worker_.close(c, kCloseInternalError, "no frame handler");
    return;
  }
  std::shared_ptr<const RouteTable> pin = worker_.routes();
  Auth auth = c->auth.view();
  Fd fd = c->fd;
  Frame frame{server_.app(), fd, auth, data, binary, ep.info()};
  try {
    ctl->frameHook()(frame);
    return;
  } catch (const std::exception& e) {
    LOG_ERROR("conn %llu: %s.%s onFrame threw: %s: closing 1011", logFd(fd), ep.module.c_str(), ep.controller.c_str(),
              e.what());
  } catch (...) {
    LOG_ERROR("conn %llu: %s.%s onFrame threw: closing 1011", logFd(fd), ep.module.c_str(), ep.controller.c_str());
  }
  worker_.stats().actionErrors.add();
  if (Connection* still = worker_.find(fd)) worker_.close(still, kCloseInternalError, "internal error");
}

// The "method" mode: the field names module, controller and action (docs/protocol.md).
Router::Target Router::resolveByMethod(Json& root) const {
  Target t;
  JsonRef m = root["method"];
  std::optional<MethodName> name;
  if (!m) name = defaultMethod();
  else if (m.isString()) name = parseMethod(m.str());
  if (!name) {
    t.status = 400;
    t.event = "badRequest";
    t.info = "method must be 1 to 3 dot-separated names of [A-Za-z0-9_]";
    return t;
  }
  root.remove("method");
  t.full = name->full();
  const std::shared_ptr<const RouteTable>& routes = worker_.routes();
  const Controller* ctl = routes ? routes->find(name->module, name->controller) : nullptr;
  if (!ctl) {
    t.status = 404;
    t.event = "controllerNotFound";
    t.info = "no controller " + name->module + "." + name->controller;
    return t;
  }
  t.action = ctl->find(name->action);
  if (!t.action) {
    t.status = 405;
    t.event = "methodNotFound";
    t.info = "no action " + t.full;
  }
  return t;
}

void Router::invoke(Connection* c, const Endpoint& ep, const Target& t, Json& root, JsonRef rid) {
  if (worker_.settingsOf(c).escapeHtml) escapeHtmlStrings(root.raw());
  // The table this message started with stays loaded until the action returns,
  // even if the action itself triggers a reload.
  std::shared_ptr<const RouteTable> pin = worker_.routes();
  Auth auth = c->auth.view();
  Fd fd = c->fd;
  Request req(server_.app(), fd, auth, root, t.full, rid, ep.info());
  try {
    (*t.action)(req);
  } catch (const std::exception& e) {
    actionFailed(fd, ep, t.full, e.what(), rid);
  } catch (...) {
    actionFailed(fd, ep, t.full, "unknown exception", rid);
  }
}

// The endpoint's controller hears of the connection before any of its
// messages, and of its close without an fdAddController.
void Router::openHook(Connection* c) {
  const Endpoint& ep = worker_.endpointOf(c);
  std::shared_ptr<const RouteTable> pin = worker_.routes();
  if (ep.module.empty() || !pin) return;
  const Controller* ctl = pin->find(ep.module, ep.controller);
  if (!ctl) return;
  if (ctl->closeHook()) c->ensureExtras().controllers.push_back(ep.module + "." + ep.controller);
  if (!ctl->openHook()) return;
  Auth auth = c->auth.view();
  try {
    ctl->openHook()(server_.app(), OpenInfo{c->fd, auth, ep.info()});
  } catch (const std::exception& e) {
    LOG_ERROR("conn %llu: %s.%s onOpen threw: %s", logFd(c->fd), ep.module.c_str(), ep.controller.c_str(), e.what());
  } catch (...) {
    LOG_ERROR("conn %llu: %s.%s onOpen threw", logFd(c->fd), ep.module.c_str(), ep.controller.c_str());
  }
}

void Router::closeHooks(Connection* c, int code) {
  if (!c->extras || c->extras->controllers.empty()) return;
  std::shared_ptr<const RouteTable> pin = worker_.routes();
  Auth auth = c->auth.view();
  std::vector<LastRoomMessage> last;
  for (const auto& [room, p] : c->extras->lastRoom) last.push_back(LastRoomMessage{room, p.text()});
  CloseInfo info{c->fd, auth, auth.code, code, last};
  for (const std::string& name : c->extras->controllers) {
    const Controller* ctl = pin ? pin->findQualified(name) : nullptr;
    if (!ctl || !ctl->closeHook()) continue;
    try {
      ctl->closeHook()(server_.app(), info);
    } catch (const std::exception& e) {
      LOG_ERROR("conn %llu: %s onClose threw: %s", logFd(c->fd), name.c_str(), e.what());
    } catch (...) {
      LOG_ERROR("conn %llu: %s onClose threw", logFd(c->fd), name.c_str());
    }
  }
}

void Router::actionFailed(Fd fd, const Endpoint& ep, const std::string& method, const char* what, JsonRef rid) {
  LOG_ERROR("conn %llu: %s threw: %s", logFd(fd), method.c_str(), what);
  worker_.stats().actionErrors.add();
  if (Connection* c = worker_.find(fd))
    worker_.send(c, buildReply(ep.flat(), 500, "controllerError", "internal error in " + method, rid));
}

}  // namespace msw
