// framework/worker.h: one worker thread = one libev loop + one lws context.
//
// A worker owns its listener (SO_REUSEPORT, DESIGN §2), the connections the
// kernel gives it, their rooms and users index, an idle timer wheel and a
// flush list. Nothing but its own thread touches its connections or calls
// lws for them; other threads post() tasks to it. Lifetime: created and
// destroyed by Server; its thread runs from start() until the loop ends
// after a graceful stop.
#pragma once

#include <ev.h>
#include <libwebsockets.h>

#include <memory>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "framework/backend_client.h"
#include "framework/connection.h"
#include "framework/event_loop.h"
#include "framework/hook_stats.h"
#include "framework/module_loader.h"
#include "framework/stats.h"

namespace msw {

class Server;

// The settings a reload may change, copied into each worker.
struct LiveSettings {
  int64_t maxMessageSize = 65536;
  int64_t sendQueueLimit = 1 << 20;
  int heartbeatIdleTime = 60;
  int rateLimit = 0;
  int rateBurst = 1;
  bool escapeHtml = true;
};

struct MemberInfo {
  Fd fd;
  std::string id;
  std::string nickname;
  std::string type;
};

class Worker {
 public:
  Worker(Server& server, int index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread and waits until it listens; false and `error` set if it could not.
  bool start(std::string& error);
  // From any thread: stop accepting, close every client with 1001 after what
  // is queued for it, end the loop when all are gone or stop_timeout passed.
  void requestStop();
  void join();

  bool post(EventLoop::Task task) { return loop_->post(std::move(task)); }
  int index() const { return index_; }
  WorkerStats& stats() { return stats_; }
  HookStats& hookStats() { return hookStats_; }

  // The worker whose thread this is, or nullptr.
  static Worker* current();

  // ---- from here on: the worker's own thread only ----
  Connection* find(Fd fd) const;
  // Queues p on c; it goes out at the end of this loop iteration, with any
  // other frame queued for c meanwhile, in one write.
  void send(Connection* c, const Payload& p);
  size_t sendToRoom(std::string_view room, const Payload& p, std::span<const Fd> exclude);
  size_t sendToUser(std::string_view id, const Payload& p);
  size_t sendToAll(const Payload& p, std::span<const Fd> exclude);
  void join(Connection* c, std::string_view room);
  void leave(Connection* c, std::string_view room);
  // Closes after the queue drains (or at once, queue dropped, when dropQueue).
  void close(Connection* c, int code, std::string_view reason, bool dropQueue = false);
  void setRoutes(std::shared_ptr<const RouteTable> routes) { routes_ = std::move(routes); }
  const std::shared_ptr<const RouteTable>& routes() const { return routes_; }
  void setSettings(const LiveSettings& s);
  // Writes this worker's members into the store again (Redis lost them).
  void registerAll();
  std::vector<MemberInfo> roomMembers(std::string_view room) const;
  std::vector<Fd> userFds(std::string_view id) const;
  std::vector<std::string> roomNames() const;
  size_t roomSize(std::string_view room) const;
  // A backend hook for connection fd (worker_backend.cpp); `done` runs on this thread.
  void callHook(Fd fd, const std::string& hook, std::string body, HookCallback done);

  // lws protocol callback entry (worker.cpp).
  int onLwsEvent(lws* wsi, int reason, void* user, void* in, size_t len);

 private:
  // Is this entry of the store registry still true (Cluster::reconcile)?
  bool holds(Fd fd, char kind, std::string_view what) const;
  struct Room {
    std::vector<Connection*> members;
  };

  void threadMain();
  bool setUp(std::string& error);
  void tearDown();
  bool openListener(std::string& error);
  static void onAccept(struct ev_loop* loop, ev_io* w, int revents);
  static void onResumeAccept(struct ev_loop* loop, ev_timer* w, int revents);
  static void onTick(struct ev_loop* loop, ev_timer* w, int revents);
  static void onFlush(struct ev_loop* loop, ev_prepare* w, int revents);
  void acceptPending();
  void pauseAccepting();
  void adopt(int fd);
  void tick();
  void flushDirty();
  void beginStop();
  void checkStopped();

  // Handshake and connection life.
  int filterHandshake(lws* wsi, void* session);
  void established(Connection* c);
  void reject(lws* wsi, int status, std::string_view info, Reject why, const char* extraName = nullptr,
              const char* extraValue = nullptr);
  void receive(Connection* c, const char* in, size_t len);
  void finishMessage(Connection* c, std::string_view text);
  void handleMessage(Connection* c, std::string_view text);
  bool rateLimited(Connection* c);
  void dispatch(Connection* c, Json& root);
  void actionFailed(Fd fd, const std::string& method, const char* what, JsonRef rid);
  int writeable(Connection* c);
  void writeQueued(Connection* c);
  void dropQueue(Connection* c);
  void markDirty(Connection* c);
  void closed(Connection* c);
  void idleExpired(Connection* c);
  void leaveLocal(Connection* c, std::string_view room);
  void indexUser(Connection* c);
  void unindexUser(Connection* c);
  void runCloseHooks(Connection* c, int code);
  // The connect hook (worker_backend.cpp, docs/backend.md#connect).
  void askConnectHook(Connection* c);
  void settleConnect(Fd fd, const HookAnswer& answer);
  bool holdMessage(Connection* c, std::string_view text);

  Server& server_;
  const int index_;
  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;
  lws_protocols protocols_[2];
  lws_http_mount mount_;
  lws_context* context_ = nullptr;
  lws_vhost* vhost_ = nullptr;
  int listenFd_ = -1;
  ev_io acceptWatcher_;
  ev_timer resumeTimer_;
  ev_timer tickTimer_;
  ev_prepare flushWatcher_;
  LiveSettings settings_;
  std::shared_ptr<const RouteTable> routes_;
  std::unordered_map<Fd, Connection*> conns_;
  std::unordered_map<std::string, Room> rooms_;
  std::unordered_map<std::string, std::vector<Connection*>> users_;
  TimerWheel idle_;
  std::vector<Fd> dirty_;      // connections with frames to flush this iteration
  std::vector<Fd> flushing_;   // the batch being flushed
  std::string writeScratch_;  // coalesced frames, LWS_PRE in front
  Payload heartbeat_;  // "3"
  uint64_t nextSeq_ = 1;
  bool stopping_ = false;
  double stopDeadline_ = 0;
  WorkerStats stats_;
  HookStats hookStats_;
  std::unique_ptr<BackendClient> backend_;  // from setUp to tearDown
  // Until endpoints wire `auth = backend`: MSW_TEST_CONNECT_HOOK=1 in the
  // environment puts every handshake through the connect hook (tests only).
  bool connectHookForAll_ = false;
};

}  // namespace msw
