// tests/integration/cluster_support.h: what the multi-node tests share
// (cluster_delivery_test.cpp, cluster_fault_test.cpp; docs/deployment.md
// "Several nodes with one Redis").
//
// A ClusterTest has a redis-server of its own and makes msw nodes (TestServer
// with worker_num 2, [cache] driver redis on that server, a prefix of its
// own, modules index, live and clustertest). Clients read through an inbox
// (InboxClient), so a message that arrives while a test waits for a reply is
// kept for the check that wants it. Besides events, the tests poll state in
// Redis (GET /online, PUBSUB NUMSUB) against a deadline. Code in
// cluster_support.cpp.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

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

// "{a, b}": a set in a failure message.
std::string str(const std::set<std::string>& s);

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Every node still running is stopped gracefully (clients of the test
  // body are gone by now): its shutdown with Redis is checked too, and under
  // ASan that is when LeakSanitizer reports (a nonzero exit).
  void TearDown() override;

  // A node's server, configured but not started.
  TestServer& makeNode(const std::string& id);
  TestServer& node(const std::string& id);
  // Makes and starts a node; waits until Redis shows its subscriber on the
  // bus (the all and the node channel), so that messages to it arrive.
  void startNode(const std::string& id, bool waitBus = true);
  void waitSubscribed(const std::string& id, int timeoutMs = 10000);

  std::string channel(const std::string& name) const { return prefix_ + name; }
  std::string roomChannel(const std::string& room) const { return channel("_msw:bus:room:" + room); }
  int64_t redisNumSub(const std::string& fullChannel) const {
    return msw::test::redisNumSub(redis_.port(), fullChannel);
  }
  // Until `nodes` nodes listen to the room's channel: a publish reaches them all.
  void waitRoomSubscribers(const std::string& room, int64_t nodes, int timeoutMs = 5000);

  // ---- clients ----

  static std::string token(const std::string& user, const std::string& code, const std::string& type = "wechatUser",
                           const std::string& nick = "");
  // A client of `nodeId` with its fd and member from whoami.
  std::unique_ptr<Client> connect(const std::string& nodeId, const std::string& user, const std::string& code = "c1",
                                  const std::string& type = "wechatUser");
  // At least `n` clients of `nodeId`, on both of its workers (connections are
  // spread by the kernel: keeps connecting until each worker has one).
  std::vector<std::unique_ptr<Client>> connectSpread(const std::string& nodeId, size_t n, const std::string& userPrefix,
                                                     const std::string& code = "c1");
  static Msg join(Client& c, const std::string& room);

  // ---- the manager's registry views ----

  // "node:fd" of every member GET /online?room= lists (status in *status).
  std::set<std::string> online(const std::string& nodeId, const std::string& room, int* status = nullptr,
                               Json* body = nullptr);
  // The members GET /online/user?id= lists.
  std::set<std::string> onlineUser(const std::string& nodeId, const std::string& id, bool* onlineFlag = nullptr);
  // Polls /online on nodeId until it lists exactly `want`; the last answer.
  std::set<std::string> waitOnline(const std::string& nodeId, const std::string& room,
                                   const std::set<std::string>& want, int timeoutMs = 5000);

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
