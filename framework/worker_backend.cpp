// framework/worker_backend.cpp: the Worker's side of backend hooks
// (docs/backend.md): module calls, and the connect hook that admits a
// connection. Part of class Worker (worker.h), kept apart so that worker.cpp
// stays about connections; runs on the worker's thread only.
#include "framework/connect_hook.h"
#include "framework/server.h"
#include "framework/worker.h"
#include "library/log.h"

namespace msw {
namespace {

// The routes a callback was made with, released only after the callback
// itself: its code may live in a module that a reload unloads. Members go in
// reverse order, `done` first.
struct PinnedCallback {
  std::shared_ptr<const RouteTable> routes;
  HookCallback done;
};

}  // namespace

void Worker::callHook(Fd fd, const std::string& hook, std::string body, HookCallback done) {
  auto pinned = std::make_shared<PinnedCallback>(PinnedCallback{routes_, std::move(done)});
  backend_->call(fd, hook, std::move(body), [pinned](const HookAnswer& a) {
    if (pinned->done) pinned->done(a);
  });
}

void Worker::askConnectHook(Connection* c) {
  std::string body = std::move(c->ensureExtras().hookBody);
  c->extras->hookBody.clear();
  Fd fd = c->fd;
  backend_->call(fd, "connect", std::move(body), [this, fd](const HookAnswer& a) { settleConnect(fd, a); });
}

// The answer comes back on this thread; the connection may have gone meanwhile.
void Worker::settleConnect(Fd fd, const HookAnswer& answer) {
  Connection* c = find(fd);
  if (!c || c->gone || c->closing() || !c->authPending) return;
  ConnectVerdict v = connectVerdict(answer);
  std::vector<std::string> held = c->extras ? std::move(c->extras->held) : std::vector<std::string>();
  if (c->extras) c->extras->held.clear();
  if (!v.admit) {
    LOG_INFO("conn %llu: connect hook: %s: closing %d", logFd(fd), v.reason.c_str(), kCloseAuthRefused);
    close(c, kCloseAuthRefused, v.reason, true);
    return;
  }
  c->auth = std::move(v.auth);
  c->authPending = false;
  rooms_.addUser(c);
  Auth a = c->auth.view();
  LOG_INFO("conn %llu admitted by the connect hook: id=%.*s type=%.*s code=%.*s", logFd(fd),
           static_cast<int>(a.id.size()), a.id.data(), static_cast<int>(a.type.size()), a.type.data(),
           static_cast<int>(a.code.size()), a.code.data());
  for (const std::string& text : held) {
    // A held message may have closed it (rate limit, a module's kick).
    Connection* still = find(fd);
    if (!still || still->closing() || still->gone) break;
    router_.route(still, text, false);
  }
}

// True when the message was kept for later (or closed the connection).
bool Worker::holdMessage(Connection* c, std::string_view text) {
  std::vector<std::string>& held = c->ensureExtras().held;
  if (held.size() >= kMaxHeldMessages) {
    LOG_WARN("conn %llu: over %zu messages before the connect hook answered: closing %d", logFd(c->fd),
             kMaxHeldMessages, kCloseAuthRefused);
    close(c, kCloseAuthRefused, "too many messages before auth", true);
    return true;
  }
  held.emplace_back(text);
  return true;
}

}  // namespace msw
