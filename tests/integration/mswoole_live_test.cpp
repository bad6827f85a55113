// tests/integration/mswoole_live_test.cpp: MSwoole's own Live pages against
// the live module (app/live, docs/migrating-from-mswoole.md): the exact
// wire format of MSwoole's pages (method names as they wrote them, `say`,
// `status`, `type`, no rid) on a `flavor = mswoole` endpoint with `ack =
// receiveMessage`, 3DES tokens as MSwoole's Encrypt::des minted them, and a
// room shared with msw's own clients.
#include <set>

#include "tests/integration/app_api_support.h"

namespace msw::apptest {
namespace {

using msw::CipherKind;
using msw::it::InboxClient;
using msw::it::Msg;

const char* kIni =
    "[auth]\ncipher = des-ede3-ecb\n"
    "[endpoint.mswoole]\npath = /live\nack = receiveMessage\nflavor = mswoole\n";

std::string desToken(const std::string& id, const std::string& type, const std::string& code = "C9") {
  return msw::it::mint(msw::it::userJson(id, code, type, "nick-" + id), CipherKind::kDesEde3Ecb);
}

class MswooleLive : public ::testing::Test {
 protected:
  void SetUp() override {
    Options o;
    o.moreIni = kIni;
    server = std::make_unique<Server>(o);
    ASSERT_TRUE(server->start());
  }
  // The server exits cleanly, and under MSW_SANITIZE reports nothing.
  void TearDown() override {
    if (!server) return;
    if (server->proc.running()) {
      EXPECT_EQ(server->proc.stop(), 0) << "a clean exit";
    }
    EXPECT_EQ(msw::it::sanitizerReport(server->proc.log()), "") << "sanitizer report from the server";
  }

  // A connection as an MSwoole page makes it (path /live, ?auth=).
  std::unique_ptr<InboxClient> page(const std::string& token) {
    auto c = std::make_unique<InboxClient>();
    EXPECT_TRUE(c->ws.connect("127.0.0.1", server->port, "/live?auth=" + token)) << c->ws.error();
    return c;
  }
  // Sends what an MSwoole page sends; the ack must come before `event`.
  static Msg ask(InboxClient& c, const std::string& json, const std::string& event) {
    EXPECT_TRUE(c.ws.sendText(json));
    Msg ack = c.waitEvent("receiveMessage");
    EXPECT_EQ(ack.status(), 200) << json;
    Msg reply = c.waitEvent(event);
    EXPECT_TRUE(reply.received) << json << " -> no " << event;
    return reply;
  }

  std::unique_ptr<Server> server;
};

TEST_F(MswooleLive, TheWholeFlowInMswoolesNames) {
  auto wall = page(desToken("w1", "wall"));
  auto user = page(desToken("u1", "wechatUser"));
  EXPECT_EQ(ask(*wall, R"({"method":"Live.Wall.join"})", "wallJoinSuccess").status(), 200);
  EXPECT_EQ(ask(*user, R"({"method":"Live.User.join"})", "userJoinSuccess").status(), 200);

  // Say, the wall sees it waiting, then approves it: the attendee sees it broadcast.
  Msg said = ask(*user, R"({"method":"Live.User.say","say":"hello"})", "userSaySuccess");
  ASSERT_TRUE(said.param().isNumber()) << said;
  int64_t id = said.param().i64();
  Msg need = wall->waitEvent("userSayNeedCheck");
  EXPECT_EQ(need.param()["id"].i64(), id) << need;
  EXPECT_EQ(need.param()["nickname"].str(), "nick-u1") << need;
  EXPECT_EQ(need.param()["say"].str(), "hello") << need;
  Msg waiting = ask(*wall, R"({"method":"Live.Wall.history","type":"user","page":1,"count":20})", "userSayHistory");
  EXPECT_EQ(waiting.param()[std::to_string(id)]["say"].str(), "hello") << waiting;
  Msg checked = ask(*wall, R"({"method":"Live.Wall.check","id":)" + std::to_string(id) + R"(,"status":"yes"})",
                    "wallCheckSuccess");
  EXPECT_EQ(checked.param().i64(), id) << checked;
  Msg shown = user->waitEvent("userSayBroadcast");
  EXPECT_EQ(shown.param()["say"].str(), "hello") << shown;
  EXPECT_EQ(shown.param()["id"].i64(), id) << shown;

  // Rejected (status empty): nothing is broadcast; the next broadcast is the wall's own.
  int64_t bad = ask(*user, R"({"method":"Live.User.say","say":"spam"})", "userSaySuccess").param().i64();
  wall->waitEvent("userSayNeedCheck");
  ask(*wall, R"({"method":"Live.Wall.check","id":)" + std::to_string(bad) + R"(,"status":""})", "wallCheckSuccess");
  Msg announced = ask(*wall, R"({"method":"Live.Wall.say","say":"welcome"})", "wallSaySuccess");
  int64_t aid = announced.param().i64(-1);
  EXPECT_GT(aid, bad) << announced;
  Msg next = user->next([](const Msg& m) { return m.event() == "userSayBroadcast" || m.event() == "wallSayBroadcast"; });
  EXPECT_EQ(next.event(), "wallSayBroadcast") << "a rejected message is never shown: " << next;
  EXPECT_EQ(next.param()["code"].str(), "C9") << next;
  EXPECT_EQ(next.param()["nickname"].str(), "nick-w1") << next;
  EXPECT_EQ(next.param()["say"].str(), "welcome") << next;
  EXPECT_EQ(next.param()["user_id"].str(), "w1") << next;
  EXPECT_EQ(next.param()["id"].i64(), aid) << next;

  Msg history = ask(*wall, R"({"method":"Live.Wall.history","type":"wall","page":1,"count":5})", "wallSayHistory");
  EXPECT_EQ(history.param()[std::to_string(aid)]["say"].str(), "welcome") << history;
  Msg recalled = ask(*wall, R"({"method":"Live.Wall.recall","id":)" + std::to_string(aid) + "}", "wallRecallSuccess");
  EXPECT_EQ(recalled.param().i64(), aid) << recalled;
  EXPECT_EQ(user->waitEvent("wallSayRecall").param().i64(), aid);

  EXPECT_EQ(ask(*user, R"({"method":"Live.User.out"})", "userOutSuccess").status(), 200);
  EXPECT_EQ(ask(*wall, R"({"method":"Live.Wall.out"})", "wallOutSuccess").status(), 200);
}

TEST_F(MswooleLive, ErrorsCarryMswoolesStatusesAndNames) {
  auto wall = page(desToken("w2", "wall"));
  auto user = page(desToken("u2", "wechatUser"));
  auto roomless = page(msw::it::mint(msw::it::userJson("u3", "", "wechatUser"), CipherKind::kDesEde3Ecb));
  // The ack comes first, its info empty (docs/migrating-from-mswoole.md), then the reply.
  ASSERT_TRUE(user->ws.sendText(R"({"method":"Live.Wall.say","say":"x"})"));
  Msg first = user->next(), second = user->next();
  EXPECT_EQ(first.raw, R"({"status":200,"event":"receiveMessage","info":""})") << first;
  EXPECT_EQ(second.event(), "mustBeWall") << second;
  EXPECT_EQ(second.status(), 403) << second;
  EXPECT_EQ(ask(*wall, R"({"method":"Live.User.say","say":"x"})", "mustBeWechatUser").status(), 403);
  EXPECT_EQ(ask(*wall, R"({"method":"Live.Wall.history","type":"all"})", "typeError").status(), 401);
  EXPECT_EQ(ask(*roomless, R"({"method":"Live.User.join"})", "codeIsEmpty").status(), 999);
  // msw's checks stay: an empty say is refused, and the connection carries on.
  EXPECT_EQ(ask(*user, R"({"method":"Live.User.say","say":""})", "badRequest").status(), 400);
  ASSERT_TRUE(user->ws.sendText("2"));
  Msg beat = user->next([](const Msg& m) { return m.raw == "3"; });
  EXPECT_TRUE(beat.received) << "heartbeat 2 -> 3";
}

TEST_F(MswooleLive, AMixedRoomSeesTheSameMessagesEachInItsOwnNames) {
  auto wall = page(desToken("w4", "wall"));  // an MSwoole wall
  auto theirs = page(desToken("u4", "wechatUser"));
  Client ours;
  ASSERT_TRUE(ours.open(server->port, desToken("u5", "wechatUser")));
  ask(*wall, R"({"method":"Live.Wall.join"})", "wallJoinSuccess");
  ask(*theirs, R"({"method":"Live.User.join"})", "userJoinSuccess");
  ASSERT_EQ(ours.call("live.user.join")["status"].i64(), 200);

  // msw's attendee says (msw's fields); the MSwoole wall approves it.
  int64_t id = ours.call("live.user.say", R"("content":"from msw")")["param"]["id"].i64(-1);
  ASSERT_GT(id, 0);
  EXPECT_EQ(wall->waitEvent("userSayNeedCheck").param()["say"].str(), "from msw");
  ask(*wall, R"({"method":"Live.Wall.check","id":)" + std::to_string(id) + R"(,"status":1})", "wallCheckSuccess");
  EXPECT_EQ(theirs->waitEvent("userSayBroadcast").param()["say"].str(), "from msw");
  Json seen = ours.event("userSayBroadcast");
  EXPECT_EQ(seen["param"]["content"].str(), "from msw") << seen.dump();
  EXPECT_FALSE(seen["param"].has("say")) << "msw's clients get msw's shape: " << seen.dump();

  ask(*wall, R"({"method":"Live.Wall.say","say":"both"})", "wallSaySuccess");
  EXPECT_EQ(theirs->waitEvent("wallSayBroadcast").param()["say"].str(), "both");
  EXPECT_EQ(ours.event("wallSayBroadcast")["param"]["content"].str(), "both");
  // Each got one copy: the next broadcast each sees is the wall's next one.
  ask(*wall, R"({"method":"Live.Wall.say","say":"again"})", "wallSaySuccess");
  EXPECT_EQ(theirs->waitEvent("wallSayBroadcast").param()["say"].str(), "again");
  EXPECT_EQ(ours.event("wallSayBroadcast")["param"]["content"].str(), "again");
}

// One room per code (docs/live.md#rooms): /online and a manager push see
// every attendee, whatever the flavor of the endpoint it came in by.
TEST_F(MswooleLive, OneRoomPerCodeHoldsBothFlavors) {
  Client wall, ours;
  ASSERT_TRUE(wall.open(server->port, desToken("w6", "wall")));  // msw's own wall
  ASSERT_TRUE(ours.open(server->port, desToken("u6", "wechatUser")));
  auto theirs = page(desToken("u7", "wechatUser"));
  ASSERT_EQ(wall.call("live.wall.join")["status"].i64(), 200);
  ASSERT_EQ(ours.call("live.user.join")["status"].i64(), 200);
  ask(*theirs, R"({"method":"Live.User.join"})", "userJoinSuccess");

  Json online = server->getJson("/online?room=C9");
  EXPECT_EQ(online["count"].i64(), 2) << online.dump();
  std::set<std::string> ids;
  for (JsonRef m : online["members"]) ids.insert(std::string(m["id"].str()));
  EXPECT_EQ(ids, (std::set<std::string>{"u6", "u7"})) << online.dump();
  EXPECT_EQ(server->getJson("/online?room=C9:wall")["count"].i64(), 1);

  // MSwoole's attendee says; msw's wall sees it in msw's shape and approves it.
  int64_t id = ask(*theirs, R"({"method":"Live.User.say","say":"from mswoole"})", "userSaySuccess").param().i64(-1);
  Json need = wall.event("userSayNeedCheck");
  EXPECT_EQ(need["param"]["content"].str(), "from mswoole") << need.dump();
  EXPECT_EQ(need["param"]["id"].i64(), id) << need.dump();
  ASSERT_EQ(wall.call("live.wall.check", R"("id":)" + std::to_string(id) + R"(,"status":1)")["status"].i64(), 200);
  EXPECT_EQ(ours.event("userSayBroadcast")["param"]["content"].str(), "from mswoole");
  Msg shown = theirs->waitEvent("userSayBroadcast");
  EXPECT_EQ(shown.param()["say"].str(), "from mswoole") << shown;
  EXPECT_EQ(shown.param()["id"].i64(), id) << shown;

  // A manager push to the room reaches both, as the same message.
  HttpResponse pushed = server->http("POST", "/push", R"({"to":{"room":"C9"},"event":"notice","info":"hi","param":{"a":1}})");
  EXPECT_EQ(pushed.body, R"({"delivered":2})");
  const std::string expected = R"({"status":200,"event":"notice","info":"hi","param":{"a":1}})";
  EXPECT_EQ(theirs->waitEvent("notice").raw, expected);
  Json notice = ours.event("notice");
  EXPECT_EQ(notice.dump(), expected);
}

int64_t flavorBuilds(const Server& s) {
  std::string m = s.metrics();
  int64_t n = 0;
  for (int w = 0; w < kWorkers; ++w)
    n += msw::it::metricValue(m, "msw_flavor_payloads_built_total{worker=\"" + std::to_string(w) + "\"}");
  return n;
}

// MSwoole's text of a broadcast is built only when an MSwoole member gets
// it, and then once, however many rooms and workers it reaches.
TEST_F(MswooleLive, MswoolesTextIsBuiltOnlyForAnMswooleMember) {
  Client wall, ours;
  ASSERT_TRUE(wall.open(server->port, desToken("w8", "wall")));
  ASSERT_TRUE(ours.open(server->port, desToken("u8", "wechatUser")));
  ASSERT_EQ(wall.call("live.wall.join")["status"].i64(), 200);
  ASSERT_EQ(ours.call("live.user.join")["status"].i64(), 200);
  ASSERT_EQ(wall.call("live.wall.say", R"("content":"msw only")")["status"].i64(), 200);
  EXPECT_EQ(ours.event("wallSayBroadcast")["param"]["content"].str(), "msw only");
  EXPECT_EQ(flavorBuilds(*server), 0) << "no MSwoole member: nothing built";

  // MSwoole attendees on both workers, and an MSwoole wall in the wall room.
  std::vector<std::unique_ptr<InboxClient>> pages;
  std::set<int> workers;
  for (int i = 0; i < 16 && workers.size() < kWorkers; ++i) {
    pages.push_back(page(desToken("m" + std::to_string(i), "wechatUser")));
    ask(*pages.back(), R"({"method":"Live.User.join"})", "userJoinSuccess");
    workers.clear();
    Json online = server->getJson("/online?room=C9");
    for (JsonRef m : online["members"])
      if (m["id"].str().substr(0, 1) == "m") workers.insert(workerOf(static_cast<uint64_t>(m["fd"].i64())));
  }
  ASSERT_EQ(workers.size(), size_t{kWorkers}) << "MSwoole attendees on every worker";
  auto theirWall = page(desToken("w9", "wall"));
  ask(*theirWall, R"({"method":"Live.Wall.join"})", "wallJoinSuccess");

  ASSERT_EQ(wall.call("live.wall.say", R"("content":"both")")["status"].i64(), 200);
  EXPECT_EQ(ours.event("wallSayBroadcast")["param"]["content"].str(), "both");
  for (auto& p : pages) EXPECT_EQ(p->waitEvent("wallSayBroadcast").param()["say"].str(), "both");
  EXPECT_EQ(theirWall->waitEvent("wallSayBroadcast").param()["say"].str(), "both");
  EXPECT_EQ(flavorBuilds(*server), 1) << "built once for two rooms on two workers";
}

}  // namespace
}  // namespace msw::apptest
