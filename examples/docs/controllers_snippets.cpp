// examples/docs/controllers_snippets.cpp: the short code blocks of
// docs/controllers.md (and docs/backend.md#module-hooks, docs/manager-api.md#module-routes), each between "// [doc:NAME]" and "// [/doc]", compiled
// by the build; tests/unit/docs_examples_test.cpp checks that each block of
// the page is its region here, word for word. Never loaded: only compiled.
#include <ctime>
#include <span>
#include <string>
#include <vector>

#include "msw/module.h"

namespace {

std::vector<std::string> reading(msw::Request& r) {
  std::vector<std::string> tags;
  // [doc:reading]
  std::string_view text = r.data["content"].str();        // "" when absent or not a string
  int64_t page = r.data["page"].i64(1);                    // 1 when absent
  std::string id = r.data["id"].text();                    // a string, or a number written as text
  for (msw::JsonRef tag : r.data["tags"]) tags.push_back(tag.text());   // arrays and objects iterate
  // [/doc]
  tags.push_back(std::string(text) + std::to_string(page) + id);
  return tags;
}

void building(msw::Request& r) {
  // [doc:building]
  msw::Json p = msw::Json::object();
  p.set("count", 3).set("room", r.code);
  p.set("bytes", r.data["content"].str().size());    // size_t: every integer type is a number
  p.set("big", 1LL << 40).set("at", int64_t(time(nullptr))).set("ratio", 0.5).set("admin", false);
  msw::JsonRef list = p.addArray("names");
  list.push("Ann").push(42).push(true);
  r.success("stats", "", p);
  // [/doc]
}

void sending(msw::Request& r, msw::Fd fd, std::span<const msw::Fd> fds, msw::JsonRef param) {
  // [doc:sending]
  msw::Payload p = r.app.message(200, "chat", "", param);  // {"status","event","info","param"}
  r.app.sendToFd(fd, p);
  r.app.sendToFds(fds, p);                 // std::span<const msw::Fd>
  r.app.sendToUser("42", p);               // every connection whose auth.id is "42"
  r.app.sendToRoom("room1", p);            // every member of room1
  msw::Fd self[] = {r.fd};
  r.app.sendToRoom("room1", p, self);      // ... except the sender
  r.app.sendToAll(p);
  r.app.sendSuccessMessage(fd, "event", "info", param);     // MSwoole's helpers
  r.app.sendErrorMessage(fd, 403, "forbidden", "not yours");
  // [/doc]
}

void rooms(msw::Request& r) {
  // [doc:rooms]
  r.app.join(r.fd, r.code);
  r.app.leave(r.fd, r.code);
  // [/doc]
}

void flavors(msw::Request& r, const msw::Json& line) {
  // [doc:flavors]
  msw::App& app = r.app;
  msw::FlavoredPayload p(app.message(200, "said", "", line),  // msw's own names: built now
                         [&app, line](std::string_view flavor) {   // the others: on a worker thread, later
                           if (flavor != "mswoole") return msw::Payload();  // "as msw's"
                           msw::Json theirs = msw::Json::object();
                           theirs.set("say", line["text"].str());
                           return app.message(200, "userSayBroadcast", "", theirs);
                         });
  app.sendToRoomByFlavor(r.code, p);                             // members of room CODE
  app.sendToRoomByFlavor(std::string(r.code) + ":wall", p);      // same p: still built once
  // [/doc]
}

void closeHooks(msw::Request& r, const std::string& key) {
  // [doc:close-hooks]
  // On close, remove this connection's member name from the store set at `key`.
  r.app.store().sadd(key, r.app.member(r.fd));
  r.app.fdAddCloseKey(r.fd, key);

  // On close, call the onClose of controller "guestbook.room" once.
  r.app.fdAddController(r.fd, "guestbook.room");

  // Changed your mind:
  r.app.fdRemoveCloseKey(r.fd, key);
  r.app.fdRemoveController(r.fd, "guestbook.room");
  // [/doc]
}

void onClose(msw::Module& m) {
  // [doc:on-close]
  m.controller("room").onClose([](msw::App& app, const msw::CloseInfo& c) {
    // c.fd, c.auth, c.code (auth.code), c.closeCode (1000, 1001, 1006, 4008, 4009, 4010, ...)
    app.log(msw::LogLevel::kInfo, "closed with " + std::to_string(c.closeCode));
  });
  // [/doc]
}

void store(msw::Request& r, const std::string& line) {
  // [doc:store]
  auto& s = r.app.store();
  s.set("greeting", "hi", 60);                  // 60 s ttl; 0 = none
  s.hset("user:42", "name", "Ann");
  s.sadd("room1:members", r.app.member(r.fd));
  s.rpush("room1:log", line);
  s.ltrim("room1:log", -100, -1);                // keep the last 100
  s.lrange("room1:log", -20, -1, [later = r.later()](msw::StoreResult<msw::StrList> lines) {
    if (!later.ok(lines)) return;                // Redis down, wrong type...: 503 storeError sent
    msw::Json p = msw::Json::object();
    msw::JsonRef list = p.addArray("lines");
    for (const std::string& l : *lines) list.push(l);
    later.success("log", "", p);
  });
  // [/doc]
}

void answerLater(msw::Request& r) {
  // [doc:later]
  std::string code(r.code);                     // copy what the callback needs; never the Request
  r.app.store().incr("room1:seq", 1, [later = r.later(), code](msw::StoreResult<int64_t> id) {
    if (!later.ok(id)) return;                  // the requester has had 503 storeError
    msw::Json p = msw::Json::object();
    p.set("id", id.value).set("room", code);
    later.success("numbered", "", p);           // with the request's rid, like r.success
    later.app().sendToRoom(code, later.app().message(200, "numberTaken", "", p));
  });
  // [/doc]
}

void hook(msw::Request& r, const msw::Json& body) {
  // [doc:hook]
  r.hook("join", body.dump(), [later = r.later()](const msw::HookAnswer& a) {   // POST URL/MODULE.join
    if (a.ok()) later.app().join(later.fd(), std::string(a.json["room"].str()));
  });
  // [/doc]
}

// docs/backend.md#module-hooks
void hookReply(msw::Request& r) {
  // [doc:hook-reply]
  msw::Json body = msw::Json::object();
  body.set("session_id", r.data["session_id"]).set("content", r.data["content"]);
  r.hook("message", body.dump(), [later = r.later()](const msw::HookAnswer& a) {   // POST URL/chat.message
    if (!a.ok()) {
      later.error(502, "backendError", a.error);
      return;
    }
    later.success("stored", "", a.json);
  });
  // [/doc]
}

// docs/manager-api.md#module-routes
void managerRoutes(msw::Module& m) {
  // [doc:manager-routes]
  // GET /shop/online?room=CODE on the manager port, behind its token.
  m.managerRoute("GET", "/shop/online", [](const msw::ManagerRequest& req, msw::ManagerReply reply) {
    if (req.arg("room").empty()) return reply(400, "{\"error\":\"give ?room=\"}");
    req.app.store().scard("shop:" + std::string(req.arg("room")), [reply](msw::StoreResult<int64_t> n) {
      if (!n.ok()) return reply(503, "{\"error\":\"store\"}");
      reply(200, "{\"count\":" + std::to_string(n.value) + "}");   // from the store callback: fine
    });
  });
  // [/doc]
}

void logging(msw::Request& r) {
  // [doc:logging]
  r.app.log(msw::LogLevel::kInfo, "room " + std::string(r.code) + " cleared by " + std::string(r.auth.id));
  // [/doc]
}

std::string settings(msw::Request& r) {
  // [doc:settings]
  std::string limit = r.app.setting("outside", "send_queue_limit");  // "1048576"
  int64_t pending = r.app.settingInt("live", "max_pending", 200);     // 200 unless configured
  // [/doc]
  return limit + std::to_string(pending);
}

int init(msw::Module& m) {
  onClose(m);
  managerRoutes(m);
  m.controller("snippets")
      .action("reading", [](msw::Request& r) { reading(r); })
      .action("building", building)
      .action("sending", [](msw::Request& r) { sending(r, r.fd, {}, msw::JsonRef()); })
      .action("rooms", rooms)
      .action("flavors", [](msw::Request& r) { flavors(r, msw::Json::object()); })
      .action("closeHooks", [](msw::Request& r) { closeHooks(r, "k"); })
      .action("store", [](msw::Request& r) { store(r, "line"); })
      .action("later", answerLater)
      .action("hook", [](msw::Request& r) { hook(r, msw::Json::object()); })
      .action("hookReply", hookReply)
      .action("logging", logging)
      .action("settings", [](msw::Request& r) { settings(r); });
  return 0;
}

}  // namespace

MSW_MODULE("controllers_snippets", init, nullptr);
