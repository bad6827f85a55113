#include "framework/listener.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "library/config.h"
#include "library/log.h"

namespace msw {
namespace {

constexpr int kAcceptBatch = 64;

}  // namespace

Listener::Listener(std::function<void(int fd)> onSocket) : onSocket_(std::move(onSocket)) {
  ev_io_init(&acceptWatcher_, &Listener::onAccept, -1, EV_READ);
  acceptWatcher_.data = this;
  ev_timer_init(&resumeTimer_, &Listener::onResume, 0.1, 0.);
  resumeTimer_.data = this;
}

Listener::~Listener() {
  if (fd_ >= 0) ::close(fd_);
}

addrinfo* Listener::resolve(const std::string& host, int portNumber, std::string& error) {
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string port = std::to_string(portNumber);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    error = "[outside] host " + host + ": " + gai_strerror(rc);
    return nullptr;
  }
  return res;
}

bool Listener::open(const Config& cfg, int portNumber, std::string& error) {
  addrinfo* res = resolve(cfg.host, portNumber, error);
  if (!res) return false;
  std::string port = std::to_string(portNumber);
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0 &&
            bind(fd, res->ai_addr, res->ai_addrlen) == 0 && listen(fd, 4096) == 0;
  if (!ok) {
    error = "cannot listen on " + cfg.host + ":" + port + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    freeaddrinfo(res);
    return false;
  }
  freeaddrinfo(res);
  fd_ = fd;
  return true;
}

void Listener::start(struct ev_loop* loop) {
  ev_io_set(&acceptWatcher_, fd_, EV_READ);
  ev_io_start(loop, &acceptWatcher_);
}

void Listener::close(struct ev_loop* loop) {
  ev_io_stop(loop, &acceptWatcher_);
  ev_timer_stop(loop, &resumeTimer_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Listener::onAccept(struct ev_loop* loop, ev_io* w, int) { static_cast<Listener*>(w->data)->acceptPending(loop); }

void Listener::onResume(struct ev_loop* loop, ev_timer* w, int) {
  auto* self = static_cast<Listener*>(w->data);
  if (self->fd_ >= 0) ev_io_start(loop, &self->acceptWatcher_);
}

void Listener::acceptPending(struct ev_loop* loop) {
  for (int i = 0; i < kAcceptBatch; ++i) {
    int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) pause(loop);
      else if (errno != EAGAIN) LOG_ERROR("accept: %s", std::strerror(errno));
      return;
    }
    onSocket_(fd);
  }
}

// Out of descriptors: the listener would report readable forever and spin
// the loop (docs/design.md#threads-and-event-loops). Stop watching it for 100 ms.
void Listener::pause(struct ev_loop* loop) {
  LOG_WARN("accept: %s; pausing accepts for 100 ms", std::strerror(errno));
  ev_io_stop(loop, &acceptWatcher_);
  ev_timer_stop(loop, &resumeTimer_);
  ev_timer_set(&resumeTimer_, 0.1, 0.);
  ev_timer_start(loop, &resumeTimer_);
}

}  // namespace msw
