// tests/modules/apptest: exposes the App API (docs/controllers.md) to the integration
// tests (tests/integration/app_api_*.cpp, manager_api_*.cpp, live_*.cpp).
//
// Controller "api" (methods apptest.api.ACTION). Every action replies with
// event = its own name (lower case). "fd" in the data, where it is taken,
// names another connection (default: the caller).
//   whoami            -> {fd, member, nodeId, id, type, code, nickname, auth (the token, parsed)}
//   send              {"to": "fd"|"fds"|"user"|"room"|"all", "fd", "fds", "user", "room",
//                      "exclude": [fd..], "event", "info", "barrier": bool}
//                     sends message(200, event, info, {"from": caller}) with the matching
//                     App call; with "barrier", then sendToAll(event "barrier") so that a
//                     client reading up to its barrier has seen everything sent before it.
//   join / leave      {"room", "fd"?}
//   addclosekey / removeclosekey      {"key", "fd"?}
//   addcontroller / removecontroller  {"controller" [apptest.hooks], "fd"?}
//   track             {"key"}: store.sadd(key, member(caller)) + fdAddCloseKey(caller, key)
//   close             {"code" [4010], "reason", "fd"?}
//   flood             {"fd"?, "n", "size"}: n messages "flood" of about size bytes, in one go
//   log               {"text", "level": debug|info|warn|error}
//   store             {"op", "key", "value", "field", "by", "start", "stop", "count", "ttl",
//                      "self": bool (value = member(caller))} -> param {"op", "result"}
// Controller "hooks": onClose. Configured by the closing connection's token
// field "hook": {"record": bool, "watch": fd}. It always logs (info)
//   "apptest.hooks onClose fd=F code=C id=ID"
// synchronously (visible in the log even when the server is stopping); with
// record it also does store incr("apptest:closed:F") and
// sadd("apptest:closedcodes", "F:C"), and once the incr answers sends
// "hookClosed" {fd, code, count} to the watch fd; with watch only, it sends
// "hookClosed" {fd, code} at once.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "msw/module.h"

namespace {

using msw::App;
using msw::Fd;
using msw::Json;
using msw::JsonRef;
using msw::Request;

Fd targetFd(Request& r) {
  JsonRef f = r.data["fd"];
  if (f.isNumber()) return static_cast<Fd>(f.num());
  if (f.isString()) return static_cast<Fd>(std::stoull(std::string(f.str())));
  return r.fd;
}

std::vector<Fd> fdList(JsonRef a) {
  std::vector<Fd> out;
  for (JsonRef e : a) out.push_back(static_cast<Fd>(e.num()));
  return out;
}

// Where a store answer goes once the Request is gone: the reply, and the op it answers.
struct Origin {
  msw::Reply reply;
  std::string op;
  void answer(JsonRef result) const {
    Json p = Json::object();
    p.set("op", op).set("result", result);
    reply.success("store", "", p);
  }
  template <class T>
  bool ok(const msw::StoreResult<T>& res) const {
    return reply.ok(res);
  }
};

void whoami(Request& r) {
  Json p = Json::object();
  p.set("fd", static_cast<uint64_t>(r.fd));
  p.set("member", r.app.member(r.fd));
  p.set("nodeId", r.app.nodeId());
  p.set("id", r.auth.id).set("type", r.auth.type).set("code", r.code).set("nickname", r.auth.nickname);
  Json auth = Json::parse(r.auth.json);
  p.set("auth", JsonRef(auth));
  r.success("whoami", "", p);
}

void send(Request& r) {
  App& app = r.app;
  std::string to(r.data["to"].str());
  Json param = Json::object();
  param.set("from", static_cast<uint64_t>(r.fd));
  msw::Payload p = app.message(200, r.data["event"].str("x"), r.data["info"].str(), param);
  std::vector<Fd> exclude = fdList(r.data["exclude"]);
  if (to == "fd") {
    app.sendToFd(static_cast<Fd>(r.data["fd"].num()), p);
  } else if (to == "fds") {
    std::vector<Fd> fds = fdList(r.data["fds"]);
    app.sendToFds(fds, p);
  } else if (to == "user") {
    app.sendToUser(r.data["user"].text(), p);
  } else if (to == "room") {
    app.sendToRoom(r.data["room"].str(), p, exclude);
  } else if (to == "all") {
    app.sendToAll(p, exclude);
  } else {
    r.error(400, "badTarget", "to must be fd, fds, user, room or all");
    return;
  }
  if (r.data["barrier"].boolean()) app.sendToAll(app.message(200, "barrier", r.data["event"].str("x")));
  r.success("send");
}

void join(Request& r) {
  r.app.join(targetFd(r), r.data["room"].str());
  r.success("join", r.data["room"].str());
}

void leave(Request& r) {
  r.app.leave(targetFd(r), r.data["room"].str());
  r.success("leave", r.data["room"].str());
}

void addCloseKey(Request& r) {
  r.app.fdAddCloseKey(targetFd(r), r.data["key"].str());
  r.success("addclosekey");
}

void removeCloseKey(Request& r) {
  r.app.fdRemoveCloseKey(targetFd(r), r.data["key"].str());
  r.success("removeclosekey");
}

void addController(Request& r) {
  r.app.fdAddController(targetFd(r), r.data["controller"].str("apptest.hooks"));
  r.success("addcontroller");
}

void removeController(Request& r) {
  r.app.fdRemoveController(targetFd(r), r.data["controller"].str("apptest.hooks"));
  r.success("removecontroller");
}

void track(Request& r) {
  std::string key(r.data["key"].str());
  r.app.store().sadd(key, r.app.member(r.fd));
  r.app.fdAddCloseKey(r.fd, key);
  r.success("track", r.app.member(r.fd));
}

void close(Request& r) {
  Fd fd = targetFd(r);
  if (fd != r.fd) r.success("close");
  r.app.close(fd, static_cast<int>(r.data["code"].i64(msw::kCloseKicked)), r.data["reason"].str());
}

void flood(Request& r) {
  int64_t n = r.data["n"].i64(10);
  int64_t size = r.data["size"].i64(100);
  Fd fd = targetFd(r);
  Json param = Json::object();
  param.set("fill", std::string(static_cast<size_t>(size), 'x'));
  for (int64_t i = 0; i < n; ++i) r.app.sendToFd(fd, r.app.message(200, "flood", std::to_string(i), param));
  if (fd != r.fd) r.success("flood");
}

void logText(Request& r) {
  std::string_view level = r.data["level"].str("info");
  msw::LogLevel l = level == "debug"  ? msw::LogLevel::kDebug
                    : level == "warn" ? msw::LogLevel::kWarn
                    : level == "error" ? msw::LogLevel::kError
                                       : msw::LogLevel::kInfo;
  r.app.log(l, r.data["text"].str());
  r.success("log");
}

Json fromList(const msw::StrList& l) {
  Json a = Json::array();
  for (const std::string& s : l) a.push(s);
  return a;
}

void store(Request& r) {
  msw::Store& s = r.app.store();
  Origin o{r.later(), std::string(r.data["op"].str())};
  std::string key(r.data["key"].str());
  std::string value = r.data["self"].boolean() ? r.app.member(r.fd) : r.data["value"].text();
  std::string field = r.data["field"].text();
  const std::string& op = o.op;
  auto done = [o] { o.answer(JsonRef()); };
  auto optStr = [o](msw::StoreResult<std::optional<std::string>> res) {
    if (!o.ok(res)) return;
    Json v = res.value ? Json::string(*res.value) : Json(cJSON_CreateNull());
    o.answer(v);
  };
  auto num = [o](msw::StoreResult<int64_t> res) {
    if (o.ok(res)) o.answer(Json::number(static_cast<double>(res.value)));
  };
  auto boolean = [o](msw::StoreResult<bool> res) {
    if (o.ok(res)) o.answer(Json(cJSON_CreateBool(res.value)));
  };
  auto list = [o](msw::StoreResult<msw::StrList> res) {
    if (o.ok(res)) o.answer(fromList(res.value));
  };
  if (op == "set") {
    s.set(key, value, r.data["ttl"].i64(0));
    done();
  } else if (op == "get") {
    s.get(key, optStr);
  } else if (op == "incr") {
    s.incr(key, r.data["by"].i64(1), num);
  } else if (op == "del") {
    s.del(key);
    done();
  } else if (op == "expire") {
    s.expire(key, r.data["ttl"].i64(0));
    done();
  } else if (op == "exists") {
    s.exists(key, boolean);
  } else if (op == "hset") {
    s.hset(key, field, value);
    done();
  } else if (op == "hdel") {
    s.hdel(key, field);
    done();
  } else if (op == "hget") {
    s.hget(key, field, optStr);
  } else if (op == "hgetall") {
    s.hgetall(key, [o](msw::StoreResult<msw::StrMap> res) {
      if (!o.ok(res)) return;
      Json m = Json::object();
      for (auto& [k, v] : res.value) m.set(k.c_str(), v);
      o.answer(m);
    });
  } else if (op == "sadd") {
    s.sadd(key, value);
    done();
  } else if (op == "srem") {
    s.srem(key, value);
    done();
  } else if (op == "smembers") {
    s.smembers(key, list);
  } else if (op == "scard") {
    s.scard(key, num);
  } else if (op == "sismember") {
    s.sismember(key, value, boolean);
  } else if (op == "lpush") {
    s.lpush(key, value);
    done();
  } else if (op == "rpush") {
    s.rpush(key, value);
    done();
  } else if (op == "lrange") {
    s.lrange(key, r.data["start"].i64(0), r.data["stop"].i64(-1), list);
  } else if (op == "ltrim") {
    s.ltrim(key, r.data["start"].i64(0), r.data["stop"].i64(-1));
    done();
  } else if (op == "lrem") {
    s.lrem(key, r.data["count"].i64(0), value);
    done();
  } else if (op == "llen") {
    s.llen(key, num);
  } else {
    r.error(400, "badOp", "unknown store op " + op);
  }
}

void hookClosed(App& app, const msw::CloseInfo& c) {
  Fd fd = c.fd;
  int code = c.closeCode;
  std::string fdText = std::to_string(fd);
  app.log(msw::LogLevel::kInfo, "apptest.hooks onClose fd=" + fdText + " code=" + std::to_string(code) +
                                    " id=" + std::string(c.auth.id));
  Json auth = Json::parse(c.auth.json);
  JsonRef h = auth["hook"];
  Fd watch = static_cast<Fd>(h["watch"].i64(0));
  if (h["record"].boolean()) {
    app.store().sadd("apptest:closedcodes", fdText + ":" + std::to_string(code));
    app.store().incr("apptest:closed:" + fdText, 1, [&app, fd, code, watch](msw::StoreResult<int64_t> n) {
      if (!watch) return;
      Json p = Json::object();
      p.set("fd", static_cast<uint64_t>(fd)).set("code", code).set("count", n.value);
      app.sendToFd(watch, app.message(200, "hookClosed", "", p));
    });
  } else if (watch) {
    Json p = Json::object();
    p.set("fd", static_cast<uint64_t>(fd)).set("code", code);
    app.sendToFd(watch, app.message(200, "hookClosed", "", p));
  }
}

// Manager routes (docs/manager-api.md#module-routes): an echo of what the
// handler was given, an answer after a store round trip (from the store
// callback), a handler that throws, and two the loader must refuse.
void routeEcho(const msw::ManagerRequest& r, msw::ManagerReply reply) {
  Json j = Json::object();
  j.set("method", r.method).set("path", r.path).set("x", r.arg("x")).set("raw", r.rawBody);
  if (r.body) j.set("body", Json::copy(r.body));
  reply(200, j.dump());
}

void routeCounter(const msw::ManagerRequest& r, msw::ManagerReply reply) {
  if (!r.body.isObject() || !r.body["by"].isNumber()) return reply(400, "{\"error\":\"give by\"}");
  r.app.store().incr("apptest:route", r.body["by"].i64(), [reply](msw::StoreResult<int64_t> v) {
    reply(200, "{\"value\":" + std::to_string(v.value) + "}");
  });
}

int init(msw::Module& m) {
  m.managerRoute("GET", "/apptest/echo", routeEcho);
  m.managerRoute("POST", "/apptest/echo", routeEcho);
  m.managerRoute("POST", "/apptest/counter", routeCounter);
  m.managerRoute("GET", "/apptest/throw", [](const msw::ManagerRequest&, msw::ManagerReply) {
    throw std::runtime_error("on purpose");
  });
  m.managerRoute("GET", "/status", routeEcho);     // the manager's own
  m.managerRoute("PUT", "/apptest/put", routeEcho);  // not a method routes take
  m.controller("api")
      .action("whoami", whoami)
      .action("send", send)
      .action("join", join)
      .action("leave", leave)
      .action("addCloseKey", addCloseKey)
      .action("removeCloseKey", removeCloseKey)
      .action("addController", addController)
      .action("removeController", removeController)
      .action("track", track)
      .action("close", close)
      .action("flood", flood)
      .action("log", logText)
      .action("store", store);
  m.controller("hooks").onClose(hookClosed);
  return 0;
}

}  // namespace

MSW_MODULE("apptest", init, nullptr);
