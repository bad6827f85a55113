// app/channels/admin_routes.cpp: the twelve routes of Laravel-S's
// WebSocketController, on the manager port under /admin/websocket/
// (docs/laravel.md#the-admin-routes). Bodies as Laravel-S's; answers
// {"code":200,"message":"success","data":...}, errors {"code":4xx,"message":WHY}
// with that HTTP status.
//
// Handlers run on the manager's thread; counts and sends cover every node
// (App::onlineUsers, sendToUser, sendToRoom...). No state.
#include <algorithm>
#include <string>
#include <vector>

#include "channels.h"

namespace channels {
namespace {

using msw::App;
using msw::Json;
using msw::JsonRef;
using msw::ManagerReply;
using msw::ManagerRequest;

constexpr size_t kMaxUserId = 128;
constexpr int kMaxUsers = 10000;  // ids in one user_ids
constexpr size_t kMaxType = 64;
const std::string kBase = "/admin/websocket/";

// Every refusal is logged: the application's mistakes show in msw's log too.
void fail(App& app, const ManagerReply& reply, int code, std::string_view why) {
  msw::LogLevel level = code >= 500 ? msw::LogLevel::kWarn : msw::LogLevel::kInfo;
  app.log(level, "channels: admin route: " + std::to_string(code) + " " + std::string(why));
  Json j = Json::object();
  j.set("code", code).set("message", why);
  reply(code, j.dump());
}

void succeed(const ManagerReply& reply, JsonRef data = JsonRef()) {
  Json j = Json::object();
  j.set("code", 200).set("message", "success");
  data ? j.set("data", data) : j.setNull("data");
  reply(200, j.dump());
}

// A user id: a string of 1 to 128 bytes or an integer; "" when it is not one.
std::string userOf(JsonRef v) {
  bool integer = v.isNumber() && v.num() == static_cast<double>(v.i64());
  if (!(v.isString() || integer) || v.text().size() > kMaxUserId) return {};
  return v.text();
}

std::string badUser(JsonRef v, const char* field) {
  return userOf(v).empty() ? std::string(field) + " must be an integer or a string of 1 to 128 bytes" : "";
}

std::string badUsers(JsonRef v, std::vector<std::string>& ids) {
  if (!v.isArray() || v.size() == 0 || v.size() > kMaxUsers)
    return "user_ids must be an array of 1 to " + std::to_string(kMaxUsers) + " user ids";
  for (JsonRef e : v) {
    ids.push_back(userOf(e));
    if (ids.back().empty()) return "user_ids must hold integers or strings of 1 to 128 bytes";
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return {};
}

std::string badText(JsonRef v, const char* field, size_t max) {
  if (v.isString() && !v.str().empty() && v.str().size() <= max) return {};
  return std::string(field) + " must be a non-empty string" +
         (max < 1024 ? " of at most " + std::to_string(max) + " bytes" : "");
}

// Who a send is for: the body's user_id, user_ids, channel, or everyone
// (less exclude_user_id).
enum class To { kUser, kUsers, kAll, kChannel };
struct Target {
  std::vector<std::string> users;
  std::string channel;
  std::string exclude;
};

std::string parseTarget(To to, JsonRef body, Target& t) {
  switch (to) {
    case To::kUser:
      t.users.push_back(userOf(body["user_id"]));
      return badUser(body["user_id"], "user_id");
    case To::kUsers:
      return badUsers(body["user_ids"], t.users);
    case To::kChannel:
      t.channel = body["channel"].str();
      return badChannel(body["channel"]);
    case To::kAll:
      if (JsonRef ex = body["exclude_user_id"]; ex && !ex.isNull()) {
        t.exclude = userOf(ex);
        return badUser(ex, "exclude_user_id");
      }
      return {};
  }
  return {};
}

void deliver(App& app, To to, const Target& t, const msw::Payload& p) {
  if (to == To::kChannel) return app.sendToRoom(roomOf(t.channel), p);
  if (to == To::kAll) return t.exclude.empty() ? app.sendToAll(p) : app.sendToAllExceptUser(p, t.exclude);
  for (const std::string& id : t.users) app.sendToUser(id, p);
}

// What a send carries: the body's own type and data, a notification, or a data update.
enum class What { kMessage, kNotification, kDataUpdate };

std::string buildMessage(JsonRef body, std::string& type, Json& data) {
  if (std::string why = badText(body["type"], "type", kMaxType); !why.empty()) return why;
  type = body["type"].str();
  data = body["data"] ? Json::copy(body["data"]) : Json::object();
  return {};
}

// {"title","message","type" (default info),"timestamp"} and extra_data's
// other fields, as Laravel-S's sendSystemNotification.
std::string buildNotification(JsonRef body, Json& data) {
  for (const char* field : {"title", "message"})
    if (std::string why = badText(body[field], field, SIZE_MAX); !why.empty()) return why;
  JsonRef kind = body["type"], extra = body["extra_data"];
  std::string why = kind.isNull() ? "" : badText(kind, "type", kMaxType);
  if (!why.empty()) return why;
  if (extra && !extra.isNull() && !extra.isObject()) return "extra_data must be an object";
  data = Json::object();
  data.set("title", body["title"])
      .set("message", body["message"])
      .set("type", kind.str("info"))
      .set("timestamp", now());
  for (JsonRef e : extra)
    if (!data.has(std::string(e.key()).c_str())) data.set(std::string(e.key()).c_str(), e);
  return {};
}

std::string buildDataUpdate(JsonRef body, Json& data) {
  for (const char* field : {"resource_type", "action"})
    if (std::string why = badText(body[field], field, kMaxType); !why.empty()) return why;
  data = Json::object();
  data.set("resource_type", body["resource_type"]).set("action", body["action"]);
  body["data"] ? data.set("data", body["data"]) : data.set("data", Json::object());
  data.set("timestamp", now());
  return {};
}

std::string buildPayload(App& app, What what, JsonRef body, msw::Payload& p) {
  std::string type = what == What::kNotification ? "notification" : "data_update", why;
  Json data;
  if (what == What::kMessage) why = buildMessage(body, type, data);
  if (what == What::kNotification) why = buildNotification(body, data);
  if (what == What::kDataUpdate) why = buildDataUpdate(body, data);
  if (!why.empty()) return why;
  p = frame(app, type, data);
  return {};
}

bool isObject(const ManagerRequest& req, const ManagerReply& reply) {
  if (req.body.isObject()) return true;
  fail(req.app, reply, 400, "the body must be a JSON object");
  return false;
}

msw::ManagerRouteFn sendRoute(To to, What what) {
  return [to, what](const ManagerRequest& req, ManagerReply reply) {
    if (!isObject(req, reply)) return;
    Target t;
    msw::Payload p;
    std::string why = parseTarget(to, req.body, t);
    if (why.empty()) why = buildPayload(req.app, what, req.body, p);
    if (!why.empty()) return fail(req.app, reply, 400, why);
    if (p.text().size() > maxFrame(req.app))
      return fail(req.app, reply, 413, "message over " + std::to_string(maxFrame(req.app)) + " bytes");
    deliver(req.app, to, t, p);
    succeed(reply);
  };
}

void onlineCount(const ManagerRequest& req, ManagerReply reply) {
  req.app.onlineUsers([reply, app = &req.app](msw::StoreResult<msw::StrList> ids) {
    if (!ids.ok()) return fail(*app, reply, 503, "store unavailable: " + ids.error);
    Json d = Json::object();
    d.set("online_count", static_cast<int64_t>(ids.value.size()));
    succeed(reply, d);
  });
}

void onlineUsers(const ManagerRequest& req, ManagerReply reply) {
  req.app.onlineUsers([reply, app = &req.app](msw::StoreResult<msw::StrList> ids) {
    if (!ids.ok()) return fail(*app, reply, 503, "store unavailable: " + ids.error);
    Json d = Json::object();
    JsonRef list = d.addArray("user_ids");
    for (const std::string& id : ids.value) list.push(userId(id));
    d.set("count", static_cast<int64_t>(ids.value.size()));
    succeed(reply, d);
  });
}

void checkOnline(const ManagerRequest& req, ManagerReply reply) {
  if (!isObject(req, reply)) return;
  if (std::string why = badUser(req.body["user_id"], "user_id"); !why.empty()) return fail(req.app, reply, 400, why);
  std::string id = userOf(req.body["user_id"]);
  req.app.userMembers(id, [reply, id, app = &req.app](msw::StoreResult<msw::StrList> members) {
    if (!members.ok()) return fail(*app, reply, 503, "store unavailable: " + members.error);
    Json d = Json::object();
    d.set("user_id", userId(id)).set("is_online", !members.value.empty());
    succeed(reply, d);
  });
}

// Closes 4010 every connection of the user, on every node; data says how many there were.
void disconnectUser(const ManagerRequest& req, ManagerReply reply) {
  if (!isObject(req, reply)) return;
  if (std::string why = badUser(req.body["user_id"], "user_id"); !why.empty()) return fail(req.app, reply, 400, why);
  std::string id = userOf(req.body["user_id"]);
  App* app = &req.app;
  app->userMembers(id, [reply, id, app](msw::StoreResult<msw::StrList> members) {
    if (!members.ok()) return fail(*app, reply, 503, "store unavailable: " + members.error);
    app->closeUser(id, msw::kCloseKicked, "disconnected");
    Json d = Json::object();
    d.set("user_id", userId(id)).set("connections", static_cast<int64_t>(members.value.size()));
    succeed(reply, d);
  });
}

}  // namespace

void addAdminRoutes(msw::Module& m) {
  m.managerRoute("GET", kBase + "online-count", onlineCount);
  m.managerRoute("GET", kBase + "online-users", onlineUsers);
  m.managerRoute("POST", kBase + "check-online", checkOnline);
  m.managerRoute("POST", kBase + "send-to-user", sendRoute(To::kUser, What::kMessage));
  m.managerRoute("POST", kBase + "send-to-users", sendRoute(To::kUsers, What::kMessage));
  m.managerRoute("POST", kBase + "broadcast", sendRoute(To::kAll, What::kMessage));
  m.managerRoute("POST", kBase + "send-to-channel", sendRoute(To::kChannel, What::kMessage));
  m.managerRoute("POST", kBase + "send-notification", sendRoute(To::kAll, What::kNotification));
  m.managerRoute("POST", kBase + "send-notification-to-users", sendRoute(To::kUsers, What::kNotification));
  m.managerRoute("POST", kBase + "push-data-update", sendRoute(To::kUsers, What::kDataUpdate));
  m.managerRoute("POST", kBase + "push-data-update-channel", sendRoute(To::kChannel, What::kDataUpdate));
  m.managerRoute("POST", kBase + "disconnect-user", disconnectUser);
}

}  // namespace channels
