// tests/modules/testmod: a module plugin for the integration tests.
//
// Controller "test" (methods testmod.test.ACTION):
//   boom      throws std::runtime_error             -> 500 controllerError
//   boomint   throws an int (not a std::exception)  -> 500 controllerError
//   deny      replies 403 "denied"
//   whoami    replies "whoami" with fd, auth fields, code, method and the data
//   flood     n messages (data "n") of about "size" bytes each to the caller,
//             event "flood", info = the sequence number 0..n-1
//   join / leave   the room named by data "room"; reply "joined" / "left"
//   roomsay   sends "roomMessage" (info = data "text") to data "room"
//   sendto    sends "direct" (info = data "text") to the fd in data "to"
//   hooks     fdAddController(fd, "testmod.hooks"); remembers data "notify" (an
//             fd): when this connection closes, that fd gets "closedHook" with
//             param {"fd", "code"}
//   bye       replies "bye", then closes the caller with data "code" [4010]
// Controller "any": onMessage only -> every action answers "anyMessage" with
// info = the normalised method.
// Manager route GET /apptest/echo: the apptest module's too; loaded after
// apptest, this one must be refused (docs/manager-api.md#module-routes).
// Controller "chat" (for `route = type` endpoints, docs/endpoints.md):
//   onOpen    greets with "connected" (param {"endpoint","flavor","fd"}) before anything else
//   say       replies "said" with the data it got (flat: {"type":"said", ...data})
//   saylater  the same, after a store round trip (Request::later())
//   where     replies "where" with param {"endpoint","flavor","method"}
//   boom      throws -> 500 in the endpoint's envelope
// Controller "frames": onFrame answers every frame with "len:N bin:B" as text,
// then the frame itself reversed, in its own kind (text or binary).
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "msw/module.h"
#include "../room_actions.h"  // a module sees include/ only

namespace {

using msw::App;
using msw::Json;
using msw::Request;

std::string notifyKey(msw::Fd fd) { return "testmod:notify:" + std::to_string(fd); }

void boom(Request&) { throw std::runtime_error("boom on purpose"); }

void boomInt(Request&) { throw 42; }

void deny(Request& r) { r.error(403, "denied", "not for you"); }

void whoami(Request& r) {
  Json p = Json::object();
  p.set("fd", static_cast<uint64_t>(r.fd));
  p.set("id", r.auth.id);
  p.set("type", r.auth.type);
  p.set("code", r.code);
  p.set("nickname", r.auth.nickname);
  p.set("auth", r.auth.json);
  p.set("method", r.method);
  p.set("data", r.data);
  r.success("whoami", "", p);
}

void flood(Request& r) {
  int64_t n = r.data["n"].i64(10);
  int64_t size = r.data["size"].i64(100);
  if (n < 0 || n > 100000 || size < 0 || size > (1 << 20)) {
    r.error(400, "badFlood", "n in 0..100000, size in 0..1 MiB");
    return;
  }
  Json param = Json::object();
  param.set("fill", std::string(static_cast<size_t>(size), 'x'));
  for (int64_t i = 0; i < n; ++i) r.app.sendToFd(r.fd, r.app.message(200, "flood", std::to_string(i), param));
}

void roomsay(Request& r) {
  r.app.sendToRoom(r.data["room"].str(), r.app.message(200, "roomMessage", r.data["text"].str()));
}

void sendto(Request& r) {
  r.app.sendToFd(static_cast<msw::Fd>(r.data["to"].i64()), r.app.message(200, "direct", r.data["text"].str()));
}

void hooks(Request& r) {
  r.app.fdAddController(r.fd, "testmod.hooks");
  std::string notify = r.data["notify"].text();
  if (!notify.empty()) r.app.store().set(notifyKey(r.fd), notify);
  r.success("hooked");
}

void hookClosed(App& app, const msw::CloseInfo& info) {
  msw::Fd fd = info.fd;
  int code = info.closeCode;
  app.store().get(notifyKey(fd), [&app, fd, code](msw::StoreResult<std::optional<std::string>> res) {
    if (!res.ok() || !res.value) return;
    Json p = Json::object();
    p.set("fd", static_cast<uint64_t>(fd));
    p.set("code", code);
    app.sendToFd(static_cast<msw::Fd>(std::stoull(*res.value)), app.message(200, "closedHook", "", p));
  });
  app.store().del(notifyKey(fd));
}

void bye(Request& r) {
  r.success("bye");
  r.app.close(r.fd, static_cast<int>(r.data["code"].i64(msw::kCloseKicked)), "bye");
}

void anyMessage(Request& r) { r.success("anyMessage", r.method); }

Json whereParam(const msw::EndpointInfo& e) {
  Json p = Json::object();
  p.set("endpoint", e.name);
  p.set("flavor", e.flavor);
  return p;
}

void chatOpen(App& app, const msw::OpenInfo& o) {
  Json p = whereParam(o.endpoint);
  p.set("fd", static_cast<uint64_t>(o.fd));
  app.sendToFd(o.fd, o.endpoint.flat ? app.flatMessage(200, "connected", "", p) : app.message(200, "connected", "", p));
}

void chatSay(Request& r) { r.success("said", "", r.data); }

// The same answer given later (after a store round trip): in the endpoint's envelope too.
void chatSayLater(Request& r) {
  r.app.store().get("testmod:none", [later = r.later(), data = Json::copy(r.data)](
                                        msw::StoreResult<std::optional<std::string>>) { later.success("said", "", data); });
}

void chatWhere(Request& r) {
  Json p = whereParam(r.endpoint);
  p.set("method", r.method);
  r.success("where", "", p);
}

void frames(msw::Frame& f) {
  f.send("len:" + std::to_string(f.data.size()) + " bin:" + (f.binary ? "1" : "0"), false);
  f.send(std::string(f.data.rbegin(), f.data.rend()), f.binary);
}

int init(msw::Module& m) {
  m.managerRoute("GET", "/apptest/echo", [](const msw::ManagerRequest&, msw::ManagerReply reply) {
    reply(200, "{\"from\":\"testmod\"}");
  });
  m.controller("chat").onOpen(chatOpen).action("say", chatSay).action("saylater", chatSayLater).action("where", chatWhere).action("boom", boom);
  m.controller("frames").onFrame(frames);
  m.controller("test")
      .action("boom", boom)
      .action("boomint", boomInt)
      .action("deny", deny)
      .action("whoami", whoami)
      .action("flood", flood)
      .action("join", msw::testmodules::joinRoom)
      .action("leave", msw::testmodules::leaveRoom)
      .action("roomsay", roomsay)
      .action("sendto", sendto)
      .action("hooks", hooks)
      .action("bye", bye);
  // Logged so that a test can see it run (at stop, or when a reload drops the module).
  m.controller("hooks").onClose(hookClosed).onShutdown([](msw::App& app) {
    app.log(msw::LogLevel::kInfo, "testmod: onShutdown");
  });
  m.controller("any").onMessage(anyMessage);
  return 0;
}

}  // namespace

MSW_MODULE("testmod", init, nullptr);
