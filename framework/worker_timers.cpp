// framework/worker_timers.cpp: the Worker's clocks beyond I/O: idle
// deadlines with an optional server ping (Controller::idlePing), module
// timers (App::after) and held room messages (App::holdRoomMessages). Part
// of class Worker (worker.h), kept apart so that worker.cpp stays about
// connections; runs on the worker's thread only. Every deadline rides the
// worker's one-second tick: no timer of its own per connection or per call
// (docs/design.md#idle-clients-and-timers).
#include <ev.h>

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

// ---- held room messages

void Worker::holdRoomMessages(Connection* c) {
  if (!c->gone) c->ensureExtras().holdingRoom = true;
}

void Worker::keepHeld(Connection* c, const Payload& p) {
  Connection::Extras& x = *c->extras;
  if (c->closing() || c->gone) return;
  x.heldBytes += p.frameSize();
  if (static_cast<int64_t>(x.heldBytes) > settingsOf(c).sendQueueLimit) {
    LOG_WARN("conn %llu: %zu bytes of room messages held: closing 4009", logFd(c->fd), x.heldBytes);
    close(c, kCloseSlowConsumer, {}, true);
    return;
  }
  x.heldRoom.push_back(p);
}

void Worker::releaseRoomMessages(Connection* c, const std::function<bool(std::string_view)>& keep) {
  if (!c->extras || !c->extras->holdingRoom) return;
  std::vector<Payload> held = std::move(c->extras->heldRoom);
  c->extras->heldRoom.clear();
  c->extras->heldBytes = 0;
  c->extras->holdingRoom = false;
  for (const Payload& p : held) {
    if (c->gone || c->closing()) return;
    bool wanted = true;
    try {
      wanted = !keep || keep(p.text());
    } catch (...) {
      LOG_ERROR("conn %llu: releaseRoomMessages' filter threw: message sent", logFd(c->fd));
    }
    if (wanted) send(c, p);
  }
}

}  // namespace msw
