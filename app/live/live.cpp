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
using msw::Reply;
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
  Reply later = r.later();
  r.app.store().llen(listKey, [later, listKey, page, size](msw::StoreResult<int64_t> total) {
    if (!later.ok(total)) return;
    later.app().store().lrange(listKey, -page * size, -(page - 1) * size - 1,
                               [later, page, size, total = total.value](msw::StoreResult<msw::StrList> items) {
                                 if (!later.ok(items)) return;
                                 Json param = Json::object();
                                 param.set("page", page).set("size", size).set("total", total);
                                 JsonRef list = param.addArray("items");
                                 for (const std::string& s : items.value)
                                   if (Json item = Json::parse(s)) list.push(item);
                                 later.reply(200, "history", "", param);
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
  Reply later = r.later();
  std::string code(r.code);
  Json who = personOf(r.auth);
  app.store().scard(users, [later, code, who](msw::StoreResult<int64_t> n) mutable {
    if (!later.ok(n)) return;
    Json param = Json::object();
    param.set("code", code).set("online", n.value);
    later.reply(200, "join", "joined " + code, param);
    // The others learn of the newcomer; the newcomer has its answer already.
    who.set("online", n.value);
    Fd self[] = {later.fd()};
    later.app().sendToRoom(code, later.app().message(200, "userJoin", "", who), self);
    later.app().sendToRoom(wallRoom(code), later.app().message(200, "userJoin", "", who));
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
  Reply later = r.later();
  std::string code(r.code);
  r.app.store().incr(key(code, "seq"), 1, [later, code, msg](msw::StoreResult<int64_t> id) mutable {
    if (!later.ok(id)) return;
    App& app = later.app();
    msg.set("id", id.value);
    app.store().hset(key(code, "pending"), std::to_string(id.value), msg.dump());
    // So that a rejection can be told to the sender, on whichever node it is.
    app.store().hset(key(code, "senders"), std::to_string(id.value), app.member(later.fd()));
    keepHistory(app, code);
    app.sendToRoom(wallRoom(code), app.message(200, "userSayNeedCheck", "", msg));
    Json param = Json::object();
    param.set("id", id.value).set("state", "pending");
    later.reply(200, "say", "sent for moderation", param);
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
  Reply later = r.later();
  std::string code(r.code);
  // A wall starts with the online count and the queue waiting for it.
  app.store().scard(key(code, "users"), [later, code](msw::StoreResult<int64_t> n) {
    if (!later.ok(n)) return;
    later.app().store().hgetall(key(code, "pending"), [later, code, online = n.value](msw::StoreResult<msw::StrMap> q) {
      if (!later.ok(q)) return;
      std::vector<std::pair<long long, std::string>> byId;
      for (auto& [id, m] : q.value) byId.emplace_back(std::atoll(id.c_str()), m);
      std::sort(byId.begin(), byId.end());
      Json param = Json::object();
      param.set("code", code).set("online", online);
      JsonRef pending = param.addArray("pending");
      for (auto& [id, m] : byId)
        if (Json item = Json::parse(m)) pending.push(item);
      later.reply(200, "join", "joined " + code, param);
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
  Reply later = r.later();
  std::string code(r.code);
  std::string pending = key(code, "pending");
  r.app.store().hget(pending, id, [later, code, id, status, pending](msw::StoreResult<std::optional<std::string>> m) {
    if (!later.ok(m)) return;
    App& app = later.app();
    if (!m.value) {  // another wall was faster, or no such message
      later.reply(404, "messageNotFound", "no message " + id + " waiting for a check");
      return;
    }
    app.store().hdel(pending, id);
    Json msg = Json::parse(*m.value);
    if (status == 0) tellRejected(app, code, id);
    else app.store().hdel(key(code, "senders"), id);
    if (status == 1) {
      msg.set("kind", "user");
      app.store().rpush(key(code, "timeline"), msg.dump());
      app.store().ltrim(key(code, "timeline"), -kHistoryLimit, -1);
      keepHistory(app, code);
      toRoomAndWalls(app, code, app.message(200, "userSayBroadcast", "", msg));
    }
    Json param = Json::object();
    param.set("id", msg["id"]).set("status", static_cast<int>(status));
    // Every wall drops it from its queue, the one that checked it included.
    app.sendToRoom(wallRoom(code), app.message(200, "userSayChecked", "", param));
    later.reply(200, "check", status ? "approved" : "rejected", param);
  });
}

void wallSay(Request& r) {
  if (!allowed(r, kWallType)) return;
  std::string text = content(r);
  if (text.empty()) return;
  Json msg = Json::object();
  msg.set("kind", "wall").set("content", text).set("nickname", r.auth.nickname).set("time", int64_t(time(nullptr)));
  Reply later = r.later();
  std::string code(r.code);
  r.app.store().incr(key(code, "seq"), 1, [later, code, msg](msw::StoreResult<int64_t> id) mutable {
    if (!later.ok(id)) return;
    App& app = later.app();
    msg.set("id", id.value);
    std::string stored = msg.dump();
    app.store().hset(key(code, "items"), std::to_string(id.value), stored);
    for (const char* list : {"timeline", "wall"}) {
      app.store().rpush(key(code, list), stored);
      app.store().ltrim(key(code, list), -kHistoryLimit, -1);
    }
    keepHistory(app, code);
    toRoomAndWalls(app, code, app.message(200, "wallSayBroadcast", "", msg));
    Json param = Json::object();
    param.set("id", id.value);
    later.reply(200, "say", "announced", param);
  });
}

void wallRecall(Request& r) {
  if (!allowed(r, kWallType)) return;
  std::string id = r.data["id"].text();
  if (id.empty()) {
    r.error(400, "badRequest", "recall needs the id of an announcement");
    return;
  }
  Reply later = r.later();
  std::string code(r.code);
  r.app.store().hget(key(code, "items"), id, [later, code, id](msw::StoreResult<std::optional<std::string>> m) {
    if (!later.ok(m)) return;
    if (!m.value) {
      later.reply(404, "messageNotFound", "no announcement " + id);
      return;
    }
    App& app = later.app();
    // The lists hold the very text stored at say time.
    app.store().lrem(key(code, "timeline"), 0, *m.value);
    app.store().lrem(key(code, "wall"), 0, *m.value);
    app.store().hdel(key(code, "items"), id);
    Json param = Json::object();
    param.set("id", std::atoll(id.c_str()) > 0 ? Json::number(static_cast<double>(std::atoll(id.c_str()))) : Json::string(id));
    toRoomAndWalls(app, code, app.message(200, "wallSayRecall", "", param));
    later.reply(200, "recall", "recalled", param);
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
