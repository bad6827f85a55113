#include "framework/router.h"

#include <algorithm>

#include "framework/app_impl.h"
#include "framework/connection.h"
#include "framework/frame_builder.h"
#include "framework/method.h"
#include "framework/server.h"
#include "framework/worker.h"
#include "library/log.h"

namespace msw {

void Router::route(Connection* c, std::string_view text, bool binary) {
  if (binary) {
    if (rateLimited(c)) return;  // a flood of binary frames is a flood too
    worker_.send(c, buildMessage(400, "badRequest", "binary frames are not accepted: send JSON text", {}, {}));
    return;
  }
  if (text.size() == 1 && text[0] == '2') {  // MSwoole heartbeat
    worker_.sendHeartbeat(c);
    return;
  }
  if (rateLimited(c)) return;
  Json root = Json::parse(text);
  if (!root.isObject()) {
    worker_.send(c, buildMessage(400, "badRequest", "message is not a JSON object", {}, {}));
    return;
  }
  Json rid(cJSON_DetachItemFromObjectCaseSensitive(root.raw(), "rid"));
  Target t = resolveByMethod(root);
  if (!t.action) {
    worker_.send(c, buildMessage(t.status, t.event, t.info, {}, rid));
    return;
  }
  invoke(c, t, root, rid);
}

bool Router::rateLimited(Connection* c) {
  const LiveSettings& settings = worker_.settings();
  if (settings.rateLimit <= 0) return false;
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
  worker_.send(c, buildMessage(429, "rateLimited", "too many messages: slow down", {}, {}));
  return true;
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

void Router::invoke(Connection* c, const Target& t, Json& root, JsonRef rid) {
  if (worker_.settings().escapeHtml) escapeHtmlStrings(root.raw());
  // The table this message started with stays loaded until the action returns,
  // even if the action itself triggers a reload.
  std::shared_ptr<const RouteTable> pin = worker_.routes();
  Auth auth = c->auth.view();
  Fd fd = c->fd;
  Request req(server_.app(), fd, auth, root, t.full, rid);
  try {
    (*t.action)(req);
  } catch (const std::exception& e) {
    actionFailed(fd, t.full, e.what(), rid);
  } catch (...) {
    actionFailed(fd, t.full, "unknown exception", rid);
  }
}

void Router::actionFailed(Fd fd, const std::string& method, const char* what, JsonRef rid) {
  LOG_ERROR("conn %llu: %s threw: %s", logFd(fd), method.c_str(), what);
  worker_.stats().actionErrors.add();
  if (Connection* c = worker_.find(fd))
    worker_.send(c, buildMessage(500, "controllerError", "internal error in " + method, {}, rid));
}

}  // namespace msw
