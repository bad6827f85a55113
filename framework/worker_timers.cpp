// framework/worker_timers.cpp: the Worker's clocks and room-stream helpers:
// idle deadlines with an optional server ping (Controller::idlePing),
// module timers (App::after), held and skipped room messages
// (App::holdRoomMessages, skipRoomMessages) and each room's last message
// for onClose (App::keepLastRoomMessages). Part
// of class Worker (worker.h), kept apart so that worker.cpp stays about
// connections; runs on the worker's thread only. Every deadline rides the
// worker's one-second tick: no timer of its own per connection or per call
// (docs/design.md#idle-clients-and-timers).
#include <ev.h>

#include <algorithm>
#include <charconv>

#include "framework/app_impl.h"
#include "framework/frame_builder.h"
#include "framework/server.h"
#include "framework/worker.h"
#include "library/log.h"

namespace msw {

Worker::IdleRule Worker::idleRule(Connection* c) {
  IdleRule r;
  r.closeAfter = settingsOf(c).heartbeatIdleTime;
  if (!c->endpoint) return r;  // the default endpoint names no controller
  const Controller* ctl = router_.controllerOf(endpointOf(c));
  if (!ctl || ctl->idlePingOf().closeAfter <= 0) return r;
  const IdlePing& p = ctl->idlePingOf();
  r.closeAfter = p.closeAfter;
  if (p.pingAfter > 0 && p.pingAfter < p.closeAfter && !p.text.empty()) {
    r.pingAfter = p.pingAfter;
    r.ping = &p.text;
  }
  return r;
}

void Worker::scheduleIdle(Connection* c, uint64_t now) {
  IdleRule r = idleRule(c);
  if (r.closeAfter <= 0) return;
  idle_.schedule(&c->idle, now + static_cast<uint64_t>(r.pingAfter > 0 ? r.pingAfter : r.closeAfter));
}

// Due: close when silent for closeAfter; else ping once the client has been
// silent for pingAfter (the wheel comes back at the close deadline, which a
// frame from the client meanwhile pushes back); else not due yet.
void Worker::idleExpired(Connection* c) {
  IdleRule r = idleRule(c);
  if (c->closing() || c->gone || r.closeAfter <= 0) return;
  uint64_t now = idle_.now();
  uint64_t closeAt = static_cast<uint64_t>(c->activeAt) + static_cast<uint64_t>(r.closeAfter);
  if (closeAt <= now) {
    LOG_INFO("conn %llu: no whole frame for %d s: closing 4008", logFd(c->fd), r.closeAfter);
    close(c, kCloseIdle, {});
    return;
  }
  if (r.pingAfter > 0) {
    uint64_t pingAt = static_cast<uint64_t>(c->activeAt) + static_cast<uint64_t>(r.pingAfter);
    if (pingAt > now) return idle_.schedule(&c->idle, pingAt);
    send(c, buildFrame(*r.ping, false));
  }
  idle_.schedule(&c->idle, closeAt);
}

// ---- module timers

void Worker::addTimer(int seconds, std::string controller, std::string arg) {
  uint64_t due = static_cast<uint64_t>(now()) + static_cast<uint64_t>(seconds < 1 ? 1 : seconds);
  timers_.emplace(due, ModuleTimer{Controller::lower(controller), std::move(arg)});
}

void Worker::runTimers(uint64_t nowSeconds) {
  while (!timers_.empty() && timers_.begin()->first <= nowSeconds) {
    ModuleTimer t = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    std::shared_ptr<const RouteTable> pin = routes_;  // the code in force now, kept until the hook returns
    const Controller* ctl = pin ? pin->findQualified(t.controller) : nullptr;
    if (!ctl || !ctl->timerHook()) {
      LOG_WARN("timer for %s: no such controller with onTimer loaded: dropped", t.controller.c_str());
      continue;
    }
    try {
      ctl->timerHook()(server_.app(), t.arg);
    } catch (const std::exception& e) {
      LOG_ERROR("%s onTimer threw: %s", t.controller.c_str(), e.what());
    } catch (...) {
      LOG_ERROR("%s onTimer threw", t.controller.c_str());
    }
  }
}

// ---- room streams: held, skipped, and the last message of each room

void Worker::deliverRoom(Connection* c, std::string_view room, const Payload& p) {
  Connection::Extras& x = *c->extras;
  if (!x.skips.empty() && skipped(c, room, p)) return;
  if (x.holdingRoom) return keepHeld(c, room, p);
  size_t before = c->queue.size();
  send(c, p);
  if (x.keepLast && c->queue.size() > before) x.unwrittenRoom.emplace_back(p.block(), room);
}

// What writeQueued handed to the socket: the room messages among the first
// `count` queued become their rooms' last, so that a connection that goes
// counts only what reached its socket, not what was still waiting.
void Worker::noteWritten(Connection* c, size_t count) {
  auto& pending = c->extras->unwrittenRoom;
  for (size_t i = 0; i < count && !pending.empty(); ++i) {
    const Payload& p = c->queue.at(i);
    if (pending.front().first != p.block()) continue;
    noteLast(c, pending.front().second, p);
    pending.pop_front();
  }
}

void Worker::holdRoomMessages(Connection* c) {
  if (!c->gone) c->ensureExtras().holdingRoom = true;
}

void Worker::keepHeld(Connection* c, std::string_view room, const Payload& p) {
  Connection::Extras& x = *c->extras;
  if (c->closing() || c->gone) return;
  x.heldBytes += p.frameSize();
  if (static_cast<int64_t>(x.heldBytes) > settingsOf(c).sendQueueLimit) {
    LOG_WARN("conn %llu: %zu bytes of room messages held: closing 4009", logFd(c->fd), x.heldBytes);
    close(c, kCloseSlowConsumer, {}, true);
    return;
  }
  x.heldRoom.emplace_back(std::string(room), p);
}

void Worker::releaseRoomMessages(Connection* c) {
  if (!c->extras || !c->extras->holdingRoom) return;
  std::vector<std::pair<std::string, Payload>> held = std::move(c->extras->heldRoom);
  c->extras->heldRoom.clear();
  c->extras->heldBytes = 0;
  c->extras->holdingRoom = false;
  for (const auto& [room, p] : held)
    if (!c->gone && !c->closing()) deliverRoom(c, room, p);
}

void Worker::skipRoomMessages(Connection* c, std::string room, std::string_view field, int64_t upTo, int seconds) {
  if (c->gone) return;
  std::vector<RoomSkip>& skips = c->ensureExtras().skips;
  std::string quoted;
  quoted.reserve(field.size() + 3);
  quoted.append(1, '"').append(field).append("\":");
  double until = now() + (seconds < 1 ? 1 : seconds);
  for (RoomSkip& s : skips) {
    if (s.room == room && s.field == quoted) {
      s.upTo = std::max(s.upTo, upTo);
      s.until = until;
      return;
    }
  }
  skips.push_back(RoomSkip{std::move(room), std::move(quoted), upTo, until});
}

// The last "FIELD": of the text is read: a module that appends its
// sequence number last is not fooled by the same name deeper in its data.
bool Worker::skipped(Connection* c, std::string_view room, const Payload& p) {
  std::vector<RoomSkip>& skips = c->extras->skips;
  double t = now();
  std::erase_if(skips, [t](const RoomSkip& s) { return s.until < t; });
  for (const RoomSkip& s : skips) {
    if (s.room != room) continue;
    std::string_view text = p.text();
    size_t at = text.rfind(s.field);
    if (at == std::string_view::npos) return false;
    const char* first = text.data() + at + s.field.size();
    int64_t v = 0;
    auto [end, ec] = std::from_chars(first, text.data() + text.size(), v);
    return ec == std::errc() && end != first && v <= s.upTo;
  }
  return false;
}

void Worker::noteLast(Connection* c, std::string_view room, const Payload& p) {
  for (auto& [name, last] : c->extras->lastRoom) {
    if (name == room) {
      last = p;
      return;
    }
  }
  c->extras->lastRoom.emplace_back(std::string(room), p);
}

}  // namespace msw
