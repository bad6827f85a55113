// Integration tests of the App API (docs/controllers.md) through the apptest module
// (tests/modules/apptest): every send kind, rooms, close keys and close
// controllers, for every way a connection can end, across the two workers.
//
// "Exactly once" and "nobody else" are checked with barriers: an action
// sends its message and then, from the same thread, a "barrier" to everyone;
// what one worker posts to another runs in order, so a client that has read
// up to its barrier has read everything sent to it before.
#include <sys/resource.h>

#include "tests/integration/app_api_support.h"

namespace msw::apptest {
namespace {

class AppApi : public SpreadClientsTest {
 protected:
  // A watcher, and `c` (user `id`) whose close hook reports to the watcher.
  void openWatched(Client& watcher, Client& c, const std::string& id, const std::string& nickname) {
    ASSERT_TRUE(watcher.open(server.port, numberedToken(0)));
    watcher.whoami();
    ASSERT_TRUE(c.open(server.port, Server::token(id, "wechatUser", "r1", nickname,
                                                 "\"hook\":{\"record\":true,\"watch\":" + std::to_string(watcher.fd) + "}")));
    c.whoami();
  }
};

TEST_F(AppApi, WhoamiGivesFdMemberNodeIdAndTheWholeToken) {
  Client c;
  ASSERT_TRUE(c.open(server.port, Server::token("77", "wechatUser", "roomA", "Ann", "\"extra\":{\"k\":[1,2]}")));
  Json r = c.call("apptest.api.whoami");
  ASSERT_TRUE(r) << "no reply";
  EXPECT_EQ(r["status"].i64(), 200);
  JsonRef p = r["param"];
  uint64_t fd = static_cast<uint64_t>(p["fd"].num());
  EXPECT_GT(fd, 0u);
  EXPECT_EQ(p["member"].str(), "apptest1:" + std::to_string(fd));
  EXPECT_EQ(p["nodeId"].str(), "apptest1");
  EXPECT_EQ(p["id"].str(), "77");
  EXPECT_EQ(p["type"].str(), "wechatUser");
  EXPECT_EQ(p["code"].str(), "roomA");
  EXPECT_EQ(p["nickname"].str(), "Ann");
  EXPECT_EQ(p["auth"]["extra"]["k"].at(1).i64(), 2);
}

TEST_F(AppApi, FdParityNamesTheWorkerThatOwnsTheConnection) {
  ASSERT_TRUE(openSpread(server, 2, numberedToken, clients));
  int perWorker[kWorkers] = {0, 0};
  std::set<uint64_t> fds;
  for (auto& c : clients) {
    ++perWorker[workerOf(c->fd)];
    EXPECT_TRUE(fds.insert(c->fd).second) << "fd " << c->fd << " given twice";
  }
  Json st = server.status();
  ASSERT_TRUE(st);
  ASSERT_EQ(st["workers"].size(), kWorkers);
  for (JsonRef w : st["workers"]) EXPECT_EQ(w["connections"].i64(), perWorker[w["id"].i64()]) << st.dump();
  EXPECT_EQ(st["connections"].i64(), static_cast<int64_t>(clients.size()));
}

TEST_F(AppApi, SendToFdReachesExactlyThatConnectionOnEitherWorker) {
  ASSERT_TRUE(openSpread(server, 2, numberedToken, clients));
  Client& sender = on(0);
  for (int w = 0; w < kWorkers; ++w) {
    Client& target = on(w, 1);
    std::string event = "x" + std::to_string(w);
    Json r = sender.call("apptest.api.send", "\"to\":\"fd\",\"fd\":" + std::to_string(target.fd) + ",\"event\":\"" +
                                                 event + "\",\"barrier\":true");
    ASSERT_EQ(r["status"].i64(), 200) << r.dump();
    expectDelivered(collect(event, event), {target.fd}, "sendToFd to worker " + std::to_string(w));
  }
}

TEST_F(AppApi, SendToFdsReachesEachListedConnectionOnceAndSkipsGoneOnes) {
  ASSERT_TRUE(openSpread(server, 3, numberedToken, clients));
  std::set<uint64_t> to = {on(0, 1).fd, on(1, 1).fd, on(1, 2).fd};
  std::vector<uint64_t> list(to.begin(), to.end());
  list.push_back(999999);  // never given: skipped
  Json r = on(1).call("apptest.api.send", "\"to\":\"fds\",\"fds\":" + fdsJson(list) + ",\"event\":\"y\",\"barrier\":true");
  ASSERT_EQ(r["status"].i64(), 200) << r.dump();
  expectDelivered(collect("y", "y"), to, "sendToFds");
}

TEST_F(AppApi, SendToUserReachesEveryConnectionOfThatUserOnBothWorkers) {
  // User "same" gets connections until it has one on each worker.
  std::set<uint64_t> sameFds;
  bool onBoth = false;
  for (int i = 0; i < 64 && !onBoth; ++i) {
    auto c = std::make_unique<Client>();
    ASSERT_TRUE(c->open(server.port, Server::token("same", "wechatUser", "r1", "S")));
    sameFds.insert(c->whoami());
    clients.push_back(std::move(c));
    std::set<int> workers;
    for (uint64_t fd : sameFds) workers.insert(workerOf(fd));
    onBoth = workers.size() == kWorkers;
  }
  ASSERT_TRUE(onBoth);
  ASSERT_TRUE(openSpread(server, 1, numberedToken, clients));  // other users, on both workers too
  Json r = on(0).call("apptest.api.send", "\"to\":\"user\",\"user\":\"same\",\"event\":\"u\",\"barrier\":true");
  ASSERT_EQ(r["status"].i64(), 200);
  expectDelivered(collect("u", "u"), sameFds, "sendToUser");
  // A numeric id in the token is the same user as its text.
  Client num;
  ASSERT_TRUE(num.open(server.port, msw::test::mintToken("{\"id\":4242,\"type\":\"wechatUser\",\"code\":\"r1\",\"ctime\":" +
                                                            std::to_string(std::time(nullptr)) + "}",
                                                        msw::CipherKind::kAes256Gcm, kKey)));
  num.whoami();
  r = on(1).call("apptest.api.send", "\"to\":\"user\",\"user\":\"4242\",\"event\":\"n\"");
  ASSERT_EQ(r["status"].i64(), 200);
  EXPECT_TRUE(num.event("n")) << "sendToUser(\"4242\") did not reach a token with \"id\":4242";
}

TEST_F(AppApi, SendToRoomReachesMembersOnBothWorkersButNotTheExcluded) {
  ASSERT_TRUE(openSpread(server, 4, numberedToken, clients));
  std::set<uint64_t> members;
  std::vector<uint64_t> excluded;
  for (int w = 0; w < kWorkers; ++w)
    for (int k = 1; k <= 3; ++k) {
      Client& c = on(w, k);
      ASSERT_EQ(c.call("apptest.api.join", "\"room\":\"R\"")["status"].i64(), 200);
      members.insert(c.fd);
    }
  ASSERT_TRUE(server.waitRoomCount("R", static_cast<int64_t>(members.size())));
  excluded = {on(0, 1).fd, on(1, 2).fd};
  Client& sender = on(1, 3);  // a member itself: not excluded, so it gets it too
  Json r = sender.call("apptest.api.send", "\"to\":\"room\",\"room\":\"R\",\"exclude\":" + fdsJson(excluded) +
                                               ",\"event\":\"rm\",\"barrier\":true");
  ASSERT_EQ(r["status"].i64(), 200);
  std::set<uint64_t> expected = members;
  for (uint64_t fd : excluded) expected.erase(fd);
  expectDelivered(collect("rm", "rm"), expected, "sendToRoom with exclude");

  // Without exclude, from a non-member.
  r = on(0).call("apptest.api.send", "\"to\":\"room\",\"room\":\"R\",\"event\":\"rm2\",\"barrier\":true");
  ASSERT_EQ(r["status"].i64(), 200);
  expectDelivered(collect("rm2", "rm2"), members, "sendToRoom");

  // GET /online lists exactly the members.
  Json online = server.getJson("/online?room=R");
  ASSERT_TRUE(online);
  EXPECT_EQ(online["count"].i64(), static_cast<int64_t>(members.size()));
  std::set<uint64_t> listed;
  for (JsonRef m : online["members"]) listed.insert(static_cast<uint64_t>(m["fd"].num()));
  EXPECT_EQ(listed, members);
}

TEST_F(AppApi, JoinAndLeaveWorkForAConnectionOfTheOtherWorker) {
  ASSERT_TRUE(openSpread(server, 2, numberedToken, clients));
  Client& a = on(0);
  Client& b = on(1);
  // a (worker 0) puts b (worker 1) in room X; the send that follows from the
  // same thread runs after the join on b's worker.
  ASSERT_EQ(a.call("apptest.api.join", "\"room\":\"X\",\"fd\":" + std::to_string(b.fd))["status"].i64(), 200);
  ASSERT_EQ(a.call("apptest.api.send", "\"to\":\"room\",\"room\":\"X\",\"event\":\"jx\",\"barrier\":true")["status"].i64(),
            200);
  expectDelivered(collect("jx", "jx"), {b.fd}, "room X after a cross-worker join");
  ASSERT_EQ(a.call("apptest.api.leave", "\"room\":\"X\",\"fd\":" + std::to_string(b.fd))["status"].i64(), 200);
  ASSERT_EQ(a.call("apptest.api.send", "\"to\":\"room\",\"room\":\"X\",\"event\":\"lx\",\"barrier\":true")["status"].i64(),
            200);
  expectDelivered(collect("lx", "lx"), {}, "room X after a cross-worker leave");
  EXPECT_TRUE(server.waitRoomCount("X", 0));
  Json st = server.status();
  EXPECT_EQ(st["rooms"].i64(), 0) << st.dump();
}

TEST_F(AppApi, JoiningTwiceIsOneMembershipAndLeaveEndsIt) {
  ASSERT_TRUE(openSpread(server, 1, numberedToken, clients));
  Client& a = on(0);
  ASSERT_EQ(a.call("apptest.api.join", "\"room\":\"T\"")["status"].i64(), 200);
  ASSERT_EQ(a.call("apptest.api.join", "\"room\":\"T\"")["status"].i64(), 200);
  ASSERT_EQ(a.call("apptest.api.send", "\"to\":\"room\",\"room\":\"T\",\"event\":\"t\",\"barrier\":true")["status"].i64(),
            200);
  expectDelivered(collect("t", "t"), {a.fd}, "room T joined twice");
  EXPECT_EQ(server.getJson("/online?room=T")["count"].i64(), 1);
  ASSERT_EQ(a.call("apptest.api.leave", "\"room\":\"T\"")["status"].i64(), 200);
  EXPECT_EQ(server.getJson("/online?room=T")["count"].i64(), 0);
  ASSERT_EQ(a.call("apptest.api.send", "\"to\":\"room\",\"room\":\"T\",\"event\":\"t2\",\"barrier\":true")["status"].i64(),
            200);
  expectDelivered(collect("t2", "t2"), {}, "room T after leave");
}

TEST_F(AppApi, SendToAllReachesEveryoneOnceButTheExcluded) {
  ASSERT_TRUE(openSpread(server, 3, numberedToken, clients));
  std::vector<uint64_t> excluded = {on(0, 2).fd, on(1, 0).fd};
  Json r = on(1, 1).call("apptest.api.send", "\"to\":\"all\",\"exclude\":" + fdsJson(excluded) +
                                                 ",\"event\":\"al\",\"barrier\":true");
  ASSERT_EQ(r["status"].i64(), 200);
  std::set<uint64_t> expected;
  for (auto& c : clients) expected.insert(c->fd);
  for (uint64_t fd : excluded) expected.erase(fd);
  expectDelivered(collect("al", "al"), expected, "sendToAll with exclude");
}

TEST_F(AppApi, StoreOperationsAnswerThroughTheAppApi) {
  Client c;
  ASSERT_TRUE(c.open(server.port, numberedToken(1)));
  c.whoami();
  int64_t before = server.storeKeys();  // the framework may keep keys of its own per connection
  auto op = [&c](const std::string& data) { return Json::copy(c.call("apptest.api.store", data)["param"]["result"]); };
  op("\"op\":\"set\",\"key\":\"k1\",\"value\":\"v1\"");
  EXPECT_EQ(op("\"op\":\"get\",\"key\":\"k1\"").str(), "v1");
  EXPECT_TRUE(op("\"op\":\"get\",\"key\":\"nokey\"").isNull());
  EXPECT_EQ(op("\"op\":\"incr\",\"key\":\"n\",\"by\":5").i64(), 5);
  EXPECT_EQ(op("\"op\":\"incr\",\"key\":\"n\",\"by\":-2").i64(), 3);
  op("\"op\":\"sadd\",\"key\":\"s\",\"value\":\"a\"");
  op("\"op\":\"sadd\",\"key\":\"s\",\"self\":true");
  Json members = op("\"op\":\"smembers\",\"key\":\"s\"");
  std::set<std::string> got;
  for (JsonRef m : members) got.insert(std::string(m.str()));
  EXPECT_EQ(got, (std::set<std::string>{"a", c.member}));
  EXPECT_EQ(op("\"op\":\"scard\",\"key\":\"s\"").i64(), 2);
  EXPECT_TRUE(op("\"op\":\"sismember\",\"key\":\"s\",\"value\":\"a\"").boolean());
  op("\"op\":\"rpush\",\"key\":\"l\",\"value\":\"1\"");
  op("\"op\":\"rpush\",\"key\":\"l\",\"value\":\"2\"");
  op("\"op\":\"lpush\",\"key\":\"l\",\"value\":\"0\"");
  EXPECT_EQ(op("\"op\":\"lrange\",\"key\":\"l\",\"start\":0,\"stop\":-1").dump(), "[\"0\",\"1\",\"2\"]");
  op("\"op\":\"hset\",\"key\":\"h\",\"field\":\"f\",\"value\":\"x\"");
  EXPECT_EQ(op("\"op\":\"hgetall\",\"key\":\"h\"").dump(), "{\"f\":\"x\"}");
  EXPECT_EQ(server.storeKeys(), before + 5);  // k1 n s l h
  op("\"op\":\"del\",\"key\":\"l\"");
  EXPECT_FALSE(op("\"op\":\"exists\",\"key\":\"l\"").boolean());
  EXPECT_EQ(server.storeKeys(), before + 4);
}

TEST_F(AppApi, LogWritesAtTheGivenLevel) {
  Client c;
  ASSERT_TRUE(c.open(server.port, numberedToken(1)));
  ASSERT_EQ(c.call("apptest.api.log", "\"text\":\"hello-from-apptest\",\"level\":\"warn\"")["status"].i64(), 200);
  EXPECT_TRUE(server.proc.waitLog("WARN  [w")) << server.proc.log();
  EXPECT_TRUE(server.proc.waitLog("hello-from-apptest")) << server.proc.log();
}

// ---------------------------------------------------------------- close hooks

enum class CloseKind { kNormal, kReset, kIdle, kKick, kAppClose, kOverflow, kStuckOverflow, kTooLarge, kStop };

struct CloseCase {
  CloseKind kind;
  const char* name;
  int code;  // what the hook must be told
};

std::ostream& operator<<(std::ostream& os, const CloseCase& c) { return os << c.name; }

class CloseHooks : public ::testing::TestWithParam<CloseCase> {};

// A watcher (no hooks) and a client C with a room, two close keys (one
// tracked through the store: its member is in the set) and the hooks
// controller set up from the other worker's connection; C ends the way the
// case says. The hook must run once with the right code, the set must have
// lost C's member (and kept the watcher's), the room must be empty, and the
// log must show exactly one onClose for C.
TEST_P(CloseHooks, RunOnceWithTheCloseCodeAndCleanUp) {
  const CloseCase cc = GetParam();
  Options o;
  if (cc.kind == CloseKind::kIdle) o.idle = 2;
  if (cc.kind == CloseKind::kOverflow || cc.kind == CloseKind::kStuckOverflow) o.sendQueueLimit = "4k";
  Server server(o);
  ASSERT_TRUE(server.start());

  // The watcher and C on different workers (C's setup is then cross-worker).
  std::vector<std::unique_ptr<Client>> pool;
  ASSERT_TRUE(openSpread(server, 1, [](int i) { return Server::token("w" + std::to_string(i), "wall", "r1", "W"); },
                         pool));
  Client* watcher = nullptr;
  for (auto& c : pool)
    if (!watcher) watcher = c.get();
  ASSERT_TRUE(watcher);
  Client c;
  for (int i = 0; i < 64; ++i) {
    Client probe;
    ASSERT_TRUE(probe.open(server.port, Server::token("victim", "wechatUser", "r1", "V",
                                                      "\"hook\":{\"record\":true,\"watch\":" +
                                                          std::to_string(watcher->fd) + "}")));
    if (workerOf(probe.whoami()) != workerOf(watcher->fd)) {
      c = std::move(probe);
      break;
    }
    probe.ws.sendClose(1000);
    probe.ws.waitClose();  // the probe had no hooks: nothing to clean
  }
  ASSERT_NE(c.fd, 0u) << "no connection landed on the other worker";
  ASSERT_EQ(c.call("apptest.api.track", "\"key\":\"apptest:set\"")["status"].i64(), 200);
  ASSERT_EQ(watcher->call("apptest.api.track", "\"key\":\"apptest:set\"")["status"].i64(), 200);
  ASSERT_EQ(c.call("apptest.api.join", "\"room\":\"hooked\"")["status"].i64(), 200);
  std::string cfd = std::to_string(c.fd);
  // From the watcher's worker: a second close key (its member stored too) and the controller.
  ASSERT_EQ(watcher->call("apptest.api.store", "\"op\":\"sadd\",\"key\":\"apptest:set2\",\"value\":\"" + c.member + "\"")
                ["status"].i64(), 200);
  ASSERT_EQ(watcher->call("apptest.api.addCloseKey", "\"key\":\"apptest:set2\",\"fd\":" + cfd)["status"].i64(), 200);
  ASSERT_EQ(watcher->call("apptest.api.addController", "\"controller\":\"apptest.hooks\",\"fd\":" + cfd)["status"].i64(), 200);
  // Added twice: still one hook run.
  ASSERT_EQ(watcher->call("apptest.api.addController", "\"controller\":\"Apptest.Hooks\",\"fd\":" + cfd)["status"].i64(),
            200);
  // Posted after those, from the same thread: once C has it, they are in force.
  ASSERT_EQ(watcher->call("apptest.api.send", "\"to\":\"fd\",\"fd\":" + cfd + ",\"event\":\"ready\"")["status"].i64(), 200);
  ASSERT_TRUE(c.event("ready"));
  ASSERT_EQ(server.getJson("/online?room=hooked")["count"].i64(), 1);

  int clientSaw = 0;
  switch (cc.kind) {
    case CloseKind::kNormal:
      ASSERT_TRUE(c.ws.sendClose(1000));
      clientSaw = c.ws.waitClose();
      break;
    case CloseKind::kReset:
      c.ws.resetConnection();
      break;
    case CloseKind::kIdle:
      break;  // C stays silent; the watcher keeps talking below
    case CloseKind::kKick: {
      HttpResponse r = server.post("/kick", "{\"fd\":" + cfd + "}");
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.body, "{\"kicked\":1}");
      clientSaw = c.ws.waitClose();
      break;
    }
    case CloseKind::kAppClose:
      ASSERT_EQ(watcher->call("apptest.api.close", "\"code\":4010,\"fd\":" + cfd)["status"].i64(), 200);
      clientSaw = c.ws.waitClose();
      break;
    case CloseKind::kOverflow:
      // 50 KB queued for C within one action (C asks for it itself, so
      // nothing is written between the sends): over the 4 KiB queue limit.
      ASSERT_TRUE(c.sendJson("{\"method\":\"apptest.api.flood\",\"n\":50,\"size\":1000}"));
      clientSaw = c.ws.waitClose();
      break;
    case CloseKind::kStuckOverflow:
      // 24 MB from the other worker for C, which does not read: the socket
      // buffers fill, then the queue passes 4 KiB. The server must end C by
      // itself (the hook below runs while C still reads nothing).
      ASSERT_EQ(watcher->call("apptest.api.flood", "\"n\":400,\"size\":60000,\"fd\":" + cfd, 20000)["status"].i64(), 200);
      break;
    case CloseKind::kTooLarge:
      ASSERT_TRUE(c.ws.sendText("{\"pad\":\"" + std::string(70000, 'a') + "\"}"));
      clientSaw = c.ws.waitClose();
      break;
    case CloseKind::kStop: {
      int rc = server.proc.stop();
      EXPECT_EQ(rc, 0);
      clientSaw = c.ws.waitClose();
      std::string log = server.proc.log();
      EXPECT_EQ(countOf(log, "apptest.hooks onClose fd=" + cfd + " code=1001 "), 1u) << log;
      EXPECT_EQ(countOf(log, "apptest.hooks onClose fd=" + cfd + " "), 1u) << log;
      EXPECT_EQ(clientSaw, 1001);
      return;
    }
  }

  // The watcher hears from the hook (it keeps itself alive while C idles out).
  Json h;
  for (int i = 0; i < 40 && !h; ++i) {
    h = watcher->event("hookClosed", 250);
    if (!h) {
      ASSERT_TRUE(watcher->ws.sendText("2"));
    }
  }
  ASSERT_TRUE(h) << "no hookClosed for fd " << cfd << "\n" << server.proc.log();
  EXPECT_EQ(static_cast<uint64_t>(h["param"]["fd"].num()), c.fd);
  EXPECT_EQ(h["param"]["code"].i64(), cc.code);
  EXPECT_EQ(h["param"]["count"].i64(), 1);
  if (cc.kind == CloseKind::kIdle) {
    clientSaw = c.ws.waitClose();
  }
  if (cc.kind == CloseKind::kStuckOverflow) {
    clientSaw = c.ws.waitClose(20000);  // reads the backlog first
    EXPECT_TRUE(clientSaw == cc.code || clientSaw == -1) << clientSaw;
  } else if (cc.kind != CloseKind::kReset) {
    EXPECT_EQ(clientSaw, cc.code) << "close code the client got";
  }

  auto members = [&](const char* key) {
    std::set<std::string> out;
    Json r = watcher->call("apptest.api.store", std::string("\"op\":\"smembers\",\"key\":\"") + key + "\"");
    for (JsonRef m : r["param"]["result"]) out.insert(std::string(m.str()));
    return out;
  };
  EXPECT_EQ(members("apptest:set"), std::set<std::string>{watcher->member}) << "close key apptest:set";
  EXPECT_TRUE(members("apptest:set2").empty()) << "close key apptest:set2";
  Json closed = watcher->call("apptest.api.store", "\"op\":\"get\",\"key\":\"apptest:closed:" + cfd + "\"");
  EXPECT_EQ(closed["param"]["result"].str(), "1");
  EXPECT_EQ(server.getJson("/online?room=hooked")["count"].i64(), 0);
  EXPECT_TRUE(server.pollJson("/online/user?id=victim", [](JsonRef j) { return !j["online"].boolean(true); }));
  EXPECT_EQ(watcher->keptCount("hookClosed"), 0);

  // Stopping ends the watcher too (its own hook-less close), then the log
  // must hold exactly one onClose for C.
  EXPECT_EQ(server.proc.stop(), 0);
  std::string log = server.proc.log();
  EXPECT_EQ(countOf(log, "apptest.hooks onClose fd=" + cfd + " "), 1u) << log;
  EXPECT_EQ(countOf(log, "conn " + cfd + " closed "), 1u) << log;
}

INSTANTIATE_TEST_SUITE_P(Kinds, CloseHooks,
                         ::testing::Values(CloseCase{CloseKind::kNormal, "NormalClose1000", 1000},
                                           CloseCase{CloseKind::kReset, "TcpReset1006", 1006},
                                           CloseCase{CloseKind::kIdle, "IdleTimeout4008", 4008},
                                           CloseCase{CloseKind::kKick, "ManagerKick4010", 4010},
                                           CloseCase{CloseKind::kAppClose, "AppClose4010", 4010},
                                           CloseCase{CloseKind::kOverflow, "SendQueueOverflow4009", 4009},
                                           CloseCase{CloseKind::kStuckOverflow, "StuckReaderOverflow4009", 4009},
                                           CloseCase{CloseKind::kTooLarge, "MessageTooLarge1009", 1009},
                                           CloseCase{CloseKind::kStop, "ServerStop1001", 1001}),
                         [](const ::testing::TestParamInfo<CloseCase>& i) { return std::string(i.param.name); });

TEST_F(AppApi, RemovedControllerAndCloseKeyDoNotRunOnClose) {
  Client watcher, c;
  ASSERT_NO_FATAL_FAILURE(openWatched(watcher, c, "gone", "G"));
  std::string cfd = std::to_string(c.fd);
  ASSERT_EQ(c.call("apptest.api.track", "\"key\":\"apptest:kept\"")["status"].i64(), 200);
  ASSERT_EQ(c.call("apptest.api.addController")["status"].i64(), 200);
  ASSERT_EQ(c.call("apptest.api.removeController")["status"].i64(), 200);
  ASSERT_EQ(c.call("apptest.api.removeCloseKey", "\"key\":\"apptest:kept\"")["status"].i64(), 200);
  ASSERT_TRUE(c.ws.sendClose(1000));
  EXPECT_EQ(c.ws.waitClose(), 1000);
  // The connection count drops after the close hooks ran (same call on C's worker).
  ASSERT_TRUE(server.waitConnections(1));
  std::string log = server.proc.log();
  EXPECT_NE(countOf(log, "conn " + cfd + " closed 1000"), 0u) << log;
  EXPECT_EQ(countOf(log, "apptest.hooks onClose fd=" + cfd + " "), 0u) << log;
  Json r = watcher.call("apptest.api.store", "\"op\":\"smembers\",\"key\":\"apptest:kept\"");
  ASSERT_EQ(r["param"]["result"].size(), 1) << r.dump();
  EXPECT_EQ(r["param"]["result"].at(0).str(), c.member);
  r = watcher.call("apptest.api.store", "\"op\":\"exists\",\"key\":\"apptest:closed:" + cfd + "\"");
  EXPECT_FALSE(r["param"]["result"].boolean(true));
  EXPECT_EQ(watcher.keptCount("hookClosed"), 0);
}

TEST_F(AppApi, RemovingOneControllerOrKeyLeavesTheOthers) {
  Client watcher, c;
  ASSERT_NO_FATAL_FAILURE(openWatched(watcher, c, "two", "T"));
  ASSERT_EQ(c.call("apptest.api.track", "\"key\":\"apptest:a\"")["status"].i64(), 200);
  ASSERT_EQ(c.call("apptest.api.track", "\"key\":\"apptest:b\"")["status"].i64(), 200);
  ASSERT_EQ(c.call("apptest.api.removeCloseKey", "\"key\":\"apptest:a\"")["status"].i64(), 200);
  ASSERT_EQ(c.call("apptest.api.addController", "\"controller\":\"live.user\"")["status"].i64(), 200);
  ASSERT_EQ(c.call("apptest.api.addController")["status"].i64(), 200);
  ASSERT_EQ(c.call("apptest.api.removeController", "\"controller\":\"live.user\"")["status"].i64(), 200);
  c.ws.resetConnection();
  Json h = watcher.event("hookClosed");
  ASSERT_TRUE(h);
  EXPECT_EQ(h["param"]["code"].i64(), 1006);
  Json a = watcher.call("apptest.api.store", "\"op\":\"scard\",\"key\":\"apptest:a\"");
  Json b = watcher.call("apptest.api.store", "\"op\":\"scard\",\"key\":\"apptest:b\"");
  EXPECT_EQ(a["param"]["result"].i64(), 1) << "the removed close key must keep the member";
  EXPECT_EQ(b["param"]["result"].i64(), 0) << "the remaining close key must drop the member";
}

// A connection's close controllers are names: after a reload the new code's
// onClose runs (once), and a name that matches no controller is skipped.
TEST_F(AppApi, CloseHooksSurviveAReload) {
  Client watcher, c;
  ASSERT_NO_FATAL_FAILURE(openWatched(watcher, c, "rl", "R"));
  ASSERT_EQ(c.call("apptest.api.addController", "\"controller\":\"nosuch.controller\"")["status"].i64(), 200);
  ASSERT_EQ(c.call("apptest.api.addController")["status"].i64(), 200);
  ASSERT_EQ(c.call("apptest.api.track", "\"key\":\"apptest:rl\"")["status"].i64(), 200);
  HttpResponse r = server.post("/reload", "");
  ASSERT_EQ(r.status, 200) << r.body;
  // Both workers have the new table once a message of each was routed after it.
  EXPECT_EQ(c.call("apptest.api.whoami")["status"].i64(), 200);
  EXPECT_EQ(watcher.call("apptest.api.whoami")["status"].i64(), 200);
  ASSERT_TRUE(c.ws.sendClose(1000));
  EXPECT_EQ(c.ws.waitClose(), 1000);
  Json h = watcher.event("hookClosed");
  ASSERT_TRUE(h) << server.proc.log();
  EXPECT_EQ(h["param"]["count"].i64(), 1);
  EXPECT_EQ(h["param"]["code"].i64(), 1000);
  EXPECT_EQ(watcher.call("apptest.api.store", "\"op\":\"scard\",\"key\":\"apptest:rl\"")["param"]["result"].i64(-1), 0);
  EXPECT_TRUE(server.proc.running());
}

// The code and reason given to App::close reach the client.
TEST_F(AppApi, CloseSendsTheGivenCodeAndReason) {
  Client a;
  ASSERT_TRUE(a.open(server.port, numberedToken(0)));
  a.whoami();
  ASSERT_TRUE(a.sendJson("{\"method\":\"apptest.api.close\",\"code\":4321,\"reason\":\"go away\"}"));
  EXPECT_EQ(a.ws.waitClose(), 4321);
  EXPECT_EQ(a.ws.closeReason(), "go away");
}

// 1,000 connections each join a room, add a close key (member stored) and a
// controller, then go: half with a close frame, half with a TCP reset. No
// room, no membership and no store key may remain, and each hook ran once.
TEST_F(AppApi, AThousandConnectionsLeaveNothingBehind) {
  constexpr int kConns = 1000;
  rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < 4096 && rl.rlim_max > rl.rlim_cur) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 4096);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  int64_t keysBefore = server.storeKeys();
  ASSERT_GE(keysBefore, 0);
  std::vector<std::unique_ptr<Client>> conns;
  conns.reserve(kConns);
  const std::string room = "big";
  for (int i = 0; i < kConns; ++i) {
    auto c = std::make_unique<Client>();
    ASSERT_TRUE(c->open(server.port, Server::token("b" + std::to_string(i), "wechatUser", room, "B"))) << i;
    // Pipelined: the three requests go at once, the last reply closes the round.
    ASSERT_TRUE(c->sendJson("{\"method\":\"apptest.api.join\",\"room\":\"" + room + "\"}"));
    ASSERT_TRUE(c->sendJson("{\"method\":\"apptest.api.track\",\"key\":\"apptest:bigset\"}"));
    ASSERT_TRUE(c->call("apptest.api.addController")) << i;
    conns.push_back(std::move(c));
  }
  Json online = server.getJson("/online?room=" + room);
  ASSERT_EQ(online["count"].i64(), kConns);
  Json st = server.status();
  EXPECT_EQ(st["connections"].i64(), kConns);
  EXPECT_EQ(st["rooms"].i64(), 1);
  EXPECT_GE(st["store"]["keys"].i64(), keysBefore + 1);  // apptest:bigset (and the framework's own)
  for (JsonRef w : st["workers"]) EXPECT_GT(w["connections"].i64(), 0) << "all on one worker: " << st.dump();

  for (int i = 0; i < kConns; ++i) {
    if (i % 2 == 0) conns[i]->ws.sendClose(1000);
    else conns[i]->ws.resetConnection();
  }
  for (int i = 0; i < kConns; i += 2) conns[i]->ws.waitClose();
  ASSERT_TRUE(server.waitConnections(0, 15000)) << server.status().dump();
  EXPECT_TRUE(server.waitRoomCount(room, 0));
  st = server.status();
  EXPECT_EQ(st["rooms"].i64(), 0) << st.dump();
  EXPECT_EQ(st["store"]["keys"].i64(), keysBefore) << st.dump();
  std::string log = server.proc.log();
  EXPECT_EQ(countOf(log, "apptest.hooks onClose fd="), static_cast<size_t>(kConns));
  EXPECT_EQ(countOf(log, " code=1000 id=b"), static_cast<size_t>(kConns / 2));
  EXPECT_EQ(countOf(log, " code=1006 id=b"), static_cast<size_t>(kConns / 2));
}

}  // namespace
}  // namespace msw::apptest
