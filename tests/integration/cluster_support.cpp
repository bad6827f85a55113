// tests/integration/cluster_support.cpp: the multi-node fixture of
// cluster_support.h (one per test, on the test's main thread).
#include "tests/integration/cluster_support.h"

#include <random>
#include <stdexcept>

namespace msw::cluster {

std::string str(const std::set<std::string>& s) {
  std::string out = "{";
  for (const auto& e : s) out += (out.size() > 1 ? ", " : "") + e;
  return out + "}";
}

void ClusterTest::SetUp() {
  ASSERT_TRUE(redis_.start()) << redis_.error();
  std::random_device rd;
  prefix_ = "ct" + std::to_string(rd() % 1000000) + ":";
}

void ClusterTest::TearDown() {
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

TestServer& ClusterTest::makeNode(const std::string& id) {
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

TestServer& ClusterTest::node(const std::string& id) {
  for (auto& n : nodes_)
    if (n.first == id) return *n.second;
  throw std::runtime_error("no node " + id);
}

void ClusterTest::startNode(const std::string& id, bool waitBus) {
  TestServer& s = makeNode(id);
  ASSERT_TRUE(s.start()) << s.error();
  if (waitBus) waitSubscribed(id);
}

void ClusterTest::waitSubscribed(const std::string& id, int timeoutMs) {
  ASSERT_TRUE(pollUntil([&] { return redisNumSub(channel("_msw:bus:node:" + id)) == 1; }, timeoutMs))
      << "node " << id << " never subscribed to its channel";
}

void ClusterTest::waitRoomSubscribers(const std::string& room, int64_t nodes, int timeoutMs) {
  int64_t last = -1;
  bool ok = pollUntil([&] { return (last = redisNumSub(roomChannel(room))) == nodes; }, timeoutMs);
  ASSERT_TRUE(ok) << "room " << room << ": " << last << " node(s) subscribed, expected " << nodes;
}

std::string ClusterTest::token(const std::string& user, const std::string& code, const std::string& type,
                               const std::string& nick) {
  return mint(userJson(user, code, type, nick.empty() ? "nick-" + user : nick));
}

std::unique_ptr<Client> ClusterTest::connect(const std::string& nodeId, const std::string& user,
                                             const std::string& code, const std::string& type) {
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

std::vector<std::unique_ptr<Client>> ClusterTest::connectSpread(const std::string& nodeId, size_t n,
                                                                const std::string& userPrefix,
                                                                const std::string& code) {
  std::vector<std::unique_ptr<Client>> out;
  std::set<int> workers;
  for (int i = 0; i < 24 && (out.size() < n || workers.size() < kWorkers); ++i) {
    out.push_back(connect(nodeId, userPrefix + std::to_string(i), code));
    workers.insert(out.back()->worker());
  }
  EXPECT_EQ(workers.size(), static_cast<size_t>(kWorkers)) << "all connections of " << nodeId << " on one worker";
  return out;
}

Msg ClusterTest::join(Client& c, const std::string& room) {
  Msg m = c.call(R"({"method":"clustertest.t.join","room":")" + room + R"("})", "joined");
  EXPECT_EQ(m.status(), 200) << m;
  return m;
}

std::set<std::string> ClusterTest::online(const std::string& nodeId, const std::string& room, int* status,
                                          Json* body) {
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

std::set<std::string> ClusterTest::onlineUser(const std::string& nodeId, const std::string& id, bool* onlineFlag) {
  HttpResponse r = node(nodeId).manager("GET", "/online/user?id=" + id);
  std::set<std::string> out;
  if (r.status != 200) return out;
  Json j = Json::parse(r.body);
  if (onlineFlag) *onlineFlag = j["online"].boolean();
  for (JsonRef m : j["members"]) out.insert(std::string(m.str()));
  return out;
}

std::set<std::string> ClusterTest::waitOnline(const std::string& nodeId, const std::string& room,
                                              const std::set<std::string>& want, int timeoutMs) {
  std::set<std::string> last;
  pollUntil([&] { return (last = online(nodeId, room)) == want; }, timeoutMs);
  return last;
}

}  // namespace msw::cluster
