// framework/manager_http_conn.cpp: one HTTP connection on the manager port
// (see the header). Manager thread only.
#include "framework/manager_http_conn.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "framework/manager_http.h"
#include "framework/server.h"
#include "library/log.h"

namespace msw {
namespace {

const char* reasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

}  // namespace

Manager::HttpConn::HttpConn(Manager& manager, int fd, uint64_t id)
    : manager_(manager), fd_(fd), id_(id), parser_([&manager](std::string_view authorization, std::string_view query) {
        return manager.authorized(HttpExchange::bearerCredentials(authorization),
                                  HttpRequestParser::queryArg(query, "token"));
      }) {
  ev_io_init(&read_, &HttpConn::onReadable, fd, EV_READ);
  ev_io_init(&write_, &HttpConn::onWritable, fd, EV_WRITE);
  ev_timer_init(&timer_, &HttpConn::onTimeout, kRequestTimeout, kRequestTimeout);
  read_.data = write_.data = timer_.data = this;
}

Manager::HttpConn::~HttpConn() {
  struct ev_loop* loop = manager_.loop_->loop();
  ev_io_stop(loop, &read_);
  ev_io_stop(loop, &write_);
  ev_timer_stop(loop, &timer_);
  if (fd_ >= 0) ::close(fd_);
  if (stopAfterAnswer_) manager_.server_.requestStop();  // the asker left before its answer
}

void Manager::HttpConn::start() {
  ev_timer_again(manager_.loop_->loop(), &timer_);
  updateWatchers();
}

void Manager::HttpConn::onReadable(struct ev_loop*, ev_io* w, int) { static_cast<HttpConn*>(w->data)->readSome(); }

void Manager::HttpConn::onWritable(struct ev_loop*, ev_io* w, int) { static_cast<HttpConn*>(w->data)->flush(); }

void Manager::HttpConn::onTimeout(struct ev_loop*, ev_timer* w, int) {
  auto* c = static_cast<HttpConn*>(w->data);
  if (c->busy_) return c->answer(c->seq_, 503, errorBody("the workers did not answer in time"));
  c->finish(c->draining_ ? nullptr : "timed out");
}

void Manager::HttpConn::readSome() {
  char buf[16384];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n < 0) return finish(draining_ ? nullptr : "read failed");
  if (draining_) return n == 0 ? finish(nullptr) : void();
  if (n == 0) eof_ = true;
  in_.append(buf, static_cast<size_t>(n));
  process();
}

void Manager::HttpConn::process() {
  bool starved = false;
  while (!done_ && !busy_ && !closing_ && out_.size() - sent_ < kMaxUnsent)
    if (!take()) {
      starved = true;
      break;
    }
  if (done_) return;
  // The client is done sending and everything it sent is answered.
  if (eof_ && starved) closing_ = true;
  flush();
}

// Takes the next request off in_; false if none is complete yet.
bool Manager::HttpConn::take() {
  size_t consumed = 0;
  HttpRequestParser::Result r = parser_.next(in_, consumed);
  in_.erase(0, consumed);
  if (r == HttpRequestParser::Result::kNeedMore) {
    // Every earlier answer is queued already: this one comes in order.
    if (parser_.takeContinue()) out_ += "HTTP/1.1 100 Continue\r\n\r\n";
    return false;
  }
  if (r == HttpRequestParser::Result::kBad) {
    LOG_INFO("manager http conn %d refused: %d %s", fd_, parser_.badStatus(), parser_.badReason().c_str());
    in_.clear();
    queue(parser_.badStatus(), errorBody(parser_.badReason()), true);
    return true;
  }
  if (parser_.upgrade()) {
    handOver();
    return true;
  }
  if (parser_.step() == HttpExchange::Step::kRefuse) {
    HttpExchange& ex = parser_.exchange();
    LOG_INFO("manager http conn %d refused: %d %s", fd_, ex.status(), ex.errorReason().c_str());
    bool keep = ex.answered() && parser_.keepAlive();
    if (!keep) in_.clear();  // a refused request's body may be what follows
    queue(ex.status(), errorBody(ex.errorReason()), !keep);
    return true;
  }
  busy_ = true;
  timer_.repeat = kAnswerTimeout;
  ev_timer_again(manager_.loop_->loop(), &timer_);
  manager_.route(id_, ++seq_, parser_, stopAfterAnswer_);
  return true;
}

void Manager::HttpConn::answer(uint64_t seq, int status, std::string body) {
  if (!busy_ || done_ || seq != seq_) return;
  busy_ = false;
  bool keep = parser_.exchange().answered() && parser_.keepAlive();
  queue(status, body, !keep);
  process();
}

// Appends a complete response to out_; `close`: the last one on this connection.
void Manager::HttpConn::queue(int status, std::string_view body, bool close) {
  bool text = parser_.exchange().path() == "/metrics" && status == 200;
  out_ += "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) + "\r\nserver: msw\r\ncontent-type: ";
  out_ += text ? "text/plain; version=0.0.4" : "application/json";
  out_ += "\r\ncontent-length: " + std::to_string(body.size()) + "\r\n";
  if (status == 401) out_ += "www-authenticate: Bearer\r\n";
  if (close) out_ += "connection: close\r\n";
  out_ += "\r\n";
  out_ += body;
  if (close) closing_ = true;
  // Each answer gives the client a fresh kRequestTimeout for its next request.
  timer_.repeat = kRequestTimeout;
  ev_timer_again(manager_.loop_->loop(), &timer_);
}

void Manager::HttpConn::flush() {
  bool wasFull = out_.size() - sent_ >= kMaxUnsent;
  while (sent_ < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    if (n < 0) return finish("write failed");
    sent_ += static_cast<size_t>(n);
  }
  if (sent_ == out_.size()) {
    out_.clear();
    sent_ = 0;
    // The answer to POST /stop is out: now stop.
    if (stopAfterAnswer_ && !busy_) {
      stopAfterAnswer_ = false;
      manager_.server_.requestStop();
    }
    if (closing_) return drain();
  }
  updateWatchers();
  // Room in out_ again: requests that waited for it.
  if (wasFull && out_.size() - sent_ < kMaxUnsent) process();
}

// The last answer is written: closing now, with bytes of the client's still
// unread, would reset the connection and could destroy that answer before
// the client read it. Half-close, discard what still comes, then close.
void Manager::HttpConn::drain() {
  if (draining_) return;
  draining_ = true;
  ::shutdown(fd_, SHUT_WR);
  struct ev_loop* loop = manager_.loop_->loop();
  ev_io_stop(loop, &write_);
  if (eof_) return finish(nullptr);
  ev_io_start(loop, &read_);
  timer_.repeat = kDrainTimeout;
  ev_timer_again(loop, &timer_);
}

void Manager::HttpConn::updateWatchers() {
  if (draining_) return;
  struct ev_loop* loop = manager_.loop_->loop();
  // Read ahead only a little while a request waits (kMaxPipelined); a request
  // being read may take its full size (HttpRequestParser, HttpExchange).
  bool idle = !busy_ && out_.size() - sent_ < kMaxUnsent;
  bool wantRead = !eof_ && !closing_ && (idle || in_.size() < kMaxPipelined);
  bool wantWrite = sent_ < out_.size();
  if (wantRead != static_cast<bool>(ev_is_active(&read_))) wantRead ? ev_io_start(loop, &read_) : ev_io_stop(loop, &read_);
  if (wantWrite != static_cast<bool>(ev_is_active(&write_)))
    wantWrite ? ev_io_start(loop, &write_) : ev_io_stop(loop, &write_);
}

void Manager::HttpConn::handOver() {
  // lws reads the upgrade's head from this buffer first (at most 2 KiB of it:
  // its header buffer); the console's WebSocket code takes it from there.
  constexpr size_t kLwsReadBuf = 2048;
  if (in_.size() > kLwsReadBuf) {
    LOG_INFO("manager http conn %d refused: upgrade head over 2 KiB", fd_);
    in_.clear();
    return queue(431, errorBody("WebSocket upgrade head over 2 KiB"), true);
  }
  int fd = std::exchange(fd_, -1);
  finish(nullptr);
  manager_.adopt(fd, in_);
}

void Manager::HttpConn::finish(const char* why) {
  if (done_) return;
  done_ = true;
  if (why) LOG_INFO("manager http conn %d closed: %s", fd_, why);
  struct ev_loop* loop = manager_.loop_->loop();
  ev_io_stop(loop, &read_);
  ev_io_stop(loop, &write_);
  ev_timer_stop(loop, &timer_);
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  manager_.dropConn(id_);
}

}  // namespace msw
