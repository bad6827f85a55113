// framework/worker_flavor.cpp: a room send in each member's own names
// (App::sendToRoomByFlavor, docs/design.md#one-room-several-flavors). Part of
// class Worker (worker.h), kept apart so that worker.cpp stays about
// connections; runs on the worker's thread, but flavorPayload, which any
// thread may call.
#include <algorithm>
#include <exception>

#include "framework/worker.h"
#include "library/log.h"

namespace msw {

size_t Worker::sendToRoom(std::string_view room, const FlavoredPayload& p, std::span<const Fd> exclude) {
  const RoomIndex::Room* r = rooms_.find(room);
  if (!r) return 0;
  // No member of a flavored endpoint here: the plain send, and nothing is built.
  if (r->flavored == 0)
    return sendToMembers(*r, room, exclude, [&p](Connection*) -> const Payload& { return p.base(); });
  std::vector<Payload> byFlavor(endpoints_.flavors().size());
  byFlavor[0] = p.base();
  return sendToMembers(*r, room, exclude, [&](Connection* c) -> const Payload& {
    uint16_t f = rooms_.flavorOf(c);
    if (!byFlavor[f]) byFlavor[f] = flavorPayload(p, endpoints_.flavors()[f]);
    return byFlavor[f];
  });
}

Payload Worker::flavorPayload(const FlavoredPayload& p, std::string_view flavor) {
  bool built = false;
  try {
    Payload q = p.forFlavor(flavor, &built);
    if (Worker* w = current(); w && built) w->stats_.flavorPayloads.add();
    return q;
  } catch (const std::exception& e) {
    // A module's bug must not end the loop: the member gets msw's names.
    LOG_ERROR("flavor %.*s: the payload builder threw (%s); sending the base payload",
              static_cast<int>(flavor.size()), flavor.data(), e.what());
  } catch (...) {
    LOG_ERROR("flavor %.*s: the payload builder threw; sending the base payload", static_cast<int>(flavor.size()),
              flavor.data());
  }
  return p.base();
}

}  // namespace msw
