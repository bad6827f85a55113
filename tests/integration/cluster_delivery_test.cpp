// tests/integration/cluster_delivery_test.cpp: two nodes (a, b; two workers
// each) on one Redis behave as one server (docs/deployment.md "Several nodes
// with one Redis"): room, user, member and "all" messages reach every
// matching connection on every node exactly once, the manager's /push and
// /kick reach other nodes, /online and /online/user answer for the whole
// cluster from either node, /status lists every node (from the heartbeat
// keys), and the live module works across nodes.
//
// Exactly once: a sender sends a message then a marker; each recipient must
// see the message once, then the marker, and nothing more during a grace
// period after everything expected has arrived.
#include <map>

#include "tests/integration/cluster_support.h"

namespace msw::cluster {
namespace {

constexpr int kGraceMs = 300;  // silence demanded after the expected messages

class Delivery : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    startNode("a");
    if (HasFatalFailure()) return;
    startNode("b");
  }

  // Sends with clustertest.t.ACTION and waits for the "sent" reply.
  static void send(Client& from, const std::string& action, const std::string& fields) {
    Msg m = from.call(R"({"method":"clustertest.t.)" + action + R"(",)" + fields + "}", "sent");
    ASSERT_EQ(m.status(), 200) << action << " " << fields << ": " << m;
  }

  // Reads `c`'s messages until `last` arrives; returns the events seen whose
  // name starts with `family` (other traffic is ignored).
  static std::vector<std::string> eventsUntil(Client& c, const std::string& last, const std::string& family) {
    std::vector<std::string> seen;
    for (;;) {
      Msg m = c.next(5000);
      if (!m.received) {
        ADD_FAILURE() << c.member << " never got " << last << " (saw " << seen.size() << " of its family)";
        return seen;
      }
      std::string e = m.event();
      if (e.rfind(family, 0) == 0) seen.push_back(e);
      if (e == last) return seen;
    }
  }

  // After everything expected arrived: nothing of `family` more for anyone.
  template <class C>
  static void expectSilence(const C& clients, const std::string& family) {
    bool first = true;
    for (const auto& c : clients) {
      for (const Msg& m : c->drain(first ? kGraceMs : 20))
        EXPECT_NE(m.event().rfind(family, 0), 0u) << c->member << " got a duplicate or stray: " << m;
      first = false;
    }
  }

  using Clients = std::vector<std::unique_ptr<Client>>;
  static std::vector<Client*> all(std::initializer_list<Clients*> groups) {
    std::vector<Client*> out;
    for (Clients* g : groups)
      for (auto& c : *g) out.push_back(c.get());
    return out;
  }
};

using V = std::vector<std::string>;

TEST_F(Delivery, RoomMessageReachesEveryMemberOnBothNodesExactlyOnce) {
  Clients as = connectSpread("a", 2, "ua");
  Clients bs = connectSpread("b", 2, "ub");
  std::vector<Client*> everyone = all({&as, &bs});
  for (Client* c : everyone) join(*c, "r1");
  // Registered (Redis) and subscribed (Redis) on both nodes.
  std::set<std::string> want = members(everyone);
  ASSERT_EQ(waitOnline("a", "r1", want), want);
  waitRoomSubscribers("r1", 2);

  // From a, excluding the sender: everyone else once, then the marker.
  Client& fromA = *as[0];
  send(fromA, "room", R"("room":"r1","event":"m1","exclude_self":true)");
  send(fromA, "room", R"("room":"r1","event":"m2","exclude_self":true)");
  for (Client* c : everyone) {
    if (c == &fromA) continue;
    EXPECT_EQ(eventsUntil(*c, "m2", "m"), (V{"m1", "m2"})) << c->member;
  }
  // From b, to all (the sender included): each once.
  Client& fromB = *bs[1];
  send(fromB, "room", R"("room":"r1","event":"m3")");
  send(fromB, "room", R"("room":"r1","event":"m4")");
  for (Client* c : everyone) EXPECT_EQ(eventsUntil(*c, "m4", "m"), (V{"m3", "m4"})) << c->member;
  expectSilence(everyone, "m");

  // A client in no room gets none of it.
  auto outsider = connect("b", "nobody");
  send(fromA, "room", R"("room":"r1","event":"m5")");
  for (Client* c : everyone) EXPECT_EQ(eventsUntil(*c, "m5", "m"), (V{"m5"})) << c->member;
  EXPECT_TRUE(outsider->drain(kGraceMs).empty());
}

// A raw endpoint's module sends binary frames: a room, a user, a member
// and "all" on another node get them as binary, not as text.
TEST_F(Delivery, BinaryFramesReachOtherNodesAsBinary) {
  Clients as = connectSpread("a", 1, "ua");
  Clients bs = connectSpread("b", 1, "ub");
  Client& fromA = *as[0];
  Client& onB = *bs[0];
  join(fromA, "rb");
  join(onB, "rb");
  std::set<std::string> want = members(std::vector<Client*>{&fromA, &onB});
  ASSERT_EQ(waitOnline("a", "rb", want), want);
  waitRoomSubscribers("rb", 2);
  ASSERT_TRUE(onB.inbox.empty());  // what follows is read frame by frame
  const std::vector<std::pair<std::string, std::string>> sends = {
      {"room", R"("room":"rb","exclude_self":true)"},
      {"user", R"("user":")" + onB.user + R"(")"},
      {"member", R"("member":")" + onB.member + R"(")"},
      {"all", R"("exclude_self":true)"}};
  for (const auto& [action, fields] : sends) {
    send(fromA, action, fields + R"(,"event":"bin","tag":")" + action + R"(","binary":true)");
    std::optional<msw::test::WsFrame> f;
    while ((f = onB.ws.recvFrame()) && f->opcode != msw::test::kOpText && f->opcode != msw::test::kOpBinary) {
    }
    ASSERT_TRUE(f) << action << ": nothing arrived on node b";
    EXPECT_EQ(f->opcode, msw::test::kOpBinary) << action << " arrived as " << f->payload;
    EXPECT_EQ(Json::parse(f->payload)["param"]["tag"].str(), action) << f->payload;
  }
}

TEST_F(Delivery, SendToUserReachesItsConnectionsOnBothNodesOnceEach) {
  auto aliceA = connect("a", "alice");
  auto aliceB1 = connect("b", "alice");
  auto aliceB2 = connect("b", "alice");
  auto senderA = connect("a", "sender");
  auto senderB = connect("b", "sender2");
  ASSERT_TRUE(pollUntil([&] { return redisNumSub(channel("_msw:bus:all")) == 2; }, 5000));
  std::vector<Client*> alice = {aliceA.get(), aliceB1.get(), aliceB2.get()};

  send(*senderA, "user", R"("user":"alice","event":"u1")");
  send(*senderA, "user", R"("user":"alice","event":"u2")");
  for (Client* c : alice) EXPECT_EQ(eventsUntil(*c, "u2", "u"), (V{"u1", "u2"})) << c->member;
  send(*senderB, "user", R"("user":"alice","event":"u3")");
  send(*senderB, "user", R"("user":"alice","event":"u4")");
  for (Client* c : alice) EXPECT_EQ(eventsUntil(*c, "u4", "u"), (V{"u3", "u4"})) << c->member;
  // Alice to herself from b: her connection on a too, and the sender itself.
  send(*aliceB1, "user", R"("user":"alice","event":"u5")");
  for (Client* c : alice) EXPECT_EQ(eventsUntil(*c, "u5", "u"), (V{"u5"})) << c->member;
  std::vector<Client*> watched = {aliceA.get(), aliceB1.get(), aliceB2.get(), senderA.get(), senderB.get()};
  expectSilence(watched, "u");
}

TEST_F(Delivery, SendToMemberReachesThatConnectionOnItsNode) {
  Clients as = connectSpread("a", 2, "ua");
  Clients bs = connectSpread("b", 2, "ub");
  std::vector<Client*> everyone = all({&as, &bs});
  // a -> each member of b, one by one; b -> each member of a; and a local one.
  for (auto& target : bs) {
    send(*as[0], "member", R"("member":")" + target->member + R"(","event":"f1","tag":")" + target->member + "\"");
    Msg m = target->waitEvent("f1");
    ASSERT_TRUE(m.received) << target->member;
    EXPECT_EQ(m.param()["from"].str(), as[0]->member);
  }
  for (auto& target : as) {
    send(*bs[0], "member", R"("member":")" + target->member + R"(","event":"f2")");
    EXPECT_TRUE(target->waitEvent("f2").received) << target->member;
  }
  send(*as[1], "member", R"("member":")" + as[0]->member + R"(","event":"f3")");
  EXPECT_TRUE(as[0]->waitEvent("f3").received);
  // Nobody got a copy meant for another.
  expectSilence(everyone, "f");
  // A member of a node that does not exist: nothing, and no harm.
  send(*as[0], "member", R"("member":"nosuchnode:12345","event":"f4")");
  expectSilence(everyone, "f");
}

TEST_F(Delivery, SendToAllReachesEveryConnectionOnce) {
  Clients as = connectSpread("a", 2, "ua");
  Clients bs = connectSpread("b", 2, "ub");
  std::vector<Client*> everyone = all({&as, &bs});
  send(*as[0], "all", R"("event":"x1","exclude_self":true)");
  send(*as[0], "all", R"("event":"x2","exclude_self":true)");
  for (Client* c : everyone)
    if (c != as[0].get()) {
      EXPECT_EQ(eventsUntil(*c, "x2", "x"), (V{"x1", "x2"})) << c->member;
    }
  send(*bs[0], "all", R"("event":"x3")");
  for (Client* c : everyone) EXPECT_EQ(eventsUntil(*c, "x3", "x"), (V{"x3"})) << c->member;
  expectSilence(everyone, "x");
}

TEST_F(Delivery, ManagerPushReachesOtherNodes) {
  Clients as = connectSpread("a", 2, "ua");
  Clients bs = connectSpread("b", 2, "ub");
  std::vector<Client*> members_ = all({&as, &bs});
  for (Client* c : members_) join(*c, "pr");
  auto outA = connect("a", "outa");  // in no room
  auto outB = connect("b", "outb");
  std::set<std::string> want = members(members_);
  ASSERT_EQ(waitOnline("a", "pr", want), want);
  waitRoomSubscribers("pr", 2);
  std::vector<Client*> everyone = members_;
  everyone.push_back(outA.get());
  everyone.push_back(outB.get());

  // Room: every member on both nodes; "delivered" counts a's only.
  HttpResponse r = node("a").manager("POST", "/push", R"({"to":{"room":"pr"},"event":"p1","info":"room"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["delivered"].i64(), static_cast<int64_t>(as.size())) << r.body;
  for (Client* c : members_) {
    Msg m = c->waitEvent("p1");
    EXPECT_TRUE(m.received) << c->member;
    EXPECT_EQ(m.info(), "room");
  }

  // One connection of b, named node:fd, pushed through a.
  r = node("a").manager("POST", "/push", R"({"to":{"fd":")" + bs[0]->member + R"("},"event":"p2"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["delivered"].i64(), 0) << r.body;
  EXPECT_TRUE(bs[0]->waitEvent("p2").received);
  // ...and one of a through b, in a list with one of b.
  r = node("b").manager("POST", "/push",
                        R"({"to":{"fds":[")" + as[1]->member + R"(",")" + bs[1]->member + R"("]},"event":"p3"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["delivered"].i64(), 1) << r.body;
  EXPECT_TRUE(as[1]->waitEvent("p3").received);
  EXPECT_TRUE(bs[1]->waitEvent("p3").received);

  // A user whose connection is on b, pushed through a.
  r = node("a").manager("POST", "/push", R"({"to":{"user":")" + bs[0]->user + R"("},"event":"p4"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["delivered"].i64(), 0) << r.body;
  EXPECT_TRUE(bs[0]->waitEvent("p4").received);

  // Everyone, once; "delivered" = a's connections.
  r = node("a").manager("POST", "/push", R"({"to":{"all":true},"event":"p5"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["delivered"].i64(), static_cast<int64_t>(as.size() + 1)) << r.body;
  for (Client* c : everyone) EXPECT_TRUE(c->waitEvent("p5").received) << c->member;

  // Nothing twice, nothing to the wrong connection.
  expectSilence(everyone, "p");
}

TEST_F(Delivery, ManagerKickReachesOtherNodes) {
  auto victimB = connect("b", "victim");
  auto keepB = connect("b", "keeper");
  auto dualA = connect("a", "dual");
  auto dualB = connect("b", "dual");
  // By node:fd, through a.
  HttpResponse r = node("a").manager("POST", "/kick", R"({"fd":")" + victimB->member + R"("})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(victimB->ws.waitClose(5000), 4010);
  // By user, through a: the user's connections on both nodes.
  r = node("a").manager("POST", "/kick", R"({"user":"dual"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["kicked"].i64(), 1) << r.body;  // a's own
  EXPECT_EQ(dualA->ws.waitClose(5000), 4010);
  EXPECT_EQ(dualB->ws.waitClose(5000), 4010);
  // The others are untouched.
  Msg m = keepB->call(R"({"method":"clustertest.t.whoami"})", "whoami");
  EXPECT_EQ(m.status(), 200) << m;
  std::set<std::string> left;
  EXPECT_TRUE(pollUntil([&] { return (left = onlineUser("a", "dual")).empty(); }, 5000))
      << "kicked connections must leave the registry: " << str(left);
}

TEST_F(Delivery, OnlineIsClusterWideFromEitherNodeAndDropsClosedMembers) {
  Clients as = connectSpread("a", 2, "ua");
  Clients bs = connectSpread("b", 2, "ub");
  auto dualA = connect("a", "dual");
  auto dualB = connect("b", "dual");
  std::vector<Client*> everyone = all({&as, &bs});
  everyone.push_back(dualA.get());
  everyone.push_back(dualB.get());
  for (Client* c : everyone) join(*c, "on");
  std::set<std::string> want = members(everyone);
  ASSERT_EQ(waitOnline("a", "on", want), want);
  Json body;
  EXPECT_EQ(online("b", "on", nullptr, &body), want);
  // Each member listed with its node, fd and token fields.
  for (JsonRef m : body["members"]) {
    std::string member = std::string(m["node"].str()) + ":" + std::to_string(static_cast<uint64_t>(m["fd"].num()));
    auto it = std::find_if(everyone.begin(), everyone.end(), [&](Client* c) { return c->member == member; });
    ASSERT_NE(it, everyone.end()) << member;
    EXPECT_EQ(m["id"].str(), (*it)->user);
    EXPECT_EQ(m["nickname"].str(), "nick-" + (*it)->user);
    EXPECT_EQ(m["type"].str(), "wechatUser");
  }
  // A user with a connection on each node, seen from both.
  std::set<std::string> dual = {dualA->member, dualB->member};
  for (const char* n : {"a", "b"}) {
    bool flag = false;
    EXPECT_EQ(onlineUser(n, "dual", &flag), dual) << "from " << n;
    EXPECT_TRUE(flag);
  }

  // Members that close disappear, whichever node they were on.
  for (Client* c : {bs[0].get(), as[0].get(), dualB.get()}) {
    c->ws.sendClose(1000);
    EXPECT_EQ(c->ws.waitClose(5000), 1000);
    want.erase(c->member);
  }
  EXPECT_EQ(waitOnline("a", "on", want), want);
  EXPECT_EQ(waitOnline("b", "on", want), want);
  EXPECT_EQ(onlineUser("b", "dual"), std::set<std::string>{dualA->member});
  // An abrupt end (TCP reset) too.
  dualA->ws.resetConnection();
  want.erase(dualA->member);
  EXPECT_EQ(waitOnline("b", "on", want), want);
  bool flag = true;
  EXPECT_TRUE(pollUntil([&] { return onlineUser("b", "dual", &flag).empty() && !flag; }, 5000));
}

TEST_F(Delivery, LiveWallAndAttendeeOnDifferentNodes) {
  auto wall = connect("b", "w1", "L", "wall");
  Msg j = wall->call(R"({"method":"live.wall.join"})", "join");
  ASSERT_EQ(j.status(), 200) << j;
  auto user = connect("a", "att1", "L");
  j = user->call(R"({"method":"live.user.join"})", "join");
  ASSERT_EQ(j.status(), 200) << j;
  EXPECT_EQ(j.param()["online"].i64(), 1) << j;
  waitRoomSubscribers("L:wall", 1);  // b, for the walls
  waitRoomSubscribers("L", 1);       // a, for the attendees
  EXPECT_TRUE(wall->waitEvent("userJoin").received) << "the wall on b hears of the attendee on a";

  // say on a -> the wall on b gets it to check.
  Msg said = user->call(R"({"method":"live.user.say","content":"hello from a"})", "say");
  ASSERT_EQ(said.status(), 200) << said;
  Msg need = wall->waitEvent("userSayNeedCheck");
  ASSERT_TRUE(need.received);
  EXPECT_EQ(need.param()["content"].str(), "hello from a");
  int64_t id = need.param()["id"].i64();
  EXPECT_EQ(id, said.param()["id"].i64());
  // check on b -> the attendee on a gets the broadcast.
  Msg checked = wall->call(R"({"method":"live.wall.check","id":)" + std::to_string(id) + R"(,"status":1})", "check");
  ASSERT_EQ(checked.status(), 200) << checked;
  Msg b = user->waitEvent("userSayBroadcast");
  ASSERT_TRUE(b.received);
  EXPECT_EQ(b.param()["content"].str(), "hello from a");
  // An announcement of the wall reaches the attendee too.
  Msg ws = wall->call(R"({"method":"live.wall.say","content":"welcome"})", "say");
  ASSERT_EQ(ws.status(), 200) << ws;
  Msg wb = user->waitEvent("wallSayBroadcast");
  ASSERT_TRUE(wb.received);
  EXPECT_EQ(wb.param()["content"].str(), "welcome");
  // The wall (in room L:wall) gets both broadcasts too: each once.
  EXPECT_TRUE(wall->waitEvent("userSayBroadcast").received);
  EXPECT_TRUE(wall->waitEvent("wallSayBroadcast").received);
  for (Client* c : {user.get(), wall.get()})
    for (const Msg& m : c->drain(kGraceMs))
      EXPECT_TRUE(m.event() != "userSayBroadcast" && m.event() != "wallSayBroadcast" &&
                  m.event() != "userSayNeedCheck")
          << c->member << " twice: " << m;

  // The attendee leaves by closing: the wall on b is told, with the new count.
  user->ws.sendClose(1000);
  user->ws.waitClose(5000);
  Msg left = wall->waitEvent("userLeave");
  ASSERT_TRUE(left.received);
  EXPECT_EQ(left.param()["online"].i64(), 0) << left;
}

// A node whose last member of a room leaves unsubscribes from the room's
// channel; a member joining again at once must subscribe it again, and the
// room's messages from other nodes must reach it.
TEST_F(Delivery, RejoinRightAfterTheLastMemberLeftStillGetsRoomMessages) {
  auto fromA = connect("a", "sender");
  join(*fromA, "q");
  auto onB = connect("b", "rejoiner");
  join(*onB, "q");
  waitRoomSubscribers("q", 2);
  for (int round = 0; round < 6; ++round) {
    // Leave and join again: by two requests, or in one action (then
    // UNSUBSCRIBE and SUBSCRIBE go out back to back on b's bus connection).
    if (round % 2 == 0) {
      Msg m = onB->call(R"({"method":"clustertest.t.leave","room":"q"})", "left");
      ASSERT_EQ(m.status(), 200) << m;
      join(*onB, "q");
    } else {
      Msg m = onB->call(R"({"method":"clustertest.t.rejoin","room":"q"})", "rejoined");
      ASSERT_EQ(m.status(), 200) << m;
    }
    std::set<std::string> want = {fromA->member, onB->member};
    ASSERT_EQ(waitOnline("a", "q", want), want);
    waitRoomSubscribers("q", 2);
    std::string ev = "q" + std::to_string(round);
    Msg m = fromA->call(R"({"method":"clustertest.t.room","room":"q","exclude_self":true,"event":")" + ev + "\"}", "sent");
    ASSERT_EQ(m.status(), 200) << m;
    ASSERT_TRUE(onB->waitEvent(ev, 3000).received) << "round " << round << ": b lost the room after a rejoin";
  }
}

// The same with a gap: b's room empty for a moment, then a newcomer.
TEST_F(Delivery, NewMemberAfterTheRoomEmptiedOnANodeGetsRoomMessages) {
  auto fromA = connect("a", "sender");
  join(*fromA, "e");
  for (int round = 0; round < 3; ++round) {
    auto onB = connect("b", "member" + std::to_string(round));
    join(*onB, "e");
    waitRoomSubscribers("e", 2);
    std::string ev = "e" + std::to_string(round);
    Msg m = fromA->call(R"({"method":"clustertest.t.room","room":"e","exclude_self":true,"event":")" + ev + "\"}", "sent");
    ASSERT_EQ(m.status(), 200) << m;
    ASSERT_TRUE(onB->waitEvent(ev, 3000).received) << "round " << round;
    onB->ws.sendClose(1000);
    onB->ws.waitClose(5000);
    waitRoomSubscribers("e", 1);  // b unsubscribed
  }
}

// node_id -> connections of GET /status's "cluster" part on nodeId (empty if
// it has none or an error; *body gets the whole answer).
std::map<std::string, int64_t> clusterNodes(TestServer& node, Json* body = nullptr) {
  Json st = node.status();
  std::map<std::string, int64_t> out;
  for (JsonRef n : st["cluster"]["nodes"]) out[std::string(n["node_id"].str())] = n["connections"].i64();
  if (body) *body = std::move(st);
  return out;
}

// /status on any node lists every node with its connections (as of its last
// heartbeat, every Cluster::kHeartbeat s); a node stopped is gone at once.
TEST_F(Delivery, StatusListsEveryNodeAndDropsAStoppedOne) {
  auto onA = connect("a", "sa");
  std::vector<std::unique_ptr<Client>> onB;
  onB.push_back(connect("b", "sb1"));
  onB.push_back(connect("b", "sb2"));
  const std::map<std::string, int64_t> want = {{"a", 1}, {"b", 2}};
  Json st;
  std::map<std::string, int64_t> last;
  auto asked = Clock::now();
  ASSERT_TRUE(pollUntil([&] { return (last = clusterNodes(node("a"), &st)) == want; }, 15000)) << st.dump();
  std::cerr << "[ info ] the heartbeats showed the connections after " << msSince(asked) << " ms\n";
  JsonRef cluster = st["cluster"];
  EXPECT_EQ(cluster["connections"].i64(), 3) << st.dump();
  ASSERT_EQ(cluster["nodes"].size(), 2) << st.dump();
  for (JsonRef n : cluster["nodes"]) {
    std::string id(n["node_id"].str());
    EXPECT_EQ(n["instance"].str().rfind(id + "@", 0), 0u) << st.dump();
    EXPECT_EQ(n["self"].boolean(), id == "a") << st.dump();
    EXPECT_EQ(n["pid"].i64(), static_cast<int64_t>(node(id).proc.pid())) << st.dump();
    EXPECT_NEAR(static_cast<double>(n["start_time"].i64()),
                static_cast<double>(node(id).status()["start_time"].i64()), 1) << st.dump();
  }
  EXPECT_EQ(st["connections"].i64(), 1) << "the node's own count stays its own: " << st.dump();
  // The same from b, which is "self" there.
  Json fromB;
  EXPECT_EQ(clusterNodes(node("b"), &fromB), want) << fromB.dump();
  for (JsonRef n : fromB["cluster"]["nodes"]) EXPECT_EQ(n["self"].boolean(), n["node_id"].str() == "b") << fromB.dump();
  // The console's table has a line per node.
  msw::it::ConsoleResult con = msw::it::runConsole(node("a").consoleArgs("status"));
  EXPECT_EQ(con.exitCode, 0) << con;
  EXPECT_NE(con.out.find("2 node(s), 3 connections"), std::string::npos) << con;
  EXPECT_NE(con.out.find("\na (this)"), std::string::npos) << con;
  EXPECT_NE(con.out.find("\nb "), std::string::npos) << con;

  // b stops gracefully: it removes its heartbeat key on the way out.
  int rc = -2;
  std::thread stopper([&] { rc = node("b").proc.stop(15000); });
  for (auto& c : onB) EXPECT_EQ(c->ws.waitClose(10000), 1001) << c->member;
  stopper.join();
  ASSERT_EQ(rc, 0) << tail(node("b").proc.log());
  auto stopped = Clock::now();
  EXPECT_TRUE(pollUntil([&] { return !clusterNodes(node("a"), &st).contains("b"); }, 2000)) << st.dump();
  std::cerr << "[ info ] b gone from a's /status " << msSince(stopped) << " ms after b exited\n";
  EXPECT_EQ(clusterNodes(node("a"), &st), (std::map<std::string, int64_t>{{"a", 1}})) << st.dump();
  EXPECT_EQ(st["cluster"]["connections"].i64(), 1) << st.dump();
}

// Both nodes also serve MSwoole's pages (an endpoint of flavor mswoole at
// /live): a room broadcast made on one node in both flavors' names reaches
// the other node's members each in its own (docs/design.md#one-room-several-flavors).
class FlavoredDelivery : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    for (const char* id : {"a", "b"}) {
      makeNode(id).ini.set("endpoint.mswoole", "path", "/live").set("endpoint.mswoole", "flavor", "mswoole");
      ASSERT_TRUE(node(id).start()) << node(id).error();
      waitSubscribed(id);
    }
  }
};

TEST_F(FlavoredDelivery, AnAnnouncementReachesTheOtherNodesMembersEachInItsOwnNames) {
  auto wall = connect("a", "w1", "F", "wall");
  ASSERT_EQ(wall->call(R"({"method":"live.wall.join"})", "join").status(), 200);
  auto ours = connect("b", "u1", "F");
  ASSERT_EQ(ours->call(R"({"method":"live.user.join"})", "join").status(), 200);
  InboxClient theirs;
  ASSERT_TRUE(theirs.ws.connect("127.0.0.1", node("b").port, "/live?auth=" + token("u2", "F"))) << theirs.ws.error();
  ASSERT_EQ(theirs.call(R"({"method":"Live.User.join"})", "userJoinSuccess").status(), 200);
  waitRoomSubscribers("F", 1);  // b, for the attendees

  Msg said = wall->call(R"({"method":"live.wall.say","content":"across"})", "say");
  ASSERT_EQ(said.status(), 200) << said;
  Msg mine = ours->waitEvent("wallSayBroadcast");
  EXPECT_EQ(mine.param()["content"].str(), "across") << mine;
  Msg their = theirs.waitEvent("wallSayBroadcast");
  EXPECT_EQ(their.param()["say"].str(), "across") << their;
  EXPECT_EQ(their.param()["code"].str(), "F") << their;
  EXPECT_EQ(their.param()["id"].i64(), said.param()["id"].i64()) << their;
  for (InboxClient* c : {static_cast<InboxClient*>(ours.get()), &theirs})
    for (const Msg& m : c->drain(kGraceMs)) EXPECT_NE(m.event(), "wallSayBroadcast") << "twice: " << m;
}

}  // namespace
}  // namespace msw::cluster
