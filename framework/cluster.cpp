#include "framework/cluster.h"

#include <unistd.h>

#include <chrono>
#include <optional>

#include "framework/event_loop.h"
#include "framework/frame_builder.h"
#include "framework/server.h"
#include "framework/store_hub.h"
#include "library/log.h"
#include "library/redis_subscriber.h"
#include "msw/json.h"

namespace msw {
namespace {

constexpr char kSep = '\x1f';
constexpr char kBinaryMark = 'b';  // after a bus message's kind: a binary frame
const std::string kAllChannel = "_msw:bus:all";
const std::string kInstances = "_msw:instances";

std::string roomKey(std::string_view room) { return "_msw:room:" + std::string(room); }
std::string instKey(std::string_view inst) { return "_msw:inst:" + std::string(inst); }
std::string aliveKey(std::string_view inst) { return "_msw:alive:" + std::string(inst); }
std::string roomChannel(std::string_view room) { return "_msw:bus:room:" + std::string(room); }
std::string nodeChannel(std::string_view node) { return "_msw:bus:node:" + std::string(node); }

std::string entry(RegistryKind kind, std::string_view what, std::string_view member) {
  std::string e(1, static_cast<char>(kind));
  e.push_back(kSep);
  e.append(what).push_back(kSep);
  e.append(member);
  return e;
}

// One entry of an instance's set, read back.
struct Entry {
  RegistryKind kind = RegistryKind::kRoom;
  std::string_view what;
  std::string_view member;  // "node_id:fd"
};

std::optional<Entry> parseEntry(std::string_view e) {
  size_t a = e.find(kSep);
  size_t b = e.rfind(kSep);
  if (a != 1 || b == a) return std::nullopt;
  auto kind = static_cast<RegistryKind>(e[0]);
  if (kind != RegistryKind::kRoom && kind != RegistryKind::kUser && kind != RegistryKind::kCloseKey)
    return std::nullopt;
  return Entry{kind, e.substr(2, b - 2), e.substr(b + 1)};
}

// Takes the entry's member out of the room, user or close-key set it names.
void removeMember(Store& st, const Entry& e) {
  std::string m(e.member);
  switch (e.kind) {
    case RegistryKind::kRoom: st.hdel(roomKey(e.what), m); break;
    case RegistryKind::kUser: st.srem(Cluster::userKey(e.what), m); break;
    case RegistryKind::kCloseKey: st.srem(std::string(e.what), m); break;
  }
}

// Milliseconds since 2024-01-01.
int64_t msSinceEpoch2024() {
  using namespace std::chrono;
  int64_t ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  return ms - 1704067200000LL;
}

Fd toFd(std::string_view s) {
  Fd v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<Fd>(c - '0');
  }
  return v;
}

// LENGTH 0x1f BYTES: one field of a flavored room message.
void appendField(std::string& out, std::string_view bytes) {
  out.append(std::to_string(bytes.size())).push_back(kSep);
  out.append(bytes);
}

bool takeField(std::string_view& in, std::string_view& field) {
  size_t sep = in.find(kSep);
  if (sep == std::string_view::npos || sep == 0) return false;
  size_t len = static_cast<size_t>(toFd(in.substr(0, sep)));
  if (len == 0 && in.substr(0, sep) != "0") return false;
  in.remove_prefix(sep + 1);
  if (len > in.size()) return false;
  field = in.substr(0, len);
  in.remove_prefix(len);
  return true;
}

}  // namespace

Cluster::Cluster(Server& server)
    : server_(server), enabled_(server.stores().shared()), nodeId_(server.config().nodeId) {
  int64_t now = msSinceEpoch2024();
  instance_ = nodeId_ + "@" + std::to_string(now);
  if (enabled_) {
    // An earlier run of this node may have left "node:fd" names in Redis that
    // are purged only later: this run's fds start above any fd that run can
    // have used, unless it accepted more than 1024 connections per ms of its
    // life. Rounded to a multiple of worker_num, so fd % workers still names
    // the owning worker (Server::newFd); stays below 2^53 (exact in JavaScript) for 100 years.
    fdFloor_ = static_cast<Fd>(now) * 1024;
  }
  ev_timer_init(&timer_, &Cluster::onTimer, 0., kHeartbeat);
  timer_.data = this;
}

Cluster::~Cluster() = default;

std::string Cluster::member(Fd fd) const { return nodeId_ + ":" + std::to_string(fd); }

bool Cluster::splitMember(std::string_view member, std::string_view& node, Fd& fd) {
  size_t colon = member.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == member.size()) return false;
  fd = toFd(member.substr(colon + 1));
  node = member.substr(0, colon);
  return fd != 0;
}

void Cluster::remember(const std::string& e) {
  if (enabled_) server_.stores().internal().sadd(instKey(instance_), e);
}

void Cluster::forget(const std::string& e) {
  if (enabled_) server_.stores().internal().srem(instKey(instance_), e);
}

// ---- registry ----
//
// Only with a shared store (Redis). On one node the workers' own room and
// user indexes are the registry (Manager asks them): a copy in the memory
// store would cost every connection a few hundred bytes for nothing.

void Cluster::joined(Fd fd, std::string_view room, const Auth& auth) {
  if (!enabled_) return;
  Json info = Json::object();
  info.set("id", auth.id).set("nickname", auth.nickname).set("type", auth.type);
  std::string m = member(fd);
  server_.stores().internal().hset(roomKey(room), m, info.dump());
  remember(entry(RegistryKind::kRoom, room, m));
}

void Cluster::left(Fd fd, std::string_view room) {
  if (!enabled_) return;
  std::string m = member(fd);
  server_.stores().internal().hdel(roomKey(room), m);
  forget(entry(RegistryKind::kRoom, room, m));
}

void Cluster::userOnline(Fd fd, std::string_view id) {
  if (!enabled_) return;
  std::string m = member(fd);
  server_.stores().internal().sadd(userKey(id), m);
  server_.stores().internal().sadd(kUsersKey, id);
  remember(entry(RegistryKind::kUser, id, m));
}

void Cluster::userOffline(Fd fd, std::string_view id) {
  if (!enabled_) return;
  std::string m = member(fd);
  server_.stores().internal().srem(userKey(id), m);
  forget(entry(RegistryKind::kUser, id, m));
}

void Cluster::closeKeyAdded(Fd fd, std::string_view key) { remember(entry(RegistryKind::kCloseKey, key, member(fd))); }

void Cluster::closeKeyRemoved(Fd fd, std::string_view key) { forget(entry(RegistryKind::kCloseKey, key, member(fd))); }

// Writes the worker sent may never have been applied: those on the wire
// when the link dropped, or all since the snapshot a restarted Redis loaded.
// What was added is written again by the worker (registerAll); what was
// removed is found here, in the instance's own record, and removed again.
// The read goes on the worker's connection after its writes, and `holds` is
// asked when the answer comes: an entry added meanwhile is not in the answer,
// one removed meanwhile has had its removal sent already.
void Cluster::reconcile(int worker, std::function<bool(Fd, RegistryKind, std::string_view)> holds) {
  if (!enabled_) return;
  server_.stores().internal().smembers(
      instKey(instance_), [this, worker, holds = std::move(holds)](StoreResult<StrList> entries) {
        if (!entries.ok()) return;
        Store& st = server_.stores().internal();
        const Worker* mine = &server_.worker(worker);
        size_t stale = 0;
        for (const std::string& e : entries.value) {
          std::optional<Entry> parsed = parseEntry(e);
          std::string_view node;
          Fd fd = 0;
          if (!parsed || !splitMember(parsed->member, node, fd) || server_.workerFor(fd) != mine ||
              holds(fd, parsed->kind, parsed->what))
            continue;
          removeMember(st, *parsed);
          st.srem(instKey(instance_), e);
          ++stale;
        }
        if (stale) LOG_INFO("cluster: %zu entries of worker %d were stale in Redis: removed", stale, worker);
      });
}

void Cluster::roomActive(std::string_view room) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(roomsMutex_);
  if (++activeRooms_[std::string(room)] != 1 || !managerLoop_) return;
  // Posted under the lock: subscribe and unsubscribe reach the manager in the order counted here.
  managerLoop_->post([this, ch = roomChannel(room)] {
    if (subscriber_) subscriber_->subscribe(ch);
  });
}

void Cluster::roomInactive(std::string_view room) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(roomsMutex_);
  auto it = activeRooms_.find(room);
  if (it == activeRooms_.end() || --it->second > 0) return;
  activeRooms_.erase(it);
  if (managerLoop_)
    managerLoop_->post([this, ch = roomChannel(room)] {
      if (subscriber_) subscriber_->unsubscribe(ch);
    });
}

// ---- bus ----

// ORIGIN 0x1f KIND [b] 0x1f TARGET-LENGTH 0x1f TARGET TEXT; "b" after the
// kind: the bytes are a binary frame's (a node that predates it drops the
// message rather than deliver it as text).
void Cluster::publish(const std::string& channel, BusKind kind, std::string_view target, std::string_view text,
                      bool binary) {
  if (!enabled_) return;
  std::string msg;
  msg.reserve(instance_.size() + target.size() + text.size() + 16);
  msg.append(instance_).push_back(kSep);
  msg.push_back(static_cast<char>(kind));
  if (binary) msg.push_back(kBinaryMark);
  msg.push_back(kSep);
  msg.append(std::to_string(target.size())).push_back(kSep);
  msg.append(target).append(text);
  server_.stores().publish(channel, msg);
}

void Cluster::publishRoom(std::string_view room, const Payload& p) {
  publish(roomChannel(room), BusKind::kRoom, room, p);
}
// COUNT-FIELD, then COUNT times FLAVOR-FIELD TEXT-FIELD, then the base text.
void Cluster::publishRoom(std::string_view room, const FlavoredPayload& p) {
  if (!enabled_) return;
  std::vector<std::pair<std::string_view, Payload>> flavored;
  for (const std::string& f : server_.endpoints().flavors()) {
    if (f.empty()) continue;
    Payload q = Worker::flavorPayload(p, f);
    if (q.block() != p.base().block()) flavored.emplace_back(f, std::move(q));
  }
  if (flavored.empty()) return publishRoom(room, p.base());
  std::string text;
  appendField(text, std::to_string(flavored.size()));
  for (auto& [f, q] : flavored) {
    appendField(text, f);
    appendField(text, q.text());
  }
  text.append(p.base().text());
  publish(roomChannel(room), BusKind::kRoomFlavored, room, text);
}

void Cluster::publishUser(std::string_view id, const Payload& p) { publish(kAllChannel, BusKind::kUser, id, p); }
void Cluster::publishAll(const Payload& p) { publish(kAllChannel, BusKind::kAll, "", p); }
void Cluster::publishAllExceptUser(std::string_view id, const Payload& p) {
  publish(kAllChannel, BusKind::kAllExceptUser, id, p);
}
void Cluster::publishToMember(std::string_view node, Fd fd, const Payload& p) {
  publish(nodeChannel(node), BusKind::kFd, std::to_string(fd), p);
}
void Cluster::publishKick(std::string_view node, Fd fd, int code, std::string_view reason) {
  publish(nodeChannel(node), BusKind::kKick, std::to_string(fd), std::to_string(code) + kSep + std::string(reason));
}
void Cluster::publishKickUser(std::string_view id, int code, std::string_view reason) {
  publish(kAllChannel, BusKind::kKickUser, id, std::to_string(code) + kSep + std::string(reason));
}

void Cluster::onBusMessage(std::string_view, std::string_view payload) {
  size_t a = payload.find(kSep);
  if (a == std::string_view::npos || a + 3 >= payload.size()) return;
  bool binary = payload[a + 2] == kBinaryMark;
  size_t head = a + (binary ? 4 : 3);  // past ORIGIN, KIND, the mark and the separator
  if (head > payload.size() || payload[head - 1] != kSep) return;
  if (payload.substr(0, a) == instance_) return;  // our own: delivered locally already
  auto kind = static_cast<BusKind>(payload[a + 1]);
  std::string_view rest = payload.substr(head);
  size_t b = rest.find(kSep);
  if (b == std::string_view::npos) return;
  size_t len = static_cast<size_t>(toFd(rest.substr(0, b)));
  rest.remove_prefix(b + 1);
  if (len > rest.size()) return;
  deliver(kind, std::string(rest.substr(0, len)), rest.substr(len), binary);
}

void Cluster::deliver(BusKind kind, const std::string& target, std::string_view text, bool binary) {
  if (kind == BusKind::kKick || kind == BusKind::kKickUser) return deliverKick(kind, target, text);
  if (kind == BusKind::kRoomFlavored) return deliverFlavored(target, text);
  Payload p = buildFrame(text, binary);  // once for every local recipient
  switch (kind) {
    case BusKind::kFd:
      server_.onOwner(toFd(target), [fd = toFd(target), p](Worker& w) {
        if (Connection* c = w.find(fd)) w.send(c, p);
      });
      break;
    case BusKind::kRoom: server_.onEach([target, p](Worker& w) { w.sendToRoom(target, p, {}); }); break;
    case BusKind::kUser: server_.onEach([target, p](Worker& w) { w.sendToUser(target, p); }); break;
    case BusKind::kAll: server_.onEach([p](Worker& w) { w.sendToAll(p, {}); }); break;
    case BusKind::kAllExceptUser:
      server_.onEach([target, p](Worker& w) { w.sendToAll(p, w.userFds(target)); });
      break;
    default: break;  // a kind this version does not know
  }
}

// Each flavor's frame is built here only when a worker meets a member of it.
void Cluster::deliverFlavored(const std::string& room, std::string_view text) {
  std::string_view count;
  if (!takeField(text, count)) return;
  std::vector<std::pair<std::string, std::string>> texts;
  for (Fd n = toFd(count); n > 0; --n) {
    std::string_view f, t;
    if (!takeField(text, f) || !takeField(text, t)) {
      LOG_WARN("bus: a malformed flavored message for room %s: dropped", room.c_str());
      return;
    }
    texts.emplace_back(f, t);
  }
  FlavoredPayload p(buildTextFrame(text), [texts = std::move(texts)](std::string_view flavor) {
    for (const auto& [f, t] : texts)
      if (f == flavor) return buildTextFrame(t);
    return Payload();
  });
  server_.onEach([room, p](Worker& w) { w.sendToRoom(room, p, {}); });
}

void Cluster::deliverKick(BusKind kind, const std::string& target, std::string_view text) {
  size_t sep = text.find(kSep);
  int code = static_cast<int>(toFd(text.substr(0, sep)));
  std::string reason(sep == std::string_view::npos ? std::string_view() : text.substr(sep + 1));
  if (kind == BusKind::kKick) {
    server_.onOwner(toFd(target), [fd = toFd(target), code, reason](Worker& w) {
      if (Connection* c = w.find(fd)) w.close(c, code, reason);
    });
    return;
  }
  server_.onEach([target, code, reason](Worker& w) { w.closeUser(target, code, reason); });
}

// ---- instances: heartbeat and purge (manager thread) ----

void Cluster::start(EventLoop& loop) {
  if (!enabled_) return;
  managerLoop_ = &loop;
  subscriber_ = server_.stores().subscriber(
      loop.loop(), [this](std::string_view ch, std::string_view msg) { onBusMessage(ch, msg); });
  subscriber_->subscribe(kAllChannel);
  subscriber_->subscribe(nodeChannel(nodeId_));
  {
    std::lock_guard<std::mutex> lock(roomsMutex_);
    for (auto& [room, n] : activeRooms_) subscriber_->subscribe(roomChannel(room));
  }
  // A (re)connection is when leftovers are found at once: those of an
  // earlier run of this node (purged now, not at the next heartbeat) and of
  // nodes that died while Redis was away.
  server_.stores().onReconnect([this] { heartbeat(); });
  ev_timer_start(loop.loop(), &timer_);  // first heartbeat at once
  LOG_INFO("cluster: node %s, instance %s, fds from %llu", nodeId_.c_str(), instance_.c_str(),
           static_cast<unsigned long long>(fdFloor_));
}

void Cluster::stop(std::function<void()> done) {
  if (!managerLoop_) return done();
  ev_timer_stop(managerLoop_->loop(), &timer_);
  if (subscriber_) subscriber_->close();
  // Everything this run registered goes with it (the workers removed most of
  // it as their clients closed; this catches what they could not send). The
  // answer comes back on this loop; if Redis is away, give up after 2 s.
  auto once = std::make_shared<std::function<void()>>(std::move(done));
  auto finish = [once] {
    if (*once) std::exchange(*once, nullptr)();
  };
  purge(instance_, "stopping", finish);
  ev_timer_init(&timer_, [](struct ev_loop*, ev_timer* w, int) { (*static_cast<std::function<void()>*>(w->data))(); },
                2., 0.);
  stopTimeout_ = finish;
  timer_.data = &stopTimeout_;
  ev_timer_start(managerLoop_->loop(), &timer_);
}

void Cluster::release() {
  if (managerLoop_) ev_timer_stop(managerLoop_->loop(), &timer_);
  subscriber_.reset();
  while (!describes_.empty()) {
    Json e = Json::object();
    e.set("error", "node stopping");
    described(describes_.begin()->first, std::move(e));
  }
  managerLoop_ = nullptr;
}

void Cluster::onTimer(struct ev_loop*, ev_timer* w, int) { static_cast<Cluster*>(w->data)->heartbeat(); }

void Cluster::registerInstance() {
  Store& s = server_.stores().internal();
  s.hset(kInstances, instance_, nodeId_);
  int64_t conns = 0;
  for (int i = 0; i < server_.workerCount(); ++i) conns += server_.worker(i).stats().connections.get();
  Json alive = Json::object();
  alive.set("node", nodeId_).set("pid", static_cast<int64_t>(getpid())).set("connections", conns);
  alive.set("start_time", static_cast<int64_t>(server_.startTime()));
  s.set(aliveKey(instance_), alive.dump(), kAliveTtl);
}

void Cluster::heartbeat() {
  Store& s = server_.stores().internal();
  // Still registered? A Redis that lost its data, or another node that took
  // us for dead while Redis was away, means every worker must register again.
  s.hget(kInstances, instance_, [this](StoreResult<std::optional<std::string>> mine) {
    if (mine.ok() && !mine.value && registeredOnce_) {
      LOG_WARN("cluster: this instance was missing from Redis: registering its members again");
      for (int i = 0; i < server_.workerCount(); ++i) {
        Worker* w = &server_.worker(i);
        w->post([w] { w->registerAll(); });
      }
    }
    if (mine.ok()) registeredOnce_ = true;
  });
  registerInstance();
  s.hgetall(kInstances, [this](StoreResult<StrMap> all) {
    if (!all.ok()) return;
    for (auto& [inst, node] : all.value) {
      if (inst == instance_) continue;
      if (node == nodeId_) {  // an earlier run of this very node: gone for sure
        purge(inst, "an earlier run of this node");
        continue;
      }
      server_.stores().internal().exists(aliveKey(inst), [this, inst](StoreResult<bool> alive) {
        if (alive.ok() && !alive.value) purge(inst, "heartbeat expired");
      });
    }
  });
}

// ---- the cluster as GET /status shows it (manager thread) ----

struct Cluster::Describe {
  Cluster* owner = nullptr;
  uint64_t id = 0;
  ev_timer timer;
  std::function<void(Json)> done;
  size_t left = 0;                       // alive keys not read yet
  std::map<std::string, Json> alive;     // instance -> its heartbeat value
};

void Cluster::describe(std::function<void(Json)> done) {
  if (!enabled_ || !managerLoop_) {
    Json e = Json::object();
    e.set("error", enabled_ ? "node stopping" : "no cluster (memory store)");
    return done(std::move(e));
  }
  uint64_t id = ++nextDescribe_;
  auto d = std::make_unique<Describe>();
  d->owner = this;
  d->id = id;
  d->done = std::move(done);
  ev_timer_init(&d->timer, &Cluster::onDescribeTimeout, kDescribeTimeoutMs / 1000., 0.);
  d->timer.data = d.get();
  ev_timer_start(managerLoop_->loop(), &d->timer);
  describes_.emplace(id, std::move(d));
  // Why a read failed: the connection's state says more than "store unavailable".
  auto failed = [this, id](const std::string& error) {
    std::string health = server_.stores().health();
    Json e = Json::object();
    e.set("error", health != "ok" ? health : error);
    described(id, std::move(e));
  };
  // Every instance registered, then the heartbeat of each: one whose key
  // expired (killed, not purged yet) is not listed.
  server_.stores().internal().hgetall(kInstances, [this, id, failed](StoreResult<StrMap> all) {
    auto it = describes_.find(id);
    if (it == describes_.end()) return;  // timed out meanwhile
    if (!all.ok()) return failed(all.error);
    it->second->left = all.value.size();
    if (all.value.empty()) return described(id, Json());
    for (auto& [inst, node] : all.value) {
      server_.stores().internal().get(
          aliveKey(inst), [this, id, inst, node, failed](StoreResult<std::optional<std::string>> value) {
            auto found = describes_.find(id);
            if (found == describes_.end()) return;
            if (!value.ok()) return failed(value.error);
            Describe& d = *found->second;
            if (value.value) {
              Json j = Json::parse(*value.value);
              if (!j.isObject()) j = Json::object();
              if (!j["node"].isString()) j.set("node", node);
              d.alive.emplace(inst, std::move(j));
            }
            if (--d.left == 0) described(id, Json());
          });
    }
  });
}

void Cluster::onDescribeTimeout(struct ev_loop*, ev_timer* w, int) {
  auto* d = static_cast<Describe*>(w->data);
  Json e = Json::object();
  e.set("error", "no answer from Redis within " + std::to_string(kDescribeTimeoutMs) + " ms");
  d->owner->described(d->id, std::move(e));
}

// Ends describe request `id` with `result`, or (a null one) with the nodes read.
void Cluster::described(uint64_t id, Json result) {
  auto it = describes_.find(id);
  if (it == describes_.end()) return;
  std::unique_ptr<Describe> d = std::move(it->second);
  describes_.erase(it);
  if (managerLoop_) ev_timer_stop(managerLoop_->loop(), &d->timer);
  if (!result) {
    result = Json::object();
    JsonRef nodes = result.addArray("nodes");
    int64_t total = 0;
    for (auto& [inst, alive] : d->alive) {  // by instance: "node_id@start", so by node id
      JsonRef n = nodes.pushObject();
      n.set("node_id", alive["node"].str());
      n.set("instance", inst);
      n.set("connections", alive["connections"].i64());
      n.set("start_time", alive["start_time"].i64());
      n.set("pid", alive["pid"].i64());
      n.set("self", inst == instance_);
      total += alive["connections"].i64();
    }
    result.set("connections", total);
  }
  d->done(std::move(result));
}

void Cluster::purge(const std::string& inst, const char* why, std::function<void()> done) {
  Store& s = server_.stores().internal();
  if (inst != instance_) LOG_INFO("cluster: purging the members of instance %s (%s)", inst.c_str(), why);
  s.smembers(instKey(inst), [this, inst, done](StoreResult<StrList> entries) {
    if (!entries.ok()) {
      if (done) done();
      return;
    }
    Store& st = server_.stores().internal();
    for (const std::string& e : entries.value) {
      if (std::optional<Entry> parsed = parseEntry(e)) removeMember(st, *parsed);
    }
    st.del(instKey(inst));
    st.hdel(kInstances, inst);
    st.del(aliveKey(inst));
    if (done) done();
  });
}

}  // namespace msw
