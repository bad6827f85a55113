// framework/request_gate.h: the head of a plain-TCP request, read before lws sees it.
//
// libwebsockets closes without a word on a request it cannot hold (over its
// header buffer, a method it does not know, %00 in the URL). docs/protocol.md
// promises an answer with a JSON body instead, so each accepted plain socket
// comes here first: the request line and headers are read (at most 8 KB,
// within 10 s), checked, and either answered and closed (414, 431, 400, 405,
// 408) or handed to lws with the bytes read. TLS sockets go to lws directly:
// their bytes are encrypted (the checks lws lets through are in Handshake).
// Lifetime: a member of its Worker; that worker's thread only.
#pragma once

#include <ev.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace msw {

struct WorkerStats;

class RequestGate {
 public:
  static constexpr size_t kMaxHead = 8192;  // request line and headers
  static constexpr size_t kMaxUrl = 4096;
  static constexpr double kTimeout = 10;    // seconds to send the head

  // pass(fd, head) hands a checked socket on, with the bytes read from it.
  RequestGate(WorkerStats& stats, std::function<void(int fd, std::string_view head)> pass)
      : stats_(stats), pass_(std::move(pass)) {}
  ~RequestGate();
  RequestGate(const RequestGate&) = delete;
  RequestGate& operator=(const RequestGate&) = delete;

  void admit(struct ev_loop* loop, int fd);
  // Answers 408 to heads slower than kTimeout (from the worker's tick).
  void expire(struct ev_loop* loop, double now);
  // Closes every socket still waiting (the worker stops).
  void closeAll(struct ev_loop* loop);

  // The X-Real-IP header of the request last passed on fd, if it had one
  // (lws 4.1 as Debian builds it keeps no header it does not know).
  std::string_view realIp(int fd) const;
  // The socket's request has been handled (or never came through here).
  void forget(int fd) { realIps_.erase(fd); }
  static std::string_view headerValue(std::string_view head, std::string_view lowerName);

  // The status a head is refused with, 0 when it may go on; `info` says why.
  // A head is complete (it ends with an empty line) or kMaxHead long.
  static int check(std::string_view head, bool complete, std::string& info);

 private:
  struct Pending {
    ev_io io;
    RequestGate* gate;
    std::string head;
    double since;          // for kTimeout
    bool draining = false;  // answered: reading what the client still sends
  };
  static void onReadable(struct ev_loop* loop, ev_io* w, int revents);
  void read(struct ev_loop* loop, Pending& p);
  void refuse(struct ev_loop* loop, Pending& p, int status, const std::string& info);
  void drop(struct ev_loop* loop, int fd);

  WorkerStats& stats_;
  std::function<void(int fd, std::string_view head)> pass_;
  std::unordered_map<int, std::unique_ptr<Pending>> pending_;
  std::unordered_map<int, std::string> realIps_;
};

}  // namespace msw
