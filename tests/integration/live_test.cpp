// Integration tests of the live module (app/live/live.cpp, docs/live.md) with
// real WebSocket clients: attendees (wechatUser) and walls on both workers.
//
// "Exactly once" and "nothing else" are checked with barriers: settle() makes
// every worker finish what earlier closes and store callbacks queued, then a
// helper sends a "barrier" to everyone; what a worker posts to another runs
// in order, so a client that has read up to the barrier has seen everything
// the live module sent it before.
#include "tests/integration/app_api_support.h"

namespace msw::apptest {
namespace {

const std::string kCode = "C1";

std::string userTok(const std::string& id, const std::string& code = kCode) {
  return Server::token(id, "wechatUser", code, "nick-" + id);
}
std::string wallTok(const std::string& id, const std::string& code = kCode) {
  return Server::token(id, "wall", code, "wall-" + id);
}

class Live : public ::testing::Test {
 protected:
  void SetUp() override { start(Options{}); }
  void start(const Options& o) {
    server = std::make_unique<Server>(o);
    ASSERT_TRUE(server->start());
    // One helper per worker: they run the barriers and join nothing.
    ASSERT_TRUE(openSpread(*server, 1, [](int i) { return Server::token("h" + std::to_string(i), "helper", "", "H"); },
                           helpers));
  }

  // live.user.say with `content`: the message's id (-1 when refused).
  static int64_t say(Client& u, const std::string& content) {
    return u.call("live.user.say", "\"content\":\"" + content + "\"")["param"]["id"].i64(-1);
  }
  // live.wall.check of message `id` with `status` (1 approve, 0 reject): the reply.
  static Json check(Client& w, int64_t id, int status) {
    return w.call("live.wall.check", "\"id\":" + std::to_string(id) + ",\"status\":" + std::to_string(status));
  }

  // A client that has called `method` and got its 200 reply (kept in `reply`).
  Client& joined(const std::string& token, const std::string& method, Json* reply = nullptr) {
    auto c = std::make_unique<Client>();
    EXPECT_TRUE(c->open(server->port, token));
    c->whoami();
    Json r = c->call(method);
    EXPECT_EQ(r["status"].i64(), 200) << method << " -> " << r.dump();
    if (reply) *reply = std::move(r);
    all.push_back(std::move(c));
    return *all.back();
  }
  Client& user(const std::string& id, Json* reply = nullptr) { return joined(userTok(id), "live.user.join", reply); }
  Client& wall(const std::string& id, Json* reply = nullptr) { return joined(wallTok(id), "live.wall.join", reply); }

  // Every worker has drained what it had queued (two round trips each: the
  // second runs in a later loop iteration than anything posted before the
  // first), then a barrier tagged `tag` goes to everyone and every client in
  // `all` reads up to it. Returns fd -> how many `event` messages it had.
  std::map<uint64_t, int> settle(const std::string& tag, const std::string& event) {
    for (int round = 0; round < 2; ++round)
      for (auto& h : helpers) EXPECT_TRUE(h->call("apptest.api.whoami")) << "helper";
    Json r = helpers.front()->call("apptest.api.send", "\"to\":\"fds\",\"fds\":[],\"event\":\"" + tag + "\",\"barrier\":true");
    EXPECT_EQ(r["status"].i64(), 200) << r.dump();
    std::map<uint64_t, int> seen = collectBefore(all, tag, event);
    for (auto& h : helpers) h->countBefore(tag, event);
    return seen;
  }
  // The clients in `who` got exactly one `event` before the barrier, the rest none.
  void expectOnly(const std::string& event, const std::set<const Client*>& who, const std::string& what) {
    std::map<uint64_t, int> seen = settle("b-" + event + "-" + std::to_string(++barriers_), event);
    for (auto& c : all)
      EXPECT_EQ(seen[c->fd], who.count(c.get()) ? 1 : 0)
          << what << ": " << event << " at fd " << c->fd << " (worker " << workerOf(c->fd) << ")";
  }
  // A message taken from the kept ones (settle keeps what it did not count).
  Json kept(Client& c, const std::string& event) { return c.event(event, 2000); }

  // Pages of a history: the contents of "items", in order.
  std::vector<std::string> contents(JsonRef reply) {
    std::vector<std::string> out;
    for (JsonRef i : reply["param"]["items"]) out.emplace_back(i["content"].str());
    return out;
  }

  std::unique_ptr<Server> server;
  std::vector<std::unique_ptr<Client>> helpers;
  std::vector<std::unique_ptr<Client>> all;
  int barriers_ = 0;
};

TEST_F(Live, UserJoinAnswersTheOnlineCountAndWallsHearIt) {
  Json r;
  Client& w = wall("w1", &r);
  EXPECT_EQ(r["event"].str(), "join");
  EXPECT_EQ(r["param"]["code"].str(), kCode);
  EXPECT_EQ(r["param"]["online"].i64(-1), 0);
  EXPECT_EQ(r["param"]["pending"].size(), 0);
  Client& u1 = user("u1", &r);
  EXPECT_EQ(r["event"].str(), "join");
  EXPECT_EQ(r["param"]["code"].str(), kCode);
  EXPECT_EQ(r["param"]["online"].i64(), 1);
  Json j = w.event("userJoin");
  ASSERT_TRUE(j);
  EXPECT_EQ(j["param"]["id"].str(), "u1");
  EXPECT_EQ(j["param"]["nickname"].str(), "nick-u1");
  EXPECT_EQ(j["param"]["online"].i64(), 1);
  Client& u2 = user("u2", &r);
  EXPECT_EQ(r["param"]["online"].i64(), 2);
  j = w.event("userJoin");
  ASSERT_TRUE(j);
  EXPECT_EQ(j["param"]["id"].str(), "u2");
  EXPECT_EQ(j["param"]["online"].i64(), 2);
  // The first attendee hears of the second; nobody else hears anything more.
  j = u1.event("userJoin");
  ASSERT_TRUE(j);
  EXPECT_EQ(j["param"]["id"].str(), "u2");
  expectOnly("userJoin", {}, "after both joins were read");
  (void)u2;
  Json online = server->getJson("/online?room=" + kCode);
  EXPECT_EQ(online["count"].i64(), 2) << online.dump();
  EXPECT_EQ(server->getJson("/online?room=" + kCode + ":wall")["count"].i64(), 1);
}

TEST_F(Live, UserSayQueuesForModerationWithEscapedContent) {
  Client& w1 = wall("w1");
  Client& w2 = wall("w2");
  Client& u1 = user("u1");
  Client& u2 = user("u2");
  u2.take("userJoin");
  Json r = u1.call("live.user.say", "\"content\":\"<b>hi</b> & 'you'\"");
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  EXPECT_EQ(r["event"].str(), "say");
  EXPECT_EQ(r["param"]["state"].str(), "pending");
  int64_t id = r["param"]["id"].i64(-1);
  EXPECT_GT(id, 0);
  for (Client* w : {&w1, &w2}) {
    Json m = w->event("userSayNeedCheck");
    ASSERT_TRUE(m);
    EXPECT_EQ(m["param"]["id"].i64(), id);
    EXPECT_EQ(m["param"]["nickname"].str(), "nick-u1");
    EXPECT_EQ(m["param"]["uid"].str(), "u1");
    EXPECT_EQ(m["param"]["content"].str(), "&lt;b&gt;hi&lt;/b&gt; &amp; &#039;you&#039;");
  }
  // Only walls see the queue, and nothing reaches the room before a check.
  expectOnly("userSayNeedCheck", {}, "second copy");
  expectOnly("userSayBroadcast", {}, "before a check");
  // Ids grow.
  r = u2.call("live.user.say", "\"content\":\"second\"");
  EXPECT_GT(r["param"]["id"].i64(), id);
}

TEST_F(Live, UserSayRefusesEmptyAndTooLongContent) {
  Client& u = user("u1");
  Json r = u.call("live.user.say", "\"content\":\"\"");
  EXPECT_EQ(r["status"].i64(), 400) << r.dump();
  EXPECT_EQ(r["event"].str(), "badRequest");
  r = u.call("live.user.say");
  EXPECT_EQ(r["status"].i64(), 400) << r.dump();
  r = u.call("live.user.say", "\"content\":12");
  EXPECT_EQ(r["status"].i64(), 400) << r.dump();
  r = u.call("live.user.say", "\"content\":\"" + std::string(1000, 'a') + "\"");
  EXPECT_EQ(r["status"].i64(), 200) << "exactly 1000 bytes is allowed";
  r = u.call("live.user.say", "\"content\":\"" + std::string(1001, 'a') + "\"");
  EXPECT_EQ(r["status"].i64(), 413) << r.dump();
  EXPECT_EQ(r["event"].str(), "contentTooLong");
  // 300 bytes that escape to 1,200.
  r = u.call("live.user.say", "\"content\":\"" + std::string(300, '<') + "\"");
  EXPECT_EQ(r["status"].i64(), 413) << r.dump();
  // The same rules for wall.say.
  Client& w = wall("w1");
  r = w.call("live.wall.say", "\"content\":\"\"");
  EXPECT_EQ(r["status"].i64(), 400) << r.dump();
  r = w.call("live.wall.say", "\"content\":\"" + std::string(1001, 'a') + "\"");
  EXPECT_EQ(r["status"].i64(), 413) << r.dump();
  EXPECT_EQ(r["event"].str(), "contentTooLong");
}

TEST_F(Live, ApprovedMessageGoesToTheRoomAndEveryWall) {
  // Attendees on both workers, two walls.
  std::vector<Client*> users;
  for (int i = 0; i < 16; ++i) {
    users.push_back(&user("u" + std::to_string(i)));
    std::set<int> ws;
    for (Client* u : users) ws.insert(workerOf(u->fd));
    if (users.size() >= 3 && ws.size() == kWorkers) break;
  }
  Client& w1 = wall("w1");
  Client& w2 = wall("w2");
  Json r = users[0]->call("live.user.say", "\"content\":\"hello all\"");
  int64_t id = r["param"]["id"].i64(-1);
  ASSERT_GT(id, 0) << r.dump();
  ASSERT_TRUE(w1.event("userSayNeedCheck"));
  r = check(w1, id, 1);
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  EXPECT_EQ(r["event"].str(), "check");
  EXPECT_EQ(r["param"]["id"].i64(), id);
  EXPECT_EQ(r["param"]["status"].i64(), 1);
  Json b = w2.event("userSayBroadcast");
  ASSERT_TRUE(b);
  EXPECT_EQ(b["param"]["content"].str(), "hello all");
  EXPECT_EQ(b["param"]["id"].i64(), id);
  EXPECT_EQ(b["param"]["nickname"].str(), "nick-u0");
  w2.putBack(b);
  std::set<const Client*> everyone(users.begin(), users.end());
  everyone.insert(&w1);
  everyone.insert(&w2);
  expectOnly("userSayBroadcast", everyone, "approved message");
  // userSayChecked went to both walls only; it was sent before the barrier above.
  std::set<const Client*> walls = {&w1, &w2};
  for (auto& c : all) {
    int n = c->take("userSayChecked");
    EXPECT_EQ(n, walls.count(c.get()) ? 1 : 0) << "userSayChecked at fd " << c->fd;
  }
  // It is in the attendees' history.
  r = users[1]->call("live.user.history");
  EXPECT_EQ(contents(r), std::vector<std::string>{"hello all"}) << r.dump();
  // A second check of the same id: gone.
  r = check(w2, id, 1);
  EXPECT_EQ(r["status"].i64(), 404) << r.dump();
  EXPECT_EQ(r["event"].str(), "messageNotFound");
}

TEST_F(Live, RejectedMessageIsDroppedButWallsAreTold) {
  Client& u1 = user("u1");
  Client& u2 = user("u2");
  Client& w1 = wall("w1");
  Client& w2 = wall("w2");
  Json r = u1.call("live.user.say", "\"content\":\"spam\"");
  int64_t id = r["param"]["id"].i64(-1);
  ASSERT_GT(id, 0);
  // The status given as a string works too.
  r = w2.call("live.wall.check", "\"id\":\"" + std::to_string(id) + "\",\"status\":\"0\"");
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  EXPECT_EQ(r["param"]["status"].i64(-1), 0);
  EXPECT_EQ(r["info"].str(), "rejected");
  expectOnly("userSayBroadcast", {}, "rejected message");
  expectOnly("userSayChecked", {&w1, &w2}, "rejected message");  // kept from before the first barrier
  (void)u2;
  r = u1.call("live.user.history");
  EXPECT_EQ(r["param"]["total"].i64(-1), 0) << r.dump();
  r = check(w1, id, 0);
  EXPECT_EQ(r["status"].i64(), 404) << r.dump();
  EXPECT_EQ(r["event"].str(), "messageNotFound");
}

// The sender of a rejected message is told (and only the sender), so its
// page does not show it as waiting forever.
TEST_F(Live, TheSenderOfARejectedMessageIsToldAndNobodyElse) {
  Client& u1 = user("u1");
  Client& u2 = user("u2");
  Client& w = wall("w1");
  int64_t id = say(u1, "nope");
  ASSERT_GT(id, 0);
  ASSERT_EQ(check(w, id, 0)["status"].i64(), 200);
  Json told = u1.event("sayRejected");
  ASSERT_TRUE(told) << "the sender hears nothing of its rejected message";
  EXPECT_EQ(told["status"].i64(), 200) << told.dump();
  EXPECT_EQ(told["param"]["id"].i64(), id) << told.dump();
  u1.putBack(told);
  expectOnly("sayRejected", {&u1}, "rejected message");
  (void)u2;
  // An approved message tells its sender nothing of the kind.
  id = say(u2, "yes");
  ASSERT_EQ(check(w, id, 1)["status"].i64(), 200);
  expectOnly("sayRejected", {}, "approved message");
}

// A wall's own history is its announcements; list=timeline is everything the
// room was shown (what a big screen opened late needs), in order.
TEST_F(Live, WallHistoryGivesTheAnnouncementsOrTheWholeTimeline) {
  Client& u = user("u1");
  Client& w = wall("w1");
  int64_t id = say(u, "first");
  ASSERT_EQ(check(w, id, 1)["status"].i64(), 200);
  ASSERT_EQ(w.call("live.wall.say", "\"content\":\"second\"")["status"].i64(), 200);
  Json r = w.call("live.wall.history");
  EXPECT_EQ(contents(r), std::vector<std::string>{"second"}) << r.dump();
  r = w.call("live.wall.history", "\"list\":\"wall\"");
  EXPECT_EQ(contents(r), std::vector<std::string>{"second"}) << r.dump();
  r = w.call("live.wall.history", "\"list\":\"timeline\"");
  EXPECT_EQ(contents(r), (std::vector<std::string>{"first", "second"})) << r.dump();
  EXPECT_EQ(r["param"]["total"].i64(-1), 2) << r.dump();
  r = w.call("live.wall.history", "\"list\":\"pending\"");
  EXPECT_EQ(r["status"].i64(), 400) << r.dump();
  EXPECT_EQ(r["event"].str(), "badRequest");
}

TEST_F(Live, RejectTellsEveryWallOnce) {
  Client& u1 = user("u1");
  Client& w1 = wall("w1");
  Client& w2 = wall("w2");
  int64_t id = say(u1, "no");
  ASSERT_GT(id, 0);
  ASSERT_EQ(check(w1, id, 0)["status"].i64(), 200);
  expectOnly("userSayChecked", {&w1, &w2}, "rejected message");
}

TEST_F(Live, CheckWithBadArgumentsIs400) {
  Client& w = wall("w1");
  for (const char* data : {"", "\"id\":1", "\"status\":1", "\"id\":1,\"status\":2", "\"id\":1,\"status\":-1",
                           "\"id\":\"\",\"status\":1", "\"id\":null,\"status\":1"}) {
    Json r = w.call("live.wall.check", data);
    EXPECT_EQ(r["status"].i64(), 400) << "{" << data << "} -> " << r.dump();
    EXPECT_EQ(r["event"].str(), "badRequest") << data;
  }
  Json r = w.call("live.wall.check", "\"id\":424242,\"status\":1");
  EXPECT_EQ(r["status"].i64(), 404) << r.dump();
}

// A status that is a string but not "0" or "1" is a bad argument too; it
// must not count as a rejection (which would drop the attendee's message).
TEST_F(Live, CheckWithANonNumericStatusStringIs400) {
  Client& u = user("u1");
  Client& w = wall("w1");
  int64_t id = say(u, "keep");
  ASSERT_GT(id, 0);
  for (const char* status : {"yes", "approve", "", "1x"}) {
    Json r = w.call("live.wall.check", "\"id\":" + std::to_string(id) + ",\"status\":\"" + status + "\"");
    EXPECT_EQ(r["status"].i64(), 400) << "status \"" << status << "\" -> " << r.dump();
  }
  Json r = check(w, id, 1);
  EXPECT_EQ(r["status"].i64(), 200) << "the message must still be waiting: " << r.dump();
}

TEST_F(Live, WallSayBroadcastsAndIsStored) {
  std::vector<Client*> users = {&user("u1"), &user("u2"), &user("u3")};
  Client& w1 = wall("w1");
  Client& w2 = wall("w2");
  Json r = w1.call("live.wall.say", "\"content\":\"Welcome <all>\"");
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  EXPECT_EQ(r["event"].str(), "say");
  int64_t id = r["param"]["id"].i64(-1);
  EXPECT_GT(id, 0);
  Json b = users[2]->event("wallSayBroadcast");
  ASSERT_TRUE(b);
  EXPECT_EQ(b["param"]["content"].str(), "Welcome &lt;all&gt;");
  EXPECT_EQ(b["param"]["kind"].str(), "wall");
  EXPECT_EQ(b["param"]["id"].i64(), id);
  EXPECT_EQ(b["param"]["nickname"].str(), "wall-w1");
  users[2]->putBack(b);
  std::set<const Client*> everyone(users.begin(), users.end());
  everyone.insert(&w1);
  everyone.insert(&w2);
  expectOnly("wallSayBroadcast", everyone, "wall.say");
  r = users[0]->call("live.user.history");
  EXPECT_EQ(contents(r), std::vector<std::string>{"Welcome &lt;all&gt;"}) << r.dump();
  r = w2.call("live.wall.history");
  EXPECT_EQ(contents(r), std::vector<std::string>{"Welcome &lt;all&gt;"}) << r.dump();
}

TEST_F(Live, WallRecallRemovesTheAnnouncementEverywhere) {
  Client& u1 = user("u1");
  Client& u2 = user("u2");
  Client& w = wall("w1");
  int64_t keep = w.call("live.wall.say", "\"content\":\"keep me\"")["param"]["id"].i64(-1);
  int64_t drop = w.call("live.wall.say", "\"content\":\"drop me\"")["param"]["id"].i64(-1);
  ASSERT_GT(keep, 0);
  ASSERT_GT(drop, keep);
  // An approved attendee message stays too.
  int64_t said = say(u2, "mine");
  ASSERT_EQ(check(w, said, 1)["status"].i64(), 200);
  Json r = w.call("live.wall.recall", "\"id\":" + std::to_string(drop));
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  EXPECT_EQ(r["event"].str(), "recall");
  Json m = u1.event("wallSayRecall");
  ASSERT_TRUE(m);
  EXPECT_EQ(m["param"]["id"].i64(), drop);
  u1.putBack(m);
  expectOnly("wallSayRecall", {&u1, &u2, &w}, "recall");
  r = u1.call("live.user.history");
  EXPECT_EQ(contents(r), (std::vector<std::string>{"keep me", "mine"})) << r.dump();
  EXPECT_EQ(r["param"]["total"].i64(), 2);
  r = w.call("live.wall.history");
  EXPECT_EQ(contents(r), std::vector<std::string>{"keep me"}) << r.dump();
  EXPECT_EQ(r["param"]["total"].i64(), 1);
  // Twice, unknown, or without an id.
  r = w.call("live.wall.recall", "\"id\":" + std::to_string(drop));
  EXPECT_EQ(r["status"].i64(), 404) << r.dump();
  EXPECT_EQ(r["event"].str(), "messageNotFound");
  r = w.call("live.wall.recall", "\"id\":" + std::to_string(said));  // not an announcement
  EXPECT_EQ(r["status"].i64(), 404) << r.dump();
  r = w.call("live.wall.recall");
  EXPECT_EQ(r["status"].i64(), 400) << r.dump();
}

TEST_F(Live, WallCleanEmptiesEverything) {
  Client& u1 = user("u1");
  Client& w = wall("w1");
  Client& w2 = wall("w2");
  w.call("live.wall.say", "\"content\":\"a\"");
  int64_t said = say(u1, "b");
  check(w, said, 1);
  u1.call("live.user.say", "\"content\":\"still pending\"");
  Json r = w.call("live.wall.clean");
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  EXPECT_EQ(r["event"].str(), "clean");
  expectOnly("wallClean", {&u1, &w, &w2}, "clean");
  r = u1.call("live.user.history");
  EXPECT_EQ(r["param"]["total"].i64(-1), 0) << r.dump();
  EXPECT_EQ(r["param"]["items"].size(), 0);
  r = w.call("live.wall.history");
  EXPECT_EQ(r["param"]["total"].i64(-1), 0) << r.dump();
  Json j;
  wall("w3", &j);
  EXPECT_EQ(j["param"]["pending"].size(), 0) << j.dump();
}

TEST_F(Live, HistoryPagesNewestFirstOldestFirstWithinAPage) {
  Client& u = user("u1");
  Client& w = wall("w1");
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(w.call("live.wall.say", "\"content\":\"m" + std::to_string(i) + "\"")["status"].i64(), 200);
  for (auto [who, method] : {std::pair<Client*, std::string>{&u, "live.user.history"}, {&w, "live.wall.history"}}) {
    Json r = who->call(method, "\"page\":1,\"size\":2");
    EXPECT_EQ(r["event"].str(), "history");
    EXPECT_EQ(r["param"]["page"].i64(), 1);
    EXPECT_EQ(r["param"]["size"].i64(), 2);
    EXPECT_EQ(r["param"]["total"].i64(), 5);
    EXPECT_EQ(contents(r), (std::vector<std::string>{"m4", "m5"})) << method;
    r = who->call(method, "\"page\":2,\"size\":2");
    EXPECT_EQ(contents(r), (std::vector<std::string>{"m2", "m3"})) << method;
    r = who->call(method, "\"page\":3,\"size\":2");
    EXPECT_EQ(contents(r), (std::vector<std::string>{"m1"})) << method;
    r = who->call(method, "\"page\":4,\"size\":2");
    EXPECT_EQ(contents(r), std::vector<std::string>{}) << method;
    EXPECT_EQ(r["param"]["total"].i64(), 5);
    r = who->call(method);  // defaults: page 1, size 20
    EXPECT_EQ(r["param"]["page"].i64(), 1);
    EXPECT_EQ(r["param"]["size"].i64(), 20);
    EXPECT_EQ(contents(r), (std::vector<std::string>{"m1", "m2", "m3", "m4", "m5"})) << method;
    r = who->call(method, "\"page\":1,\"size\":500");
    EXPECT_EQ(r["param"]["size"].i64(), 100) << "size is capped at 100";
    EXPECT_EQ(r["param"]["items"].size(), 5);
    r = who->call(method, "\"page\":0,\"size\":0");
    EXPECT_EQ(r["param"]["page"].i64(), 1);
    EXPECT_EQ(r["param"]["size"].i64(), 1);
    EXPECT_EQ(contents(r), (std::vector<std::string>{"m5"})) << method;
  }
}

TEST_F(Live, HistorySizeIsCappedAt100Entries) {
  Client& w = wall("w1");
  for (int i = 1; i <= 130; ++i) {
    ASSERT_TRUE(w.sendJson("{\"method\":\"live.wall.say\",\"content\":\"n" + std::to_string(i) + "\"}"));
  }
  for (int i = 0; i < 130; ++i) ASSERT_TRUE(w.event("say")) << i;
  Json r = w.call("live.wall.history", "\"size\":1000");
  EXPECT_EQ(r["param"]["size"].i64(), 100);
  EXPECT_EQ(r["param"]["total"].i64(), 130);
  std::vector<std::string> got = contents(r);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got.front(), "n31");
  EXPECT_EQ(got.back(), "n130");
  r = w.call("live.wall.history", "\"size\":1000,\"page\":2");
  got = contents(r);
  ASSERT_EQ(got.size(), 30u);
  EXPECT_EQ(got.front(), "n1");
  EXPECT_EQ(got.back(), "n30");
}

// A page far beyond the history is simply empty (page * size must not
// overflow: signed overflow is undefined, and fatal under UBSan).
TEST_F(Live, AHugePageIsEmpty) {
  Client& w = wall("w1");
  ASSERT_EQ(w.call("live.wall.say", "\"content\":\"only\"")["status"].i64(), 200);
  for (const char* page : {"100000000000000000", "9007199254740993", "1e300"}) {
    Json r = w.call("live.wall.history", std::string("\"size\":100,\"page\":") + page);
    EXPECT_EQ(r["status"].i64(), 200) << page << " -> " << r.dump();
    EXPECT_EQ(r["param"]["items"].size(), 0) << page << " -> " << r.dump();
    EXPECT_EQ(r["param"]["total"].i64(), 1) << page;
  }
  EXPECT_TRUE(server->proc.running()) << server->proc.log();
}

TEST_F(Live, ActionsCheckTheConnectionType) {
  Client u;
  ASSERT_TRUE(u.open(server->port, userTok("u1")));
  for (const char* a : {"join", "out", "say", "check", "recall", "clean", "history"}) {
    Json r = u.call(std::string("live.wall.") + a, "\"content\":\"x\",\"id\":1,\"status\":1");
    EXPECT_EQ(r["status"].i64(), 403) << a << " -> " << r.dump();
    EXPECT_EQ(r["event"].str(), "forbidden") << a;
  }
  Client w;
  ASSERT_TRUE(w.open(server->port, wallTok("w1")));
  for (const char* a : {"join", "out", "say", "history"}) {
    Json r = w.call(std::string("live.user.") + a, "\"content\":\"x\"");
    EXPECT_EQ(r["status"].i64(), 403) << a << " -> " << r.dump();
    EXPECT_EQ(r["event"].str(), "forbidden") << a;
  }
  EXPECT_EQ(server->getJson("/online?room=" + kCode)["count"].i64(), 0);
  EXPECT_EQ(server->getJson("/online?room=" + kCode + ":wall")["count"].i64(), 0);
}

TEST_F(Live, ATokenWithoutCodeIs400) {
  Client u;
  ASSERT_TRUE(u.open(server->port, Server::token("nocode", "wechatUser", "", "N")));
  for (const char* a : {"join", "say", "history", "out"}) {
    Json r = u.call(std::string("live.user.") + a, "\"content\":\"x\"");
    EXPECT_EQ(r["status"].i64(), 400) << a << " -> " << r.dump();
    EXPECT_EQ(r["event"].str(), "badRequest") << a;
  }
  Client w;
  ASSERT_TRUE(w.open(server->port, Server::token("nocodewall", "wall", "", "N")));
  Json r = w.call("live.wall.join");
  EXPECT_EQ(r["status"].i64(), 400) << r.dump();
}

// ---------------------------------------------------------------- leaving

enum class Leave { kClose, kReset, kIdle, kOut };

class LiveLeave : public Live, public ::testing::WithParamInterface<Leave> {
 protected:
  void SetUp() override {
    Options o;
    if (GetParam() == Leave::kIdle) o.idle = 2;
    start(o);
  }
};

// A wall, a staying attendee and a leaving one (on the other worker than the
// wall when the kernel allows): the room's walls and attendees get exactly
// one userLeave with the count after the leaver is gone, and GET /online
// no longer lists it.
TEST_P(LiveLeave, TheRoomHearsExactlyOneUserLeave) {
  Leave how = GetParam();
  Client& w = wall("w1");
  Client& stay = user("stay");
  Client* leaver = nullptr;
  for (int i = 0; i < 16 && !leaver; ++i) {
    Client& c = user("leaver" + std::to_string(i));
    if (workerOf(c.fd) != workerOf(w.fd) || i == 15) leaver = &c;
  }
  ASSERT_TRUE(leaver);
  int64_t onlineBefore = server->getJson("/online?room=" + kCode)["count"].i64();
  settle("joined", "userJoin");  // forget the joins
  Json who = leaver->call("apptest.api.whoami");
  std::string leaverId(who["param"]["id"].str());
  switch (how) {
    case Leave::kClose:
      ASSERT_TRUE(leaver->ws.sendClose(1000));
      EXPECT_EQ(leaver->ws.waitClose(), 1000);
      break;
    case Leave::kReset:
      leaver->ws.resetConnection();
      break;
    case Leave::kIdle:
      break;
    case Leave::kOut: {
      Json r = leaver->call("live.user.out");
      EXPECT_EQ(r["status"].i64(), 200) << r.dump();
      EXPECT_EQ(r["event"].str(), "out");
      break;
    }
  }
  // Everyone but the leaver stays active (the idle case closes silent clients).
  Json m;
  for (int i = 0; i < 40 && !m; ++i) {
    m = w.event("userLeave", 250);
    if (!m && how == Leave::kIdle) {
      for (auto& c : all)
        if (c.get() != leaver) {
          ASSERT_TRUE(c->ws.sendText("2"));
        }
      for (auto& h : helpers) ASSERT_TRUE(h->ws.sendText("2"));
    }
  }
  ASSERT_TRUE(m) << "no userLeave at the wall\n" << server->proc.log();
  EXPECT_EQ(m["param"]["id"].str(), leaverId);
  EXPECT_EQ(m["param"]["online"].i64(), onlineBefore - 1);
  if (how == Leave::kIdle) {
    EXPECT_EQ(leaver->ws.waitClose(), 4008);
  }
  if (how == Leave::kOut) {
    // Leaving by request, then closing: no second userLeave.
    ASSERT_TRUE(leaver->ws.sendClose(1000));
    EXPECT_EQ(leaver->ws.waitClose(), 1000);
  }
  std::erase_if(all, [leaver](const std::unique_ptr<Client>& c) { return c.get() == leaver; });
  ASSERT_TRUE(server->waitConnections(static_cast<int64_t>(all.size() + helpers.size())));
  w.putBack(m);
  std::map<uint64_t, int> seen = settle("left", "userLeave");
  EXPECT_EQ(seen[w.fd], 1) << "userLeave at the wall";
  EXPECT_EQ(seen[stay.fd], 1) << "userLeave at an attendee";
  Json online = server->getJson("/online?room=" + kCode);
  EXPECT_EQ(online["count"].i64(), onlineBefore - 1) << online.dump();
  for (JsonRef e : online["members"]) EXPECT_NE(e["id"].str(), leaverId);
  // The store agrees: a new attendee sees the count without the leaver.
  Json r;
  user("late", &r);
  EXPECT_EQ(r["param"]["online"].i64(), onlineBefore) << r.dump();
}

INSTANTIATE_TEST_SUITE_P(How, LiveLeave, ::testing::Values(Leave::kClose, Leave::kReset, Leave::kIdle, Leave::kOut),
                         [](const ::testing::TestParamInfo<Leave>& i) {
                           switch (i.param) {
                             case Leave::kClose: return std::string("NormalClose");
                             case Leave::kReset: return std::string("TcpReset");
                             case Leave::kIdle: return std::string("IdleTimeout");
                             case Leave::kOut: return std::string("UserOutThenClose");
                           }
                           return std::string("unknown");
                         });

// ---------------------------------------------------------------- walls and the queue

TEST_F(Live, AWallJoiningLaterGetsThePendingQueue) {
  Client& u = user("u1");
  int64_t a = say(u, "first");
  int64_t b = say(u, "second");
  int64_t c = say(u, "third");
  ASSERT_TRUE(a > 0 && b > a && c > b);
  Json j;
  Client& w1 = wall("w1", &j);
  EXPECT_EQ(j["param"]["online"].i64(), 1);
  ASSERT_EQ(j["param"]["pending"].size(), 3) << j.dump();
  EXPECT_EQ(j["param"]["pending"].at(0)["id"].i64(), a);
  EXPECT_EQ(j["param"]["pending"].at(0)["content"].str(), "first");
  EXPECT_EQ(j["param"]["pending"].at(1)["id"].i64(), b);
  EXPECT_EQ(j["param"]["pending"].at(2)["id"].i64(), c);
  EXPECT_EQ(j["param"]["pending"].at(2)["nickname"].str(), "nick-u1");
  ASSERT_EQ(check(w1, b, 1)["status"].i64(), 200);
  ASSERT_EQ(check(w1, a, 0)["status"].i64(), 200);
  wall("w2", &j);
  ASSERT_EQ(j["param"]["pending"].size(), 1) << j.dump();
  EXPECT_EQ(j["param"]["pending"].at(0)["id"].i64(), c);
}

TEST_F(Live, TwoWallsBothSeeTheQueueChange) {
  Client& w1 = wall("w1");
  Client& w2 = wall("w2");
  Client& u = user("u1");
  int64_t id = say(u, "q");
  expectOnly("userSayNeedCheck", {&w1, &w2}, "new message");
  ASSERT_EQ(check(w2, id, 1)["status"].i64(), 200);
  expectOnly("userSayChecked", {&w1, &w2}, "checked message");
  Json r = check(w1, id, 0);
  EXPECT_EQ(r["status"].i64(), 404) << "the other wall was faster: " << r.dump();
}

TEST_F(Live, RoomsAreSeparatedByCode) {
  Client& w = wall("w1");
  Client& u = user("u1");
  auto other = std::make_unique<Client>();
  ASSERT_TRUE(other->open(server->port, userTok("x1", "OTHER")));
  other->whoami();
  ASSERT_EQ(other->call("live.user.join")["param"]["online"].i64(), 1);
  Client& o = *other;
  all.push_back(std::move(other));
  ASSERT_EQ(w.call("live.wall.say", "\"content\":\"only C1\"")["status"].i64(), 200);
  expectOnly("wallSayBroadcast", {&w, &u}, "wall.say in C1");
  (void)o;
  Json r = o.call("live.user.history");
  EXPECT_EQ(r["param"]["total"].i64(-1), 0) << r.dump();
}

TEST_F(Live, BroadcastsReachAttendeesOnBothWorkers) {
  std::vector<std::unique_ptr<Client>> spread;
  int n = 0;
  ASSERT_TRUE(openSpread(*server, 3, [&n](int) { return userTok("s" + std::to_string(n++)); }, spread));
  for (auto& c : spread) {
    Json r = c->call("live.user.join");
    ASSERT_EQ(r["status"].i64(), 200) << r.dump();
    all.push_back(std::move(c));
  }
  std::set<const Client*> users;
  for (auto& c : all) users.insert(c.get());
  Client& w = wall("w1");
  EXPECT_EQ(server->getJson("/online?room=" + kCode)["count"].i64(), static_cast<int64_t>(users.size()));
  settle("joined", "userJoin");
  // An attendee on each worker says something; the wall approves both.
  for (int worker = 0; worker < kWorkers; ++worker) {
    Client* speaker = nullptr;
    for (const Client* c : users)
      if (workerOf(c->fd) == worker) speaker = const_cast<Client*>(c);
    ASSERT_TRUE(speaker);
    int64_t id = speaker->call("live.user.say", "\"content\":\"from worker " + std::to_string(worker) + "\"")["param"]["id"].i64(-1);
    ASSERT_GT(id, 0);
    ASSERT_EQ(check(w, id, 1)["status"].i64(), 200);
    std::set<const Client*> everyone = users;
    everyone.insert(&w);
    expectOnly("userSayBroadcast", everyone, "approved from worker " + std::to_string(worker));
  }
  ASSERT_EQ(w.call("live.wall.say", "\"content\":\"announce\"")["status"].i64(), 200);
  std::set<const Client*> everyone = users;
  everyone.insert(&w);
  expectOnly("wallSayBroadcast", everyone, "wall.say to both workers");
}

TEST_F(Live, WallOutLeavesTheWallRoom) {
  Client& w = wall("w1");
  Client& u = user("u1");
  Json r = w.call("live.wall.out");
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  EXPECT_EQ(r["event"].str(), "out");
  EXPECT_EQ(server->getJson("/online?room=" + kCode + ":wall")["count"].i64(), 0);
  ASSERT_EQ(u.call("live.user.say", "\"content\":\"anyone?\"")["status"].i64(), 200);
  expectOnly("userSayNeedCheck", {}, "after wall.out");
}

// Issue 11, item 2: attendees flooding the moderation queue. A small send
// queue (64 KiB: one reply may carry 32 KiB, ~28 of the longest messages)
// and max_pending 40 keep the numbers small; the rules are the defaults'.
class LiveFlood : public Live {
 protected:
  static constexpr int kMaxPending = 40;
  void SetUp() override {
    Options o;
    o.sendQueueLimit = "64k";
    o.moreIni = "[live]\nmax_pending = " + std::to_string(kMaxPending) + "\n";
    start(o);
  }
  // Each of `users` sends `each` messages of 1000 bytes without waiting;
  // returns how many were answered with each status.
  std::map<int64_t, int> flood(const std::vector<Client*>& users, int each) {
    std::string say = R"({"method":"live.user.say","content":")" + std::string(1000, 'x') + "\"}";
    for (int i = 0; i < each; ++i)
      for (Client* u : users) EXPECT_TRUE(u->sendJson(say));
    std::map<int64_t, int> answers;
    for (Client* u : users)
      for (int i = 0; i < each; ++i) {
        Json r = u->next([](JsonRef m) { return m["event"].str() == "say" || m["event"].str() == "queueFull"; });
        EXPECT_TRUE(r) << "answer " << i << " of fd " << u->fd;
        ++answers[r["status"].i64(-1)];
      }
    return answers;
  }
  // Every page of the queue from a join reply on: the ids in order.
  std::vector<int64_t> allPending(Client& w, Json page) {
    std::vector<int64_t> ids;
    for (int pages = 0; pages < 100; ++pages) {
      EXPECT_EQ(page["status"].i64(), 200) << page.dump();
      EXPECT_LE(page.dump().size(), 32u * 1024) << "one reply over half the send queue";
      for (JsonRef m : page["param"]["pending"]) ids.push_back(m["id"].i64());
      if (!page["param"]["more"].boolean() || ids.empty()) break;
      page = w.call("live.wall.pending", "\"after\":" + std::to_string(ids.back()));
    }
    return ids;
  }
};

TEST_F(LiveFlood, SixAttendeesCannotLockTheWallOut) {
  Client& early = wall("early");
  std::vector<Client*> users;
  for (int i = 0; i < 6; ++i) users.push_back(&user("u" + std::to_string(i)));
  std::map<int64_t, int> answers = flood(users, 20);
  EXPECT_EQ(answers[200], kMaxPending) << "exactly max_pending are queued";
  EXPECT_EQ(answers[429], 6 * 20 - kMaxPending) << "the rest are answered queueFull";
  Json full = users[0]->call("live.user.say", "\"content\":\"one more\"");
  EXPECT_EQ(full["status"].i64(), 429) << full.dump();
  EXPECT_EQ(full["event"].str(), "queueFull");

  // A wall joining now gets a first page that fits, and the rest on request.
  Json join;
  Client& late = wall("late", &join);
  EXPECT_EQ(join["param"]["pendingTotal"].i64(), kMaxPending) << join.dump().substr(0, 300);
  EXPECT_LT(join["param"]["pending"].size(), kMaxPending) << "32 KiB hold fewer than 40 messages of 1000 bytes";
  EXPECT_TRUE(join["param"]["more"].boolean());
  std::vector<int64_t> ids = allPending(late, join);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kMaxPending));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()) && std::adjacent_find(ids.begin(), ids.end()) == ids.end());

  // Both walls are still there and can moderate; a check frees a place.
  for (Client* w : {&early, &late}) EXPECT_EQ(w->call("apptest.api.whoami")["status"].i64(), 200) << "wall closed";
  Json checked = late.call("live.wall.check", "\"id\":" + std::to_string(ids.front()) + ",\"status\":0");
  ASSERT_EQ(checked["status"].i64(), 200) << checked.dump();
  EXPECT_EQ(users[1]->call("live.user.say", "\"content\":\"now there is room\"")["status"].i64(), 200);
  EXPECT_EQ(users[2]->call("live.user.say", "\"content\":\"but only for one\"")["status"].i64(), 429);
  EXPECT_EQ(server->getJson("/online?room=" + kCode + ":wall")["count"].i64(), 2);
}

TEST_F(LiveFlood, TheEarlyWallGotEachQueuedMessageOnce) {
  Client& w = wall("w");
  std::vector<Client*> users;
  for (int i = 0; i < 6; ++i) users.push_back(&user("u" + std::to_string(i)));
  flood(users, 10);
  std::map<uint64_t, int> seen = settle("b-flood", "userSayNeedCheck");
  EXPECT_EQ(seen[w.fd], kMaxPending) << "a refused message is not shown to the walls";
}

TEST_F(LiveFlood, HistoryPagesStayWithinTheBudget) {
  Client& w = wall("w");
  for (int i = 0; i < 40; ++i)
    ASSERT_EQ(w.call("live.wall.say", "\"content\":\"" + std::string(1000, 'a' + i % 26) + "\"")["status"].i64(), 200);
  Json page = w.call("live.wall.history", "\"size\":100");
  EXPECT_EQ(page["status"].i64(), 200);
  EXPECT_LE(page.dump().size(), 32u * 1024);
  EXPECT_TRUE(page["param"]["partial"].boolean()) << "40 KB of announcements do not fit in 32 KiB";
  EXPECT_GT(page["param"]["items"].size(), 20);
  EXPECT_EQ(page["param"]["items"].at(page["param"]["items"].size() - 1)["content"].str()[0], 'a' + 39 % 26)
      << "the newest are kept";
}

// At the smallest send queue (4 KiB: 2 KiB a reply), a long nickname and a
// long content make a broadcast that would not fit: refused, not sent.
class LiveTinyQueue : public Live {
 protected:
  void SetUp() override {
    Options o;
    o.sendQueueLimit = "4k";
    start(o);
  }
};

TEST_F(LiveTinyQueue, AMessageWhoseBroadcastWouldNotFitIs413) {
  Client& w = wall("w");
  auto c = std::make_unique<Client>();
  ASSERT_TRUE(c->open(server->port, Server::token("long", "wechatUser", kCode, std::string(1500, 'n'))));
  Client& u = *c;
  all.push_back(std::move(c));
  EXPECT_EQ(u.call("live.user.say", "\"content\":\"short\"")["status"].i64(), 200);
  Json r = u.call("live.user.say", "\"content\":\"" + std::string(1000, 'x') + "\"");
  EXPECT_EQ(r["status"].i64(), 413) << r.dump();
  EXPECT_EQ(r["event"].str(), "contentTooLong");
  EXPECT_EQ(w.call("live.wall.say", "\"content\":\"" + std::string(1000, 'y') + "\"")["status"].i64(), 200)
      << "the wall's own nickname is short";
  EXPECT_EQ(w.call("apptest.api.whoami")["status"].i64(), 200) << "the wall is still open";
}

}  // namespace
}  // namespace msw::apptest
