// tests/modules/clustertest: the App API calls the multi-node tests need
// (tests/integration/cluster_*_test.cpp), methods clustertest.t.ACTION.
// Every message it sends carries param {"from": member(caller), "tag": tag}
// so that a receiver can tell which request it came from.
//   whoami                    -> "whoami" {fd, member, node}
//   join / leave {room}       -> "joined" / "left" (after the App call)
//   rejoin {room}             leave then join at once -> "rejoined"
//   keep {key}                the caller into the set at key, with a close key -> "kept"
//   unkeep {key}              out of the set, close key removed -> "unkept"
//   room {room, event, tag, exclude_self: bool}  sendToRoom     -> "sent"
//   user {user, event, tag}                      sendToUser     -> "sent"
//   member {member, event, tag}                  sendToMember   -> "sent"
//   all {event, tag, exclude_self: bool}         sendToAll      -> "sent"
// With "binary": true, room/user/member/all send that message's bytes as a
// binary frame (what a raw endpoint's module sends).
#include <string>

#include "msw/module.h"
#include "../room_actions.h"  // a module sees include/ only

namespace {

using msw::Fd;
using msw::Json;
using msw::Request;

msw::Payload tagged(Request& r) {
  Json p = Json::object();
  p.set("from", r.app.member(r.fd)).set("tag", r.data["tag"].text());
  msw::Payload m = r.app.message(200, r.data["event"].str("x"), "", p);
  return r.data["binary"].boolean() ? r.app.frame(m.text(), true) : m;
}

void whoami(Request& r) {
  Json p = Json::object();
  p.set("fd", static_cast<uint64_t>(r.fd)).set("member", r.app.member(r.fd)).set("node", r.app.nodeId());
  r.success("whoami", "", p);
}

void rejoin(Request& r) {
  r.app.leave(r.fd, r.data["room"].str());
  r.app.join(r.fd, r.data["room"].str());
  r.success("rejoined", r.data["room"].str());
}

void keep(Request& r) {
  r.app.store().sadd(r.data["key"].str(), r.app.member(r.fd));
  r.app.fdAddCloseKey(r.fd, r.data["key"].str());
  r.success("kept");
}

void unkeep(Request& r) {
  r.app.store().srem(r.data["key"].str(), r.app.member(r.fd));
  r.app.fdRemoveCloseKey(r.fd, r.data["key"].str());
  r.success("unkept");
}

void room(Request& r) {
  Fd self[] = {r.fd};
  bool ex = r.data["exclude_self"].boolean();
  r.app.sendToRoom(r.data["room"].str(), tagged(r), ex ? std::span<const Fd>(self) : std::span<const Fd>());
  r.success("sent");
}

void user(Request& r) {
  r.app.sendToUser(r.data["user"].text(), tagged(r));
  r.success("sent");
}

void member(Request& r) {
  r.app.sendToMember(r.data["member"].str(), tagged(r));
  r.success("sent");
}

void all(Request& r) {
  Fd self[] = {r.fd};
  bool ex = r.data["exclude_self"].boolean();
  r.app.sendToAll(tagged(r), ex ? std::span<const Fd>(self) : std::span<const Fd>());
  r.success("sent");
}

int init(msw::Module& m) {
  m.controller("t")
      .action("whoami", whoami)
      .action("join", msw::testmodules::joinRoom)
      .action("leave", msw::testmodules::leaveRoom)
      .action("rejoin", rejoin)
      .action("keep", keep)
      .action("unkeep", unkeep)
      .action("room", room)
      .action("user", user)
      .action("member", member)
      .action("all", all);
  return 0;
}

}  // namespace

MSW_MODULE("clustertest", init, nullptr);
