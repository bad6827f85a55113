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
//   live:CODE:npending  how many: reserved by a say before it is stored, so
//                       that [live] max_pending holds under concurrent says
//   live:CODE:senders   hash id -> member ("node:fd") that sent a pending message
//   live:CODE:timeline  list of approved messages and announcements (the history attendees see)
//   live:CODE:wall      list of announcements (the wall's own history)
//   live:CODE:items     hash id -> announcement, to find one to recall
//
// Connections of a `flavor = mswoole` endpoint speak MSwoole Live's names
// (mswoole_names.h, docs/migrating-from-mswoole.md); both flavors share the
// store and the rooms, so one room's attendees see the same messages, each
// in its own names (App::sendToRoomByFlavor).
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "msw/module.h"
#include "mswoole_names.h"

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
constexpr int64_t kDefaultQueuePage = 50;
constexpr size_t kEnvelope = 256;      // what a reply adds around its items: status, event, info, rid

std::string key(std::string_view code, const char* what) {
  return "live:" + std::string(code) + ":" + what;
}

// Attendees are members of the room CODE itself (so that /online?room=CODE
// and a manager push to CODE reach them), walls of CODE:wall.
std::string wallRoom(std::string_view code) { return std::string(code) + ":wall"; }

// MSwoole's name for an event when the connection speaks MSwoole's, msw's otherwise.
std::string_view named(bool mswoole, std::string_view ours, std::string_view theirs) {
  return mswoole ? theirs : ours;
}
bool mswooleOf(const Request& r) { return live::isMswoole(r.endpoint.flavor); }

int64_t maxPending(App& app) { return app.settingInt("live", "max_pending", 200); }

// The most one reply or broadcast of this module may carry: half the send
// queue, so that no single message can fill a client's queue by itself and
// close it 4009 (docs/live.md, "Limits").
size_t replyBudget(App& app) {
  return static_cast<size_t>(app.settingInt("outside", "send_queue_limit", 1 << 20) / 2);
}

// How many of the JSON texts [first, last), from the first, fit in one reply
// of at most `budget` bytes.
template <class It>
size_t fitting(It first, It last, size_t budget) {
  size_t used = kEnvelope, n = 0;
  for (; first != last && (used += first->size() + 1) <= budget; ++first) ++n;
  return n;
}

template <class It>
void pushAll(JsonRef list, It first, It last) {
  for (; first != last; ++first)
    if (Json item = Json::parse(*first)) list.push(item);
}

// Every action checks the type of the connection and the room it names.
bool allowed(Request& r, const char* type) {
  bool m = mswooleOf(r);
  if (r.auth.type != type) {
    std::string_view event = type == kUserType ? "mustBeWechatUser" : "mustBeWall";
    r.error(403, named(m, "forbidden", event),
            std::string("only ") + type + " connections may call " + std::string(r.method));
    return false;
  }
  if (r.code.empty()) {
    r.error(m ? 999 : 400, named(m, "badRequest", "codeIsEmpty"), "the token has no code (room)");
    return false;
  }
  return true;
}

// The text of a message, checked; empty when refused (already answered).
std::string content(Request& r) {
  const char* field = mswooleOf(r) ? "say" : "content";
  std::string text(r.data[field].str());
  if (text.empty()) {
    r.error(400, "badRequest", std::string(field) + " must be a non-empty string");
    return {};
  }
  if (text.size() > kMaxContent) {
    r.error(413, "contentTooLong", "content is over " + std::to_string(kMaxContent) + " bytes");
    return {};
  }
  return text;
}

// Who a broadcast goes to.
enum Audience { kAttendees = 1, kWalls = 2, kEveryone = 3 };

// An event MSwoole had no name for: every member gets msw's.
void broadcast(App& app, std::string_view code, Audience to, const msw::Payload& p, std::span<const Fd> exclude = {}) {
  if (to & kAttendees) app.sendToRoom(code, p, exclude);
  if (to & kWalls) app.sendToRoom(wallRoom(code), p, exclude);
}

// One broadcast in both flavors' names: MSwoole's text is built only when an
// MSwoole member gets it, and once however many rooms and workers it reaches.
void broadcast(App& app, std::string_view code, Audience to, const msw::FlavoredPayload& p) {
  if (to & kAttendees) app.sendToRoomByFlavor(code, p);
  if (to & kWalls) app.sendToRoomByFlavor(wallRoom(code), p);
}

// Event `event` with param `ours` for msw's members, and with theirs() as
// param for MSwoole's; theirs runs on a worker thread, later: it owns copies.
template <class Theirs>
msw::FlavoredPayload inBothNames(App& app, std::string_view event, JsonRef ours, Theirs theirs) {
  return msw::FlavoredPayload(app.message(200, event, "", ours),
                              [&app, event = std::string(event), theirs](std::string_view flavor) {
                                if (!live::isMswoole(flavor)) return msw::Payload();
                                return app.message(200, event, "", theirs());
                              });
}

Json personOf(const msw::Auth& a) {
  Json p = Json::object();
  p.set("id", a.id).set("nickname", a.nickname);
  return p;
}

void keepHistory(App& app, std::string_view code) {
  for (const char* k : {"timeline", "wall", "items", "seq", "pending", "npending", "senders"})
    app.store().expire(key(code, k), kKeepSeconds);
}

// A history's page size: MSwoole's `count`, at most 20, or msw's `size`.
int64_t pageSize(Request& r) {
  if (mswooleOf(r)) return std::clamp<int64_t>(r.data["count"].i64(20), 1, 20);
  return std::clamp<int64_t>(r.data["size"].i64(20), 1, kMaxPageSize);
}

// Page `page` (1 = newest) of `size` entries of a stored list, oldest first within the page.
void sendPage(Request& r, const std::string& listKey) {
  int64_t page = std::clamp<int64_t>(r.data["page"].i64(1), 1, kMaxPage);
  int64_t size = pageSize(r);
  Reply later = r.later();
  r.app.store().llen(listKey, [later, listKey, page, size](msw::StoreResult<int64_t> total) {
    if (!later.ok(total)) return;
    later.app().store().lrange(listKey, -page * size, -(page - 1) * size - 1,
                               [later, page, size, total = total.value](msw::StoreResult<msw::StrList> items) {
                                 if (!later.ok(items)) return;
                                 Json param = Json::object();
                                 param.set("page", page).set("size", size).set("total", total);
                                 // Over the budget, the newest entries of the page are kept.
                                 const msw::StrList& v = items.value;
                                 size_t fit = fitting(v.rbegin(), v.rend(), replyBudget(later.app()));
                                 pushAll(param.addArray("items"), v.end() - static_cast<long>(fit), v.end());
                                 if (fit < v.size()) param.set("partial", true);
                                 later.reply(200, "history", "", param);
                               });
  });
}

// ---- attendees ----

void userJoin(Request& r) {
  if (!allowed(r, kUserType)) return;
  App& app = r.app;
  bool m = mswooleOf(r);
  std::string users = key(r.code, "users");
  app.join(r.fd, r.code);
  app.store().sadd(users, app.member(r.fd));
  app.fdAddCloseKey(r.fd, users);
  app.fdAddController(r.fd, "live.user");
  Reply later = r.later();
  std::string code(r.code);
  Json who = personOf(r.auth);
  app.store().scard(users, [later, code, who, m](msw::StoreResult<int64_t> n) mutable {
    if (!later.ok(n)) return;
    Json param = Json::object();
    param.set("code", code).set("online", n.value);
    later.reply(200, named(m, "join", "userJoinSuccess"), "joined " + code, param);
    // The others learn of the newcomer; the newcomer has its answer already.
    who.set("online", n.value);
    Fd self[] = {later.fd()};
    broadcast(later.app(), code, kEveryone, later.app().message(200, "userJoin", "", who), self);
  });
}

// Leaving, by request or by closing: the room hears of it either way, with
// the count after the leaver is gone.
void userLeft(App& app, Fd fd, const std::string& code, Json who) {
  app.leave(fd, code);
  app.store().scard(key(code, "users"), [&app, code, who](msw::StoreResult<int64_t> n) mutable {
    who.set("online", n.value);
    broadcast(app, code, kEveryone, app.message(200, "userLeave", "", who));
  });
}

void userOut(Request& r) {
  if (!allowed(r, kUserType)) return;
  App& app = r.app;
  std::string users = key(r.code, "users");
  app.store().srem(users, app.member(r.fd));
  app.fdRemoveCloseKey(r.fd, users);
  app.fdRemoveController(r.fd, "live.user");
  r.success(named(mswooleOf(r), "out", "userOutSuccess"), "left " + std::string(r.code));
  userLeft(app, r.fd, std::string(r.code), personOf(r.auth));
}

void userClosed(App& app, const msw::CloseInfo& c) {
  // The framework has removed c.fd from live:CODE:users already (its close key).
  userLeft(app, c.fd, std::string(c.code), personOf(c.auth));
}

// A message fits when the largest broadcast made of it (its approval, with
// "kind" and a 20-digit id) fits in the reply budget.
bool fitsBudget(Request& r, const Json& msg) {
  if (msg.dump().size() + 64 + kEnvelope <= replyBudget(r.app)) return true;
  r.error(413, "contentTooLong", "the message is over half of send_queue_limit");
  return false;
}

void storePending(const Reply& later, const std::string& code, Json msg, bool mswoole);

// The queue's place is reserved before the message is stored: the counter
// is atomic, so concurrent says cannot overshoot max_pending.
void userSay(Request& r) {
  if (!allowed(r, kUserType)) return;
  std::string text = content(r);
  if (text.empty()) return;
  Json msg = Json::object();
  msg.set("content", text).set("uid", r.auth.id).set("nickname", r.auth.nickname).set("time", int64_t(time(nullptr)));
  if (!fitsBudget(r, msg)) return;
  Reply later = r.later();
  std::string code(r.code);
  int64_t max = maxPending(r.app);
  bool m = mswooleOf(r);
  r.app.store().incr(key(code, "npending"), 1, [later, code, msg, max, m](msw::StoreResult<int64_t> n) mutable {
    if (!later.ok(n)) return;
    if (n.value > max) {
      later.app().store().incr(key(code, "npending"), -1);
      later.reply(429, "queueFull", std::to_string(max) + " messages are waiting for moderation: try again later");
      return;
    }
    storePending(later, code, std::move(msg), m);
  });
}

void storePending(const Reply& later, const std::string& code, Json msg, bool mswoole) {
  later.app().store().incr(key(code, "seq"), 1, [later, code, msg, mswoole](msw::StoreResult<int64_t> id) mutable {
    if (!later.ok(id)) {
      later.app().store().incr(key(code, "npending"), -1);
      return;
    }
    App& app = later.app();
    msg.set("id", id.value);
    app.store().hset(key(code, "pending"), std::to_string(id.value), msg.dump());
    // So that a rejection can be told to the sender, on whichever node it is.
    app.store().hset(key(code, "senders"), std::to_string(id.value), app.member(later.fd()));
    keepHistory(app, code);
    broadcast(app, code, kWalls, inBothNames(app, "userSayNeedCheck", msg, [msg] { return live::userSayParam(msg); }));
    if (mswoole) return later.reply(200, "userSaySuccess", "sent for moderation", Json::number(double(id.value)));
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

int64_t queuePageSize(Request& r) {
  return std::clamp<int64_t>(r.data["size"].i64(kDefaultQueuePage), 1, kMaxPageSize);
}

// Puts a page of the moderation queue `q` into `param`: the messages with an
// id above `after`, oldest first, at most `size` and within the reply
// budget; "more" says that live.wall.pending has the rest.
void putQueuePage(App& app, JsonRef param, const msw::StrMap& q, int64_t after, int64_t size) {
  std::vector<std::pair<long long, const std::string*>> byId;
  for (auto& [id, m] : q)
    if (long long n = std::atoll(id.c_str()); n > after) byId.emplace_back(n, &m);
  std::sort(byId.begin(), byId.end());
  std::vector<std::string> texts;
  for (size_t i = 0; i < byId.size() && static_cast<int64_t>(i) < size; ++i) texts.push_back(*byId[i].second);
  // At least one: each message fit the budget when it was said.
  size_t n = std::max<size_t>(fitting(texts.begin(), texts.end(), replyBudget(app)), texts.empty() ? 0 : 1);
  pushAll(param.addArray("pending"), texts.begin(), texts.begin() + static_cast<long>(n));
  param.set("pendingTotal", static_cast<int64_t>(q.size())).set("more", n < byId.size());
}

void wallJoin(Request& r) {
  if (!allowed(r, kWallType)) return;
  App& app = r.app;
  bool m = mswooleOf(r);
  std::string walls = key(r.code, "walls");
  app.join(r.fd, wallRoom(r.code));
  app.store().sadd(walls, app.member(r.fd));
  app.fdAddCloseKey(r.fd, walls);
  Reply later = r.later();
  std::string code(r.code);
  int64_t size = queuePageSize(r);
  // A wall starts with the online count and the first page of the queue.
  app.store().scard(key(code, "users"), [later, code, size, m](msw::StoreResult<int64_t> n) {
    if (!later.ok(n)) return;
    auto page = [later, code, size, m, online = n.value](msw::StoreResult<msw::StrMap> q) {
      if (!later.ok(q)) return;
      Json param = Json::object();
      param.set("code", code).set("online", online);
      putQueuePage(later.app(), param, q.value, 0, size);
      later.reply(200, named(m, "join", "wallJoinSuccess"), "joined " + code, param);
    };
    later.app().store().hgetall(key(code, "pending"), page);
  });
}

// The next page of the queue, after the last id the wall has.
void wallPending(Request& r) {
  if (!allowed(r, kWallType)) return;
  Reply later = r.later();
  std::string code(r.code);
  int64_t after = r.data["after"].i64(0), size = queuePageSize(r);
  r.app.store().hgetall(key(code, "pending"), [later, after, size](msw::StoreResult<msw::StrMap> q) {
    if (!later.ok(q)) return;
    Json param = Json::object();
    putQueuePage(later.app(), param, q.value, after, size);
    later.reply(200, "pending", "", param);
  });
}

void wallOut(Request& r) {
  if (!allowed(r, kWallType)) return;
  App& app = r.app;
  std::string walls = key(r.code, "walls");
  app.leave(r.fd, wallRoom(r.code));
  app.store().srem(walls, app.member(r.fd));
  app.fdRemoveCloseKey(r.fd, walls);
  r.success(named(mswooleOf(r), "out", "wallOutSuccess"), "left " + std::string(r.code));
}

void wallCheck(Request& r) {
  if (!allowed(r, kWallType)) return;
  std::string id = r.data["id"].text();
  bool m = mswooleOf(r);
  // msw: 1 or 0, as a number or as text ("1"/"0"): anything else is a
  // mistake, not a rejection. MSwoole: any non-empty status approves.
  std::string s = r.data["status"].text();
  int64_t status = m ? live::approves(r.data["status"]) : s == "1" ? 1 : s == "0" ? 0 : -1;
  if (id.empty() || status < 0) {
    r.error(400, "badRequest", "check needs id and status (1 approve, 0 reject)");
    return;
  }
  Reply later = r.later();
  std::string code(r.code);
  std::string pending = key(code, "pending");
  auto checked = [later, code, id, status, pending, m](msw::StoreResult<std::optional<std::string>> got) {
    if (!later.ok(got)) return;
    App& app = later.app();
    if (!got.value) {  // another wall was faster, or no such message
      later.reply(404, "messageNotFound", "no message " + id + " waiting for a check");
      return;
    }
    app.store().hdel(pending, id);
    app.store().incr(key(code, "npending"), -1);
    Json msg = Json::parse(*got.value);
    if (status == 0) tellRejected(app, code, id);
    else app.store().hdel(key(code, "senders"), id);
    if (status == 1) {
      msg.set("kind", "user");
      app.store().rpush(key(code, "timeline"), msg.dump());
      app.store().ltrim(key(code, "timeline"), -kHistoryLimit, -1);
      keepHistory(app, code);
      broadcast(app, code, kEveryone, inBothNames(app, "userSayBroadcast", msg, [msg] { return live::userSayParam(msg); }));
    }
    Json param = Json::object();
    param.set("id", msg["id"]).set("status", static_cast<int>(status));
    // Every wall drops it from its queue, the one that checked it included.
    broadcast(app, code, kWalls, app.message(200, "userSayChecked", "", param));
    if (m) return later.reply(200, "wallCheckSuccess", status ? "approved" : "rejected", msg["id"]);
    later.reply(200, "check", status ? "approved" : "rejected", param);
  };
  r.app.store().hget(pending, id, checked);
}

void wallSay(Request& r) {
  if (!allowed(r, kWallType)) return;
  std::string text = content(r);
  if (text.empty()) return;
  Json msg = Json::object();
  msg.set("kind", "wall").set("content", text).set("nickname", r.auth.nickname).set("time", int64_t(time(nullptr)));
  msg.set("uid", r.auth.id);  // MSwoole's broadcast names the wall (user_id)
  if (!fitsBudget(r, msg)) return;
  Reply later = r.later();
  std::string code(r.code);
  bool m = mswooleOf(r);
  r.app.store().incr(key(code, "seq"), 1, [later, code, msg, m](msw::StoreResult<int64_t> id) mutable {
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
    auto theirs = [code, msg] { return live::wallSayParam(code, msg); };
    broadcast(app, code, kEveryone, inBothNames(app, "wallSayBroadcast", msg, theirs));
    if (m) return later.reply(200, "wallSaySuccess", "announced", Json::number(double(id.value)));
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
  bool mswoole = mswooleOf(r);
  auto found = [later, code, id, mswoole](msw::StoreResult<std::optional<std::string>> m) {
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
    broadcast(app, code, kEveryone, inBothNames(app, "wallSayRecall", param, [id] { return live::idParam(id); }));
    if (mswoole) return later.reply(200, "wallRecallSuccess", "recalled", live::idParam(id));
    later.reply(200, "recall", "recalled", param);
  };
  r.app.store().hget(key(code, "items"), id, found);
}

void wallClean(Request& r) {
  if (!allowed(r, kWallType)) return;
  App& app = r.app;
  for (const char* k : {"timeline", "wall", "items", "pending", "npending", "senders"}) app.store().del(key(r.code, k));
  broadcast(app, r.code, kEveryone, app.message(200, "wallClean", "the wall was cleared"));
  r.success("clean", "cleared");
}

// MSwoole's history: `type` wall (the announcements, a page of `page` and
// `count`) or user (the messages waiting for a check, the first `count`),
// each keyed by id. MSwoole's own could not run; this is msw's, in its names.
void mswooleHistory(Request& r) {
  std::string_view type = r.data["type"].str();
  if (type != "wall" && type != "user") return r.error(401, "typeError", "type must be wall or user");
  int64_t page = std::clamp<int64_t>(r.data["page"].i64(1), 1, kMaxPage), count = pageSize(r);
  Reply later = r.later();
  std::string code(r.code);
  if (type == "user") {
    r.app.store().hgetall(key(code, "pending"), [later, code, count](msw::StoreResult<msw::StrMap> q) {
      if (!later.ok(q)) return;
      Json page = Json::object();
      putQueuePage(later.app(), page, q.value, 0, count);
      std::vector<std::string> texts;
      for (JsonRef m : page["pending"]) texts.push_back(Json::copy(m).dump());
      later.reply(200, "userSayHistory", "", live::keyedById(texts, code, false));
    });
    return;
  }
  std::string list = key(code, "wall");
  auto answer = [later, code](msw::StoreResult<msw::StrList> items) {
    if (!later.ok(items)) return;
    later.reply(200, "wallSayHistory", "", live::keyedById(items.value, code, true));
  };
  r.app.store().lrange(list, -page * count, -(page - 1) * count - 1, answer);
}

// The wall's announcements (list "wall", the default), or everything the
// room has seen (list "timeline": approved messages and announcements).
void wallHistory(Request& r) {
  if (!allowed(r, kWallType)) return;
  if (mswooleOf(r)) return mswooleHistory(r);
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
      .action("pending", wallPending)
      .action("clean", wallClean)
      .action("history", wallHistory);
  return 0;
}

}  // namespace

MSW_MODULE("live", init, nullptr);
