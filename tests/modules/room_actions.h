// tests/modules/room_actions.h: the join and leave actions that the testmod
// and clustertest modules share: the caller into or out of the room named by
// data "room", then the reply "joined" / "left" (after the App call). Run on
// the worker thread of the request, like any action.
#pragma once

#include "msw/module.h"

namespace msw::testmodules {

inline void joinRoom(Request& r) {
  r.app.join(r.fd, r.data["room"].str());
  r.success("joined", r.data["room"].str());
}

inline void leaveRoom(Request& r) {
  r.app.leave(r.fd, r.data["room"].str());
  r.success("left", r.data["room"].str());
}

}  // namespace msw::testmodules
