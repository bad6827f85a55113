// app/chat/chat_sessions.cpp: sessions and messages of the chat module, by
// hook or in the store (chat_sessions.h, docs/chat.md#sessions-and-messages).
//
// Store keys (under [cache] prefix):
//   chat:sessions      hash session id -> the user id that owns it
//   chat:seq           the message id counter
//   chat:messages:ID   list of session ID's messages (JSON), the last [chat] history
#include "chat_sessions.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <optional>

namespace chat {
namespace {

using msw::App;
using msw::Fd;
using msw::HookAnswer;
using msw::Json;
using msw::JsonRef;
using msw::LogLevel;

constexpr size_t kMaxId = 64;
constexpr int kPage = 500;  // messages per GET /chat/messages answer

std::string messagesKey(std::string_view session) { return "chat:messages:" + std::string(session); }

bool idChar(char c) {
  bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  return alnum || std::string_view("_.:@-").find(c) != std::string_view::npos;
}

bool hasBackend(App& app) { return !app.setting("backend", "url").empty(); }

// [chat] agents: a comma-separated list, re-read at each use (reloadable).
bool isAgent(App& app, std::string_view user) {
  std::string list = app.setting("chat", "agents");
  for (size_t start = 0; start <= list.size();) {
    size_t comma = std::min(list.find(',', start), list.size());
    std::string_view item = std::string_view(list).substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty() && item == user) return true;
    start = comma + 1;
  }
  return false;
}

// "YYYY-MM-DD HH:MM:SS" in the server's time zone, as PHP's date() wrote it.
std::string now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S", &tm);
  return out;
}

// The stored message in the original's field order: id first, created_at last.
Json stamped(const Json& message, const Json& id, const std::string& createdAt) {
  Json out = Json::object();
  out.set("id", id);
  for (const char* k : {"session_id", "sender_id", "content"}) out.set(k, message[k]);
  out.set("created_at", createdAt);
  return out;
}

void logFailure(App& app, Fd fd, std::string_view what, std::string_view why) {
  app.log(LogLevel::kWarn, "conn " + std::to_string(fd) + ": chat: " + std::string(what) + ": " + std::string(why));
}

// A hook's refusal (401, 403, 404) is the application's answer; anything
// else that is not a 2xx is a failure of the backend.
bool refused(const HookAnswer& a) {
  return a.result == msw::HookResult::kStatus && (a.httpStatus == 401 || a.httpStatus == 403 || a.httpStatus == 404);
}

void joinByHook(App& app, Fd fd, const std::string& user, const std::string& session, Verdict done) {
  Json body = Json::object();
  body.set("user_id", idJson(user)).set("session_id", idJson(session));
  app.callHook(fd, "chat.join", body.dump(), [&app, done](const HookAnswer& a) {
    if (a.ok()) return done(nullptr);
    if (refused(a)) return done(kForbidden);
    logFailure(app, a.fd, "hook chat.join", a.error.empty() ? "HTTP " + std::to_string(a.httpStatus) : a.error);
    done(kUnavailable);
  });
}

void joinByStore(App& app, Fd fd, const std::string& user, const std::string& session, Verdict done) {
  app.store().hget("chat:sessions", session, [&app, fd, user, done](msw::StoreResult<std::optional<std::string>> o) {
    if (!o.ok()) {
      logFailure(app, fd, "join", o.error);
      return done(kUnavailable);
    }
    done(o.value && *o.value == user ? nullptr : kForbidden);
  });
}

// The answer's id and created_at go into the message; an answer without an
// id is a failure (the application did not say it stored it).
void messageByHook(App& app, Fd fd, Json message, Stored done) {
  app.callHook(fd, "chat.message", message.dump(), [&app, message, done](const HookAnswer& a) {
    std::string id = a.ok() ? idText(a.json["id"]) : std::string();
    if (!id.empty()) {
      std::string_view at = a.json["created_at"].str();
      return done(nullptr, stamped(message, idJson(id), at.empty() ? now() : std::string(at)));
    }
    if (refused(a)) return done(kForbidden, message);
    std::string why = a.ok() ? "the answer has no id" : std::string(a.error);
    logFailure(app, a.fd, "hook chat.message", why.empty() ? "HTTP " + std::to_string(a.httpStatus) : why);
    done(kUnavailable, message);
  });
}

// One write after the id is known: a message is stored whole or not at all.
void messageByStore(App& app, Fd fd, Json message, Stored done) {
  app.store().incr("chat:seq", 1, [&app, fd, message, done](msw::StoreResult<int64_t> id) {
    if (!id.ok()) {
      logFailure(app, fd, "send_message", id.error);
      return done(kUnavailable, message);
    }
    Json stored = stamped(message, Json::number(static_cast<double>(id.value)), now());
    std::string key = messagesKey(idText(message["session_id"]));
    app.store().rpush(key, stored.dump());
    app.store().ltrim(key, -app.settingInt("chat", "history", 100), -1);
    done(nullptr, stored);
  });
}

// ---- manager routes

std::string errorBody(std::string_view text) {
  Json e = Json::object();
  e.set("error", text);
  return e.dump();
}

// POST /chat/sessions {"session_id","user_id"}: answered once the store has
// it (the read after the write), so a join right after the answer finds it.
void registerSession(const msw::ManagerRequest& req, msw::ManagerReply reply) {
  std::string session = idText(req.body["session_id"]), user = idText(req.body["user_id"]);
  if (session.empty() || user.empty())
    return reply(400, errorBody("give a JSON body {\"session_id\": ID, \"user_id\": ID}"));
  msw::Store& store = req.app.store();
  store.hset("chat:sessions", session, user);
  store.hget("chat:sessions", session, [reply, session, user](msw::StoreResult<std::optional<std::string>> o) {
    if (!o.ok()) return reply(503, errorBody(o.error));
    Json answer = Json::object();
    answer.set("session_id", idJson(session)).set("user_id", idJson(user));
    reply(200, answer.dump());
  });
}

// GET /chat/messages?session=ID&after=ID: the kept messages with an id
// above `after`, oldest first, at most kPage of them ("more": ask again
// after the last one), so that a long history makes no huge answer.
void listMessages(const msw::ManagerRequest& req, msw::ManagerReply reply) {
  std::string session = idText(Json::string(req.arg("session")));
  if (session.empty()) return reply(400, errorBody("give ?session=ID (and &after=ID for the newer ones)"));
  long long after = std::atoll(std::string(req.arg("after")).c_str());
  req.app.store().lrange(messagesKey(session), 0, -1, [reply, session, after](msw::StoreResult<msw::StrList> l) {
    if (!l.ok()) return reply(503, errorBody(l.error));
    Json answer = Json::object();
    answer.set("session_id", idJson(session));
    JsonRef list = answer.addArray("messages");
    bool more = false;
    for (const std::string& text : l.value) {
      Json m = Json::parse(text);
      if (!m || m["id"].i64() <= after) continue;
      if (list.size() == kPage) more = true;
      if (more) break;
      list.push(m);
    }
    answer.set("more", more);
    reply(200, answer.dump());
  });
}

}  // namespace

std::string idText(JsonRef v) {
  if (v.isNumber() && (v.num() < 0 || v.num() != static_cast<double>(v.i64()))) return {};
  std::string text = v.isNumber() || v.isString() ? v.text() : std::string();
  if (text.size() > kMaxId || !std::all_of(text.begin(), text.end(), idChar)) return {};
  return text;
}

Json idJson(const std::string& text) {
  bool digits = !text.empty() && text.size() <= 15 && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  bool plain = digits && (text == "0" || text[0] != '0');  // "007" stays text
  return plain ? Json::number(static_cast<double>(std::atoll(text.c_str()))) : Json::string(text);
}

void authorizeJoin(App& app, Fd fd, const std::string& user, const std::string& session, Verdict done) {
  if (isAgent(app, user)) return done(nullptr);
  if (hasBackend(app)) return joinByHook(app, fd, user, session, std::move(done));
  joinByStore(app, fd, user, session, std::move(done));
}

void storeMessage(App& app, Fd fd, Json message, Stored done) {
  if (hasBackend(app)) return messageByHook(app, fd, std::move(message), std::move(done));
  messageByStore(app, fd, std::move(message), std::move(done));
}

void addManagerRoutes(msw::Module& m) {
  m.managerRoute("POST", "/chat/sessions", registerSession);
  m.managerRoute("GET", "/chat/messages", listMessages);
}

}  // namespace chat
