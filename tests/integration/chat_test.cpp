// tests/integration/chat_test.cpp: the chat module (app/chat, docs/chat.md)
// against the real server over real sockets, on a chat endpoint of its own
// port: the Workerman protocol and its texts byte for byte, ownership and
// agents (and their reload), the length and rate rules, leave and close,
// messages kept in the store and read on the manager, the backend-hook way
// against a real HTTP backend, and the seed's client flow written in Node.
//
// One worker in the shared fixture: what a session sends a member is then
// queued before anything that member asks afterwards, so a ping's pong
// proves that no message came before it.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <regex>

#include "tests/integration/chat_support.h"
#include "tests/support/backend_process.h"

namespace msw::chattest {
namespace {

int gChatPort = 0;

void expectCleanStop(TestServer& s) {
  if (!s.proc.running()) return;
  EXPECT_EQ(s.proc.stop(), 0) << tail(s.proc.log());
  EXPECT_EQ(sanitizerReport(s.proc.log()), "");
}

class Chat : public SharedServerTest<Chat> {
 public:
  static void configure(TestServer& s) {
    gChatPort = otherPort(s);
    configureChat(s, gChatPort);
    s.ini.set("chat", "history", "3");
  }
  static std::unique_ptr<ChatClient> user(const std::string& id, const std::string& session = {}) {
    return chatter(gChatPort, id, session);
  }
  // Sends `json` and expects exactly {"type":"error","error":TEXT} back.
  static void expectError(ChatClient& c, const std::string& json, const std::string& text) {
    c.ws.sendText(json);
    Msg m = c.next();
    EXPECT_EQ(m.raw, R"({"type":"error","error":")" + text + "\"}") << "after " << json;
  }
};

TEST_F(Chat, GreetsWithConnectedAndAConnectionId) {
  ChatClient c;
  ASSERT_TRUE(c.open(gChatPort));
  EXPECT_EQ(c.hello.root["message"].str(), "WebSocket连接成功") << c.hello;
  EXPECT_FALSE(c.hello.root["connection_id"].str().empty()) << c.hello;
  EXPECT_EQ(c.ask(R"({"type":"ping"})", "pong").raw, R"({"type":"pong"})");
}

TEST_F(Chat, UserAndAgentTalkInASessionAndTheManagerKeepsTheMessages) {
  registerSession(server(), "456", "123");
  auto u = user("123");
  Msg joined = u->join("456");
  EXPECT_EQ(joined.raw, R"({"type":"joined_session","session_id":456})");
  auto agent = user("900", "456");
  u->say("456", "你好，我需要咨询");
  for (ChatClient* c : {u.get(), agent.get()}) {  // the sender's own copy included
    Msg m = c->type("new_message");
    EXPECT_EQ(m.root["session_id"].i64(), 456) << m;
    JsonRef msg = m.root["message"];
    EXPECT_GT(msg["id"].i64(), 0) << m;
    EXPECT_EQ(msg["session_id"].i64(), 456) << m;
    EXPECT_EQ(msg["sender_id"].i64(), 123) << m;
    EXPECT_EQ(msg["content"].str(), "你好，我需要咨询") << m;
    EXPECT_EQ(msg.begin() != msg.end() ? (*msg.begin()).key() : "", "id") << "the original's order: " << m;
    EXPECT_TRUE(std::regex_match(std::string(msg["created_at"].str()),
                                 std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"))) << m;
  }
  agent->say("456", "您好，请讲");
  Msg reply = u->type("new_message");
  EXPECT_EQ(reply.root["message"]["sender_id"].i64(), 900) << reply;
  Json all = server().getJson("/chat/messages?session=456");
  ASSERT_EQ(all["messages"].size(), 2) << all.dump();
  int64_t first = all["messages"].at(0)["id"].i64();
  EXPECT_EQ(all["messages"].at(1)["content"].str(), "您好，请讲");
  Json newer = server().getJson("/chat/messages?session=456&after=" + std::to_string(first));
  ASSERT_EQ(newer["messages"].size(), 1) << newer.dump();
  EXPECT_EQ(newer["messages"].at(0)["id"].i64(), reply.root["message"]["id"].i64());
}

TEST_F(Chat, EveryErrorHasTheSeedsText) {
  ChatClient c;
  ASSERT_TRUE(c.open(gChatPort));
  expectError(c, R"({"type":"join_session","session_id":1})", "未认证");
  expectError(c, R"({"type":"leave_session"})", "未认证");
  expectError(c, R"({"type":"send_message","session_id":1,"content":"x"})", "未认证");
  expectError(c, R"({"type":"auth"})", "缺少用户ID");
  expectError(c, R"({"type":"auth","user_id":""})", "缺少用户ID");
  ASSERT_TRUE(c.auth("41").received);
  expectError(c, R"({"type":"join_session"})", "缺少会话ID");
  expectError(c, R"({"type":"join_session","session_id":"no spaces"})", "缺少会话ID");
  expectError(c, R"({"type":"join_session","session_id":999999})", "无权限访问该会话");
  registerSession(server(), "41", "41");
  ASSERT_TRUE(c.join("41").received);
  expectError(c, R"({"type":"send_message","session_id":41})", "缺少会话ID或消息内容");
  expectError(c, R"({"type":"send_message","content":"x"})", "缺少会话ID或消息内容");
  expectError(c, R"({"type":"send_message","session_id":41,"content":" \t\n "})", "消息内容不能为空");
  expectError(c, R"({"type":"send_message","session_id":41,"content":")" + std::string(1001, 'a') + "\"}",
              "消息内容过长");
  expectError(c, R"({"type":"send_message","session_id":42,"content":"not my session"})", "无权限访问该会话");
  EXPECT_TRUE(server().proc.waitLog(": chat.client.send_message: 无权限访问该会话")) << "a log line with the conn";
  EXPECT_TRUE(c.pingPong()) << "the connection carries on";
}

TEST_F(Chat, AUserJoinsOnlyItsOwnSessionsAndAnAgentAny) {
  registerSession(server(), "50", "51");
  auto owner = user("51", "50");
  auto other = user("52");
  expectError(*other, R"({"type":"join_session","session_id":50})", "无权限访问该会话");
  registerSession(server(), "\"s-51\"", "51");  // ids may be text
  EXPECT_EQ(owner->join("\"s-51\"").raw, R"({"type":"joined_session","session_id":"s-51"})");
  auto agent = user("901", "50");  // [chat] agents = 900, 901
  agent->say("50", "agent here");
  EXPECT_EQ(agent->type("new_message").root["message"]["content"].str(), "agent here");
  EXPECT_TRUE(owner->pingPong());
  EXPECT_EQ(owner->kept("new_message"), 0) << "owner moved to s-51: no message of 50";
}

TEST_F(Chat, LengthIsCountedInBytesUpToAThousand) {
  registerSession(server(), "60", "61");
  auto c = user("61", "60");
  std::string kilo;
  while (kilo.size() + 3 <= 1000) kilo += "字";  // 3 bytes each: 999
  c->say("60", kilo + "a");
  EXPECT_EQ(c->type("new_message").root["message"]["content"].str(), kilo + "a");
  expectError(*c, R"({"type":"send_message","session_id":60,"content":")" + kilo + "字\"}", "消息内容过长");
}

// Two messages within one clock second: the second is refused. A tick of the
// clock between them (rare) makes the round inconclusive: it is tried again.
TEST_F(Chat, OneMessagePerSecondPerConnection) {
  registerSession(server(), "70", "71");
  auto c = user("71", "70");
  auto other = user("900", "70");
  bool decided = false;
  for (int round = 0; round < 5 && !decided; ++round) {
    std::time_t before = std::time(nullptr);
    c->say("70", "first");
    c->say("70", "second");
    Msg sent = c->type("new_message"), refused = c->type("error");  // the refusal may come first
    decided = std::time(nullptr) == before;
    if (!decided) continue;
    EXPECT_EQ(sent.root["message"]["content"].str(), "first") << sent;
    EXPECT_EQ(refused.raw, R"({"type":"error","error":"发送消息过于频繁"})");
    other->say("70", "another connection is not held back");
    EXPECT_EQ(c->type("new_message").root["message"]["sender_id"].i64(), 900);
  }
  EXPECT_TRUE(decided);
  std::time_t now = std::time(nullptr);
  ASSERT_TRUE(pollUntil([&] { return std::time(nullptr) > now; }, 2000)) << "the clock moves on";
  c->say("70", "a second later");
  EXPECT_EQ(c->type("new_message").root["message"]["content"].str(), "a second later");
}

TEST_F(Chat, NoMessagesAfterLeavingAndMembersGoOnClose) {
  registerSession(server(), "80", "81");
  auto u = user("81", "80");
  auto agent = user("900", "80");
  ASSERT_TRUE(server().waitRoomCount("chat:80", 2));
  EXPECT_EQ(u->ask(R"({"type":"leave_session"})", "left_session").raw,
            R"({"type":"left_session","session_id":80})");
  ASSERT_TRUE(server().waitRoomCount("chat:80", 1));
  agent->say("80", "anyone?");
  EXPECT_TRUE(agent->type("new_message").received);  // sent to the room, u's queue included if it were there
  EXPECT_TRUE(u->pingPong());
  EXPECT_EQ(u->kept("new_message"), 0);
  expectError(*u, R"({"type":"send_message","session_id":80,"content":"x"})", "无权限访问该会话");
  EXPECT_EQ(u->ask(R"({"type":"leave_session"})", "left_session").raw, R"({"type":"left_session","session_id":null})");
  agent->ws.sendClose();
  EXPECT_TRUE(server().waitRoomCount("chat:80", 0)) << "the closed agent left the session";
}

TEST_F(Chat, TheManagerRoutesAnswerBadInputWith400) {
  EXPECT_EQ(server().post("/chat/sessions", "not json").status, 400);
  EXPECT_EQ(server().post("/chat/sessions", R"({"session_id":1})").status, 400);
  EXPECT_EQ(server().post("/chat/sessions", R"({"session_id":"a b","user_id":1})").status, 400);
  EXPECT_EQ(server().get("/chat/messages").status, 400);
  Json none = server().getJson("/chat/messages?session=nosuch");
  EXPECT_EQ(none["messages"].size(), 0) << none.dump();
}

TEST_F(Chat, HistoryKeepsTheLastMessagesOfEachSession) {  // [chat] history = 3 here
  registerSession(server(), "90", "91");
  std::vector<std::unique_ptr<ChatClient>> senders;
  for (int i = 0; i < 5; ++i) {
    senders.push_back(user("91", "90"));
    senders.back()->say("90", "m" + std::to_string(i));
    EXPECT_TRUE(senders.back()->type("new_message").received);
  }
  Json kept = server().getJson("/chat/messages?session=90");
  ASSERT_EQ(kept["messages"].size(), 3) << kept.dump();
  EXPECT_EQ(kept["messages"].at(0)["content"].str(), "m2");
  EXPECT_EQ(kept["messages"].at(2)["content"].str(), "m4");
}

// The seed's client flow (docs/chat.md), by a client written in Node from
// the protocol: a user and an agent, with the standard WebSocket API.
TEST_F(Chat, TheSeedsClientFlowInNode) {
  // Node 20 has the standard WebSocket behind a flag (22 by default; Debian 12's 18 has none: the
  // script brings a minimal one).
  bool flag = std::system("node --experimental-websocket -e 0 >/dev/null 2>&1") == 0;
  std::string cmd = std::string("node ") + (flag ? "--experimental-websocket --no-warnings " : "") + MSW_SOURCE_DIR +
                    "/tests/integration/chat_flow.js " + std::to_string(gChatPort) + " " +
                    std::to_string(server().managerPort) + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("chat flow ok"), std::string::npos) << out;
}

// ---- the same endpoint with tokens (auth = optional): the token's id must be the user_id

class ChatTokens : public SharedServerTest<ChatTokens> {
 public:
  static void configure(TestServer& s) {
    gChatPort = otherPort(s);
    configureChat(s, gChatPort);
    s.ini.set("endpoint.chat", "auth", "optional");
  }
};

TEST_F(ChatTokens, ATokensIdMustMatchTheUserId) {
  ChatClient c;
  ASSERT_TRUE(c.open(gChatPort, "/?auth=" + server().userToken("7")));
  c.ws.sendText(R"({"type":"auth","user_id":8})");
  EXPECT_EQ(c.next().raw, R"({"type":"error","error":"用户ID与令牌不符"})");
  EXPECT_EQ(c.auth("7").raw, R"({"type":"auth_success","user_id":7})");
  ChatClient bad;
  EXPECT_FALSE(bad.open(gChatPort, "/?auth=garbage"));
  EXPECT_EQ(bad.ws.response().status, 403);
  ChatClient none;  // optional: no token, taken on trust
  ASSERT_TRUE(none.open(gChatPort));
  EXPECT_TRUE(none.auth("8").received);
}

// ---- agents are reloadable

TEST(ChatReload, AgentsChangeOnReload) {
  TestServer s;
  int port = otherPort(s);
  configureChat(s, port, "index, chat", "900");
  ASSERT_TRUE(s.start()) << s.error();
  registerSession(s, "5", "6");
  EXPECT_TRUE(chatter(port, "900", "5"));
  s.ini.set("chat", "agents", "901");
  s.writeConfig();
  HttpResponse r = s.post("/reload", "");
  ASSERT_EQ(r.status, 200) << r.body;  // answered once the new settings are in force
  auto was = chatter(port, "900");
  was->ws.sendText(R"({"type":"join_session","session_id":5})");
  EXPECT_EQ(was->next().raw, R"({"type":"error","error":"无权限访问该会话"})") << "900 is no longer an agent";
  EXPECT_TRUE(chatter(port, "901", "5")) << "901 is";
  expectCleanStop(s);
}

// What a connection said about itself (its user, its session) is in the
// store while it lives, and gone once it closed.
TEST(ChatClose, AConnectionsStateGoesWithIt) {
  TestServer s;
  int port = otherPort(s);
  configureChat(s, port);
  ASSERT_TRUE(s.start()) << s.error();
  registerSession(s, "5", "6");
  int64_t before = s.storeKeys();
  auto c = chatter(port, "6", "5");
  EXPECT_TRUE(s.waitStoreKeys(before + 1)) << "one key for the connection";
  ASSERT_TRUE(c->ws.sendClose());
  EXPECT_TRUE(s.waitStoreKeys(before)) << s.storeKeys();
  EXPECT_TRUE(s.waitRoomCount("chat:5", 0));
  expectCleanStop(s);
}

// ---- the backend-hook way: chat.join and chat.message (tests/support/backend_server.py)

class ChatHooks : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(backend.port, 0);
    port = otherPort(server);
    configureChat(server, port);
    server.ini.set("backend", "url", backend.url());
    ASSERT_TRUE(server.start()) << server.error();
  }
  // A clean stop, and nothing from the sanitizers (under ASan+UBSan).
  void TearDown() override { expectCleanStop(server); }
  // The bodies the backend got for `hook`, in order.
  std::vector<Json> bodies(const std::string& hook) {
    std::vector<Json> out;
    Json st = backend.stats();
    for (JsonRef b : st["chat_bodies"])
      if (b.at(0).str() == hook) out.push_back(Json::copy(b.at(1)));
    return out;
  }

  msw::test::BackendProcess backend{""};
  TestServer server;
  int port = 0;
};

TEST_F(ChatHooks, JoinsAreAskedAndMessagesStoredByTheApplication) {
  auto u = chatter(port, "1", "7");  // backend: user 1 may join session 7
  auto other = chatter(port, "2");
  other->ws.sendText(R"({"type":"join_session","session_id":7})");
  EXPECT_EQ(other->next().raw, R"({"type":"error","error":"无权限访问该会话"})");
  auto agent = chatter(port, "900", "7");  // agents are not asked
  u->say("7", "hello");
  for (ChatClient* c : {u.get(), agent.get()}) {
    Msg m = c->type("new_message");
    EXPECT_GT(m.root["message"]["id"].i64(), 5000) << m;  // the application's id
    EXPECT_EQ(m.root["message"]["created_at"].str(), "2024-01-01 12:00:00") << m;
  }
  std::vector<Json> joins = bodies("chat.join"), messages = bodies("chat.message");
  ASSERT_EQ(joins.size(), 2u);
  EXPECT_EQ(joins[0].dump(), R"({"user_id":1,"session_id":7})");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].dump(), R"({"session_id":7,"sender_id":1,"content":"hello"})");
  EXPECT_EQ(server.getJson("/chat/messages?session=7")["messages"].size(), 0) << "nothing kept by msw";
}

TEST_F(ChatHooks, AFailingHookTellsTheSenderAndBroadcastsNothing) {
  auto u = chatter(port, "1", "8");
  auto peer = chatter(port, "2", "8");
  for (const char* content : {"fail", "deny", "noid"}) {
    std::time_t now = std::time(nullptr);
    ASSERT_TRUE(pollUntil([&] { return std::time(nullptr) > now; }, 2000));  // the 1 s rule
    u->say("8", content);
    Msg m = u->type("error");
    EXPECT_EQ(m.raw, std::string(R"({"type":"error","error":")") +
                         (std::string(content) == "deny" ? "无权限访问该会话" : "服务器繁忙，请稍后再试") + "\"}")
        << content;
  }
  EXPECT_TRUE(peer->pingPong());
  EXPECT_EQ(peer->kept("new_message"), 0);
  EXPECT_EQ(u->kept("new_message"), 0);
  EXPECT_TRUE(server.proc.waitLog("chat: hook chat.message: HTTP 500"));
  auto down = chatter(port, "1");
  down->ws.sendText(R"({"type":"join_session","session_id":666})");  // the backend answers 500
  EXPECT_EQ(down->next().raw, R"({"type":"error","error":"服务器繁忙，请稍后再试"})");
}

}  // namespace
}  // namespace msw::chattest
