// tests/integration/workers_test.cpp: worker_num = 2: connections spread over
// both workers, each gets its own replies, and sends cross between workers.
#include <set>

#include "tests/integration/it_support.h"

namespace msw::it {
namespace {

class TwoWorkers : public SharedServerTest<TwoWorkers> {
 public:
  static constexpr int kWorkers = 2;
};

constexpr int kClients = 20;

TEST_F(TwoWorkers, ConnectionsSpreadAndEachGetsItsOwnReplies) {
  std::vector<WsClient> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(client("user" + std::to_string(i)));
  // Everyone asks at once; each reply must be its own.
  for (int i = 0; i < kClients; ++i)
    ASSERT_TRUE(clients[static_cast<size_t>(i)].sendText(R"({"method":"testmod.test.whoami","rid":)" +
                                                         std::to_string(i) + "}"));
  std::set<uint64_t> fds;
  for (int i = 0; i < kClients; ++i) {
    Msg m = recvMsg(clients[static_cast<size_t>(i)]);
    ASSERT_EQ(m.status(), 200) << m;
    EXPECT_EQ(m.rid().i64(-1), i) << m;
    EXPECT_EQ(m.param()["id"].str(), "user" + std::to_string(i)) << m;
    EXPECT_TRUE(fds.insert(static_cast<uint64_t>(m.param()["fd"].num())).second) << "fd seen twice: " << m;
  }
  Json s = server().status();
  ASSERT_TRUE(s["workers"].isArray());
  ASSERT_EQ(s["workers"].size(), 2) << s.dump();
  int64_t w0 = s["workers"].at(0)["connections"].i64();
  int64_t w1 = s["workers"].at(1)["connections"].i64();
  EXPECT_EQ(w0 + w1, kClients) << s.dump();
  EXPECT_EQ(s["connections"].i64(), kClients) << s.dump();
  EXPECT_GT(w0, 0) << "all on worker 1 (1 in 2^19 by chance): " << s.dump();
  EXPECT_GT(w1, 0) << "all on worker 0 (1 in 2^19 by chance): " << s.dump();
  std::string metrics = server().metrics();
  EXPECT_EQ(metricValue(metrics, "msw_connections{worker=\"0\"}"), w0) << metrics;
  EXPECT_EQ(metricValue(metrics, "msw_connections{worker=\"1\"}"), w1) << metrics;
}

TEST_F(TwoWorkers, SendsCrossWorkers) {
  std::vector<WsClient> clients;
  std::vector<uint64_t> fds;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(client("x" + std::to_string(i)));
    fds.push_back(static_cast<uint64_t>(request(clients.back(), R"({"method":"testmod.test.whoami"})").param()["fd"].num()));
  }
  // Each sends to the next: about half of these go to the other worker.
  for (int i = 0; i < kClients; ++i)
    ASSERT_TRUE(clients[static_cast<size_t>(i)].sendText(
        R"({"method":"testmod.test.sendto","to":)" + std::to_string(fds[static_cast<size_t>((i + 1) % kClients)]) +
        R"(,"text":"from )" + std::to_string(i) + "\"}"));
  for (int i = 0; i < kClients; ++i) {
    Msg m = recvMsg(clients[static_cast<size_t>(i)]);
    EXPECT_EQ(m.event(), "direct") << m;
    EXPECT_EQ(m.info(), "from " + std::to_string((i + kClients - 1) % kClients)) << m;
  }
  // A room spanning both workers.
  for (WsClient& c : clients) ASSERT_EQ(request(c, R"({"method":"testmod.test.join","room":"both"})").event(), "joined");
  HttpResponse r = server().manager("GET", "/online?room=both");
  EXPECT_EQ(Json::parse(r.body)["count"].i64(), kClients) << r.body;
  EXPECT_EQ(server().status()["rooms"].i64(), 1) << "one room, whatever the number of workers";
  ASSERT_TRUE(clients[3].sendText(R"({"method":"testmod.test.roomsay","room":"both","text":"all"})"));
  for (WsClient& c : clients) {
    Msg m = recvMsg(c);
    EXPECT_EQ(m.event(), "roomMessage") << m;
    EXPECT_EQ(m.info(), "all") << m;
  }
  r = server().manager("POST", "/push", R"({"to":{"room":"both"},"event":"managerRoom"})");
  EXPECT_EQ(Json::parse(r.body)["delivered"].i64(), kClients) << r.body;
  for (WsClient& c : clients) EXPECT_EQ(recvMsg(c).event(), "managerRoom");
}

TEST_F(TwoWorkers, StopClosesTheClientsOfBothWorkers) {
  // Last in this suite: it stops the shared server.
  std::vector<WsClient> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(client("s" + std::to_string(i)));
    ASSERT_EQ(request(clients.back(), R"({"method":"ping"})").event(), "pong");
  }
  ASSERT_EQ(::kill(server().proc.pid(), SIGTERM), 0);
  for (WsClient& c : clients) EXPECT_EQ(c.waitClose(10000), 1001);
  EXPECT_EQ(server().proc.stop(), 0);
}

}  // namespace
}  // namespace msw::it
