// tests/integration/cluster_support.h: what the multi-node tests share
// (cluster_delivery_test.cpp, cluster_fault_test.cpp; docs/deployment.md
// "Several nodes with one Redis").
//
// A ClusterTest has a redis-server of its own and makes msw nodes (TestServer
// with worker_num 2, [cache] driver redis on that server, a prefix of its
// own, modules index, live and clustertest). Clients read through an inbox
// (InboxClient), so a message that arrives while a test waits for a reply is
// kept for the check that wants it. Besides events, the tests poll state in
// Redis (GET /online, PUBSUB NUMSUB) against a deadline.
#pragma once

#include <chrono>
#include <memory>
#include <random>
#include <set>

#include "tests/integration/it_support.h"
#include "tests/support/redis_process.h"

namespace msw::cluster {

using namespace msw::it;  // the shared layer these tests build on
using msw::test::RedisProcess;
using Clock = std::chrono::steady_clock;

inline constexpr int kWorkers = 2;

// One client connection, and what the server said about it in whoami.
struct Client : msw::it::InboxClient {
  std::string node;    // its node id
  std::string member;  // "node:fd"
  uint64_t fd = 0;
  std::string user;

  int worker() const { return msw::it::workerOf(fd, kWorkers); }
};

inline std::string str(const std::set<std::string>& s) {
  std::string out = "{";
  for (const auto& e : s) out += (out.size() > 1 ? ", " : "") + e;
  return out + "}";
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.start()) << redis_.error();
    std::random_device rd;
    prefix_ = "ct" + std::to_string(rd() % 1000000) + ":";
  }

  // Every node still running is stopped gracefully (clients of the test
  // body are gone by now): its shutdown with Redis is checked too, and under
  // ASan that is when LeakSanitizer reports (a nonzero exit).
  void TearDown() override {
    for (auto& n : nodes_) {
      if (!n.second->proc.running()) continue;
      int rc = n.second->proc.stop(15000);
      EXPECT_EQ(rc, 0) << "node " << n.first << " did not stop cleanly";
    }
    if (!HasFailure()) return;
    for (auto& n : nodes_)
      std::cerr << "---- node " << n.first << " log tail ----\n" << tail(n.second->proc.log()) << "\n";
    std::cerr << "---- redis log tail ----\n" << tail(redis_.log(), 2000) << "\n";
  }

  // A node's server, configured but not started.
  TestServer& makeNode(const std::string& id) {
    auto s = std::make_unique<TestServer>(kWorkers);
    s->ini.set("server", "node_id", id)
        .set("cache", "driver", "redis")
        .set("cache", "host", "127.0.0.1")
        .set("cache", "port", std::to_string(redis_.port()))
        .set("cache", "prefix", prefix_)
        .set("app", "modules", "index, live, clustertest");
    TestServer& ref = *s;
    nodes_.emplace_back(id, std::move(s));
    return ref;
  }
  TestServer& node(const std::string& id) {
    for (auto& n : nodes_)
      if (n.first == id) return *n.second;
    throw std::runtime_error("no node " + id);
  }
  // Makes and starts a node; waits until Redis shows its subscriber on the
  // bus (the all and the node channel), so that messages to it arrive.
  void startNode(const std::string& id, bool waitBus = true) {
    TestServer& s = makeNode(id);
    ASSERT_TRUE(s.start()) << s.error();
    if (waitBus) waitSubscribed(id);
  }
  void waitSubscribed(const std::string& id, int timeoutMs = 10000) {
    ASSERT_TRUE(pollUntil([&] { return redisNumSub(channel("_msw:bus:node:" + id)) == 1; }, timeoutMs))
        << "node " << id << " never subscribed to its channel";
  }

  std::string channel(const std::string& name) const { return prefix_ + name; }
  std::string roomChannel(const std::string& room) const { return channel("_msw:bus:room:" + room); }
  int64_t redisNumSub(const std::string& fullChannel) const {
    return msw::test::redisNumSub(redis_.port(), fullChannel);
  }
  // Until `nodes` nodes listen to the room's channel: a publish reaches them all.
  void waitRoomSubscribers(const std::string& room, int64_t nodes, int timeoutMs = 5000) {
    int64_t last = -1;
    bool ok = pollUntil([&] { return (last = redisNumSub(roomChannel(room))) == nodes; }, timeoutMs);
    ASSERT_TRUE(ok) << "room " << room << ": " << last << " node(s) subscribed, expected " << nodes;
  }

  // ---- clients ----

  std::string token(const std::string& user, const std::string& code, const std::string& type = "wechatUser",
                    const std::string& nick = "") {
    return msw::it::mint(msw::it::userJson(user, code, type, nick.empty() ? "nick-" + user : nick));
  }

  // A client of `nodeId` with its fd and member from whoami.
  std::unique_ptr<Client> connect(const std::string& nodeId, const std::string& user, const std::string& code = "c1",
                                  const std::string& type = "wechatUser") {
    auto c = std::make_unique<Client>();
    TestServer& s = node(nodeId);
    EXPECT_TRUE(s.connect(c->ws, token(user, code, type)))
        << c->ws.error() << " " << c->ws.response().status << " " << c->ws.response().body;
    Msg who = c->call(R"({"method":"clustertest.t.whoami"})", "whoami");
    EXPECT_EQ(who.status(), 200) << who;
    c->node = std::string(who.param()["node"].str());
    c->member = std::string(who.param()["member"].str());
    c->fd = static_cast<uint64_t>(who.param()["fd"].num());
    c->user = user;
    EXPECT_EQ(c->node, nodeId);
    EXPECT_EQ(c->member, nodeId + ":" + std::to_string(c->fd));
    return c;
  }
  // At least `n` clients of `nodeId`, on both of its workers (connections are
  // spread by the kernel: keeps connecting until each worker has one).
  std::vector<std::unique_ptr<Client>> connectSpread(const std::string& nodeId, size_t n, const std::string& userPrefix,
                                                     const std::string& code = "c1") {
    std::vector<std::unique_ptr<Client>> out;
    std::set<int> workers;
    for (int i = 0; i < 24 && (out.size() < n || workers.size() < kWorkers); ++i) {
      out.push_back(connect(nodeId, userPrefix + std::to_string(i), code));
      workers.insert(out.back()->worker());
    }
    EXPECT_EQ(workers.size(), static_cast<size_t>(kWorkers)) << "all connections of " << nodeId << " on one worker";
    return out;
  }

  static Msg join(Client& c, const std::string& room) {
    Msg m = c.call(R"({"method":"clustertest.t.join","room":")" + room + R"("})", "joined");
    EXPECT_EQ(m.status(), 200) << m;
    return m;
  }

  // ---- the manager's registry views ----

  // "node:fd" of every member GET /online?room= lists (status in *status).
  std::set<std::string> online(const std::string& nodeId, const std::string& room, int* status = nullptr,
                               Json* body = nullptr) {
    HttpResponse r = node(nodeId).manager("GET", "/online?room=" + room);
    if (status) *status = r.status;
    std::set<std::string> out;
    if (r.status != 200) return out;
    Json j = Json::parse(r.body);
    for (JsonRef m : j["members"])
      out.insert(std::string(m["node"].str()) + ":" + std::to_string(static_cast<uint64_t>(m["fd"].num())));
    EXPECT_EQ(j["count"].i64(), static_cast<int64_t>(out.size())) << r.body;
    if (body) *body = std::move(j);
    return out;
  }
  // The members GET /online/user?id= lists.
  std::set<std::string> onlineUser(const std::string& nodeId, const std::string& id, bool* onlineFlag = nullptr) {
    HttpResponse r = node(nodeId).manager("GET", "/online/user?id=" + id);
    std::set<std::string> out;
    if (r.status != 200) return out;
    Json j = Json::parse(r.body);
    if (onlineFlag) *onlineFlag = j["online"].boolean();
    for (JsonRef m : j["members"]) out.insert(std::string(m.str()));
    return out;
  }
  // Polls /online on nodeId until it lists exactly `want`; the last answer.
  std::set<std::string> waitOnline(const std::string& nodeId, const std::string& room,
                                   const std::set<std::string>& want, int timeoutMs = 5000) {
    std::set<std::string> last;
    pollUntil([&] { return (last = online(nodeId, room)) == want; }, timeoutMs);
    return last;
  }

  template <class C>
  static std::set<std::string> members(const C& clients) {
    std::set<std::string> out;
    for (const auto& c : clients) out.insert(c->member);
    return out;
  }

  RedisProcess redis_;
  std::string prefix_;
  std::vector<std::pair<std::string, std::unique_ptr<TestServer>>> nodes_;
};

}  // namespace msw::cluster
