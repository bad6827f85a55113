// framework/backend_client.h: one worker's HTTP client for backend hooks (docs/backend.md).
//
// libcurl's multi-socket interface, driven by libev io and timer watchers on
// the worker's own loop: a hook never blocks the worker. The multi handle
// keeps its connections to the backend open between hooks (keep-alive).
// At most max_in_flight transfers run at once; more wait in a FIFO queue
// (up to kQueueFactor times as many, beyond that kBusy), and the timeout
// counts from the call, so a queued hook waits no longer than one that ran.
// Every callback runs on the loop, never inside call().
// Lifetime and thread: created in the worker's setUp, used and destroyed on
// its thread only (before the loop ends).
#pragma once

#include <curl/curl.h>
#include <ev.h>

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "framework/hook_stats.h"
#include "msw/app.h"

namespace msw {

struct BackendSettings {
  std::string url;  // empty: every hook is kDisabled
  int timeoutSeconds = 3;
  std::string secret;
  int maxInFlight = 64;
  int64_t maxAnswer = 1 << 20;
};

// "sha256=" + hex HMAC-SHA256 of body under secret: the X-Msw-Signature value.
std::string hookSignature(std::string_view secret, std::string_view body);
// Hook names: 1..100 of [A-Za-z0-9_.-] (they end up in a URL and a metric label).
bool validHookName(std::string_view hook);

class BackendClient {
 public:
  static constexpr int kQueueFactor = 8;

  BackendClient(struct ev_loop* loop, BackendSettings settings, HookStats& stats);
  // Ends what is left without calling back: module code may be unloading.
  ~BackendClient();
  BackendClient(const BackendClient&) = delete;
  BackendClient& operator=(const BackendClient&) = delete;

  // POSTs `body` to url/hook; `done` runs once, later, on this loop. `fd` is
  // the connection that asked, for the log and the answer.
  void call(Fd fd, std::string_view hook, std::string body, HookCallback done);
  // Ends every hook, running or queued, with kCancelled (their callbacks run
  // now) and fails later calls the same way: a stopping worker never waits
  // on the backend.
  void cancelAll();

  size_t inFlight() const { return running_.size(); }
  size_t queued() const { return waiting_.size(); }
  size_t peakInFlight() const { return peak_; }

 private:
  struct Transfer;
  struct Socket;
  using TransferPtr = std::unique_ptr<Transfer>;

  static int onSocket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp);
  static int onTimerChange(CURLM* multi, long ms, void* userp);
  static void onIo(struct ev_loop* loop, ev_io* w, int revents);
  static void onTimer(struct ev_loop* loop, ev_timer* w, int revents);
  static void onSoon(struct ev_loop* loop, ev_timer* w, int revents);
  static size_t onData(char* data, size_t size, size_t n, void* userp);

  void act(curl_socket_t s, int flags);
  void collectDone();
  void startWaiting();
  void start(TransferPtr t);
  bool configure(Transfer& t, double now);
  void judge(Transfer& t, CURLcode code);
  void end(TransferPtr t, HookResult result, std::string error);
  void deliverEnded();

  struct ev_loop* loop_;
  BackendSettings settings_;
  HookStats& stats_;
  CURLM* multi_ = nullptr;
  ev_timer timer_;
  ev_timer soon_;  // delivers failures decided inside call()
  std::unordered_map<CURL*, TransferPtr> running_;
  std::deque<TransferPtr> waiting_;
  std::vector<TransferPtr> ended_;  // done, callback not yet run
  std::unordered_set<Socket*> sockets_;
  size_t peak_ = 0;
  bool cancelled_ = false;
};

}  // namespace msw
