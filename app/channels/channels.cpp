// app/channels: Laravel-S's WebSocket service (docs/laravel.md). The client
// controller channels.client speaks the {"type","data"} frames of a
// `route = type`, `envelope = flat` endpoint: heartbeat and ping, channel
// subscriptions, chat to a user, and broadcast when [channels]
// client_broadcast allows it. The twelve /admin/websocket/ manager routes
// are in admin_routes.cpp.
//
// Actions run on the connection's worker. A connection's subscriptions live
// in the store (the set channels:conn:MEMBER), where a reload cannot lose
// them: they bound max_channels; the rooms carry the pushes.
#include "channels.h"

#include <chrono>
#include <cstdlib>

namespace channels {

using msw::App;
using msw::Json;
using msw::JsonRef;
using msw::Reply;
using msw::Request;

std::string roomOf(std::string_view channel) { return "channel:" + std::string(channel); }

std::string badChannel(JsonRef name) {
  const std::string rule = "channel must be a string of 1 to 64 characters A-Z a-z 0-9 _ - . :";
  if (!name.isString() || name.str().empty() || name.str().size() > kMaxChannelName) return rule;
  for (char c : name.str()) {
    bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("_-.:").find(c) == std::string_view::npos) return rule;
  }
  return {};
}

msw::Payload frame(App& app, std::string_view type, JsonRef data) {
  Json param = Json::object();
  data ? param.set("data", data) : param.set("data", Json::object());
  return app.flatMessage(200, type, "", param);
}

msw::Json userId(std::string_view id) {
  bool plain = !id.empty() && id.size() <= 15 && (id == "0" || id[0] != '0');
  for (char c : id) plain = plain && c >= '0' && c <= '9';
  return plain ? Json::number(static_cast<double>(std::strtoll(std::string(id).c_str(), nullptr, 10)))
               : Json::string(id);
}

int64_t now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

int64_t maxChannels(App& app) { return app.settingInt("channels", "max_channels", 32); }
bool clientBroadcast(App& app) { return app.setting("channels", "client_broadcast") == "true"; }
size_t maxFrame(App& app) { return static_cast<size_t>(app.settingInt("outside", "send_queue_limit", 1 << 20) / 2); }

namespace {

std::string connKey(App& app, msw::Fd fd) { return "channels:conn:" + app.member(fd); }

// A refusal: the flat {"type":"error"} to the client and a log line naming it.
void failLater(const Reply& later, int status, const std::string& why) {
  App& app = later.app();
  app.log(msw::LogLevel::kInfo,
          "conn " + std::to_string(later.fd()) + ": channels: " + std::to_string(status) + " " + why);
  app.sendToFd(later.fd(), app.flatMessage(status, "error", why));
}
void refuse(Request& r, int status, const std::string& why) { failLater(r.later(), status, why); }

// {"timestamp": now} as a frame's data, with `field` = `value` when given.
Json stamped(const char* field = nullptr, JsonRef value = JsonRef()) {
  Json d = Json::object();
  if (field) d.set(field, value);
  d.set("timestamp", now());
  return d;
}

void answer(Request& r, std::string_view type, JsonRef data) { r.send(frame(r.app, type, data)); }

void ping(Request& r) { answer(r, "pong", stamped()); }
void heartbeat(Request& r) { answer(r, "heartbeat_ack", stamped()); }

// Added first, counted after: two subscribes in flight at once cannot both
// slip under the bound (both may be refused; neither exceeds it).
void subscribe(Request& r) {
  JsonRef name = r.data["data"]["channel"];
  if (std::string why = badChannel(name); !why.empty()) return refuse(r, 400, why);
  std::string channel(name.str()), key = connKey(r.app, r.fd);
  r.app.store().sadd(key, channel);
  r.app.store().scard(key, [later = r.later(), channel, key](msw::StoreResult<int64_t> n) {
    App& app = later.app();
    if (!n.ok() || n.value > maxChannels(app)) {
      app.store().srem(key, channel);
      if (!n.ok()) return failLater(later, 503, "store unavailable: " + n.error);
      return failLater(later, 429, "at most " + std::to_string(maxChannels(app)) + " channels per connection");
    }
    app.join(later.fd(), roomOf(channel));
    app.sendToFd(later.fd(), frame(app, "subscribed", stamped("channel", Json::string(channel))));
  });
}

void unsubscribe(Request& r) {
  JsonRef name = r.data["data"]["channel"];
  if (std::string why = badChannel(name); !why.empty()) return refuse(r, 400, why);
  std::string channel(name.str());
  r.app.store().srem(connKey(r.app, r.fd), channel);
  r.app.leave(r.fd, roomOf(channel));
  answer(r, "unsubscribed", stamped("channel", Json::string(channel)));
}

// The recipient's every connection gets {"type":"chat","data":{"from_user_id",
// "content","timestamp"}}; the sender gets chat_sent, or 404 when the
// recipient has no connection.
void chat(Request& r) {
  JsonRef d = r.data["data"];
  std::string to = d["to_user_id"].text();
  JsonRef content = d["content"];
  if (to.empty() || d["to_user_id"].isBool()) return refuse(r, 400, "to_user_id must be a string or number");
  if (!content.isString() || content.str().empty()) return refuse(r, 400, "content must be a non-empty string");
  Json msg = stamped("from_user_id", userId(r.auth.id));
  msg.set("content", content);
  msw::Payload p = frame(r.app, "chat", msg);
  r.app.userMembers(to, [later = r.later(), to, p](msw::StoreResult<msw::StrList> members) {
    if (!members.ok()) return failLater(later, 503, "store unavailable: " + members.error);
    if (members.value.empty()) return failLater(later, 404, "user " + to + " is not online");
    App& app = later.app();
    app.sendToUser(to, p);
    app.sendToFd(later.fd(), frame(app, "chat_sent", stamped("to_user_id", userId(to))));
  });
}

// Everyone, the sender included (its copy is the acknowledgement), when
// [channels] client_broadcast is on.
void broadcast(Request& r) {
  if (!clientBroadcast(r.app)) return refuse(r, 403, "broadcast from clients is off on this server");
  JsonRef message = r.data["data"]["message"];
  if (!message.isString() || message.str().empty()) return refuse(r, 400, "message must be a non-empty string");
  Json msg = stamped("from_user_id", userId(r.auth.id));
  msg.set("message", message);
  r.app.sendToAll(frame(r.app, "broadcast", msg));
}

void opened(App& app, const msw::OpenInfo& o) {
  app.sendToFd(o.fd, frame(app, "connected", stamped("user_id", userId(o.auth.id))));
}

void closed(App& app, const msw::CloseInfo& c) { app.store().del(connKey(app, c.fd)); }

int init(msw::Module& m) {
  m.controller("client")
      .action("ping", ping)
      .action("heartbeat", heartbeat)
      .action("subscribe", subscribe)
      .action("unsubscribe", unsubscribe)
      .action("chat", chat)
      .action("broadcast", broadcast)
      .onOpen(opened)
      .onClose(closed);
  addAdminRoutes(m);
  return 0;
}

}  // namespace
}  // namespace channels

MSW_MODULE("channels", channels::init, nullptr);
