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

void Worker::startBackend() {
  const Config& cfg = server_.config();
  backend_ = std::make_unique<BackendClient>(
      loop_->loop(),
      BackendSettings{cfg.backendUrl, cfg.backendTimeout, cfg.backendSecret, cfg.backendMaxInFlight,
                      cfg.backendMaxAnswer},
      hookStats_);
}

// auth = backend (docs/endpoints.md): no token was read; messages wait for the hook's answer.
void Worker::holdForConnectHook(Connection* c, lws* wsi, std::string_view address) {
  c->authPending = true;
  c->ensureExtras().hookBody = connectHookBody(wsi, endpointOf(c).name, address);
}

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
  std::vector<HeldMessage> held = c->extras ? std::move(c->extras->held) : std::vector<HeldMessage>();
  if (c->extras) c->extras->held.clear();
  if (!v.admit) {
    LOG_INFO("conn %llu: connect hook: %s: closing %d", logFd(fd), v.reason.c_str(), kCloseAuthRefused);
    close(c, kCloseAuthRefused, v.reason, true);
    return;
  }
  c->auth = std::move(v.auth);
  c->authPending = false;
  rooms_.addUser(c);
  if (c->endpoint) router_.openHook(c);  // onOpen sees the admitted auth, before any held message
  Auth a = c->auth.view();
  LOG_INFO("conn %llu admitted by the connect hook: id=%.*s type=%.*s code=%.*s", logFd(fd),
           static_cast<int>(a.id.size()), a.id.data(), static_cast<int>(a.type.size()), a.type.data(),
           static_cast<int>(a.code.size()), a.code.data());
  for (const HeldMessage& m : held) {
    // onOpen or a held message may have closed it (rate limit, a module's kick).
    Connection* still = find(fd);
    if (!still || still->closing() || still->gone) break;
    router_.route(still, m.data, m.binary);
  }
}

// True when the message was kept for later (or closed the connection).
// Binary frames are held as text ones are (a raw endpoint's client may send only binary).
bool Worker::holdMessage(Connection* c, std::string_view text, bool binary) {
  std::vector<HeldMessage>& held = c->ensureExtras().held;
  if (held.size() >= kMaxHeldMessages) {
    LOG_WARN("conn %llu: over %zu messages before the connect hook answered: closing %d", logFd(c->fd),
             kMaxHeldMessages, kCloseAuthRefused);
    close(c, kCloseAuthRefused, "too many messages before auth", true);
    return true;
  }
  held.push_back(HeldMessage{std::string(text), binary});
  return true;
}

}  // namespace msw
