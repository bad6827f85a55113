// tests/integration/endpoints_test.cpp: [endpoint.NAME] against the real
// server (docs/endpoints.md): each routing mode, each envelope, each auth
// mode, ack before the reply, onOpen before everything else, binary both
// ways, a second port, per-endpoint limits and figures, and a reload.
#include <fstream>
#include <string>

#include "tests/integration/it_support.h"

namespace msw::it {
namespace {

int gExtraPort = 0;

class Endpoints : public SharedServerTest<Endpoints> {
 public:
  static void configure(TestServer& s) {
    do gExtraPort = msw::test::freePort();
    while (gExtraPort == s.port || gExtraPort == s.managerPort);
    std::string extra = std::to_string(gExtraPort);
    s.ini.set("endpoint.live", "path", "/live").set("endpoint.live", "ack", "receiveMessage");
    s.ini.set("endpoint.live", "flavor", "mswoole");
    s.ini.set("endpoint.chat", "path", "/chat").set("endpoint.chat", "port", extra);
    s.ini.set("endpoint.chat", "route", "type").set("endpoint.chat", "controller", "testmod.chat");
    s.ini.set("endpoint.chat", "envelope", "flat").set("endpoint.chat", "auth", "none");
    s.ini.set("endpoint.chat", "flavor", "workerman");
    s.ini.set("endpoint.typed", "path", "/typed").set("endpoint.typed", "route", "type");
    s.ini.set("endpoint.typed", "controller", "testmod.chat").set("endpoint.typed", "auth", "optional");
    s.ini.set("endpoint.typed", "auth_param", "token");
    s.ini.set("endpoint.raw", "path", "/raw").set("endpoint.raw", "route", "raw");
    s.ini.set("endpoint.raw", "controller", "index.raw").set("endpoint.raw", "auth", "none");
    s.ini.set("endpoint.raw", "max_message_size", "64k");
    s.ini.set("endpoint.frames", "path", "/frames").set("endpoint.frames", "port", extra);
    s.ini.set("endpoint.frames", "route", "raw").set("endpoint.frames", "controller", "testmod.frames");
    s.ini.set("endpoint.frames", "auth", "none");
    s.ini.set("endpoint.limited", "path", "/limited").set("endpoint.limited", "rate_limit", "1");
    s.ini.set("endpoint.limited", "rate_burst", "2");
    s.ini.set("endpoint.quiet", "path", "/quiet").set("endpoint.quiet", "heartbeat", "none");
    s.ini.set("endpoint.rawbeat", "path", "/rawbeat").set("endpoint.rawbeat", "route", "raw");
    s.ini.set("endpoint.rawbeat", "controller", "index.raw").set("endpoint.rawbeat", "auth", "none");
    s.ini.set("endpoint.rawbeat", "heartbeat", "text");
  }
  static WsClient at(int port, const std::string& path) {
    WsClient c;
    EXPECT_TRUE(c.connect("127.0.0.1", port, path)) << path << ": " << c.error() << " " << c.response().status;
    return c;
  }
  static std::string token() { return server().userToken(); }
};

TEST_F(Endpoints, TheDefaultEndpointIsUnchanged) {
  WsClient c = at(server().port, "/anything?auth=" + token());
  Msg m = request(c, R"({"method":"ping","rid":7})");
  EXPECT_EQ(m.event(), "pong") << m;
  EXPECT_EQ(m.rid().i64(), 7);
  c.sendText("2");
  EXPECT_EQ(c.recvMessage(), "3");
  WsClient none;
  EXPECT_FALSE(none.connect("127.0.0.1", server().port, "/anything"));
  EXPECT_EQ(none.response().status, 403);
}

TEST_F(Endpoints, MethodEndpointSendsTheAckBeforeTheReplyButNotForTheHeartbeat) {
  WsClient c = at(server().port, "/live?auth=" + token());
  ASSERT_TRUE(c.sendText(R"({"method":"testmod.test.whoami","rid":"r1"})"));
  Msg ack = recvMsg(c);
  EXPECT_EQ(ack.status(), 200) << ack;
  EXPECT_EQ(ack.event(), "receiveMessage") << ack;
  Msg reply = recvMsg(c);
  EXPECT_EQ(reply.event(), "whoami") << reply;
  EXPECT_EQ(reply.rid().str(), "r1");
  c.sendText("2");
  EXPECT_EQ(c.recvMessage(), "3") << "no ack before the heartbeat's answer";
}

TEST_F(Endpoints, TokenAuthIsRequiredOnAMethodEndpoint) {
  WsClient c;
  EXPECT_FALSE(c.connect("127.0.0.1", server().port, "/live"));
  EXPECT_EQ(c.response().status, 403);
}

TEST_F(Endpoints, TypeFlatEndpointOnItsOwnPortGreetsFirstThenRoutesByType) {
  WsClient c = at(gExtraPort, "/chat");  // auth = none: no token
  Msg hello = recvMsg(c);
  EXPECT_EQ(hello.root["type"].str(), "connected") << hello;
  EXPECT_EQ(hello.root["endpoint"].str(), "chat") << hello;
  EXPECT_EQ(hello.root["flavor"].str(), "workerman") << hello;
  Msg said = request(c, R"({"type":"say","text":"<b>hi</b>","rid":1})");
  EXPECT_EQ(said.root["type"].str(), "said") << said;
  EXPECT_EQ(said.root["text"].str(), "&lt;b&gt;hi&lt;/b&gt;") << said;
  EXPECT_EQ(said.root["rid"].i64(), 1) << "a flat protocol's fields are its own";
  EXPECT_FALSE(said.has("status")) << said;
  Msg where = request(c, R"({"type":"Where"})");
  EXPECT_EQ(where.root["method"].str(), "testmod.chat.where") << where;
  // A reply given later (Request::later()) keeps the endpoint's envelope.
  Msg later = request(c, R"({"type":"saylater","text":"x"})");
  EXPECT_EQ(later.root["type"].str(), "said") << later;
  EXPECT_EQ(later.root["text"].str(), "x") << later;
  EXPECT_FALSE(later.has("status")) << later;
}

TEST_F(Endpoints, TypeFlatEndpointAnswersBadInputWithFlatErrorsAndCarriesOn) {
  WsClient c = at(gExtraPort, "/chat");
  WsClient other = at(gExtraPort, "/chat");
  recvMsg(c);
  recvMsg(other);
  auto expectError = [&](Msg m, int status) {
    EXPECT_EQ(m.root["type"].str(), "error") << m;
    EXPECT_EQ(m.status(), status) << m;
    EXPECT_TRUE(m.root["error"].isString()) << m;
  };
  expectError(request(c, R"({"text":"no type"})"), 400);
  expectError(request(c, R"([1,2])"), 400);
  // docs/protocol.md's strict reading holds on type endpoints too.
  expectError(request(c, R"({"type":"say","type":"boom"})"), 400);
  expectError(request(c, R"({"type":"say"} {"type":"boom"})"), 400);
  expectError(request(c, R"({"type":"nosuch"})"), 405);
  expectError(request(c, R"({"type":"boom"})"), 500);
  c.sendBinary("\x01\x02");
  expectError(recvMsg(c), 400);
  EXPECT_EQ(request(c, R"({"type":"say"})").root["type"].str(), "said");
  EXPECT_EQ(request(other, R"({"type":"say"})").root["type"].str(), "said");
  EXPECT_TRUE(server().proc.waitLog(": 400 badRequest (endpoint chat)"));
}

TEST_F(Endpoints, TypeEndpointWithMswEnvelopeAndOptionalAuthUnderItsOwnParameter) {
  WsClient anon = at(server().port, "/typed");
  EXPECT_EQ(recvMsg(anon).event(), "connected");
  Msg m = request(anon, R"({"type":"where"})");
  EXPECT_EQ(m.status(), 200) << m;
  EXPECT_EQ(m.param()["endpoint"].str(), "typed") << m;
  EXPECT_EQ(request(anon, R"({"kind":"where"})").status(), 400);
  EXPECT_EQ(request(anon, R"({"type":"where","rid":1.5})").status(), 400) << "an msw envelope's rid is checked";

  WsClient named = at(server().port, "/typed?token=" + token());
  EXPECT_EQ(recvMsg(named).event(), "connected");
  WsClient bad;
  EXPECT_FALSE(bad.connect("127.0.0.1", server().port, "/typed?token=garbage"));
  EXPECT_EQ(bad.response().status, 403);
}

TEST_F(Endpoints, RawEndpointEchoesTextAsTextAndBinaryAsBinaryUntouched) {
  WsClient c = at(server().port, "/raw");
  for (std::string text : {std::string("hello"), std::string("2"), std::string("{not json"), std::string("<b>")}) {
    ASSERT_TRUE(c.sendText(text));
    auto f = c.recvFrame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, msw::test::kOpText);
    EXPECT_EQ(f->payload, text);
  }
  std::string bytes("\x00\x01\xfe\xff", 4);
  ASSERT_TRUE(c.sendBinary(bytes));
  auto f = c.recvFrame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, msw::test::kOpBinary);
  EXPECT_EQ(f->payload, bytes);
}

TEST_F(Endpoints, RawHandlerOnTheSecondPortGetsBinaryAndSendsBinary) {
  WsClient c = at(gExtraPort, "/frames");
  ASSERT_TRUE(c.sendBinary(std::string("\x01\x02\x03", 3)));
  EXPECT_EQ(c.recvMessage(), "len:3 bin:1");
  auto f = c.recvFrame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, msw::test::kOpBinary);
  EXPECT_EQ(f->payload, std::string("\x03\x02\x01", 3));
}

TEST_F(Endpoints, APathNoEndpointServesOnTheSecondPortIsRefused404) {
  WsClient c;
  EXPECT_FALSE(c.connect("127.0.0.1", gExtraPort, "/nothing"));
  EXPECT_EQ(c.response().status, 404);
}

TEST_F(Endpoints, RawEndpointClosesAFrameOverItsLimitWith1009AndOthersCarryOn) {
  WsClient big = at(server().port, "/raw");
  WsClient other = at(server().port, "/raw");
  big.sendBinary(std::string(size_t{64} << 20, 'x'));  // 64 MB; the server may close before it is all sent
  EXPECT_EQ(big.waitClose(20000), 1009);
  ASSERT_TRUE(other.sendText("still here"));
  EXPECT_EQ(other.recvMessage(), "still here");
  EXPECT_TRUE(server().proc.waitLog("message over 65536 bytes: closing 1009"));
}

TEST_F(Endpoints, PerEndpointRateLimitLeavesTheDefaultEndpointAlone) {
  WsClient limited = at(server().port, "/limited?auth=" + token());
  int refused = 0;
  for (int i = 0; i < 4; ++i) refused += request(limited, R"({"method":"ping"})").status() == 429;
  EXPECT_GE(refused, 1);
  WsClient free = at(server().port, "/ws?auth=" + token());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(request(free, R"({"method":"ping"})").event(), "pong");
}

TEST_F(Endpoints, HeartbeatNoneMakesTwoAnOrdinaryMessage) {
  WsClient c = at(server().port, "/quiet?auth=" + token());
  EXPECT_EQ(request(c, "2").status(), 400);
}

TEST_F(Endpoints, ARawEndpointWithTextHeartbeatAnswersTwoWithThreeAndEchoesTheRest) {
  WsClient c = at(server().port, "/rawbeat");
  c.sendText("2");
  EXPECT_EQ(c.recvMessage(), "3");
  c.sendText("22");
  EXPECT_EQ(c.recvMessage(), "22");
}

TEST_F(Endpoints, StatusMetricsAndConsoleCountPerEndpoint) {
  WsClient c = at(gExtraPort, "/chat");
  recvMsg(c);
  request(c, R"({"type":"say"})");
  Json st = server().status();
  bool found = false;
  for (JsonRef e : st["endpoints"]) {
    if (e["name"].str() != "chat") continue;
    found = true;
    EXPECT_GE(e["connections"].i64(), 1);
    EXPECT_GE(e["messages_in"].i64(), 1);
    EXPECT_EQ(e["port"].i64(), gExtraPort);
  }
  EXPECT_TRUE(found) << st.dump();
  EXPECT_EQ(st["endpoints"].at(0)["name"].str(), "default");
  EXPECT_GE(metricValue(server().metrics(), "msw_endpoint_connections{endpoint=\"chat\"}"), 1);
  ConsoleResult r = runConsole(server().consoleArgs("status"), &server().proc);
  EXPECT_EQ(r.exitCode, 0) << r;
  EXPECT_NE(r.out.find("/frames"), std::string::npos) << r;
}

// Last: it changes the shared server's settings.
TEST_F(Endpoints, ZReloadChangesAnEndpointsAckAndKeepsItsPath) {
  server().ini.set("endpoint.live", "ack", "gotIt").set("endpoint.live", "path", "/moved");
  std::ofstream(server().configPath(), std::ios::trunc) << server().ini.str();
  ConsoleResult r = runConsole(server().consoleArgs("reload"), &server().proc);
  EXPECT_EQ(r.exitCode, 0) << r;
  WsClient c = at(server().port, "/live?auth=" + token());
  ASSERT_TRUE(c.sendText(R"({"method":"ping"})"));
  EXPECT_EQ(recvMsg(c).event(), "gotIt");
  EXPECT_EQ(recvMsg(c).event(), "pong");
  EXPECT_TRUE(server().proc.waitLog("need a restart"));
}

// The default endpoint's own ack, flavor and heartbeat, from [outside].
class OutsideEndpoint : public SharedServerTest<OutsideEndpoint> {
 public:
  static void configure(TestServer& s) {
    s.ini.set("outside", "ack", "receiveMessage").set("outside", "flavor", "mswoole");
    s.ini.set("outside", "heartbeat", "none");
  }
};

TEST_F(OutsideEndpoint, AckFlavorAndHeartbeatApplyToTheDefaultEndpoint) {
  WsClient c = client();
  ASSERT_TRUE(c.sendText(R"({"method":"testmod.chat.where"})"));
  EXPECT_EQ(recvMsg(c).event(), "receiveMessage");
  Msg where = recvMsg(c);
  EXPECT_EQ(where.param()["endpoint"].str(), "default") << where;
  EXPECT_EQ(where.param()["flavor"].str(), "mswoole") << where;
  ASSERT_TRUE(c.sendText("2"));
  EXPECT_EQ(recvMsg(c).status(), 400) << "heartbeat = none: 2 is an ordinary (bad) message";
}

}  // namespace
}  // namespace msw::it
