// Integration tests of the channels module (docs/laravel.md): Laravel-S's
// front end and its twelve admin routes against the real server, a real
// connect-hook backend (tests/support/backend_server.py) and real sockets.
// A server (two workers) and a backend of its own per test: counts are exact.
//
// A frame that must NOT arrive is checked after a marker: a send-to-user of
// type "marker" to the same client, sent after the send under test and on
// the same path to the client's worker, arrives after anything that send
// would have delivered.
#include "tests/integration/channels_support.h"
#include "tests/support/backend_process.h"

namespace msw::it {
namespace {

class Channels : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(backend.port, 0) << "the Python backend did not start";
    configureChannels(server, backend.url());
    configure();
    ASSERT_TRUE(server.start()) << server.error();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << tail(server.proc.log()) << "\n";
    EXPECT_EQ(sanitizerReport(server.proc.log()), "");
  }
  virtual void configure() {}

  // A connected front end of `user`.
  FrontEnd& open(const std::string& user) {
    clients.emplace_back(std::make_unique<FrontEnd>());
    EXPECT_TRUE(connectFrontEnd(*clients.back(), server, user)) << clients.back()->ws.error();
    return *clients.back();
  }
  // Waits for a marker sent to `user` on `c` (see the file's comment).
  void marker(FrontEnd& c, const std::string& user) {
    ASSERT_EQ(admin(server, "send-to-user", "{\"user_id\":\"" + user + "\",\"type\":\"marker\"}").status, 200);
    ASSERT_TRUE(c.type("marker").received);
  }
  // `c` (of `user`) got no frame of that type before a marker.
  void expectNone(FrontEnd& c, const std::string& user, const std::string& type) {
    marker(c, user);
    EXPECT_EQ(c.kept(type), 0) << type;
  }
  AdminAnswer post(const std::string& route, const std::string& body) { return admin(server, route, body); }

  msw::test::BackendProcess backend{""};
  TestServer server{2};
  std::vector<std::unique_ptr<FrontEnd>> clients;
};

// ---- the client's frames

TEST_F(Channels, ConnectsThroughTheHookAndAnswersPingAndHeartbeat) {
  FrontEnd c;
  ASSERT_TRUE(c.ws.connect("127.0.0.1", server.port, "/ws?user_id=7&token=ok-7")) << c.ws.error();
  Msg hello = c.type("connected");
  ASSERT_TRUE(hello.received);
  EXPECT_EQ(hello.root["data"]["user_id"].i64(), 7);  // a number, as Laravel's ids
  Msg pong = c.call("ping", "{}", "pong");
  ASSERT_TRUE(pong.received);
  EXPECT_GT(pong.root["data"]["timestamp"].i64(), 1700000000);
  EXPECT_TRUE(c.call("heartbeat", "{\"timestamp\":1}", "heartbeat_ack").received);
  Json stats = backend.stats();
  JsonRef query = stats["connect_bodies"].at(0)["query"];
  EXPECT_EQ(query["user_id"].str(), "7");
  EXPECT_EQ(query["token"].str(), "ok-7");
}

TEST_F(Channels, ARefusedTokenClosesWith4403) {
  for (std::string query : {"user_id=8&token=wrong", "user_id=9&token=ok-8"}) {
    WsClient c;
    ASSERT_TRUE(c.connect("127.0.0.1", server.port, "/ws?" + query)) << c.error();
    EXPECT_EQ(c.waitClose(), 4403) << query;
  }
  EXPECT_EQ(admin(server, "online-count").data()["online_count"].i64(-1), 0);
}

TEST_F(Channels, SubscribeReceiveUnsubscribe) {
  FrontEnd& a = open("11");
  FrontEnd& b = open("12");
  Msg sub = a.call("subscribe", "{\"channel\":\"orders\"}", "subscribed");
  ASSERT_TRUE(sub.received);
  EXPECT_EQ(sub.root["data"]["channel"].str(), "orders");
  ASSERT_EQ(post("send-to-channel", R"({"channel":"orders","type":"order_paid","data":{"order_id":123}})").code(), 200);
  Msg got = a.type("order_paid");
  ASSERT_TRUE(got.received);
  EXPECT_EQ(got.root["data"]["order_id"].i64(), 123);
  expectNone(b, "12", "order_paid");

  ASSERT_TRUE(a.call("unsubscribe", "{\"channel\":\"orders\"}", "unsubscribed").received);
  ASSERT_EQ(post("send-to-channel", R"({"channel":"orders","type":"order_paid","data":{}})").code(), 200);
  expectNone(a, "11", "order_paid");
}

TEST_F(Channels, ChatReachesEveryConnectionOfTheRecipient) {
  FrontEnd& a = open("21");
  FrontEnd& b1 = open("22");
  FrontEnd& b2 = open("22");
  Msg sent = a.call("chat", R"({"to_user_id":22,"content":"hello"})", "chat_sent");
  ASSERT_TRUE(sent.received);
  EXPECT_EQ(sent.root["data"]["to_user_id"].i64(), 22);
  for (FrontEnd* b : {&b1, &b2}) {
    Msg m = b->type("chat");
    ASSERT_TRUE(m.received);
    EXPECT_EQ(m.root["data"]["from_user_id"].i64(), 21);
    EXPECT_EQ(m.root["data"]["content"].str(), "hello");
  }
  Msg offline = a.call("chat", R"({"to_user_id":"99","content":"hi"})", "error");
  EXPECT_EQ(offline.root["status"].i64(), 404);
  EXPECT_EQ(offline.root["error"].str(), "user 99 is not online");
}

TEST_F(Channels, BadClientFramesAreAnsweredAndChangeNothing) {
  FrontEnd& a = open("31");
  struct Case {
    const char* type;
    const char* data;
    int status;
    const char* error;
  };
  const Case cases[] = {
      {"subscribe", "{}", 400, "channel must be"},
      {"subscribe", R"({"channel":"a b"})", 400, "channel must be"},
      {"subscribe", R"({"channel":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})", 400,
       "channel must be"},
      {"unsubscribe", R"({"channel":7})", 400, "channel must be"},
      {"chat", R"({"content":"x"})", 400, "to_user_id must be"},
      {"chat", R"({"to_user_id":1})", 400, "content must be"},
      {"broadcast", R"({"message":"x"})", 403, "broadcast from clients is off"},
      {"nope", "{}", 405, "unknown type"},
  };
  for (const Case& k : cases) {
    Msg m = a.call(k.type, k.data, "error");
    EXPECT_EQ(m.root["status"].i64(), k.status) << k.type << " " << k.data;
    EXPECT_NE(std::string(m.root["error"].str()).find(k.error), std::string::npos) << m;
  }
  EXPECT_TRUE(a.call("ping", "{}", "pong").received);  // still connected
}

class ChannelsBounded : public Channels {
  void configure() override {
    server.ini.set("channels", "max_channels", "2").set("channels", "client_broadcast", "true");
  }
};

TEST_F(ChannelsBounded, ChannelsPerConnectionAreBounded) {
  FrontEnd& a = open("41");
  ASSERT_TRUE(a.call("subscribe", R"({"channel":"c1"})", "subscribed").received);
  ASSERT_TRUE(a.call("subscribe", R"({"channel":"c2"})", "subscribed").received);
  ASSERT_TRUE(a.call("subscribe", R"({"channel":"c2"})", "subscribed").received);  // again: no new one
  Msg full = a.call("subscribe", R"({"channel":"c3"})", "error");
  EXPECT_EQ(full.root["status"].i64(), 429);
  EXPECT_EQ(full.root["error"].str(), "at most 2 channels per connection");
  ASSERT_TRUE(a.call("unsubscribe", R"({"channel":"c1"})", "unsubscribed").received);
  EXPECT_TRUE(a.call("subscribe", R"({"channel":"c3"})", "subscribed").received);
}

TEST_F(ChannelsBounded, ClientBroadcastWhenSwitchedOn) {
  FrontEnd& a = open("51");
  FrontEnd& b = open("52");
  ASSERT_TRUE(a.send("broadcast", R"({"message":"all hands"})"));
  for (FrontEnd* c : {&a, &b}) {
    Msg m = c->type("broadcast");
    ASSERT_TRUE(m.received);
    EXPECT_EQ(m.root["data"]["message"].str(), "all hands");
    EXPECT_EQ(m.root["data"]["from_user_id"].i64(), 51);
  }
}

// ---- the admin routes

TEST_F(Channels, OnlineRoutesCountUsersNotConnections) {
  open("61");
  open("61");
  open("62");
  AdminAnswer count = admin(server, "online-count");
  EXPECT_EQ(count.status, 200);
  EXPECT_EQ(count.code(), 200);
  EXPECT_EQ(count.message(), "success");
  EXPECT_EQ(count.data()["online_count"].i64(), 2) << count;
  AdminAnswer users = admin(server, "online-users");
  EXPECT_EQ(users.data().dump(), R"({"user_ids":[61,62],"count":2})");
  EXPECT_EQ(post("check-online", R"({"user_id":61})").data().dump(), R"({"user_id":61,"is_online":true})");
  EXPECT_EQ(post("check-online", R"({"user_id":"62"})").data()["is_online"].boolean(), true);
  EXPECT_EQ(post("check-online", R"({"user_id":63})").data().dump(), R"({"user_id":63,"is_online":false})");
}

TEST_F(Channels, SendToUserAndUsersReachEveryConnection) {
  FrontEnd& a1 = open("71");
  FrontEnd& a2 = open("71");
  FrontEnd& b = open("72");
  FrontEnd& c = open("73");
  AdminAnswer r = post("send-to-user", R"({"user_id":71,"type":"notification","data":{"title":"t","message":"m"}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.dump(), R"({"code":200,"message":"success","data":null})");
  for (FrontEnd* x : {&a1, &a2})
    EXPECT_EQ(x->type("notification").raw, R"({"type":"notification","data":{"title":"t","message":"m"}})");
  ASSERT_EQ(post("send-to-users", R"({"user_ids":[71,"72"],"type":"note","data":[1,2]})").code(), 200);
  for (FrontEnd* x : {&a1, &a2, &b}) EXPECT_EQ(x->type("note").raw, R"({"type":"note","data":[1,2]})");
  marker(c, "73");
  EXPECT_EQ(c.kept("note") + c.kept("notification") + b.kept("notification"), 0);
}

TEST_F(Channels, BroadcastReachesEveryoneButTheExcludedUser) {
  FrontEnd& a1 = open("81");
  FrontEnd& a2 = open("81");
  FrontEnd& b = open("82");
  ASSERT_EQ(post("broadcast", R"({"type":"news","data":{"n":1},"exclude_user_id":81})").code(), 200);
  EXPECT_EQ(b.type("news").raw, R"({"type":"news","data":{"n":1}})");
  marker(a1, "81");
  ASSERT_TRUE(a2.type("marker").received);
  EXPECT_EQ(a1.kept("news") + a2.kept("news"), 0);
  ASSERT_EQ(post("broadcast", R"({"type":"news","data":{"n":2}})").code(), 200);
  for (FrontEnd* x : {&a1, &a2, &b}) EXPECT_EQ(x->type("news").root["data"]["n"].i64(), 2);
}

TEST_F(Channels, NotificationsCarryTitleMessageTypeAndTimestamp) {
  FrontEnd& a = open("91");
  FrontEnd& b = open("92");
  ASSERT_EQ(post("send-notification", R"({"title":"Maintenance","message":"23:00","type":"warning",
                                         "extra_data":{"start_time":"23:00","title":"ignored"}})")
                .code(),
            200);
  for (FrontEnd* x : {&a, &b}) {
    Msg m = x->type("notification");
    JsonRef d = m.root["data"];
    EXPECT_EQ(d["title"].str(), "Maintenance") << m;
    EXPECT_EQ(d["message"].str(), "23:00");
    EXPECT_EQ(d["type"].str(), "warning");
    EXPECT_EQ(d["start_time"].str(), "23:00");
    EXPECT_NEAR(static_cast<double>(d["timestamp"].i64()), static_cast<double>(unixNow()), 5);
  }
  ASSERT_EQ(post("send-notification-to-users", R"({"user_ids":[92],"title":"Order","message":"shipped"})").code(), 200);
  Msg m = b.type("notification");
  EXPECT_EQ(m.root["data"]["type"].str(), "info");  // the default
  EXPECT_EQ(m.root["data"]["title"].str(), "Order");
  expectNone(a, "91", "notification");
}

TEST_F(Channels, DataUpdatesToUsersAndChannels) {
  FrontEnd& a = open("101");
  FrontEnd& b = open("102");
  ASSERT_TRUE(b.call("subscribe", R"({"channel":"orders"})", "subscribed").received);
  ASSERT_EQ(post("push-data-update", R"({"user_ids":[101],"resource_type":"order","action":"update",
                                        "data":{"id":123,"status":"shipped"}})")
                .code(),
            200);
  Msg m = a.type("data_update");
  JsonRef d = m.root["data"];
  EXPECT_EQ(d["resource_type"].str(), "order") << m;
  EXPECT_EQ(d["action"].str(), "update");
  EXPECT_EQ(d["data"].dump(), R"({"id":123,"status":"shipped"})");
  EXPECT_GT(d["timestamp"].i64(), 1700000000);
  ASSERT_EQ(post("push-data-update-channel", R"({"channel":"orders","resource_type":"order","action":"create",
                                                "data":{"id":124}})")
                .code(),
            200);
  Msg c = b.type("data_update");
  EXPECT_EQ(c.root["data"]["action"].str(), "create") << c;
  expectNone(a, "101", "data_update");
}

TEST_F(Channels, DisconnectUserClosesEachOfItsConnections) {
  FrontEnd& a1 = open("111");
  FrontEnd& a2 = open("111");
  FrontEnd& b = open("112");
  AdminAnswer r = post("disconnect-user", R"({"user_id":111})");
  EXPECT_EQ(r.data().dump(), R"({"user_id":111,"connections":2})") << r;
  EXPECT_EQ(a1.ws.waitClose(), 4010);
  EXPECT_EQ(a2.ws.waitClose(), 4010);
  EXPECT_TRUE(b.call("ping", "{}", "pong").received);
  EXPECT_TRUE(pollUntil([&] { return admin(server, "online-count").data()["online_count"].i64() == 1; }, 5000));
}

TEST_F(Channels, BadBodiesAre400WithAReasonOnEveryRoute) {
  FrontEnd& a = open("121");
  struct Case {
    const char* route;
    const char* body;
    const char* reason;
  };
  const Case cases[] = {
      {"check-online", "not json", "the body must be a JSON object"},
      {"check-online", "{}", "user_id must be"},
      {"check-online", R"({"user_id":1.5})", "user_id must be"},
      {"send-to-user", R"({"type":"x"})", "user_id must be"},
      {"send-to-user", R"({"user_id":1})", "type must be"},
      {"send-to-user", R"({"user_id":1,"type":""})", "type must be"},
      {"send-to-users", R"({"user_ids":[],"type":"x"})", "user_ids must be"},
      {"send-to-users", R"({"user_ids":[true],"type":"x"})", "user_ids must hold"},
      {"send-to-users", R"({"user_ids":[1]})", "type must be"},
      {"broadcast", "[1]", "the body must be a JSON object"},
      {"broadcast", R"({"type":"x","exclude_user_id":{}})", "exclude_user_id must be"},
      {"broadcast", R"({"data":{}})", "type must be"},
      {"send-to-channel", R"({"type":"x"})", "channel must be"},
      {"send-to-channel", R"({"channel":"a/b","type":"x"})", "channel must be"},
      {"send-to-channel", R"({"channel":"a"})", "type must be"},
      {"send-notification", R"({"message":"m"})", "title must be"},
      {"send-notification", R"({"title":"t"})", "message must be"},
      {"send-notification", R"({"title":"t","message":"m","type":3})", "type must be"},
      {"send-notification", R"({"title":"t","message":"m","extra_data":[1]})", "extra_data must be an object"},
      {"send-notification-to-users", R"({"title":"t","message":"m"})", "user_ids must be"},
      {"send-notification-to-users", R"({"user_ids":[1],"message":"m"})", "title must be"},
      {"push-data-update", R"({"resource_type":"o","action":"a"})", "user_ids must be"},
      {"push-data-update", R"({"user_ids":[1],"action":"a"})", "resource_type must be"},
      {"push-data-update", R"({"user_ids":[1],"resource_type":"o"})", "action must be"},
      {"push-data-update-channel", R"({"resource_type":"o","action":"a"})", "channel must be"},
      {"push-data-update-channel", R"({"channel":"c","action":"a"})", "resource_type must be"},
      {"disconnect-user", "", "the body must be a JSON object"},
      {"disconnect-user", R"({"user_id":null})", "user_id must be"},
  };
  for (const Case& k : cases) {
    HttpResponse r = server.post("/admin/websocket/" + std::string(k.route), k.body);
    Json body = Json::parse(r.body);
    EXPECT_EQ(r.status, 400) << k.route << " " << k.body << ": " << r.body;
    EXPECT_EQ(body["code"].i64(), 400) << r.body;
    EXPECT_NE(std::string(body["message"].str()).find(k.reason), std::string::npos) << k.route << ": " << r.body;
  }
  // Nothing was sent, nobody was closed.
  marker(a, "121");
  EXPECT_EQ(a.inbox.size(), 0u);
}

TEST_F(Channels, APushOverHalfTheSendQueueIs413) {
  std::string big(600 * 1024, 'x');
  AdminAnswer r = post("send-to-user", R"({"user_id":1,"type":"x","data":")" + big + "\"}");
  EXPECT_EQ(r.status, 413) << r.status;
  EXPECT_EQ(r.message(), "message over 524288 bytes");
}

class ChannelsWithToken : public Channels {
  void configure() override { server.managerToken = "admin-secret"; }
};

TEST_F(ChannelsWithToken, TheRoutesTakeTheManagersToken) {
  HttpResponse none = msw::test::httpRequest("127.0.0.1", server.managerPort, "GET", "/admin/websocket/online-count");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(admin(server, "online-count").code(), 200);
  HttpResponse wrong = msw::test::httpRequest("127.0.0.1", server.managerPort, "GET", "/admin/websocket/online-count",
                                              "", {"Authorization: Bearer nope"});
  EXPECT_EQ(wrong.status, 401);
}

}  // namespace
}  // namespace msw::it
