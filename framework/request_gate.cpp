#include "framework/request_gate.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <strings.h>

#include "framework/frame_builder.h"
#include "framework/stats.h"
#include "library/log.h"

namespace msw {
namespace {

constexpr double kDrainTime = 2;  // seconds to read what a refused client still sends

const char* reasonPhrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    default: return "Error";
  }
}

}  // namespace

// The value of the first header named lowerName (with its colon), trimmed; empty when absent.
std::string_view RequestGate::headerValue(std::string_view head, std::string_view lowerName) {
  for (size_t at = head.find("\r\n"); at != std::string_view::npos; at = head.find("\r\n", at + 2)) {
    std::string_view line = head.substr(at + 2);
    line = line.substr(0, line.find("\r\n"));
    if (line.size() < lowerName.size() || strncasecmp(line.data(), lowerName.data(), lowerName.size()) != 0)
      continue;
    line.remove_prefix(lowerName.size());
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    return line.empty() ? std::string_view(" ") : line;  // present but empty: still present
  }
  return {};
}

std::string_view RequestGate::realIp(int fd) const {
  auto it = realIps_.find(fd);
  return it == realIps_.end() ? std::string_view() : std::string_view(it->second);
}

RequestGate::~RequestGate() {
  for (auto& [fd, p] : pending_) ::close(fd);
}

int RequestGate::check(std::string_view head, bool complete, std::string& info) {
  size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos || eol > kMaxUrl + 64) {
    info = "URL over " + std::to_string(kMaxUrl) + " bytes";
    return 414;
  }
  if (!complete) {
    info = "request line and headers over " + std::to_string(kMaxHead) + " bytes";
    return 431;
  }
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) {
    info = "malformed request line";
    return 400;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view url = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (url.size() > kMaxUrl) {
    info = "URL over " + std::to_string(kMaxUrl) + " bytes";
    return 414;
  }
  bool upgrade = !headerValue(head.substr(eol), "upgrade:").empty();
  if (method != "GET" && (upgrade || method != "HEAD")) {
    info = upgrade ? "only GET upgrades to WebSocket" : "only GET and HEAD are served";
    return 405;
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '1' ||
      version[5] > '9' || (upgrade && version[5] == '1' && version[7] == '0')) {
    info = upgrade ? "WebSocket needs HTTP/1.1 or later" : "unsupported HTTP version";
    return 400;
  }
  if (url.find("%00") != std::string_view::npos) {
    info = "URL holds %00";
    return 400;
  }
  return 0;
}

void RequestGate::admit(struct ev_loop* loop, int fd) {
  auto p = std::make_unique<Pending>();
  p->gate = this;
  p->since = ev_now(loop);
  ev_io_init(&p->io, &RequestGate::onReadable, fd, EV_READ);
  p->io.data = p.get();
  Pending& ref = *p;
  pending_[fd] = std::move(p);
  read(loop, ref);  // the head is often there already
}

void RequestGate::onReadable(struct ev_loop* loop, ev_io* w, int) {
  auto* p = static_cast<Pending*>(w->data);
  p->gate->read(loop, *p);
}

void RequestGate::read(struct ev_loop* loop, Pending& p) {
  int fd = p.io.fd;
  if (p.draining) {
    char sink[4096];
    ssize_t n = recv(fd, sink, sizeof sink, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) drop(loop, fd);
    else if (!ev_is_active(&p.io)) ev_io_start(loop, &p.io);
    return;
  }
  size_t old = p.head.size();
  p.head.resize(kMaxHead);
  ssize_t n = recv(fd, p.head.data() + old, kMaxHead - old, 0);
  p.head.resize(old + (n > 0 ? static_cast<size_t>(n) : 0));
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return drop(loop, fd);
  if (n < 0) {
    if (!ev_is_active(&p.io)) ev_io_start(loop, &p.io);
    return;
  }
  bool complete = p.head.find("\r\n\r\n", old >= 3 ? old - 3 : 0) != std::string::npos;
  if (!complete && p.head.size() < kMaxHead) {
    if (!ev_is_active(&p.io)) ev_io_start(loop, &p.io);
    return;
  }
  std::string info;
  int status = check(p.head, complete, info);
  if (status) return refuse(loop, p, status, info);
  std::string head = std::move(p.head);
  ev_io_stop(loop, &p.io);
  pending_.erase(fd);
  std::string_view real = headerValue(std::string_view(head).substr(0, head.find("\r\n\r\n") + 2), "x-real-ip:");
  if (real.empty()) realIps_.erase(fd);
  else realIps_[fd] = std::string(real.substr(0, 64));
  pass_(fd, head);
}

// Answers, then reads what the client still sends until it closes (or
// kDrainTime): closing with unread bytes would reset the connection and
// could destroy the answer before the client reads it.
void RequestGate::refuse(struct ev_loop* loop, Pending& p, int status, const std::string& info) {
  stats_.rejected[static_cast<int>(Reject::kRequest)].add();
  LOG_INFO("request on fd %d refused: %d %s", p.io.fd, status, info.c_str());
  std::string body = "{\"status\":" + std::to_string(status) + ",\"info\":";
  appendJsonString(body, info);
  body += "}";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) +
                    "\r\nserver: msw\r\ncontent-type: application/json\r\nconnection: close\r\n";
  if (status == 405) out += "allow: GET\r\n";
  out += "content-length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  ssize_t sent = send(p.io.fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)sent;  // a client that cannot take 200 bytes is closed just the same
  shutdown(p.io.fd, SHUT_WR);
  p.head.clear();
  p.head.shrink_to_fit();
  p.draining = true;
  p.since = ev_now(loop) - kTimeout + kDrainTime;
  if (!ev_is_active(&p.io)) ev_io_start(loop, &p.io);
}

void RequestGate::drop(struct ev_loop* loop, int fd) {
  auto it = pending_.find(fd);
  if (it == pending_.end()) return;
  ev_io_stop(loop, &it->second->io);
  ::close(fd);
  pending_.erase(it);
}

void RequestGate::expire(struct ev_loop* loop, double now) {
  std::vector<int> late;
  for (auto& [fd, p] : pending_)
    if (now - p->since >= kTimeout) late.push_back(fd);
  for (int fd : late) {
    Pending& p = *pending_[fd];
    if (p.draining) drop(loop, fd);
    else refuse(loop, p, 408, "request head not complete after " + std::to_string(static_cast<int>(kTimeout)) + " s");
  }
}

void RequestGate::closeAll(struct ev_loop* loop) {
  while (!pending_.empty()) drop(loop, pending_.begin()->first);
}

}  // namespace msw
