// framework/manager_http_conn.h: one HTTP connection on the manager port
// (docs/manager-api.md#keep-alive-and-pipelining).
//
// Reads with libev io watchers, parses with HttpRequestParser, hands one
// request at a time to the Manager and writes its answer, which may come
// later from the workers (Manager::connAnswered; 503 after kAnswerTimeout);
// requests read meanwhile
// wait in the input buffer, so each is handled once and answered in order.
// Bounded: while a request waits, at most kMaxPipelined bytes are read
// ahead; no request is taken while kMaxUnsent bytes of answers are unsent;
// a request must arrive whole within kRequestTimeout of the last answer (or
// the accept). A WebSocket upgrade is handed, socket and bytes, to lws.
// Lifetime: owned by Manager::conns_, from accept to close or hand-off.
// Manager thread only.
#pragma once

#include <ev.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "framework/http_request_parser.h"
#include "framework/manager.h"

namespace msw {

class Manager::HttpConn {
 public:
  static constexpr size_t kMaxPipelined = 64 * 1024;
  static constexpr size_t kMaxUnsent = 256 * 1024;
  static constexpr double kRequestTimeout = 10.0;
  static constexpr double kAnswerTimeout = 5.0;  // then 503: the workers did not answer
  static constexpr double kDrainTimeout = 2.0;  // after the last answer, for the client to close

  HttpConn(Manager& manager, int fd, uint64_t id);
  ~HttpConn();  // closes the socket unless lws took it
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;

  void start();
  // The answer to request `seq` (from Manager::connAnswered); dropped if that
  // request was answered 503 meanwhile.
  void answer(uint64_t seq, int status, std::string body);

 private:
  static void onReadable(struct ev_loop* loop, ev_io* w, int revents);
  static void onWritable(struct ev_loop* loop, ev_io* w, int revents);
  static void onTimeout(struct ev_loop* loop, ev_timer* w, int revents);
  void readSome();
  void process();
  bool take();
  void handOver();
  void queue(int status, std::string_view body, bool close);
  void flush();
  void drain();
  void updateWatchers();
  void finish(const char* why);  // closes; the Manager drops this later

  Manager& manager_;
  int fd_;
  uint64_t id_;
  ev_io read_;
  ev_io write_;
  ev_timer timer_;
  HttpRequestParser parser_;
  std::string in_;
  std::string out_;
  size_t sent_ = 0;        // of out_
  bool busy_ = false;      // a request was routed; its answer is awaited
  uint64_t seq_ = 0;       // the routed request's number on this connection
  bool eof_ = false;       // the client sent FIN: answer what was read, then close
  bool closing_ = false;   // close once out_ is written
  bool draining_ = false;  // the last answer is written: discarding input until the client closes
  bool done_ = false;      // closed or handed over
  bool stopAfterAnswer_ = false;  // POST /stop: the server stops once its answer is written
};

}  // namespace msw
