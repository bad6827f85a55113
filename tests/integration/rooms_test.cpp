// tests/integration/rooms_test.cpp: the rooms module (docs/rooms.md) against
// real servers: HybridPHP's protocol message by message, the limits, the
// heartbeat both ways, and reconnection: on the same node and on another
// node of a two-node cluster, with the missed messages replayed in order and
// none twice, also while others keep broadcasting during the resume; expired,
// reused and over-tried tokens; a history too short. Each case has a server
// (or two, and a redis-server) of its own; the memory and Redis drivers both
// run the single-node cases.
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/it_support.h"
#include "tests/support/redis_process.h"

namespace msw::it {
namespace {

using msw::test::RedisProcess;

// One HybridPHP client: its connection id and reconnect token as the server gave them.
struct Client : InboxClient {
  std::string id;
  std::string token;

  Msg type(const std::string& t, int timeoutMs = 5000) {
    return next([&t](const Msg& m) { return m.root["type"].str() == t; }, timeoutMs);
  }
  void send(const std::string& json) { EXPECT_TRUE(ws.sendText(json)); }
  Msg call(const std::string& json, const std::string& t) {
    send(json);
    return type(t);
  }
  int count(const std::string& t) const {
    int n = 0;
    for (const Msg& m : inbox) n += m.root["type"].str() == t;
    return n;
  }
};

std::string str(JsonRef v) { return std::string(v.str()); }

// The client goes (a close the server sees at once: what a room sends from
// then on is not queued for it, so it is what a resume must replay).
void drop(Client& c) {
  c.ws.sendClose(1001);
  EXPECT_NE(c.ws.waitClose(5000), 0);
}

class Rooms : public ::testing::TestWithParam<std::string> {
 protected:
  bool redis() const { return GetParam() == "redis"; }

  void SetUp() override {
    if (redis()) {
      ASSERT_TRUE(redis_.start()) << redis_.error();
    }
  }

  // Each server stops cleanly, with nothing for the sanitizers to report.
  void TearDown() override {
    for (auto& s : servers_) {
      if (!s->proc.running()) continue;
      int status = s->proc.stop();
      EXPECT_EQ(status, 0) << tail(s->proc.log());
      std::string report = sanitizerReport(s->proc.log());
      EXPECT_TRUE(report.empty()) << report;
    }
  }

  // A server with the rooms endpoint at /rooms; `keys` are [rooms] settings.
  // `queue`: [outside] send_queue_limit, which also bounds what a resume holds.
  TestServer& start(const std::vector<std::pair<std::string, std::string>>& keys = {}, const std::string& node = "n1",
                    const std::string& queue = "1m") {
    auto s = std::make_unique<TestServer>(2);
    s->ini.set("server", "node_id", node).set("app", "modules", "index, rooms");
    s->ini.set("outside", "send_queue_limit", queue);
    s->ini.set("endpoint.rooms", "path", "/rooms").set("endpoint.rooms", "route", "type");
    s->ini.set("endpoint.rooms", "controller", "rooms.client").set("endpoint.rooms", "envelope", "flat");
    s->ini.set("endpoint.rooms", "auth", "none");
    for (auto& [k, v] : keys) s->ini.set("rooms", k, v);
    if (redis())
      s->ini.set("cache", "driver", "redis").set("cache", "port", std::to_string(redis_.port())).set("cache", "prefix", "rt:");
    EXPECT_TRUE(s->start()) << s->error();
    servers_.push_back(std::move(s));
    return *servers_.back();
  }

  // A client that got its greeting: connected, then reconnect_token.
  std::unique_ptr<Client> open(TestServer& s) {
    auto c = std::make_unique<Client>();
    EXPECT_TRUE(c->ws.connect("127.0.0.1", s.port, "/rooms")) << c->ws.error();
    Msg hello = c->type("connected");
    EXPECT_TRUE(hello.root["timestamp"].isNumber()) << hello;
    c->id = str(hello.root["connection_id"]);
    EXPECT_FALSE(c->id.empty()) << hello;
    c->token = str(c->type("reconnect_token").root["token"]);
    EXPECT_EQ(c->token.size(), 65u) << c->token;
    return c;
  }

  // `reconnect` until the server has recorded the drop (a try before that is
  // answered "Session is still connected" and not counted): the reply.
  static Msg resume(Client& c, const std::string& token) {
    Msg m;
    pollUntil([&] {
      c.send(R"({"type":"reconnect","token":")" + token + "\"}");
      m = c.next([](const Msg& x) { return x.root["type"].str() == "reconnected" || x.root["type"].str() == "error"; });
      return m.root["error"].str() != "Session is still connected";
    }, 5000, 20);
    if (m.root["type"].str() == "reconnected") c.token = str(c.type("reconnect_token").root["token"]);
    return m;
  }

  // Two clients in `room` (the first has the second's member_joined to read).
  std::pair<std::unique_ptr<Client>, std::unique_ptr<Client>> twoIn(TestServer& s, const std::string& room) {
    auto a = open(s), b = open(s);
    join(*a, room);
    join(*b, room);
    return {std::move(a), std::move(b)};
  }

  static void join(Client& c, const std::string& room) {
    Msg m = c.call(R"({"type":"join","room":")" + room + "\"}", "joined");
    ASSERT_EQ(str(m.root["room"]), room) << m;
  }
  static void say(Client& c, const std::string& room, const std::string& data) {
    Msg m = c.call(R"({"type":"broadcast","room":")" + room + R"(","data":")" + data + "\"}", "broadcast_sent");
    ASSERT_TRUE(m.root["recipients"].isNumber()) << m;
  }
  // The data of the next `n` broadcasts c gets.
  static std::vector<std::string> heard(Client& c, size_t n) {
    std::vector<std::string> out;
    while (out.size() < n) {
      Msg m = c.type("broadcast");
      if (!m.received) break;
      out.push_back(str(m.root["data"]));
    }
    return out;
  }

  RedisProcess redis_;
  std::vector<std::unique_ptr<TestServer>> servers_;
};

INSTANTIATE_TEST_SUITE_P(Drivers, Rooms, ::testing::Values("memory", "redis"));

TEST_P(Rooms, TheProtocolMessageByMessage) {
  TestServer& s = start();
  auto a = open(s), b = open(s);
  Msg joined = a->call(R"({"type":"join","room":"lobby"})", "joined");
  ASSERT_EQ(joined.root["members"].size(), 1) << joined;
  joined = b->call(R"({"type":"join","room":"lobby"})", "joined");
  EXPECT_EQ(joined.root["members"].size(), 2) << joined;
  Msg mj = a->type("member_joined");
  EXPECT_EQ(str(mj.root["room"]), "lobby");
  EXPECT_EQ(str(mj.root["connection_id"]), b->id) << mj;

  Msg sent = a->call(R"({"type":"broadcast","room":"lobby","data":{"text":"hi"}})", "broadcast_sent");
  EXPECT_EQ(sent.root["recipients"].i64(), 1) << sent;
  Msg got = b->type("broadcast");
  EXPECT_EQ(str(got.root["room"]), "lobby");
  EXPECT_EQ(str(got.root["from"]), a->id);
  EXPECT_EQ(str(got.root["data"]["text"]), "hi") << got;
  EXPECT_TRUE(got.root["timestamp"].isNumber());
  EXPECT_EQ(got.root["seq"].i64(), 1);

  Msg pong = a->call(R"({"type":"ping"})", "pong");
  EXPECT_NEAR(static_cast<double>(pong.root["timestamp"].i64()), static_cast<double>(unixNow()), 2) << pong;

  EXPECT_EQ(str(b->call(R"({"type":"leave","room":"lobby"})", "left").root["room"]), "lobby");
  Msg ml = a->type("member_left");
  EXPECT_EQ(str(ml.root["connection_id"]), b->id) << ml;

  // Refusals: {"type":"error","error":TEXT}, nothing else happens.
  EXPECT_EQ(str(b->call(R"({"type":"join"})", "error").root["error"]), "Room required");
  EXPECT_EQ(str(b->call(R"({"type":"broadcast","room":"lobby","data":1})", "error").root["error"]), "Not in room");
  EXPECT_EQ(str(b->call(R"({"type":"leave","room":"lobby"})", "error").root["error"]), "Not in room");
  EXPECT_EQ(str(b->call(R"({"type":"reconnect"})", "error").root["error"]), "Token required");
  EXPECT_EQ(str(b->call(R"({"type":"reconnect","token":"nope"})", "error").root["error"]),
            "Invalid or expired reconnection token");
  EXPECT_EQ(a->count("broadcast") + a->count("member_left"), 0);
}

TEST_P(Rooms, LimitsPerRoomAndPerConnection) {
  TestServer& s = start({{"max_connections_per_room", "2"}, {"max_rooms_per_connection", "2"}});
  auto a = open(s), b = open(s), c = open(s);
  join(*a, "r1");
  join(*b, "r1");
  EXPECT_EQ(str(c->call(R"({"type":"join","room":"r1"})", "error").root["error"]), "Room is full");
  join(*a, "r2");
  EXPECT_EQ(str(a->call(R"({"type":"join","room":"r3"})", "error").root["error"]), "Too many rooms");
  join(*a, "r1");  // already in: no new seat or room needed
  a->call(R"({"type":"leave","room":"r1"})", "left");
  join(*c, "r1");  // the seat a gave back
  join(*a, "r3");  // and the room slot
  EXPECT_EQ(b->count("member_joined"), 0);  // c's refused join announced nothing
}

// The heartbeat does not touch the store: the memory driver only.
class RoomsHeartbeat : public Rooms {};
INSTANTIATE_TEST_SUITE_P(Memory, RoomsHeartbeat, ::testing::Values("memory"));

TEST_P(RoomsHeartbeat, BothWays) {
  TestServer& s = start({{"heartbeat_interval", "1"}, {"heartbeat_timeout", "3"}});
  auto quiet = open(s), chatty = open(s);
  auto t0 = msw::test::Clock::now();
  Msg ping = quiet->type("ping", 4000);
  ASSERT_TRUE(ping.received) << "no server ping";
  EXPECT_EQ(ping.raw, R"({"type":"ping"})");
  EXPECT_GE(msSince(t0), 900);
  // The chatty one answers every ping and outlives the timeout; the quiet one is closed 4008.
  for (int i = 0; i < 3; ++i) {
    Msg p = chatty->type("ping", 4000);
    ASSERT_TRUE(p.received) << i;
    chatty->send(R"({"type":"pong"})");
  }
  EXPECT_EQ(quiet->ws.waitClose(5000), 4008);
  EXPECT_GE(msSince(t0), 2900);
  EXPECT_TRUE(chatty->call(R"({"type":"ping"})", "pong").received);
  EXPECT_EQ(chatty->count("error"), 0);  // the answer pong is a known type
}

TEST_P(Rooms, ReconnectReplaysMissedMessagesInOrderOnce) {
  TestServer& s = start();
  auto [a, b] = twoIn(s, "r");
  say(*b, "r", "m1");
  EXPECT_EQ(heard(*a, 1), std::vector<std::string>{"m1"});
  std::string oldId = a->id, token = a->token;
  drop(*a);
  for (const char* m : {"m2", "m3", "m4"}) say(*b, "r", m);
  auto a2 = open(s);
  Msg back = resume(*a2, token);
  ASSERT_EQ(str(back.root["type"]), "reconnected") << back;
  ASSERT_EQ(back.root["rooms"].size(), 1);
  EXPECT_EQ(str(back.root["rooms"].at(0)), "r");
  EXPECT_EQ(str(back.root["previous_connection_id"]), oldId);
  EXPECT_EQ(back.root["history_lost"].size(), 0) << back;
  EXPECT_NE(a2->token, token);  // rotated
  EXPECT_EQ(heard(*a2, 3), (std::vector<std::string>{"m2", "m3", "m4"}));
  say(*b, "r", "m5");  // live again
  EXPECT_EQ(heard(*a2, 1), std::vector<std::string>{"m5"});
  say(*a2, "r", "back");
  EXPECT_EQ(heard(*b, 1), std::vector<std::string>{"back"});
  EXPECT_EQ(b->count("member_left"), 0);  // a drop that was resumed is no leave
  EXPECT_TRUE(a2->drain(200).empty());   // nothing twice
}

// A client back before its node noticed it had gone (a tunnel): the old
// connection is closed for the new one, which gets what came after it.
TEST_P(Rooms, AReconnectTakesOverAConnectionStillOpen) {
  TestServer& s = start();
  auto [a, b] = twoIn(s, "r");
  say(*b, "r", "m1");
  EXPECT_EQ(heard(*a, 1), std::vector<std::string>{"m1"});
  auto a2 = open(s);
  a2->send(R"({"type":"reconnect","token":")" + a->token + "\"}");
  EXPECT_EQ(a->ws.waitClose(5000), 4010);
  say(*b, "r", "m2");
  Msg back = a2->type("reconnected", 5000);
  ASSERT_TRUE(back.received) << (a2->inbox.empty() ? std::string() : a2->inbox.front().raw);
  EXPECT_EQ(str(back.root["previous_connection_id"]), a->id);
  EXPECT_EQ(heard(*a2, 1), std::vector<std::string>{"m2"});
  EXPECT_EQ(b->count("member_left"), 0);
}

TEST_P(Rooms, ATokenIsSingleUse) {
  TestServer& s = start();
  auto a = open(s);
  join(*a, "r");
  std::string token = a->token;
  drop(*a);
  auto a2 = open(s);
  ASSERT_EQ(str(resume(*a2, token).root["type"]), "reconnected");
  drop(*a2);
  auto a3 = open(s);
  Msg again = resume(*a3, token);
  EXPECT_EQ(str(again.root["error"]), "Invalid or expired reconnection token") << again;
  EXPECT_EQ(str(resume(*a3, a2->token).root["type"]), "reconnected");  // the rotated one works
}

TEST_P(Rooms, TooManyAttempts) {
  TestServer& s = start({{"reconnection_max_attempts", "2"}});
  auto a = open(s);
  std::string token = a->token;
  std::string wrong = token.substr(0, 33) + std::string(32, '0');
  drop(*a);
  auto a2 = open(s);
  EXPECT_EQ(str(resume(*a2, wrong).root["error"]), "Invalid or expired reconnection token");
  EXPECT_EQ(str(resume(*a2, wrong).root["error"]), "Invalid or expired reconnection token");
  EXPECT_EQ(str(resume(*a2, token).root["error"]), "Too many reconnection attempts");
}

TEST_P(Rooms, AnExpiredSessionLeavesItsRooms) {
  TestServer& s = start({{"reconnection_ttl", "1"}});
  auto [a, b] = twoIn(s, "r");
  std::string token = a->token;
  drop(*a);
  Msg left = b->type("member_left", 6000);
  ASSERT_TRUE(left.received) << "no member_left after reconnection_ttl";
  EXPECT_EQ(str(left.root["connection_id"]), a->id);
  auto a2 = open(s);
  EXPECT_EQ(str(resume(*a2, token).root["error"]), "Invalid or expired reconnection token");
  EXPECT_EQ(b->call(R"({"type":"broadcast","room":"r","data":1})", "broadcast_sent").root["recipients"].i64(), 0);
}

TEST_P(Rooms, AHistoryTooShortIsSaid) {
  TestServer& s = start({{"history_size", "2"}});
  auto [a, b] = twoIn(s, "r");
  std::string token = a->token;
  drop(*a);
  for (const char* m : {"m1", "m2", "m3", "m4"}) say(*b, "r", m);
  auto a2 = open(s);
  Msg back = resume(*a2, token);
  ASSERT_EQ(back.root["history_lost"].size(), 1) << back;
  EXPECT_EQ(str(back.root["history_lost"].at(0)), "r");
  EXPECT_EQ(heard(*a2, 2), (std::vector<std::string>{"m3", "m4"}));
}

// Messages sent while the resume is under way come once each, in order: the
// sender floods the room from before the reconnect until well after it.
void resumeDuringBroadcasts(TestServer& away, Client& sender, std::unique_ptr<Client> a) {
  std::string token = a->token;
  drop(*a);
  auto a2 = std::make_unique<Client>();
  ASSERT_TRUE(a2->ws.connect("127.0.0.1", away.port, "/rooms"));
  a2->type("connected");
  a2->type("reconnect_token");
  std::atomic<int> sent{0};
  std::atomic<int> stopAt{10000};  // the rooms' history_size keeps them all
  std::thread flood([&] {
    for (int i = 1; i <= stopAt; ++i) {
      if (!sender.ws.sendText(R"({"type":"broadcast","room":"r","data":")" + std::to_string(i) + "\"}")) break;
      sent = i;
    }
  });
  ASSERT_TRUE(pollUntil([&] { return sent >= 50; }, 5000, 1));
  Msg back;
  pollUntil([&] {
    a2->send(R"({"type":"reconnect","token":")" + token + "\"}");
    back = a2->next([](const Msg& x) { return x.root["type"].str() == "reconnected" || x.root["type"].str() == "error"; });
    return back.root["error"].str() != "Session is still connected";
  }, 5000, 5);
  stopAt = sent + 200;
  flood.join();
  ASSERT_EQ(str(back.root["type"]), "reconnected") << back;
  EXPECT_EQ(back.root["history_lost"].size(), 0) << back;
  EXPECT_TRUE(a2->type("reconnect_token").received);
  const int total = sent;
  std::vector<int> got;
  while (got.empty() || got.back() < total) {
    Msg m = a2->type("broadcast", 3000);
    if (!m.received) break;
    got.push_back(std::stoi(str(m.root["data"])));
  }
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), 1) << "missed messages sent before the resume";
  for (size_t i = 1; i < got.size(); ++i) ASSERT_EQ(got[i], got[i - 1] + 1) << "at " << i;
  EXPECT_EQ(got.back(), total) << "the last message never came";
  EXPECT_TRUE(a2->drain(200).empty());
}

TEST_P(Rooms, AResumeRacingWithBroadcastsLosesAndRepeatsNothing) {
  TestServer& s = start({{"history_size", "50000"}}, "n1", "64m");
  auto [a, b] = twoIn(s, "r");
  resumeDuringBroadcasts(s, *b, std::move(a));
}

class RoomsCluster : public Rooms {};
INSTANTIATE_TEST_SUITE_P(Redis, RoomsCluster, ::testing::Values("redis"));

TEST_P(RoomsCluster, ReconnectOnAnotherNode) {
  TestServer& n1 = start({}, "n1");
  TestServer& n2 = start({}, "n2");
  auto [a, b] = twoIn(n1, "r");
  std::string token = a->token, oldId = a->id;
  drop(*a);
  for (const char* m : {"m1", "m2"}) say(*b, "r", m);
  auto a2 = open(n2);
  Msg back = resume(*a2, token);
  ASSERT_EQ(str(back.root["type"]), "reconnected") << back;
  EXPECT_EQ(str(back.root["previous_connection_id"]), oldId);
  EXPECT_EQ(heard(*a2, 2), (std::vector<std::string>{"m1", "m2"}));
  say(*b, "r", "m3");  // from node 1 to the member now on node 2
  EXPECT_EQ(heard(*a2, 1), std::vector<std::string>{"m3"});
  EXPECT_TRUE(a2->drain(200).empty());
}

TEST_P(RoomsCluster, AResumeOnAnotherNodeRacingWithBroadcasts) {
  TestServer& n1 = start({{"history_size", "50000"}}, "n1", "64m");
  TestServer& n2 = start({{"history_size", "50000"}}, "n2", "64m");
  auto [a, b] = twoIn(n1, "r");
  resumeDuringBroadcasts(n2, *b, std::move(a));
}

}  // namespace
}  // namespace msw::it
