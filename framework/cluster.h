// framework/cluster.h: membership in the store, and the bus between nodes.
//
// Registry (every driver): who is in which room and which user is online is
// written to the store, so that /online answers for the whole cluster:
//   _msw:room:ROOM   hash  member -> {"id","nickname","type"}
//   _msw:user:ID     set   of members
//   _msw:users       set   of the ids that had members: an id is added as
//                    it comes online and removed by the reader that finds its
//                    set empty (UserRegistry), so it may list users gone since
// where member = "node_id:fd". With Redis (a cluster) each node run is an
// instance "node_id@start_ms" that also keeps, for crash recovery:
//   _msw:inst:INSTANCE   set of what it registered ("r ROOM MEMBER", "u ID MEMBER", "k KEY MEMBER")
//   _msw:instances       hash instance -> node_id
//   _msw:alive:INSTANCE  its heartbeat, ttl kAliveTtl, refreshed every kHeartbeat
// An instance whose heartbeat expired (or an earlier run of this node, at
// start) is purged by any node: everything in its inst set is removed.
// The heartbeat's value, {"node","pid","connections","start_time"}, is what
// GET /status shows of every node (describe()); its connection count is the
// one of the last heartbeat.
//
// Bus (Redis): room, user, all and fd messages are delivered locally at
// once and published to _msw:bus:room:ROOM (subscribed while this node has
// members there), _msw:bus:all or _msw:bus:node:NODE; a node ignores its own
// messages, so each connection gets each message once. A room message in
// several flavors (App::sendToRoomByFlavor) carries each flavor's text
// besides the base one (BusKind::kRoomFlavored, docs/design.md).
//
// Thread rules: the registry and publish calls run on a worker thread with
// that thread's store; subscriptions, heartbeats and purges run on the
// manager's thread.
#pragma once

#include <ev.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "framework/frame_builder.h"
#include "msw/app.h"
#include "msw/json.h"

namespace msw {

class EventLoop;
class RedisSubscriber;
class Server;
class Store;

// What an entry of an instance's record names (its first byte in Redis).
enum class RegistryKind : char { kRoom = 'r', kUser = 'u', kCloseKey = 'k' };

// What a bus message is for (its kind byte on the wire).
enum class BusKind : char {
  kRoom = 'r', kRoomFlavored = 'R', kUser = 'u', kAll = 'a', kFd = 'f', kKick = 'k', kKickUser = 'K',
  kAllExceptUser = 'x'
};

class Cluster {
 public:
  static constexpr int kHeartbeat = 5;   // seconds between heartbeats and purge checks
  static constexpr int kAliveTtl = 15;   // seconds a silent instance is kept
  static constexpr int kDescribeTimeoutMs = 1000;  // describe() waits no longer for Redis

  explicit Cluster(Server& server);
  ~Cluster();

  // "node_id:fd" split at its last colon (node ids may hold colons:
  // host:port); false unless fd is a nonzero number.
  static bool splitMember(std::string_view member, std::string_view& node, Fd& fd);
  // The registry's user keys (above), for its readers (UserRegistry).
  static std::string userKey(std::string_view id) { return "_msw:user:" + std::string(id); }
  static constexpr const char* kUsersKey = "_msw:users";

  bool enabled() const { return enabled_; }  // a shared (Redis) store
  const std::string& instance() const { return instance_; }
  // This run's fds are above this: past every fd an earlier run of this node
  // can have used, so that "node:fd" names are never reused (see cluster.cpp).
  // Server::newFd numbers them from here.
  Fd fdFloor() const { return fdFloor_; }

  // ---- registry, on a worker thread ----
  void joined(Fd fd, std::string_view room, const Auth& auth);
  void left(Fd fd, std::string_view room);
  void userOnline(Fd fd, std::string_view id);
  void userOffline(Fd fd, std::string_view id);
  void closeKeyAdded(Fd fd, std::string_view key);
  void closeKeyRemoved(Fd fd, std::string_view key);
  // After a reconnect: of what this instance recorded for members of
  // `worker`, removes from Redis each entry that `holds(fd, kind, what)`
  // says is no longer true (a room, a user id, a close key):
  // the member goes from what the entry names, then the entry.
  void reconcile(int worker, std::function<bool(Fd fd, RegistryKind kind, std::string_view what)> holds);
  // A worker's first member of a room arrived / its last one left.
  void roomActive(std::string_view room);
  void roomInactive(std::string_view room);

  // ---- bus, on any loop thread: reaches other nodes (local delivery is the caller's) ----
  // Each carries p's bytes and whether it is a binary frame (a raw endpoint's).
  void publishRoom(std::string_view room, const Payload& p);
  // Builds (once each) and carries the text of every flavor this node's
  // endpoints have: other nodes' members are not known here.
  void publishRoom(std::string_view room, const FlavoredPayload& p);
  void publishUser(std::string_view id, const Payload& p);
  void publishAll(const Payload& p);
  void publishAllExceptUser(std::string_view id, const Payload& p);
  void publishToMember(std::string_view node, Fd fd, const Payload& p);
  void publishKick(std::string_view node, Fd fd, int code, std::string_view reason);
  void publishKickUser(std::string_view id, int code, std::string_view reason);

  // ---- manager thread ----
  void start(EventLoop& managerLoop);
  // Removes what this run registered, then calls done (at most ~2 s later).
  void stop(std::function<void()> done);
  // After stop's done: drops the subscriber and timers (the loop may end);
  // a describe() still waiting answers with an error.
  void release();
  // The instances alive now, from their heartbeat keys (for GET /status):
  // done gets {"nodes": [{"node_id","instance","connections","start_time",
  // "pid","self"}...], "connections": TOTAL}, or {"error": REASON} when Redis
  // is unreachable or has not answered within kDescribeTimeoutMs. done runs
  // later on this loop (at once if the cluster is off or stopped).
  void describe(std::function<void(Json)> done);

 private:
  void publish(const std::string& channel, BusKind kind, std::string_view target, std::string_view text,
               bool binary = false);
  void publish(const std::string& channel, BusKind kind, std::string_view target, const Payload& p) {
    publish(channel, kind, target, p.text(), isBinaryFrame(p));
  }
  void onBusMessage(std::string_view channel, std::string_view payload);
  void deliver(BusKind kind, const std::string& target, std::string_view text, bool binary);
  void deliverKick(BusKind kind, const std::string& target, std::string_view text);
  void deliverFlavored(const std::string& room, std::string_view text);
  void heartbeat();
  // Removes every member the instance registered; `why` is for the log.
  void purge(const std::string& instance, const char* why, std::function<void()> done = nullptr);
  void registerInstance();
  static void onTimer(struct ev_loop* loop, ev_timer* w, int revents);
  std::string member(Fd fd) const;
  void remember(const std::string& entry);
  void forget(const std::string& entry);
  struct Describe;
  static void onDescribeTimeout(struct ev_loop* loop, ev_timer* w, int revents);
  void described(uint64_t id, Json result);

  Server& server_;
  const bool enabled_;
  const std::string nodeId_;
  std::string instance_;
  Fd fdFloor_ = 0;
  std::mutex roomsMutex_;
  std::map<std::string, int, std::less<>> activeRooms_;  // workers with members, per room; guarded
  EventLoop* managerLoop_ = nullptr;
  std::unique_ptr<RedisSubscriber> subscriber_;
  ev_timer timer_;
  bool registeredOnce_ = false;
  std::function<void()> stopTimeout_;
  std::map<uint64_t, std::unique_ptr<Describe>> describes_;  // waiting for Redis, by id
  uint64_t nextDescribe_ = 0;
};

}  // namespace msw
