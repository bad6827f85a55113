// app/chat: the Workerman customer-service chat (docs/chat.md), controller
// chat.client for a `route = type`, `envelope = flat` endpoint: users and
// agents authenticate with a user id, join a session, and every connection
// of the session, on every node, gets each message, the sender's included.
//
// A session is a room ("chat:ID"): rooms span the cluster and are left by
// themselves when a connection closes. What a connection said about itself
// (its user id, the session it is in) is kept in the store, not in this
// code's memory, so that a reload keeps it; it is dropped on close.
//
// Store keys (under [cache] prefix), besides chat_sessions.cpp's:
//   chat:conn:MEMBER         hash user, session: a connection's auth and session
//   chat:rate:MEMBER:SECOND  messages of a connection in that second (the 1 s rule)
#include <ctime>
#include <string>
#include <utility>

#include "chat_sessions.h"
#include "msw/module.h"

namespace {

using msw::App;
using msw::Fd;
using msw::Json;
using msw::Reply;
using msw::Request;

constexpr size_t kMaxContent = 1000;     // bytes, as the original's strlen()
constexpr int64_t kConnTtl = 7 * 86400;  // a connection's keys outlive a crashed node by this much at most

std::string connKey(App& app, Fd fd) { return "chat:conn:" + app.member(fd); }
std::string room(std::string_view session) { return "chat:" + std::string(session); }

// What the store holds for a connection.
struct Conn {
  std::string user;     // empty before auth
  std::string session;  // empty when in none
};

// {"type":TYPE, ...fields}: the client's own objects.
void send(const Reply& to, std::string_view type, const Json& fields = Json::object()) {
  to.app().sendToFd(to.fd(), to.app().flatMessage(200, type, "", fields));
}

// {"type":"error","error":TEXT}, exactly the original's shape; and a log
// line, so that a refused client can be traced.
void fail(const Reply& to, std::string_view action, const char* text) {
  Json fields = Json::object();
  fields.set("error", text);
  send(to, "error", fields);
  to.app().log(msw::LogLevel::kInfo, "conn " + std::to_string(to.fd()) + ": chat.client." + std::string(action) +
                                          ": " + text);
}

// Runs `then` with the connection's state, or answers `kNotAuthed` before
// auth: nothing but auth and ping is allowed then.
template <class Then>
void authed(Request& r, std::string_view action, Then then) {
  Reply later = r.later();
  std::string what(action);
  r.app.store().hgetall(connKey(r.app, r.fd), [later, what, then](msw::StoreResult<msw::StrMap> s) mutable {
    if (!s.ok()) return fail(later, what, chat::kUnavailable);
    Conn c{s.value["user"], s.value["session"]};
    if (c.user.empty()) return fail(later, what, chat::kNotAuthed);
    then(later, std::move(c));
  });
}

void onOpen(App& app, const msw::OpenInfo& o) {
  Json fields = Json::object();
  fields.set("message", chat::kConnected).set("connection_id", app.member(o.fd));
  app.sendToFd(o.fd, app.flatMessage(200, "connected", "", fields));
}

// With a token (auth = optional or token), the user id must be the token's.
void auth(Request& r) {
  std::string user = chat::idText(r.data["user_id"]);
  if (user.empty()) return fail(r.later(), "auth", chat::kNoUser);
  if (!r.auth.id.empty() && r.auth.id != user) return fail(r.later(), "auth", chat::kTokenMismatch);
  std::string key = connKey(r.app, r.fd);
  r.app.store().hset(key, "user", user);
  r.app.store().expire(key, kConnTtl);
  Json fields = Json::object();
  fields.set("user_id", r.data["user_id"]);
  send(r.later(), "auth_success", fields);
}

void enter(const Reply& later, const Conn& c, const std::string& session) {
  App& app = later.app();
  if (!c.session.empty() && c.session != session) app.leave(later.fd(), room(c.session));
  app.join(later.fd(), room(session));
  std::string key = connKey(app, later.fd());
  app.store().hset(key, "session", session);
  app.store().expire(key, kConnTtl);
  Json fields = Json::object();
  fields.set("session_id", chat::idJson(session));
  send(later, "joined_session", fields);
}

// One session at a time, as the original: joining another leaves the first.
void joinSession(Request& r) {
  std::string session = chat::idText(r.data["session_id"]);
  authed(r, "join_session", [session](const Reply& later, Conn c) {
    if (session.empty()) return fail(later, "join_session", chat::kNoSession);
    chat::authorizeJoin(later.app(), later.fd(), c.user, session, [later, c, session](const char* error) {
      if (error) return fail(later, "join_session", error);
      enter(later, c, session);
    });
  });
}

void leaveSession(Request& r) {
  authed(r, "leave_session", [](const Reply& later, const Conn& c) {
    App& app = later.app();
    Json fields = Json::object();
    if (c.session.empty()) {
      fields.setNull("session_id");
    } else {
      app.leave(later.fd(), room(c.session));
      app.store().hdel(connKey(app, later.fd()), "session");
      fields.set("session_id", chat::idJson(c.session));
    }
    send(later, "left_session", fields);
  });
}

// PHP's trim(): spaces, tabs, newlines, NUL and vertical tab.
bool blank(std::string_view s) { return s.find_first_not_of(std::string_view(" \t\n\r\v\0", 6)) == s.npos; }

void deliver(const Reply& later, const std::string& session, Json message) {
  chat::storeMessage(later.app(), later.fd(), std::move(message), [later, session](const char* error,
                                                                                     const Json& stored) {
    if (error) return fail(later, "send_message", error);
    Json fields = Json::object();
    fields.set("session_id", stored["session_id"]).set("message", stored);
    later.app().sendToRoom(room(session), later.app().flatMessage(200, "new_message", "", fields));
  });
}

// The original's rule: one message per connection and clock second. The
// counter is atomic, so messages sent back to back cannot both pass.
void throttled(const Reply& later, const std::string& session, Json message) {
  App& app = later.app();
  std::string key = "chat:rate:" + app.member(later.fd()) + ":" + std::to_string(std::time(nullptr));
  app.store().incr(key, 1, [later, session, message](msw::StoreResult<int64_t> n) mutable {
    if (!n.ok()) return fail(later, "send_message", chat::kUnavailable);
    if (n.value > 1) return fail(later, "send_message", chat::kTooFast);
    deliver(later, session, std::move(message));
  });
  app.store().expire(key, 2);
}

// The checks in the original's order; a session is one the connection is in.
void sendMessage(Request& r) {
  std::string session = chat::idText(r.data["session_id"]);
  std::string content(r.data["content"].str());
  authed(r, "send_message", [session, content](const Reply& later, const Conn& c) {
    if (session.empty() || content.empty()) return fail(later, "send_message", chat::kNoSessionOrContent);
    if (blank(content)) return fail(later, "send_message", chat::kEmpty);
    if (content.size() > kMaxContent) return fail(later, "send_message", chat::kTooLong);
    if (c.session != session) return fail(later, "send_message", chat::kForbidden);
    Json message = Json::object();
    message.set("session_id", chat::idJson(session)).set("sender_id", chat::idJson(c.user)).set("content", content);
    throttled(later, session, std::move(message));
  });
}

void ping(Request& r) { send(r.later(), "pong"); }

// Rooms are left by the framework; the connection's own keys go here.
void onClose(App& app, const msw::CloseInfo& c) { app.store().del(connKey(app, c.fd)); }

int init(msw::Module& m) {
  m.controller("client")
      .onOpen(onOpen)
      .action("auth", auth)
      .action("join_session", joinSession)
      .action("leave_session", leaveSession)
      .action("send_message", sendMessage)
      .action("ping", ping)
      .onClose(onClose);
  chat::addManagerRoutes(m);
  return 0;
}

}  // namespace

MSW_MODULE("chat", init, nullptr);
