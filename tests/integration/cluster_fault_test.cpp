// tests/integration/cluster_fault_test.cpp: the fault table of
// docs/deployment.md "Several nodes with one Redis", with two real nodes
// (a, b; two workers each) and a redis-server of the test's own:
//   - a node killed (SIGKILL): its members stay listed until its heartbeat
//     key expires (Cluster::kAliveTtl), then another node purges them, the
//     live module's sets included; restarted before that, it purges its
//     leftovers at once;
//   - Redis restarted mid-run (its data lost): both nodes reconnect,
//     resubscribe and register their members again; clients stay connected;
//   - Redis back with its data but without writes it never read (a snapshot
//     after SIGSTOP + SIGKILL): what left meanwhile is removed again;
//   - Redis down when a node starts: the node serves clients anyway and
//     recovers by itself when Redis comes;
//   - a node stopped: its members go at once, nothing of it stays in Redis;
//   - Redis slow (SIGSTOP): clients are not stalled, pushes between nodes
//     arrive late;
// and node ids with a colon (the default node id is "host:port").
#include "tests/integration/cluster_support.h"

namespace msw::cluster {
namespace {

std::string lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

class Fault : public ClusterTest {
 protected:
  void startBoth() {
    startNode("a");
    if (HasFatalFailure()) return;
    startNode("b");
  }

  // Live attendees of room `code` (the room the token names): members of
  // that room and of the live module's set live:CODE:users (a close key).
  std::vector<std::unique_ptr<Client>> attendees(const std::string& nodeId, size_t n, const std::string& userPrefix,
                                                 const std::string& code) {
    auto out = connectSpread(nodeId, n, userPrefix, code);
    for (auto& c : out) {
      Msg j = c->call(R"({"method":"live.user.join"})", "join");
      EXPECT_EQ(j.status(), 200) << j;
    }
    return out;
  }

  // Starts both nodes, makes two live attendees of room `code` on each and
  // waits until node a lists them all.
  struct Attendance {
    std::vector<std::unique_ptr<Client>> as, bs;  // on node a, on node b
    std::set<std::string> all;                    // the members of both
  };
  Attendance attendBoth(const std::string& code) {
    Attendance t;
    startBoth();
    if (HasFatalFailure()) return t;
    t.as = attendees("a", 2, "ua", code);
    t.bs = attendees("b", 2, "ub", code);
    t.all = members(t.as);
    for (auto& c : t.bs) t.all.insert(c->member);
    EXPECT_EQ(waitOnline("a", code, t.all), t.all);
    return t;
  }

  // A wall joining on nodeId: the live module's online count of `code`.
  int64_t wallOnlineCount(const std::string& nodeId, const std::string& code) {
    auto wall = connect(nodeId, "wall-" + code + "-" + std::to_string(++walls_), code, "wall");
    Msg j = wall->call(R"({"method":"live.wall.join"})", "join");
    EXPECT_EQ(j.status(), 200) << j;
    return j.param()["online"].i64(-1);
  }

  // Every key of this test's prefix that still names node `id`: the
  // instance keys (_msw:inst:, _msw:alive:), a field of _msw:instances, a
  // member "id:fd" of any hash (rooms) or set (users, close keys).
  std::vector<std::string> leftoversOf(const std::string& id) {
    std::vector<std::string> found;
    int port = redis_.port();
    for (const std::string& key : msw::test::redisKeys(port, prefix_ + "*")) {
      if (key.find(id + "@") != std::string::npos) found.push_back(key);
      auto type = msw::test::redisCall(port, {"TYPE", key});
      std::vector<std::string> names;
      if (type && type->str == "hash") {
        if (auto v = msw::test::redisCall(port, {"HKEYS", key}))
          for (auto& e : v->elements) names.push_back(e.str);
      } else if (type && type->str == "set") {
        if (auto v = msw::test::redisCall(port, {"SMEMBERS", key}))
          for (auto& e : v->elements) names.push_back(e.str);
      }
      for (const std::string& n : names)
        if (n.rfind(id + ":", 0) == 0 || n.rfind(id + "@", 0) == 0) found.push_back(key + " -> " + n);
    }
    return found;
  }

  // Once b is gone: nothing of b is left in Redis, the live module counts
  // only a's attendees of `code`, and a's own clients are still served.
  void expectOnlyARemains(const std::vector<std::unique_ptr<Client>>& as, const std::string& code) {
    EXPECT_EQ(lines(leftoversOf("b")), "");
    EXPECT_EQ(wallOnlineCount("a", code), static_cast<int64_t>(as.size()));
    for (auto& c : as) EXPECT_EQ(c->call(R"({"method":"clustertest.t.whoami"})", "whoami").status(), 200);
  }

  // How many times node id's store connections and its subscriber have
  // connected so far, from its log.
  struct Ups {
    size_t store = 0;
    size_t subscriber = 0;
  };
  Ups ups(const std::string& id) {
    return {node(id).countInLog(kStoreUp), node(id).countInLog(kSubUp)};
  }
  // Until every connection of node id to Redis has come back since `before`:
  // the manager's and each worker's store connection, and the subscriber.
  void waitReconnected(const std::string& id, Ups before) {
    TestServer& n = node(id);
    EXPECT_TRUE(pollUntil([&] { return n.countInLog(kStoreUp) >= before.store + 1 + kWorkers; }, 15000))
        << id << ": store connections did not all come back\n" << tail(n.proc.log());
    EXPECT_TRUE(pollUntil([&] { return n.countInLog(kSubUp) >= before.subscriber + 1; }, 15000))
        << id << ": the subscriber did not come back\n" << tail(n.proc.log());
  }

  static constexpr const char* kStoreUp = "redis store: connected";
  static constexpr const char* kSubUp = "redis subscriber: connected";
  int walls_ = 0;
};

// SIGKILL: listed until the heartbeat expires, then purged by the other node.
TEST_F(Fault, KilledNodeMembersArePurgedWhenItsHeartbeatExpires) {
  auto [as, bs, all] = attendBoth("K");
  ASSERT_FALSE(HasFailure());
  const std::set<std::string> aOnly = members(as);
  bool flag = false;
  ASSERT_FALSE(onlineUser("a", bs[0]->user, &flag).empty());

  node("b").proc.kill9();
  auto killed = Clock::now();
  // Nobody told Redis: b's members are still there right after.
  EXPECT_EQ(online("a", "K"), all);
  // Then a notices b's heartbeat key expired and removes them. That takes
  // kAliveTtl (15 s) after b's last heartbeat (every 5 s), plus up to one
  // heartbeat period of a: 10..20 s after the kill.
  std::set<std::string> last = waitOnline("a", "K", aOnly, 30000);
  int64_t took = msSince(killed);
  std::cerr << "[ info ] b's members purged " << took << " ms after SIGKILL\n";
  ASSERT_EQ(last, aOnly) << "b's members still listed " << took << " ms after SIGKILL";
  EXPECT_GE(took, 5000) << "purged before b's heartbeat key could have expired";
  EXPECT_TRUE(node("a").proc.waitLog("purging the members of instance b@", 1000)) << tail(node("a").proc.log());
  // User presence and the live module's online set (a close key) too.
  for (auto& c : bs) {
    flag = true;
    EXPECT_TRUE(onlineUser("a", c->user, &flag).empty()) << c->user;
    EXPECT_FALSE(flag);
  }
  expectOnlyARemains(as, "K");
}

// SIGKILL, then a restart of the same node id well before the TTL.
TEST_F(Fault, RestartedNodePurgesItsLeftoversAtOnce) {
  auto [as, bs, all] = attendBoth("R");
  ASSERT_FALSE(HasFailure());
  const std::set<std::string> aOnly = members(as);

  auto killed = Clock::now();
  node("b").proc.kill9();
  bs.clear();
  ASSERT_TRUE(node("b").start()) << node("b").error();
  auto started = Clock::now();
  // Its first heartbeat purges the earlier run: within a couple of seconds,
  // far below the 10 s a heartbeat key lives at least.
  std::set<std::string> last = waitOnline("a", "R", aOnly, 3000);
  int64_t took = msSince(started);
  EXPECT_EQ(last, aOnly) << "b's old members still listed " << took << " ms after b restarted";
  // (If not at once, see whether the next heartbeat of b, 5 s later, does it,
  // so that the rest of the test still runs.)
  if (last != aOnly) last = waitOnline("a", "R", aOnly, 8000);
  took = msSince(started);
  std::cerr << "[ info ] old members of b gone " << took << " ms after b's restart (" << msSince(killed)
            << " ms after the kill)\n";
  ASSERT_EQ(last, aOnly) << "b's old members still listed " << took << " ms after b restarted";
  EXPECT_EQ(wallOnlineCount("a", "R"), static_cast<int64_t>(as.size()));

  // New connections on the restarted b work, across nodes too.
  waitSubscribed("b");
  auto fresh = attendees("b", 1, "fresh", "R");
  for (auto& c : fresh) all.insert(c->member);
  std::set<std::string> want = aOnly;
  for (auto& c : fresh) want.insert(c->member);
  EXPECT_EQ(waitOnline("a", "R", want), want);
  waitRoomSubscribers("R", 2);
  Msg sent = as[0]->call(R"({"method":"clustertest.t.room","room":"R","event":"afterRestart"})", "sent");
  ASSERT_EQ(sent.status(), 200) << sent;
  for (auto& c : fresh) EXPECT_TRUE(c->waitEvent("afterRestart").received) << c->member;
  sent = fresh[0]->call(R"({"method":"clustertest.t.room","room":"R","event":"fromB"})", "sent");
  ASSERT_EQ(sent.status(), 200) << sent;
  for (auto& c : as) EXPECT_TRUE(c->waitEvent("fromB").received) << c->member;
  // Nothing of b's first run is left (its instance keys, its members).
  std::vector<std::string> left = leftoversOf("b");
  std::string firstRun;
  for (const std::string& l : left) {
    bool current = false;
    for (auto& c : fresh) current = current || l.find(c->member) != std::string::npos;
    if (!current && l.find("b@") == std::string::npos) firstRun += l + "\n";
  }
  EXPECT_EQ(firstRun, "");
  // Exactly one instance of b is registered: the current one.
  auto inst = msw::test::redisCall(redis_.port(), {"HKEYS", prefix_ + "_msw:instances"});
  ASSERT_TRUE(inst.has_value());
  int bInstances = 0;
  for (auto& e : inst->elements) bInstances += e.str.rfind("b@", 0) == 0;
  EXPECT_EQ(bInstances, 1);
}

// Redis restarts (and loses everything): the nodes put it all back.
TEST_F(Fault, RedisRestartMidRunIsRecoveredWithoutDroppingClients) {
  auto [as, bs, all] = attendBoth("X");
  ASSERT_FALSE(HasFailure());
  waitRoomSubscribers("X", 2);
  Ups before[2] = {ups("a"), ups("b")};

  redis_.kill9();
  ASSERT_TRUE(redis_.start()) << redis_.error();
  auto restarted = Clock::now();

  // Every connection of both nodes comes back.
  waitReconnected("a", before[0]);
  waitReconnected("b", before[1]);
  std::cerr << "[ info ] all reconnected " << msSince(restarted) << " ms after the Redis restart\n";
  // The registry is rebuilt from the nodes' own state: seen from both.
  EXPECT_EQ(waitOnline("a", "X", all, 10000), all);
  EXPECT_EQ(waitOnline("b", "X", all, 10000), all);
  std::cerr << "[ info ] registry complete again " << msSince(restarted) << " ms after the Redis restart\n";
  for (auto& c : bs) EXPECT_EQ(onlineUser("a", c->user), std::set<std::string>{c->member});
  EXPECT_EQ(wallOnlineCount("a", "X"), static_cast<int64_t>(all.size())) << "live:X:users rebuilt (close keys)";
  // Resubscribed: room messages flow between the nodes again.
  waitRoomSubscribers("X", 2);
  Msg sent = as[0]->call(R"({"method":"clustertest.t.room","room":"X","event":"again1","exclude_self":true})", "sent");
  ASSERT_EQ(sent.status(), 200) << sent;
  sent = bs[0]->call(R"({"method":"clustertest.t.room","room":"X","event":"again2","exclude_self":true})", "sent");
  ASSERT_EQ(sent.status(), 200) << sent;
  for (auto* group : {&as, &bs})
    for (auto& c : *group) {
      if (c != as[0]) {
        EXPECT_TRUE(c->waitEvent("again1").received) << c->member;
      }
      if (c != bs[0]) {
        EXPECT_TRUE(c->waitEvent("again2").received) << c->member;
      }
    }
  // Clients never got disconnected; both nodes still run.
  for (auto* group : {&as, &bs})
    for (auto& c : *group) {
      EXPECT_EQ(c->ws.closeCode(), 0) << c->member;
      EXPECT_EQ(c->call(R"({"method":"clustertest.t.whoami"})", "whoami").status(), 200) << c->member;
    }
  EXPECT_TRUE(node("a").proc.running());
  EXPECT_TRUE(node("b").proc.running());
}

// Redis dies with writes of the node unread in its socket, and comes back
// with its data (from a snapshot here; a dropped link loses writes in flight
// the same way): what left meanwhile must not stay listed. On reconnect a
// node writes all it has again and takes out what it no longer has.
TEST_F(Fault, RedisBackWithItsDataForgetsWritesItNeverRead) {
  startBoth();
  ASSERT_FALSE(HasFatalFailure());
  auto as = attendees("a", 3, "ua", "K");
  auto bs = attendees("b", 1, "ub", "K");
  for (auto& c : as) join(*c, "side");
  for (size_t i = 0; i < 2; ++i) {
    Msg kept = as[i]->call(R"({"method":"clustertest.t.keep","key":"kept"})", "kept");
    EXPECT_EQ(kept.status(), 200) << kept;
  }
  std::set<std::string> all = members(as);
  for (auto& c : bs) all.insert(c->member);
  ASSERT_EQ(waitOnline("a", "K", all), all);
  auto saved = msw::test::redisCall(redis_.port(), {"SAVE"});
  ASSERT_TRUE(saved && saved->str == "OK") << (saved ? saved->str : "no answer");
  Ups before[2] = {ups("a"), ups("b")};
  redis_.pause();  // what a sends now waits, unread, in Redis's socket

  // One attendee of a leaves the live room and a set with a close key,
  // another disconnects, a third leaves one room and stays in the other.
  TestServer& a = node("a");
  int64_t conns = a.status()["connections"].i64();
  Msg out = as[0]->call(R"({"method":"live.user.out"})", "out");
  EXPECT_EQ(out.status(), 200) << out;
  Msg unkept = as[0]->call(R"({"method":"clustertest.t.unkeep","key":"kept"})", "unkept");
  EXPECT_EQ(unkept.status(), 200) << unkept;
  std::unique_ptr<Client> gone = std::move(as[1]);
  as.erase(as.begin() + 1);
  ASSERT_TRUE(gone->ws.sendClose(1000));
  EXPECT_EQ(gone->ws.waitClose(), 1000);
  ASSERT_TRUE(pollUntil([&] { return a.status()["connections"].i64() == conns - 1; }, 5000))
      << a.status().dump();
  Msg left = as[1]->call(R"({"method":"clustertest.t.leave","room":"side"})", "left");
  EXPECT_EQ(left.status(), 200) << left;

  redis_.kill9();  // those writes die with it
  ASSERT_TRUE(redis_.start()) << redis_.error();
  auto up = Clock::now();
  // as[0] left K, as[1] left side; the others (as many as it took to have
  // one on each worker) did nothing.
  std::set<std::string> stay = members(bs), side = members(as);
  for (size_t i = 1; i < as.size(); ++i) stay.insert(as[i]->member);
  side.erase(as[1]->member);
  std::set<std::string> last = waitOnline("b", "K", stay, 10000);
  EXPECT_EQ(last, stay) << "still listed " << msSince(up) << " ms after Redis came back with its snapshot";
  std::cerr << "[ info ] registry right again " << msSince(up) << " ms after Redis came back\n";
  EXPECT_EQ(waitOnline("b", "side", side, 5000), side);
  EXPECT_EQ(onlineUser("b", gone->user), std::set<std::string>{});
  EXPECT_EQ(onlineUser("b", as[1]->user), std::set<std::string>{as[1]->member});
  waitReconnected("b", before[1]);  // the wall's worker too: its join reads the store
  EXPECT_EQ(wallOnlineCount("b", "K"), static_cast<int64_t>(stay.size())) << "live:K:users (a close key)";
  // Nothing names the disconnected member any more.
  std::string named;
  for (const std::string& l : leftoversOf("a"))
    if (l.find(gone->member) != std::string::npos) named += l + "\n";
  EXPECT_EQ(named, "");
  // The set with a close key: both are out of it, and a's record of what
  // it wrote names neither (each worker's repair is one pipelined batch).
  auto inKept = [&] {
    std::set<std::string> out;
    if (auto v = msw::test::redisCall(redis_.port(), {"SMEMBERS", prefix_ + "kept"}))
      for (auto& e : v->elements) out.insert(e.str);
    return out;
  };
  std::set<std::string> inSet;
  pollUntil([&] { return (inSet = inKept()).empty(); }, 5000);
  EXPECT_EQ(inSet, std::set<std::string>{});
  auto recordedOfTheGone = [&] {
    std::string out;
    auto instances = msw::test::redisCall(redis_.port(), {"HKEYS", prefix_ + "_msw:instances"});
    if (!instances) return std::string("no answer from Redis");
    for (auto& inst : instances->elements)
      if (auto entries = msw::test::redisCall(redis_.port(), {"SMEMBERS", prefix_ + "_msw:inst:" + inst.str}))
        for (auto& e : entries->elements)
          if (e.str.find("kept") != std::string::npos || e.str.find(gone->member) != std::string::npos)
            out += e.str + "\n";
    return out;
  };
  std::string recorded;
  pollUntil([&] { return (recorded = recordedOfTheGone()).empty(); }, 5000);
  EXPECT_EQ(recorded, "");
}

// No Redis when the node starts: it serves anyway, then recovers alone.
TEST_F(Fault, RedisDownAtStartNodeServesAndRecovers) {
  redis_.kill9();  // its port stays ours: nothing listens there now
  TestServer& a = makeNode("a");
  ASSERT_TRUE(a.start()) << a.error();
  Json st = a.status();
  ASSERT_TRUE(st.isObject());
  EXPECT_EQ(st["store"]["driver"].str(), "redis") << st.dump();
  EXPECT_NE(st["store"]["health"].str(), "ok") << st.dump();
  EXPECT_FALSE(st["store"]["health"].str().empty()) << st.dump();
  std::cerr << "[ info ] store health while Redis is down: " << st["store"]["health"].str() << "\n";
  // /status answers anyway; its cluster part says why it has no nodes.
  EXPECT_FALSE(st["cluster"]["error"].str().empty()) << st.dump();
  EXPECT_FALSE(st["cluster"].has("nodes")) << st.dump();
  // docs/deployment.md, fault table, quotes this line.
  EXPECT_TRUE(a.proc.waitLog("redis store: cannot connect to", 2000)) << tail(a.proc.log(), 3000);

  // Clients connect and are served.
  auto c = connect("a", "early", "D");
  Msg echo = c->call(R"({"method":"index.index.echo","x":"hi"})", "echo");
  EXPECT_EQ(echo.status(), 200) << echo;
  EXPECT_EQ(echo.param()["x"].str(), "hi") << echo;
  join(*c, "D");
  // Reads fail fast, with "store unavailable".
  HttpResponse down = a.manager("GET", "/online?room=D");
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_NE(down.body.find("store unavailable"), std::string::npos) << down.body;

  ASSERT_TRUE(redis_.start()) << redis_.error();
  auto up = Clock::now();
  EXPECT_TRUE(pollUntil([&] { return a.status()["store"]["health"].str() == "ok"; }, 10000))
      << a.status().dump() << "\n" << tail(a.proc.log());
  std::cerr << "[ info ] store healthy " << msSince(up) << " ms after Redis came\n";
  EXPECT_TRUE(pollUntil([&] { return a.status()["cluster"]["nodes"].at(0)["node_id"].str() == "a"; }, 10000))
      << a.status().dump();
  // What happened while it was away is in Redis now.
  std::set<std::string> want = {c->member};
  EXPECT_EQ(waitOnline("a", "D", want), want);
  EXPECT_EQ(onlineUser("a", "early"), want);
  waitSubscribed("a");
  // And the node works as one of a cluster: b joins, a room spans both.
  startNode("b");
  ASSERT_FALSE(HasFatalFailure());
  auto d = connect("b", "late", "D");
  join(*d, "D");
  want.insert(d->member);
  EXPECT_EQ(waitOnline("b", "D", want), want);
  waitRoomSubscribers("D", 2);
  Msg sent = d->call(R"({"method":"clustertest.t.room","room":"D","event":"hello"})", "sent");
  ASSERT_EQ(sent.status(), 200) << sent;
  EXPECT_TRUE(c->waitEvent("hello").received);
}

// A graceful stop: members gone at once, nothing of the node left in Redis.
TEST_F(Fault, StoppedNodeLeavesNothingInRedis) {
  auto [as, bs, all] = attendBoth("G");
  ASSERT_FALSE(HasFailure());
  const std::set<std::string> aOnly = members(as);
  for (auto& c : bs) join(*c, "bonly");  // and a room of their own
  ASSERT_EQ(waitOnline("a", "bonly", members(bs)), members(bs));
  ASSERT_FALSE(leftoversOf("b").empty()) << "the check below would prove nothing";

  int rc = -2;
  std::thread stopper([&] { rc = node("b").proc.stop(15000); });
  for (auto& c : bs) EXPECT_EQ(c->ws.waitClose(10000), 1001) << c->member;
  stopper.join();
  auto stopped = Clock::now();
  EXPECT_EQ(rc, 0) << tail(node("b").proc.log());
  std::set<std::string> last = waitOnline("a", "G", aOnly, 2000);
  std::cerr << "[ info ] b's members gone " << msSince(stopped) << " ms after b exited\n";
  EXPECT_EQ(last, aOnly);
  EXPECT_EQ(online("a", "bonly"), std::set<std::string>{});
  expectOnlyARemains(as, "G");
}

// Redis stops answering (SIGSTOP; its connections stay open): nothing on a
// worker waits for it. Clients of a node are served, messages within the
// node are delivered at once; messages to the other node arrive late.
TEST_F(Fault, SlowRedisDoesNotStallClients) {
  startBoth();
  ASSERT_FALSE(HasFatalFailure());
  auto as = connectSpread("a", 2, "ua", "S");
  auto bs = connectSpread("b", 1, "ub", "S");
  for (auto* group : {&as, &bs})
    for (auto& c : *group) join(*c, "S");
  std::set<std::string> all = members(as);
  for (auto& c : bs) all.insert(c->member);
  ASSERT_EQ(waitOnline("a", "S", all), all);
  waitRoomSubscribers("S", 2);

  redis_.pause();
  auto paused = Clock::now();
  for (int i = 0; i < 5; ++i)
    for (auto& c : as) {
      Msg e = c->call(R"({"method":"index.index.echo","n":)" + std::to_string(i) + "}", "echo", 1000);
      ASSERT_EQ(e.status(), 200) << c->member << " stalled while Redis does not answer: " << e;
    }
  Msg sent = as[0]->call(R"({"method":"clustertest.t.room","room":"S","event":"late","exclude_self":true})",
                         "sent", 1000);
  ASSERT_EQ(sent.status(), 200) << sent;
  for (auto& c : as)
    if (c != as[0]) {
      EXPECT_TRUE(c->waitEvent("late", 1000).received) << c->member << " (same node)";
    }
  int64_t served = msSince(paused);
  EXPECT_LT(served, 3000);
  // /status does not wait for Redis past Cluster::kDescribeTimeoutMs.
  auto asked = Clock::now();
  HttpResponse st = node("a").manager("GET", "/status");
  int64_t answered = msSince(asked);
  EXPECT_EQ(st.status, 200) << st.body;
  EXPECT_NE(Json::parse(st.body)["cluster"]["error"].str().find("no answer from Redis"), std::string::npos) << st.body;
  EXPECT_LT(answered, 2500);
  std::cerr << "[ info ] /status answered in " << answered << " ms while Redis does not answer\n";
  // b hears of it only once Redis answers again.
  EXPECT_FALSE(bs[0]->waitEvent("late", 200).received) << "through a Redis that does not run?";
  redis_.resume();
  for (auto& c : bs) EXPECT_TRUE(c->waitEvent("late", 5000).received) << c->member;
  for (auto& c : as) EXPECT_EQ(c->ws.closeCode(), 0);
}

// Node ids with a colon (the default is "host:port"): members "host:port:fd".
TEST_F(Fault, NodeIdsWithAColonWork) {
  startNode("h:1");
  ASSERT_FALSE(HasFatalFailure());
  startNode("h:2");
  ASSERT_FALSE(HasFatalFailure());
  auto one = connect("h:1", "u1");
  auto two = connect("h:2", "u2");
  join(*one, "cr");
  join(*two, "cr");
  std::set<std::string> want = {one->member, two->member};
  EXPECT_EQ(waitOnline("h:1", "cr", want), want);
  Json body;
  online("h:2", "cr", nullptr, &body);
  std::set<std::string> nodes;
  for (JsonRef m : body["members"]) nodes.insert(std::string(m["node"].str()));
  EXPECT_EQ(nodes, (std::set<std::string>{"h:1", "h:2"})) << body.dump();
  EXPECT_EQ(onlineUser("h:1", "u2"), std::set<std::string>{two->member});
  // sendToMember and /push by "node:fd" across.
  Msg m = one->call(R"({"method":"clustertest.t.member","member":")" + two->member + R"(","event":"hop"})", "sent");
  ASSERT_EQ(m.status(), 200) << m;
  EXPECT_TRUE(two->waitEvent("hop").received);
  HttpResponse r = node("h:2").manager("POST", "/push", R"({"to":{"fd":")" + one->member + R"("},"event":"pushed"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(one->waitEvent("pushed").received);
  r = node("h:1").manager("POST", "/kick", R"({"fd":")" + two->member + R"("})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(two->ws.waitClose(5000), 4010);
}

}  // namespace
}  // namespace msw::cluster
