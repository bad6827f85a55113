// The channels module's admin routes across two nodes on one Redis
// (docs/laravel.md, docs/deployment.md): counts and sends cover every node,
// whichever node the application calls. Each node runs the module behind
// [endpoint.laravel] with one Python connect-hook backend.
//
// What the registry says is polled (its writes reach Redis on another
// connection than the manager's reads); frames are awaited.
#include "tests/integration/channels_support.h"
#include "tests/integration/cluster_support.h"
#include "tests/support/backend_process.h"

namespace msw::cluster {
namespace {

class ChannelsCluster : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    ASSERT_GT(backend.port, 0) << "the Python backend did not start";
    for (const char* id : {"a", "b"}) {
      configureChannels(makeNode(id), backend.url());
      ASSERT_TRUE(node(id).start()) << node(id).error();
      waitSubscribed(id);
    }
  }
  FrontEnd& open(const std::string& nodeId, const std::string& user) {
    clients.emplace_back(std::make_unique<FrontEnd>());
    EXPECT_TRUE(connectFrontEnd(*clients.back(), node(nodeId), user)) << clients.back()->ws.error();
    return *clients.back();
  }
  int64_t onlineCount(const std::string& nodeId) {
    return admin(node(nodeId), "online-count").data()["online_count"].i64(-1);
  }
  bool waitCount(int64_t n) {
    return pollUntil([&] { return onlineCount("a") == n && onlineCount("b") == n; }, 5000);
  }

  msw::test::BackendProcess backend{""};
  std::vector<std::unique_ptr<FrontEnd>> clients;
};

TEST_F(ChannelsCluster, CountsAndSendsCoverBothNodes) {
  FrontEnd& a1 = open("a", "1");
  FrontEnd& b1 = open("b", "1");
  FrontEnd& b2 = open("b", "2");
  ASSERT_TRUE(waitCount(2)) << onlineCount("a") << " " << onlineCount("b");
  EXPECT_EQ(admin(node("a"), "online-users").data().dump(), R"({"user_ids":[1,2],"count":2})");
  EXPECT_TRUE(admin(node("a"), "check-online", R"({"user_id":2})").data()["is_online"].boolean());

  ASSERT_EQ(admin(node("a"), "send-to-user", R"({"user_id":1,"type":"hello","data":{}})").code(), 200);
  EXPECT_TRUE(a1.type("hello").received);
  EXPECT_TRUE(b1.type("hello").received);

  ASSERT_EQ(admin(node("a"), "broadcast", R"({"type":"news","data":{},"exclude_user_id":1})").code(), 200);
  EXPECT_TRUE(b2.type("news").received);
  for (FrontEnd* c : {&a1, &b1}) {
    ASSERT_EQ(admin(node("a"), "send-to-user", R"({"user_id":1,"type":"marker"})").code(), 200);
    ASSERT_TRUE(c->type("marker").received);
    ASSERT_TRUE((c == &a1 ? b1 : a1).type("marker").received);
    EXPECT_EQ(c->kept("news"), 0);
  }
}

TEST_F(ChannelsCluster, ChannelPushFromTheOtherNode) {
  FrontEnd& b1 = open("b", "5");
  ASSERT_TRUE(b1.call("subscribe", R"({"channel":"orders"})", "subscribed").received);
  waitRoomSubscribers("channel:orders", 1);
  ASSERT_EQ(admin(node("a"), "push-data-update-channel", R"({"channel":"orders","resource_type":"order",
                                                            "action":"create","data":{"id":9}})")
                .code(),
            200);
  Msg m = b1.type("data_update");
  EXPECT_EQ(m.root["data"]["data"]["id"].i64(), 9) << m;
}

TEST_F(ChannelsCluster, DisconnectUserOnEveryNodeAndTheCountFollows) {
  FrontEnd& a1 = open("a", "7");
  FrontEnd& b1 = open("b", "7");
  open("b", "8");
  ASSERT_TRUE(waitCount(2));
  AdminAnswer r = admin(node("b"), "disconnect-user", R"({"user_id":7})");
  EXPECT_EQ(r.data()["connections"].i64(), 2) << r;
  EXPECT_EQ(a1.ws.waitClose(), 4010);
  EXPECT_EQ(b1.ws.waitClose(), 4010);
  EXPECT_TRUE(waitCount(1)) << onlineCount("a") << " " << onlineCount("b");
  EXPECT_EQ(admin(node("a"), "online-users").data().dump(), R"({"user_ids":[8],"count":1})");
}

}  // namespace
}  // namespace msw::cluster
