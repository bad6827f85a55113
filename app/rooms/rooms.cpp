// app/rooms: HybridPHP's WebSocket rooms (docs/rooms.md), controller
// rooms.client for a `route = type`, `envelope = flat` endpoint.
//
// On open: connected and reconnect_token. join / leave / broadcast with
// member_joined, member_left, broadcast_sent; ping / pong; the server's own
// {"type":"ping"} after heartbeat_interval of silence and the close at
// heartbeat_timeout (Controller::idlePing, on the framework's idle wheel).
// Limits hold across a cluster: seats and rooms are counted in store sets
// (rooms.h), so every node sees the same counts. Runs on the worker of the
// connection it serves; state lives in the store (rooms.h), none here.
#include "rooms.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace rooms {

using msw::App;
using msw::Fd;
using msw::Json;
using msw::JsonRef;
using msw::Request;

constexpr size_t kMaxRoomName = 128;

int64_t setting(App& app, const char* name, int64_t fallback) { return app.settingInt("rooms", name, fallback); }

void sendFlat(App& app, Fd fd, const char* type, JsonRef fields) {
  app.sendToFd(fd, app.flatMessage(200, type, "", fields));
}

// HybridPHP's errors carry no status: {"type":"error","error":TEXT}.
void sendError(App& app, Fd fd, std::string_view text) {
  app.log(msw::LogLevel::kInfo, "rooms: conn " + std::to_string(fd) + ": " + std::string(text));
  app.sendToFd(fd, app.frame(Json::object().set("type", "error").set("error", text).dump()));
}

std::string randomHex() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string startSession(App& app, Fd fd, std::string sid) {
  if (sid.empty()) sid = randomHex();
  std::string secret = randomHex(), cid = app.member(fd), session = key("session", sid);
  msw::Store& s = app.store();
  s.hset(session, "secret", secret);
  s.hset(session, "cid", cid);
  s.hset(session, "state", "live");
  s.hdel(session, "dropped_at");
  s.expire(session, kLiveTtl);
  s.set(key("sid", cid), sid, kLiveTtl);
  return sid + "." + secret;
}

void sendToken(App& app, Fd fd, const std::string& token) {
  Json t = Json::object();
  t.set("token", token);
  sendFlat(app, fd, "reconnect_token", t);
}

namespace {

// The room a message names, or empty (and the client told) when it names none.
std::string roomOf(Request& r) {
  std::string room(r.data["room"].text());
  if (room.empty() || room.size() > kMaxRoomName) {
    sendError(r.app, r.fd, kRoomRequired);
    return {};
  }
  return room;
}

void opened(App& app, const msw::OpenInfo& o) {
  Json hello = Json::object();
  hello.set("connection_id", app.member(o.fd)).set("timestamp", now());
  sendFlat(app, o.fd, "connected", hello);
  app.keepLastRoomMessages(o.fd);
  sendToken(app, o.fd, startSession(app, o.fd, {}));
}

// The room's counter once the connection is in: every broadcast numbered up
// to it was either sent to the connection or sent before it joined.
void notePosition(App& app, const std::string& cid, const std::string& room) {
  app.store().get(key("seq", room), [&app, cid, room](msw::StoreResult<std::optional<std::string>> v) {
    std::string at = key("at", cid);
    app.store().hset(at, room, v.ok() && *v ? **v : "0");
    app.store().expire(at, kLiveTtl);
  });
}

// A seat in the room for this connection, if the room has one: the seat is
// taken first and given back when over the limit, so that concurrent joins
// on several nodes never overfill a room (one may be refused near the limit).
void takeSeat(App& app, Fd fd, const std::string& room, bool already) {
  std::string cid = app.member(fd), members = key("members", room);
  app.store().sadd(members, cid);
  app.store().smembers(members, [&app, fd, room, cid, already, members](msw::StoreResult<msw::StrList> m) {
    if (!m) return sendError(app, fd, kStoreError);
    if (!already && static_cast<int64_t>(m->size()) > setting(app, "max_connections_per_room", 100)) {
      app.store().srem(members, cid);
      app.store().srem(key("in", cid), room);
      return sendError(app, fd, kRoomFull);
    }
    app.join(fd, room);
    notePosition(app, cid, room);
    Json joined = Json::object();
    joined.set("room", room);
    JsonRef list = joined.addArray("members");
    for (const std::string& member : *m) list.push(member);
    sendFlat(app, fd, "joined", joined);
    if (already) return;
    Json event = Json::object();
    event.set("type", "member_joined").set("room", room).set("connection_id", cid).set("timestamp", now());
    Fd self[] = {fd};
    app.sendToRoom(room, app.frame(event.dump()), self);
  });
}

void join(Request& r) {
  std::string room = roomOf(r);
  if (room.empty()) return;
  App& app = r.app;
  Fd fd = r.fd;
  std::string in = key("in", app.member(fd));
  auto already = std::make_shared<bool>(false);
  app.store().sismember(in, room, [already](msw::StoreResult<bool> b) { *already = b.ok() && *b; });
  app.store().sadd(in, room);
  app.store().expire(in, kLiveTtl);
  app.store().scard(in, [&app, fd, room, in, already](msw::StoreResult<int64_t> n) {
    if (!n) return sendError(app, fd, kStoreError);
    if (!*already && *n > setting(app, "max_rooms_per_connection", 10)) {
      app.store().srem(in, room);
      return sendError(app, fd, kTooManyRooms);
    }
    takeSeat(app, fd, room, *already);
  });
}

void leave(Request& r) {
  std::string room = roomOf(r);
  if (room.empty()) return;
  App& app = r.app;
  Fd fd = r.fd;
  std::string cid = app.member(fd);
  app.store().sismember(key("in", cid), room, [&app, fd, room, cid](msw::StoreResult<bool> in) {
    if (!in) return sendError(app, fd, kStoreError);
    if (!*in) return sendError(app, fd, kNotInRoom);
    app.store().srem(key("in", cid), room);
    app.store().srem(key("members", room), cid);
    app.store().hdel(key("at", cid), room);
    app.leave(fd, room);
    Json left = Json::object();
    left.set("room", room);
    sendFlat(app, fd, "left", left);
    Json event = Json::object();
    event.set("type", "member_left").set("room", room).set("connection_id", cid).set("timestamp", now());
    app.sendToRoom(room, app.frame(event.dump()));
  });
}

// The message gets the room's next sequence number, goes into the room's
// history (before it is sent, so that a resume reading the history after
// joining misses nothing: resume.cpp), then to every other member.
void publish(App& app, Fd fd, const std::string& room, const Json& data) {
  std::string cid = app.member(fd);
  app.store().incr(key("seq", room), 1, [&app, fd, room, cid, data](msw::StoreResult<int64_t> seq) {
    if (!seq) return sendError(app, fd, kStoreError);
    Json msg = Json::object();
    msg.set("type", "broadcast").set("room", room).set("from", cid).set("data", JsonRef(data));
    msg.set("timestamp", now()).set("seq", *seq);
    std::string text = msg.dump();
    int64_t keep = setting(app, "history_size", 1000);
    if (keep > 0) {
      std::string history = key("history", room);
      app.store().rpush(history, text);
      app.store().ltrim(history, -keep, -1);
      app.store().expire(history, setting(app, "history_ttl", 600));
    }
    Fd self[] = {fd};
    app.sendToRoom(room, app.frame(text), self);
    app.store().scard(key("members", room), [&app, fd](msw::StoreResult<int64_t> n) {
      Json sent = Json::object();
      sent.set("recipients", n.ok() && *n > 0 ? *n - 1 : 0);
      sendFlat(app, fd, "broadcast_sent", sent);
    });
  });
}

void broadcast(Request& r) {
  std::string room = roomOf(r);
  if (room.empty()) return;
  App& app = r.app;
  Fd fd = r.fd;
  Json data = Json::copy(r.data["data"]);
  if (!data) data = Json(cJSON_CreateNull());
  app.store().sismember(key("in", app.member(fd)), room, [&app, fd, room, data](msw::StoreResult<bool> in) {
    if (!in) return sendError(app, fd, kStoreError);
    if (!*in) return sendError(app, fd, kNotInRoom);
    publish(app, fd, room, data);
  });
}

void ping(Request& r) {
  Json pong = Json::object();
  pong.set("timestamp", now());
  sendFlat(r.app, r.fd, "pong", pong);
}

int init(msw::Module& m) {
  App& app = m.app();
  int interval = static_cast<int>(setting(app, "heartbeat_interval", 30));
  int timeout = static_cast<int>(setting(app, "heartbeat_timeout", 60));
  m.controller("client")
      .idlePing(interval, timeout, R"({"type":"ping"})")
      .onOpen(opened)
      .onClose(dropped)
      .onTimer(onTimer)
      .action("join", join)
      .action("leave", leave)
      .action("broadcast", broadcast)
      .action("ping", ping)
      .action("pong", [](Request&) {})  // the answer to the server's ping: being a frame is all it needs to be
      .action("reconnect", reconnect);
  return 0;
}

}  // namespace
}  // namespace rooms

MSW_MODULE("rooms", rooms::init, nullptr);
