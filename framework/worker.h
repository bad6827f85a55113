// framework/worker.h: one worker thread = one libev loop + one lws context.
//
// A worker owns its listener (SO_REUSEPORT, docs/design.md#threads-and-event-loops), the connections the
// kernel gives it (through its RequestGate and Handshake), their rooms and
// users (RoomIndex), its Router, an idle timer wheel and a flush list.
// Nothing but its own thread touches its connections or calls lws for them;
// other threads post() tasks to it. Lifetime: created and
// destroyed by Server; its thread runs from start() until the loop ends
// after a graceful stop.
#pragma once

#include <ev.h>
#include <libwebsockets.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "framework/backend_client.h"
#include "framework/connection.h"
#include "framework/endpoint.h"
#include "framework/event_loop.h"
#include "framework/handshake.h"
#include "framework/hook_stats.h"
#include "framework/listener.h"
#include "framework/module_loader.h"
#include "framework/request_gate.h"
#include "framework/room_index.h"
#include "framework/router.h"
#include "framework/stats.h"
#include "library/config.h"

namespace msw {

class Server;
enum class RegistryKind : char;

// An endpoint's part of the settings a reload may change (library/config.h
// LiveSettings, with [endpoint.NAME]'s own values), copied into each worker.
struct EndpointSettings {
  int64_t maxMessageSize = 0;  // the defaults are library/config.cpp's table: Server::liveSettings fills these
  int64_t sendQueueLimit = 0;
  int heartbeatIdleTime = 0;
  int rateLimit = 0;
  int rateBurst = 0;
  bool escapeHtml = false;
  Payload ack;  // sent before each JSON message is handled, when set
};

// Per endpoint but the default one (whose figures are the worker's totals
// less these): kept off the default endpoint's path.
struct EndpointStats {
  Counter connections;
  Counter messagesIn;
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
  // Waits for the thread to end (after requestStop).
  void joinThread();

  bool post(EventLoop::Task task) { return loop_->post(std::move(task)); }
  int index() const { return index_; }
  WorkerStats& stats() { return stats_; }
  HookStats& hookStats() { return hookStats_; }

  // The worker whose thread this is, or nullptr.
  static Worker* current();
  // p's payload for `flavor`, from any thread: a build is counted in the
  // calling worker's stats; a builder that throws is logged and gets p.base().
  static Payload flavorPayload(const FlavoredPayload& p, std::string_view flavor);

  // ---- from here on: the worker's own thread only ----
  Connection* find(Fd fd) const;
  // Queues p on c; it goes out at the end of this loop iteration, with any
  // other frame queued for c meanwhile, in one write.
  void send(Connection* c, const Payload& p);
  size_t sendToRoom(std::string_view room, const Payload& p, std::span<const Fd> exclude);
  // Each member gets p in its endpoint's flavor (worker_flavor.cpp).
  size_t sendToRoom(std::string_view room, const FlavoredPayload& p, std::span<const Fd> exclude);
  size_t sendToUser(std::string_view id, const Payload& p);
  size_t sendToAll(const Payload& p, std::span<const Fd> exclude);
  void joinRoom(Connection* c, std::string_view room);
  void leaveRoom(Connection* c, std::string_view room);
  // Closes after the queue drains (or at once, queue dropped, when dropQueue).
  void close(Connection* c, int code, std::string_view reason, bool dropQueue = false);
  void setRoutes(std::shared_ptr<const RouteTable> routes) { routes_ = std::move(routes); }
  const std::shared_ptr<const RouteTable>& routes() const { return routes_; }
  // The reloadable settings of each endpoint, by index (Server::liveSettings).
  void setSettings(const std::vector<EndpointSettings>& s);
  const EndpointSettings& settings() const { return settings_[0]; }
  const EndpointSettings& settingsOf(const Connection* c) const { return settings_[c->endpoint]; }
  const Endpoint& endpointOf(const Connection* c) const { return endpoints_.at(c->endpoint); }
  // Figures of endpoint i >= 1 (the default one's are the totals less the others').
  EndpointStats& endpointStats(size_t i) { return endpointStats_[i]; }
  double now() const { return ev_now(loop_->loop()); }
  void sendHeartbeat(Connection* c) { send(c, heartbeat_); }
  // Writes this worker's members into the store again (Redis lost them).
  void registerAll();
  std::vector<MemberInfo> roomMembers(std::string_view room) const { return rooms_.roomMembers(room); }
  std::vector<Fd> userFds(std::string_view id) const { return rooms_.userFds(id); }
  std::vector<std::string> userIds() const { return rooms_.userIds(); }
  void closeUser(std::string_view id, int code, std::string_view reason) {
    for (Fd fd : userFds(id))
      if (Connection* c = find(fd)) close(c, code, reason);
  }
  std::vector<std::string> roomNames() const { return rooms_.roomNames(); }
  // A backend hook for connection fd (worker_backend.cpp); `done` runs on this thread.
  void callHook(Fd fd, const std::string& hook, std::string body, HookCallback done);

  // Module timers and held room messages (worker_timers.cpp, App::after, App::holdRoomMessages).
  void addTimer(int seconds, std::string controller, std::string arg);
  void holdRoomMessages(Connection* c);
  void releaseRoomMessages(Connection* c);
  void skipRoomMessages(Connection* c, std::string room, std::string_view field, int64_t upTo, int seconds);

  // lws protocol callback entry (worker.cpp).
  int onLwsEvent(lws* wsi, int reason, void* user, void* in, size_t len);

 private:
  // Is this entry of the store registry still true (Cluster::reconcile)?
  bool holds(Fd fd, RegistryKind kind, std::string_view what) const;

  void threadMain();
  bool setUp(std::string& error);
  void tearDown();
  static void onTick(struct ev_loop* loop, ev_timer* w, int revents);
  static void onFlush(struct ev_loop* loop, ev_prepare* w, int revents);
  void adopt(int fd);
  void handOver(int fd, std::string_view head);
  void tick();
  void flushDirty();
  void beginStop();
  void checkStopped();

  // Handshake and connection life.
  int filterHandshake(lws* wsi, void* session);
  void established(Connection* c);
  void receive(Connection* c, const char* in, size_t len);
  void finishMessage(Connection* c, std::string_view text);
  int writeable(Connection* c);
  void askWritable(Connection* c);
  uint32_t activityStamp() const;
  void controlFrameAnswered(Connection* c);
  void writeQueued(Connection* c);
  void dropQueue(Connection* c);
  void markDirty(Connection* c);
  void closed(Connection* c);
  void released(Connection* c);
  void idleExpired(Connection* c);
  // How silence is timed for c (worker_timers.cpp): its endpoint controller's
  // IdlePing when it has one, else the endpoint's heartbeat_idle_time.
  struct IdleRule {
    int pingAfter = 0;
    int closeAfter = 0;
    const std::string* ping = nullptr;
  };
  IdleRule idleRule(Connection* c);
  void scheduleIdle(Connection* c, uint64_t now);
  void runTimers(uint64_t now);
  // A room message for c while it is held: kept aside, false when over the limit (then closed 4009).
  void keepHeld(Connection* c, std::string_view room, const Payload& p);
  void noteLast(Connection* c, std::string_view room, const Payload& p);
  void noteWritten(Connection* c, size_t count);
  bool skipped(Connection* c, std::string_view room, const Payload& p);
  // A room message for c, as sendToRoom hands it over: skipped, noted, held or sent.
  void deliverRoom(Connection* c, std::string_view room, const Payload& p);
  // The one loop of both room sends: each member of `r` but the excluded
  // gets pick(c), through deliverRoom when it has room-message state.
  template <class Pick>
  size_t sendToMembers(const RoomIndex::Room& r, std::string_view room, std::span<const Fd> exclude, Pick&& pick) {
    size_t n = 0;
    // A send may close a slow member (4009), which does not change the room until CLOSED.
    for (Connection* c : r.members) {
      if (!exclude.empty() && std::find(exclude.begin(), exclude.end(), c->fd) != exclude.end()) continue;
      const Payload& p = pick(c);
      if (c->extras) deliverRoom(c, room, p);
      else send(c, p);
      ++n;
    }
    return n;
  }
  void runCloseHooks(Connection* c, int code);
  // The connect hook (worker_backend.cpp, docs/backend.md#connect).
  void startBackend();
  void holdForConnectHook(Connection* c, lws* wsi, std::string_view address);
  void askConnectHook(Connection* c);
  void settleConnect(Fd fd, const HookAnswer& answer);
  bool holdMessage(Connection* c, std::string_view text, bool binary);

  Server& server_;
  const int index_;
  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;
  lws_protocols protocols_[2];
  lws_http_mount mount_;
  lws_context* context_ = nullptr;
  lws_vhost* vhost_ = nullptr;
  Listener listener_;
  std::vector<std::unique_ptr<Listener>> endpointListeners_;  // ports of endpoints' own
  ev_timer tickTimer_;
  ev_prepare flushWatcher_;
  std::vector<EndpointSettings> settings_;
  const EndpointTable& endpoints_;  // Server's, immutable
  std::unique_ptr<EndpointStats[]> endpointStats_;
  std::shared_ptr<const RouteTable> routes_;
  std::unordered_map<Fd, Connection*> conns_;
  WorkerStats stats_;
  RequestGate gate_;
  Handshake handshake_;
  RoomIndex rooms_;
  Router router_;
  TimerWheel idle_;
  struct ModuleTimer {
    std::string controller;  // "module.controller", looked up when due (a reload may come between)
    std::string arg;
  };
  std::multimap<uint64_t, ModuleTimer> timers_;  // by due second
  std::vector<Fd> dirty_;      // connections with frames to flush this iteration
  std::vector<Fd> flushing_;   // the batch being flushed
  std::string writeScratch_;  // coalesced frames, LWS_PRE in front
  Payload heartbeat_;  // "3"
  uint64_t nextSeq_ = 1;
  bool stopping_ = false;
  double stopDeadline_ = 0;
  HookStats hookStats_;
  std::unique_ptr<BackendClient> backend_;  // from setUp to tearDown
};

}  // namespace msw
