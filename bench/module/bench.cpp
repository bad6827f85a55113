// bench/module: the "bench" module that bench/run loads next to index
// (modules = index, bench). It exists for msw-loadgen's fanout mode and is
// not shipped with the app (it lands in BUILD/plugins only).
//
//   bench.room.join  the caller joins the room "bench"; reply "joined"
//   bench.room.say   the room gets {"status":200,"event":"say","info":"",
//                    "param":DATA}, DATA being the message's fields but
//                    method (so the generator's "t" and "pub" come back);
//                    the sender, not a member, gets nothing
//   bench.room.leave the caller leaves the room; reply "left"
//
// As the floor server does (bench/floor_server.c): one room, the broadcast
// serialised once and the same frame queued on every member (sendToRoom).
#include "msw/module.h"

namespace {

constexpr const char* kRoom = "bench";

void join(msw::Request& r) {
  r.app.join(r.fd, kRoom);
  r.success("joined");
}

void leave(msw::Request& r) {
  r.app.leave(r.fd, kRoom);
  r.success("left");
}

void say(msw::Request& r) { r.app.sendToRoom(kRoom, r.app.message(200, "say", "", r.data)); }

int init(msw::Module& m) {
  m.controller("room").action("join", join).action("leave", leave).action("say", say);
  return 0;
}

}  // namespace

MSW_MODULE("bench", init, nullptr);
