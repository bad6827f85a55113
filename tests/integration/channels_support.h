// tests/integration/channels_support.h: what the channels module's tests
// share (channels_test.cpp, channels_cluster_test.cpp; docs/laravel.md): a
// server configured as a Laravel-S replacement, the front end's client, and
// calls to the /admin/websocket/ routes. Header only; test thread only.
#pragma once

#include <string>

#include "tests/integration/it_support.h"

namespace msw::it {

// The channels module behind [endpoint.laravel] at /ws (auth = backend, the
// token in ?token=), hooks to `backendUrl` (tests/support/backend_server.py:
// token ok-ID admits user ID when user_id is ID).
inline void configureChannels(TestServer& s, const std::string& backendUrl) {
  s.ini.set("app", "modules", "index, channels").set("backend", "url", backendUrl);
  const std::string ep = "endpoint.laravel";
  s.ini.set(ep, "path", "/ws").set(ep, "route", "type").set(ep, "controller", "channels.client");
  s.ini.set(ep, "envelope", "flat").set(ep, "auth", "backend").set(ep, "auth_param", "token");
}

// Laravel-S's front end: {"type","data"} frames, read through an inbox.
struct FrontEnd : InboxClient {
  // The next frame of that type (others read meanwhile are kept).
  Msg type(const std::string& t, int timeoutMs = 5000) {
    return next([t](const Msg& m) { return m.root["type"].str() == t; }, timeoutMs);
  }
  bool send(const std::string& t, const std::string& dataJson) {
    return ws.sendText("{\"type\":\"" + t + "\",\"data\":" + dataJson + "}");
  }
  // Sends and waits for the answer of type `answer`.
  Msg call(const std::string& t, const std::string& dataJson, const std::string& answer) {
    return send(t, dataJson) ? type(answer) : Msg{};
  }
  int kept(const std::string& t) const {
    int n = 0;
    for (const Msg& m : inbox) n += m.root["type"].str() == t;
    return n;
  }
};

// Connects as ws://HOST/ws?user_id=USER&token=TOKEN (default ok-USER) and
// waits for the module's "connected" frame: the connect hook admitted it.
inline bool connectFrontEnd(FrontEnd& c, const TestServer& s, const std::string& user, std::string token = "") {
  if (token.empty()) token = "ok-" + user;
  if (!c.ws.connect("127.0.0.1", s.port, "/ws?user_id=" + user + "&token=" + token)) return false;
  return c.type("connected").received;
}

struct AdminAnswer {
  int status = 0;
  Json body;
  int code() const { return static_cast<int>(body["code"].i64(-1)); }
  std::string message() const { return std::string(body["message"].str()); }
  JsonRef data() const { return body["data"]; }
};

// GET (no body) or POST /admin/websocket/ROUTE on the manager port.
inline AdminAnswer admin(const TestServer& s, const std::string& route, const std::string& body = "") {
  std::string target = "/admin/websocket/" + route;
  HttpResponse r = body.empty() ? s.get(target) : s.post(target, body);
  return AdminAnswer{r.status, Json::parse(r.body)};
}

inline std::ostream& operator<<(std::ostream& os, const AdminAnswer& a) {
  return os << a.status << " " << (a.body ? a.body.dump() : "(not JSON)");
}

}  // namespace msw::it
