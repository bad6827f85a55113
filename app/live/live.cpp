// app/live: MSwoole's live-event wall (docs/live.md).
//
// Attendees (type wechatUser) join the room named by their token's code and
// send messages to a moderation queue; walls (type wall) join the room
// CODE:wall, approve or reject what attendees sent, post announcements and
// recall them. Everything that outlives a message is in the store, so the
// module holds no state of its own and works unchanged across a reload or
// a cluster of nodes.
//
// Store keys (all under [cache] prefix), for room CODE:
//   live:CODE:users     set of members (node:fd) of attendees online
//   live:CODE:walls     set of members of walls online
//   live:CODE:seq       message id counter
//   live:CODE:pending   hash id -> message waiting for a wall's check
//   live:CODE:senders   hash id -> member ("node:fd") that sent a pending message
//   live:CODE:timeline  list of approved messages and announcements (the history attendees see)
//   live:CODE:wall      list of announcements (the wall's own history)
//   live:CODE:items     hash id -> announcement, to find one to recall
#include <algorithm>
#include <ctime>
#include <string>

#include "msw/module.h"

namespace {

using msw::App;
using msw::Fd;
using msw::Json;
using msw::JsonRef;
using msw::Request;

constexpr const char* kUserType = "wechatUser";
constexpr const char* kWallType = "wall";
constexpr size_t kMaxContent = 1000;         // bytes, after HTML escaping
constexpr int64_t kHistoryLimit = 500;       // entries kept per room and list
constexpr int64_t kKeepSeconds = 7 * 86400;  // history expires a week after its last write
constexpr int64_t kMaxPageSize = 100;
constexpr int64_t kMaxPage = 1000000;  // keeps -page * size far from overflow

std::string key(std::string_view code, const char* what) {
  return "live:" + std::string(code) + ":" + what;
}
std::string wallRoom(std::string_view code) { return std::string(code) + ":wall"; }

// Where an answer that comes after a store round trip goes: the requesting
// connection, with the request's rid (the Request itself is gone by then).
struct Origin {
  App* app;
  Fd fd;
  std::string code;
  Json rid;
  void reply(int status, std::string_view event, std::string_view info, JsonRef param = JsonRef()) const {
    app->sendToFd(fd, app->message(status, event, info, param, rid));
  }
  // False (and the requester told) when a store read failed.
  template <class T>
  bool ok(const msw::StoreResult<T>& r) const {
    if (!r.ok()) reply(503, "storeError", r.error);
    return r.ok();
  }
};

Origin origin(Request& r) { return Origin{&r.app, r.fd, std::string(r.code), Json::copy(r.rid())}; }

// Every action checks the type of the connection and the room it names.
bool allowed(Request& r, const char* type) {
  if (r.auth.type != type) {
    r.error(403, "forbidden", std::string("only ") + type + " connections may call " + std::string(r.method));
    return false;
  }
  if (r.code.empty()) {
    r.error(400, "badRequest", "the token has no code (room)");
    return false;
  }
  return true;
}

// The text of a message, checked; empty when refused (already answered).
std::string content(Request& r) {
  std::string text(r.data["content"].str());
  if (text.empty()) {
    r.error(400, "badRequest", "content must be a non-empty string");
    return {};
  }
  if (text.size() > kMaxContent) {
    r.error(413, "contentTooLong", "content is over " + std::to_string(kMaxContent) + " bytes");
    return {};
  }
  return text;
}

// Both the attendees' room and the walls' room.
void toRoomAndWalls(App& app, std::string_view code, const msw::Payload& p) {
  app.sendToRoom(code, p);
  app.sendToRoom(wallRoom(code), p);
}

Json personOf(const msw::Auth& a) {
  Json p = Json::object();
  p.set("id", a.id).set("nickname", a.nickname);
  return p;
}

void keepHistory(App& app, std::string_view code) {
  for (const char* k : {"timeline", "wall", "items", "seq", "pending", "senders"})
    app.store().expire(key(code, k), kKeepSeconds);
}

// Page `page` (1 = newest) of `size` entries of a stored list, oldest first within the page.
void sendPage(Request& r, const std::string& listKey) {
  int64_t page = std::clamp<int64_t>(r.data["page"].i64(1), 1, kMaxPage);
  int64_t size = std::clamp<int64_t>(r.data["size"].i64(20), 1, kMaxPageSize);
  Origin o = origin(r);
  r.app.store().llen(listKey, [o, listKey, page, size](msw::StoreResult<int64_t> total) {
    if (!o.ok(total)) return;
    o.app->store().lrange(listKey, -page * size, -(page - 1) * size - 1,
                          [o, page, size, total = total.value](msw::StoreResult<msw::StrList> items) {
                            if (!o.ok(items)) return;
                            Json param = Json::object();
                            param.set("page", page).set("size", size).set("total", total);
                            JsonRef list = param.addArray("items");
                            for (const std::string& s : items.value)
                              if (Json item = Json::parse(s)) list.push(item);
                            o.reply(200, "history", "", param);
                          });
  });
}

// ---- attendees ----

void userJoin(Request& r) {
  if (!allowed(r, kUserType)) return;
  App& app = r.app;
  std::string users = key(r.code, "users");
  app.join(r.fd, r.code);
  app.store().sadd(users, app.member(r.fd));
  app.fdAddCloseKey(r.fd, users);
  app.fdAddController(r.fd, "live.user");
  Origin o = origin(r);
  Json who = personOf(r.auth);
  app.store().scard(users, [o, who](msw::StoreResult<int64_t> n) mutable {
    if (!o.ok(n)) return;
    Json param = Json::object();
    param.set("code", o.code).set("online", n.value);
    o.reply(200, "join", "joined " + o.code, param);
    // The others learn of the newcomer; the newcomer has its answer already.
    who.set("online", n.value);
    Fd self[] = {o.fd};
    o.app->sendToRoom(o.code, o.app->message(200, "userJoin", "", who), self);
    o.app->sendToRoom(wallRoom(o.code), o.app->message(200, "userJoin", "", who));
  });
}

// Leaving, by request or by closing: the room hears of it either way, with
// the count after the leaver is gone.
void userLeft(App& app, Fd fd, const std::string& code, Json who) {
  app.leave(fd, code);
  app.store().scard(key(code, "users"), [&app, code, who](msw::StoreResult<int64_t> n) mutable {
    who.set("online", n.value);
    toRoomAndWalls(app, code, app.message(200, "userLeave", "", who));
  });
}

void userOut(Request& r) {
  if (!allowed(r, kUserType)) return;
  App& app = r.app;
  std::string users = key(r.code, "users");
  app.store().srem(users, app.member(r.fd));
  app.fdRemoveCloseKey(r.fd, users);
  app.fdRemoveController(r.fd, "live.user");
  r.success("out", "left " + std::string(r.code));
  userLeft(app, r.fd, std::string(r.code), personOf(r.auth));
}

void userClosed(App& app, const msw::CloseInfo& c) {
  // The framework has removed c.fd from live:CODE:users already (its close key).
  userLeft(app, c.fd, std::string(c.code), personOf(c.auth));
}

void userSay(Request& r) {
  if (!allowed(r, kUserType)) return;
  std::string text = content(r);
  if (text.empty()) return;
  Json msg = Json::object();
  msg.set("content", text).set("uid", r.auth.id).set("nickname", r.auth.nickname).set("time", int64_t(time(nullptr)));
  Origin o = origin(r);
  r.app.store().incr(key(o.code, "seq"), 1, [o, msg](msw::StoreResult<int64_t> id) mutable {
    if (!o.ok(id)) return;
    App& app = *o.app;
    msg.set("id", id.value);
    app.store().hset(key(o.code, "pending"), std::to_string(id.value), msg.dump());
    // So that a rejection can be told to the sender, on whichever node it is.
    app.store().hset(key(o.code, "senders"), std::to_string(id.value), app.member(o.fd));
    keepHistory(app, o.code);
    app.sendToRoom(wallRoom(o.code), app.message(200, "userSayNeedCheck", "", msg));
    Json param = Json::object();
    param.set("id", id.value).set("state", "pending");
    o.reply(200, "say", "sent for moderation", param);
  });
}

void userHistory(Request& r) {
  if (allowed(r, kUserType)) sendPage(r, key(r.code, "timeline"));
}

// The sender of a checked message hears the verdict: approval shows as the
// broadcast itself; a rejection would otherwise leave it waiting forever.
void tellRejected(App& app, const std::string& code, const std::string& id) {
  std::string senders = key(code, "senders");
  app.store().hget(senders, id, [&app, id](msw::StoreResult<std::optional<std::string>> m) {
    if (!m.ok() || !m.value) return;
    Json param = Json::object();
    param.set("id", static_cast<int64_t>(std::atoll(id.c_str())));
    app.sendToMember(*m.value, app.message(200, "sayRejected", "not approved by the moderator", param));
  });
  app.store().hdel(senders, id);
}

// ---- walls ----

void wallJoin(Request& r) {
  if (!allowed(r, kWallType)) return;
  App& app = r.app;
  std::string walls = key(r.code, "walls");
  app.join(r.fd, wallRoom(r.code));
  app.store().sadd(walls, app.member(r.fd));
  app.fdAddCloseKey(r.fd, walls);
  Origin o = origin(r);
  // A wall starts with the online count and the queue waiting for it.
  app.store().scard(key(o.code, "users"), [o](msw::StoreResult<int64_t> n) {
    if (!o.ok(n)) return;
    o.app->store().hgetall(key(o.code, "pending"), [o, online = n.value](msw::StoreResult<msw::StrMap> q) {
      if (!o.ok(q)) return;
      std::vector<std::pair<long long, std::string>> byId;
      for (auto& [id, m] : q.value) byId.emplace_back(std::atoll(id.c_str()), m);
      std::sort(byId.begin(), byId.end());
      Json param = Json::object();
      param.set("code", o.code).set("online", online);
      JsonRef pending = param.addArray("pending");
      for (auto& [id, m] : byId)
        if (Json item = Json::parse(m)) pending.push(item);
      o.reply(200, "join", "joined " + o.code, param);
    });
  });
}

void wallOut(Request& r) {
  if (!allowed(r, kWallType)) return;
  App& app = r.app;
  std::string walls = key(r.code, "walls");
  app.leave(r.fd, wallRoom(r.code));
  app.store().srem(walls, app.member(r.fd));
  app.fdRemoveCloseKey(r.fd, walls);
  r.success("out", "left " + std::string(r.code));
}

void wallCheck(Request& r) {
  if (!allowed(r, kWallType)) return;
  std::string id = r.data["id"].text();
  // 1 or 0, as a number or as text ("1"/"0"): anything else is a mistake, not a rejection.
  std::string s = r.data["status"].text();
  int64_t status = s == "1" ? 1 : s == "0" ? 0 : -1;
  if (id.empty() || status < 0) {
    r.error(400, "badRequest", "check needs id and status (1 approve, 0 reject)");
    return;
  }
  Origin o = origin(r);
  std::string pending = key(o.code, "pending");
  r.app.store().hget(pending, id, [o, id, status, pending](msw::StoreResult<std::optional<std::string>> m) {
    if (!o.ok(m)) return;
    App& app = *o.app;
    if (!m.value) {  // another wall was faster, or no such message
      o.reply(404, "messageNotFound", "no message " + id + " waiting for a check");
      return;
    }
    app.store().hdel(pending, id);
    Json msg = Json::parse(*m.value);
    if (status == 0) tellRejected(app, o.code, id);
    else app.store().hdel(key(o.code, "senders"), id);
    if (status == 1) {
      msg.set("kind", "user");
      app.store().rpush(key(o.code, "timeline"), msg.dump());
      app.store().ltrim(key(o.code, "timeline"), -kHistoryLimit, -1);
      keepHistory(app, o.code);
      toRoomAndWalls(app, o.code, app.message(200, "userSayBroadcast", "", msg));
    }
    Json param = Json::object();
    param.set("id", msg["id"]).set("status", static_cast<int>(status));
    // Every wall drops it from its queue, the one that checked it included.
    app.sendToRoom(wallRoom(o.code), app.message(200, "userSayChecked", "", param));
    o.reply(200, "check", status ? "approved" : "rejected", param);
  });
}

void wallSay(Request& r) {
  if (!allowed(r, kWallType)) return;
  std::string text = content(r);
  if (text.empty()) return;
  Json msg = Json::object();
  msg.set("kind", "wall").set("content", text).set("nickname", r.auth.nickname).set("time", int64_t(time(nullptr)));
  Origin o = origin(r);
  r.app.store().incr(key(o.code, "seq"), 1, [o, msg](msw::StoreResult<int64_t> id) mutable {
    if (!o.ok(id)) return;
    App& app = *o.app;
    msg.set("id", id.value);
    std::string stored = msg.dump();
    app.store().hset(key(o.code, "items"), std::to_string(id.value), stored);
    for (const char* list : {"timeline", "wall"}) {
      app.store().rpush(key(o.code, list), stored);
      app.store().ltrim(key(o.code, list), -kHistoryLimit, -1);
    }
    keepHistory(app, o.code);
    toRoomAndWalls(app, o.code, app.message(200, "wallSayBroadcast", "", msg));
    Json param = Json::object();
    param.set("id", id.value);
    o.reply(200, "say", "announced", param);
  });
}

void wallRecall(Request& r) {
  if (!allowed(r, kWallType)) return;
  std::string id = r.data["id"].text();
  if (id.empty()) {
    r.error(400, "badRequest", "recall needs the id of an announcement");
    return;
  }
  Origin o = origin(r);
  r.app.store().hget(key(o.code, "items"), id, [o, id](msw::StoreResult<std::optional<std::string>> m) {
    if (!o.ok(m)) return;
    if (!m.value) {
      o.reply(404, "messageNotFound", "no announcement " + id);
      return;
    }
    App& app = *o.app;
    // The lists hold the very text stored at say time.
    app.store().lrem(key(o.code, "timeline"), 0, *m.value);
    app.store().lrem(key(o.code, "wall"), 0, *m.value);
    app.store().hdel(key(o.code, "items"), id);
    Json param = Json::object();
    param.set("id", std::atoll(id.c_str()) > 0 ? Json::number(static_cast<double>(std::atoll(id.c_str()))) : Json::string(id));
    toRoomAndWalls(app, o.code, app.message(200, "wallSayRecall", "", param));
    o.reply(200, "recall", "recalled", param);
  });
}

void wallClean(Request& r) {
  if (!allowed(r, kWallType)) return;
  App& app = r.app;
  for (const char* k : {"timeline", "wall", "items", "pending", "senders"}) app.store().del(key(r.code, k));
  toRoomAndWalls(app, r.code, app.message(200, "wallClean", "the wall was cleared"));
  r.success("clean", "cleared");
}

// The wall's announcements (list "wall", the default), or everything the
// room has seen (list "timeline": approved messages and announcements).
void wallHistory(Request& r) {
  if (!allowed(r, kWallType)) return;
  std::string_view list = r.data["list"].str("wall");
  if (list != "wall" && list != "timeline") return r.error(400, "badRequest", "list must be wall or timeline");
  sendPage(r, key(r.code, list == "wall" ? "wall" : "timeline"));
}

int init(msw::Module& m) {
  m.controller("user")
      .action("join", userJoin)
      .action("out", userOut)
      .action("say", userSay)
      .action("history", userHistory)
      .onClose(userClosed);
  m.controller("wall")
      .action("join", wallJoin)
      .action("out", wallOut)
      .action("say", wallSay)
      .action("recall", wallRecall)
      .action("check", wallCheck)
      .action("clean", wallClean)
      .action("history", wallHistory);
  return 0;
}

}  // namespace

MSW_MODULE("live", init, nullptr);
