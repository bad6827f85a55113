// framework/listener.h: a worker's listening socket and its accept loop.
//
// Every worker listens on the outside port itself (SO_REUSEPORT: the kernel
// spreads connections over the workers) and accepts in batches; out of
// descriptors, it stops watching the socket for 100 ms instead of spinning.
// Lifetime: a member of its Worker, opened in the worker's setUp and closed
// when it stops; used on that worker's thread only.
#pragma once

#include <ev.h>

#include <functional>
#include <string>

struct addrinfo;

namespace msw {

struct Config;

class Listener {
 public:
  // onSocket gets each accepted socket (non-blocking, close-on-exec) to keep or close.
  explicit Listener(std::function<void(int fd)> onSocket);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // host:port for binding (freeaddrinfo it), or nullptr and `error` set.
  static addrinfo* resolve(const std::string& host, int port, std::string& error);
  // Binds [outside] host and `port` (an endpoint's may differ from
  // [outside] port); false and `error` set if it could not.
  bool open(const Config& cfg, int port, std::string& error);
  void start(struct ev_loop* loop);
  // Stops accepting for good and closes the socket (safe if never opened).
  void close(struct ev_loop* loop);

 private:
  static void onAccept(struct ev_loop* loop, ev_io* w, int revents);
  static void onResume(struct ev_loop* loop, ev_timer* w, int revents);
  void acceptPending(struct ev_loop* loop);
  void pause(struct ev_loop* loop);

  std::function<void(int fd)> onSocket_;
  int fd_ = -1;
  ev_io acceptWatcher_;
  ev_timer resumeTimer_;
};

}  // namespace msw
