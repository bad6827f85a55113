// tests/integration/messages_test.cpp: docs/protocol.md#messages against the real server: the
// status table, routing, rid, data and HTML escaping, heartbeats, and what a
// connection does with frames it cannot take (binary, invalid UTF-8, too large).
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/integration/it_support.h"

namespace msw::it {
namespace {

using msw::test::kOpPong;
using msw::test::kOpText;

// index + testmod, max_message_size 1024, no rate limit.
class Messages : public SharedServerTest<Messages> {
 public:
  static void configure(TestServer& s) {
    s.ini.set("outside", "max_message_size", "1024").set("outside", "static_dir", "www");
  }
};

// ---------------------------------------------------------------- the status table

TEST_F(Messages, Status200CarriesTheEventTheActionSet) {
  WsClient c = client();
  Msg m = request(c, R"({"method":"ping"})");
  EXPECT_EQ(m.status(), 200) << m;
  EXPECT_EQ(m.event(), "pong") << m;
  EXPECT_EQ(m.info(), "pong") << m;
  EXPECT_FALSE(m.has("param")) << "param is left out when empty: " << m;
  EXPECT_FALSE(m.has("rid")) << "no rid without one in the request: " << m;
}

TEST_F(Messages, EveryReplyIsTheEnvelope) {
  WsClient c = client();
  Msg m = request(c, R"({"method":"echo","x":1})");
  ASSERT_TRUE(m.root.isObject()) << m;
  EXPECT_TRUE(m.root["status"].isNumber());
  EXPECT_TRUE(m.root["event"].isString());
  EXPECT_TRUE(m.root["info"].isString());
  // Field order of docs/protocol.md#messages.
  EXPECT_EQ(m.raw.rfind(R"({"status":200,"event":"echo","info":"","param":)", 0), 0u) << m;
}

TEST_F(Messages, Status400ForTextThatIsNotJson) {
  WsClient c = client();
  for (const char* text : {"hello", "{bad json", "{\"method\":\"ping\"", "", " ", "3", "{'method':'ping'}"}) {
    Msg m = request(c, text);
    EXPECT_EQ(m.status(), 400) << "'" << text << "' -> " << m;
    EXPECT_EQ(m.event(), "badRequest") << m;
  }
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong") << "the connection carries on";
}

TEST_F(Messages, Status400ForJsonThatIsNotAnObject) {
  WsClient c = client();
  for (const char* text : {"[1,2]", R"([{"method":"ping"}])", "\"ping\"", "42", "null", "true", "[]"}) {
    Msg m = request(c, text);
    EXPECT_EQ(m.status(), 400) << text << " -> " << m;
    EXPECT_EQ(m.event(), "badRequest") << m;
  }
}

TEST_F(Messages, Status400ForAMethodOutsideTheGrammar) {
  WsClient c = client();
  for (const char* method :
       {R"("a-b")", R"("index.index.ping!")", R"("a b")", R"("a.b.c.d")", R"("index.index.index.index")", R"("")",
        R"(".ping")", R"("ping.")", R"("index..ping")", R"("pïng")", R"(5)", R"(true)", R"(["ping"])",
        R"({"m":"ping"})", R"(1.5)"}) {
    Msg m = request(c, std::string(R"({"rid":"r1","method":)") + method + "}");
    EXPECT_EQ(m.status(), 400) << method << " -> " << m;
    EXPECT_EQ(m.event(), "badRequest") << method << " -> " << m;
    EXPECT_EQ(m.rid().str(), "r1") << "a 400 for a bad method still carries the rid: " << m;
  }
  Msg m = request(c, R"({"method":"index.index.)" + std::string(100, 'p') + "\"}");
  EXPECT_EQ(m.status(), 400) << "an over-long segment: " << m;
}

TEST_F(Messages, Status404ForAnUnknownModuleOrController) {
  WsClient c = client();
  for (const char* method : {"nosuch.index.index", "nosuch.ping", "testmod.nosuch.x", "index.nosuch.ping"}) {
    Msg m = request(c, std::string(R"({"rid":9,"method":")") + method + "\"}");
    EXPECT_EQ(m.status(), 404) << method << " -> " << m;
    EXPECT_EQ(m.event(), "controllerNotFound") << method << " -> " << m;
    EXPECT_EQ(m.rid().i64(), 9) << m;
  }
}

TEST_F(Messages, Status405ForAnUnknownAction) {
  WsClient c = client();
  for (const char* method : {"nosuch", "index.nosuch", "index.index.nosuch", "testmod.test.nosuch"}) {
    Msg m = request(c, std::string(R"({"method":")") + method + "\"}");
    EXPECT_EQ(m.status(), 405) << method << " -> " << m;
    EXPECT_EQ(m.event(), "methodNotFound") << method << " -> " << m;
  }
}

TEST_F(Messages, OnMessageTakesEveryActionOfItsController) {
  WsClient c = client();
  Msg m = request(c, R"({"method":"testmod.any.whatever","rid":1})");
  EXPECT_EQ(m.status(), 200) << m;
  EXPECT_EQ(m.event(), "anyMessage") << m;
  EXPECT_EQ(m.info(), "testmod.any.whatever") << m;
  EXPECT_EQ(m.rid().i64(), 1) << m;
  m = request(c, R"({"method":"TestMod.ANY.Other_1"})");
  EXPECT_EQ(m.info(), "testmod.any.other_1") << "the method an action sees is normalised: " << m;
}

TEST_F(Messages, Status403IsTheActionsRefusal) {
  WsClient c = client();
  Msg m = request(c, R"({"method":"testmod.test.deny","rid":"d"})");
  EXPECT_EQ(m.status(), 403) << m;
  EXPECT_EQ(m.event(), "denied") << m;
  EXPECT_EQ(m.rid().str(), "d") << m;
}

TEST_F(Messages, Status500WhenTheActionThrowsAndEveryoneCarriesOn) {
  WsClient a = client("a");
  WsClient b = client("b");
  for (const char* method : {"testmod.test.boom", "testmod.test.boomint"}) {
    Msg m = request(a, std::string(R"({"method":")") + method + R"(","rid":77})");
    EXPECT_EQ(m.status(), 500) << method << " -> " << m;
    EXPECT_EQ(m.event(), "controllerError") << m;
    EXPECT_EQ(m.rid().i64(), 77) << m;
    EXPECT_EQ(m.info().find("boom on purpose"), std::string::npos) << "the exception text stays in the log: " << m;
    // Another connection, and this one, keep working.
    EXPECT_EQ(request(b, R"({"method":"ping"})").event(), "pong");
    EXPECT_EQ(request(a, R"({"method":"ping"})").event(), "pong");
  }
  EXPECT_TRUE(server().proc.waitLog("boom on purpose")) << "the exception is logged";
  // Both at once: the throwing one does not disturb the other's replies.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(a.sendText(R"({"method":"testmod.test.boom"})"));
    ASSERT_TRUE(b.sendText(R"({"method":"echo","i":)" + std::to_string(i) + "}"));
  }
  for (int i = 0; i < 20; ++i) {
    Msg ma = recvMsg(a);
    Msg mb = recvMsg(b);
    EXPECT_EQ(ma.status(), 500) << ma;
    EXPECT_EQ(mb.status(), 200) << mb;
    EXPECT_EQ(mb.param()["i"].i64(-1), i) << mb;
  }
}

// The answer to a message over max_message_size: status 413, then close 1009.
void expectTooLargeThenClose(WsClient& c) {
  Msg m = recvMsg(c);
  EXPECT_EQ(m.status(), 413) << m;
  EXPECT_EQ(m.event(), "messageTooLarge") << m;
  EXPECT_EQ(c.waitClose(), 1009);
}

TEST_F(Messages, Status413ThenClose1009ForAFrameOverTheLimit) {
  WsClient c = client();
  std::string big = R"({"method":"echo","pad":")" + std::string(2000, 'p') + "\"}";
  ASSERT_TRUE(c.sendText(big));
  expectTooLargeThenClose(c);
}

TEST_F(Messages, Status413ThenClose1009ForFragmentsOverTheLimitTogether) {
  WsClient c = client();
  // 12 fragments of 100 bytes: each is small, together they cross 1024; the
  // final fragment is never sent, the server must not wait for it.
  std::string piece(100, 'f');
  ASSERT_TRUE(c.sendFrame(kOpText, R"({"method":"echo","pad":")" + std::string(76, 'f'), false));
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(c.sendFrame(msw::test::kOpContinuation, piece, false));
  expectTooLargeThenClose(c);
}

TEST_F(Messages, MessagesUpToTheLimitPassWholeOrFragmented) {
  WsClient c = client();
  std::string head = R"({"method":"echo","pad":")";
  std::string text = head + std::string(1024 - head.size() - 2, 'k') + "\"}";
  ASSERT_EQ(text.size(), 1024u);
  Msg m = request(c, text);
  EXPECT_EQ(m.status(), 200) << m;
  EXPECT_EQ(m.param()["pad"].str().size(), 1024 - head.size() - 2);
  // The same 1024 bytes in 8 fragments.
  for (size_t off = 0; off < text.size(); off += 128)
    ASSERT_TRUE(c.sendFrame(off == 0 ? kOpText : msw::test::kOpContinuation, text.substr(off, 128),
                            off + 128 >= text.size()));
  m = recvMsg(c);
  EXPECT_EQ(m.status(), 200) << m;
  EXPECT_EQ(m.event(), "echo") << m;
  // A fragmented message interleaved with a ping (control frames may come between fragments).
  ASSERT_TRUE(c.sendFrame(kOpText, R"({"method":"ec)", false));
  ASSERT_TRUE(c.sendPing("mid"));
  ASSERT_TRUE(c.sendFrame(msw::test::kOpContinuation, R"(ho","z":1})", true));
  m = recvMsg(c);
  EXPECT_EQ(m.event(), "echo") << m;
  EXPECT_EQ(m.param()["z"].i64(), 1) << m;
}

// ---------------------------------------------------------------- routing

// `method` reaches the action that answers `event`; testmod's whoami also
// sees the canonical (lower-case) name.
void expectRouted(WsClient& c, const std::string& method, const std::string& event) {
  Msg m = request(c, R"({"method":")" + method + R"("})");
  EXPECT_EQ(m.event(), event) << method << ": " << m;
  if (event == "whoami") {
    EXPECT_EQ(m.param()["method"].str(), "testmod.test.whoami") << m;
  }
}

TEST_F(Messages, OneTwoAndThreeSegmentMethods) {
  WsClient c = client();
  for (const char* method : {"ping", "index.ping", "index.index.ping"}) expectRouted(c, method, "pong");
  expectRouted(c, "testmod.test.whoami", "whoami");
}

TEST_F(Messages, MethodsAreCaseInsensitive) {
  WsClient c = client();
  expectRouted(c, "PING", "pong");
  expectRouted(c, "Index.PiNg", "pong");
  expectRouted(c, "INDEX.INDEX.ECHO", "echo");
  expectRouted(c, "TestMod.TEST.WhoAmI", "whoami");
}

TEST_F(Messages, NoMethodIsIndexIndexIndex) {
  WsClient c = client();
  Msg m = request(c, "{}");
  EXPECT_EQ(m.status(), 200) << m;
  EXPECT_EQ(m.event(), "success") << m;
  m = request(c, R"({"rid":5,"x":"y"})");
  EXPECT_EQ(m.event(), "success") << m;
  EXPECT_EQ(m.rid().i64(), 5) << m;
}

TEST_F(Messages, RidIsCopiedIntoTheDirectReply) {
  WsClient c = client();
  Msg m = request(c, R"({"method":"ping","rid":12345})");
  EXPECT_TRUE(m.rid().isNumber()) << m;
  EXPECT_EQ(m.rid().i64(), 12345) << m;
  m = request(c, R"({"method":"ping","rid":"abc-1"})");
  EXPECT_TRUE(m.rid().isString()) << m;
  EXPECT_EQ(m.rid().str(), "abc-1") << m;
  m = request(c, R"({"rid":"<x>","method":"ping"})");
  EXPECT_EQ(m.rid().str(), "<x>") << "rid is not data: not HTML-escaped: " << m;
  m = request(c, R"({"method":"ping"})");
  EXPECT_FALSE(m.has("rid")) << m;
  m = request(c, R"({"method":"nosuch.x.y","rid":0})");
  EXPECT_TRUE(m.has("rid")) << "rid 0 is a rid: " << m;
  EXPECT_EQ(m.rid().i64(-1), 0) << m;
}

// docs/protocol.md "Messages": what a strict reading refuses, and what it keeps exactly.
TEST_F(Messages, TrailingDataIs400) {
  WsClient c = client();
  for (const char* t : {R"({"method":"index.index.ping"} xyz)", R"({"method":"ping"}{"method":"ping"})",
                        R"({"method":"ping"},)"}) {
    Msg m = request(c, t);
    EXPECT_EQ(m.status(), 400) << t << " -> " << m;
    EXPECT_EQ(m.event(), "badRequest") << m;
  }
  EXPECT_EQ(request(c, " {\"method\":\"ping\"} \n").event(), "pong") << "white space around is fine";
}

TEST_F(Messages, AKeyTwiceIs400) {
  WsClient c = client();
  for (const char* t : {R"({"method":"ping","method":"echo"})", R"({"method":"echo","a":1,"a":2})",
                        R"({"method":"ping","m\u0065thod":"echo"})"}) {
    Msg m = request(c, t);
    EXPECT_EQ(m.status(), 400) << t << " -> " << m;
  }
}

TEST_F(Messages, ANulInTheMethodIs400) {
  WsClient c = client();
  for (const char* t : {R"({"method":"index.index.ping\u0000x"})", R"({"method":"index\u0000.x.y"})"}) {
    Msg m = request(c, t);
    EXPECT_EQ(m.status(), 400) << t << " -> " << m;
  }
  ASSERT_TRUE(c.sendText(std::string("{\"method\":\"ping\0x\"}", 19)));
  EXPECT_EQ(recvMsg(c).status(), 400) << "a raw NUL byte";
}

TEST_F(Messages, RidComesBackExactlyAsSent) {
  WsClient c = client();
  for (const char* rid : {"9007199254740992", "-9007199254740992", "0", "-0", R"("\u00e9t\u00e9")", R"("")"}) {
    Msg m = request(c, std::string(R"({"method":"ping","rid":)") + rid + "}");
    EXPECT_EQ(m.status(), 200) << rid << " -> " << m;
    EXPECT_NE(m.raw.find(std::string("\"rid\":") + rid + "}"), std::string::npos) << rid << " -> " << m;
  }
}

TEST_F(Messages, ARidThatCannotComeBackExactlyIs400) {
  WsClient c = client();
  for (const char* rid : {"9007199254740993", "12345678901234567890", "1e400", "1.5", "true", "null", "[1]",
                          R"({"a":1})"}) {
    Msg m = request(c, std::string(R"({"method":"ping","rid":)") + rid + "}");
    EXPECT_EQ(m.status(), 400) << rid << " -> " << m;
    EXPECT_FALSE(m.has("rid")) << m;
  }
  EXPECT_EQ(request(c, R"({"method":"ping","rid":1})").event(), "pong");
}

TEST_F(Messages, RepliesComeInRequestOrder) {
  WsClient c = client();
  std::string batch;
  for (int i = 0; i < 100; ++i)
    batch += msw::test::encodeFrame(kOpText, R"({"method":"echo","rid":)" + std::to_string(i) + "}", true, true,
                                    0x12345678u + static_cast<uint32_t>(i));
  ASSERT_TRUE(c.sendRawBytes(batch));  // all in one write
  for (int i = 0; i < 100; ++i) {
    Msg m = recvMsg(c);
    ASSERT_EQ(m.rid().i64(-1), i) << m;
  }
}

TEST_F(Messages, EchoReturnsTheDataWithoutMethodAndRid) {
  WsClient c = client();
  Msg m = request(c, R"({"method":"echo","rid":3,"a":1,"b":"x","c":[1,{"d":null}],"e":{"f":false}})");
  EXPECT_EQ(m.status(), 200) << m;
  EXPECT_EQ(m.param().dump(), R"({"a":1,"b":"x","c":[1,{"d":null}],"e":{"f":false}})") << m;
  EXPECT_EQ(m.rid().i64(), 3) << m;
}

TEST_F(Messages, NumbersOutsideTheInt64RangeComeBackAsValidJson) {
  WsClient c = client();
  Msg m = request(c, R"({"method":"echo","big":1e300,"neg":-1.5e200,"max":1.7976931348623157e308,"rid":20})");
  ASSERT_TRUE(m.root.isObject()) << "not JSON: " << m;
  EXPECT_EQ(m.param()["big"].num(), 1e300) << m;
  EXPECT_EQ(m.param()["neg"].num(), -1.5e200) << m;
  EXPECT_EQ(m.param()["max"].num(), 1.7976931348623157e308) << m;
  EXPECT_EQ(m.rid().num(), 20) << m;
  // Beyond double: cJSON reads infinity; whatever the answer, it must be JSON.
  m = request(c, R"({"method":"echo","inf":1e400,"ninf":-1e400})");
  ASSERT_TRUE(m.received) << c.error();
  EXPECT_TRUE(m.root.isObject()) << "not JSON: " << m;
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
}

TEST_F(Messages, ActionsSeeTheTokenFieldsAndTheData) {
  WsClient c;
  ASSERT_TRUE(server().connect(
      c, mint(userJson("user-7", "room-x", "wall", "Wally", unixNow(), R"("avatar":"a.png","level":3)"))))
      << c.error();
  Msg m = request(c, R"({"method":"testmod.test.whoami","rid":1,"q":"v"})");
  ASSERT_EQ(m.status(), 200) << m;
  JsonRef p = m.param();
  EXPECT_GT(p["fd"].num(), 0) << m;
  EXPECT_EQ(p["id"].str(), "user-7");
  EXPECT_EQ(p["type"].str(), "wall");
  EXPECT_EQ(p["code"].str(), "room-x");
  EXPECT_EQ(p["nickname"].str(), "Wally");
  Json auth = Json::parse(p["auth"].str());
  EXPECT_EQ(auth["avatar"].str(), "a.png") << "other token fields are kept";
  EXPECT_EQ(auth["level"].i64(), 3);
  EXPECT_EQ(p["data"].dump(), R"({"q":"v"})") << "the data lacks method and rid";
}

TEST_F(Messages, StringValuesAreHtmlEscapedBeforeTheActionSeesThem) {
  WsClient c = client();
  Msg m = request(
      c, R"({"method":"echo","t":"<script>alert('x')&\"</script>","n":{"deep":["<i>",5]},"<k>":"v","u":"caf\u00e9 <"})");
  ASSERT_EQ(m.status(), 200) << m;
  EXPECT_EQ(m.param()["t"].str(), "&lt;script&gt;alert(&#039;x&#039;)&amp;&quot;&lt;/script&gt;") << m;
  EXPECT_EQ(m.param()["n"]["deep"].at(0).str(), "&lt;i&gt;") << m;
  EXPECT_EQ(m.param()["n"]["deep"].at(1).i64(), 5) << m;
  EXPECT_EQ(m.param()["<k>"].str(), "v") << "keys are not escaped: " << m;
  EXPECT_EQ(m.param()["u"].str(), "caf\xc3\xa9 &lt;") << m;
}

TEST_F(Messages, ConnectionIdsAreDistinctAndNeverReused) {
  std::set<double> seen;
  for (int i = 0; i < 10; ++i) {
    WsClient c = client();
    Msg m = request(c, R"({"method":"testmod.test.whoami"})");
    double fd = m.param()["fd"].num();
    ASSERT_GT(fd, 0) << m;
    EXPECT_TRUE(seen.insert(fd).second) << "fd " << fd << " reused";
    c.sendClose(1000);
    EXPECT_EQ(c.waitClose(), 1000);
  }
}

// ---------------------------------------------------------------- heartbeats and frames

TEST_F(Messages, TextTwoIsAnsweredWithThree) {
  WsClient c = client();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.sendText("2"));
    std::optional<std::string> reply = c.recvMessage();
    ASSERT_TRUE(reply) << c.error();
    EXPECT_EQ(*reply, "3");
  }
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
}

TEST_F(Messages, PingIsAnsweredWithAPongCarryingItsPayload) {
  WsClient c = client();
  for (std::string payload : {std::string("hello-123"), std::string(), std::string(125, 'x')}) {
    ASSERT_TRUE(c.sendPing(payload));
    std::optional<msw::test::WsFrame> f = c.recvFrame();
    ASSERT_TRUE(f) << c.error();
    EXPECT_EQ(f->opcode, kOpPong);
    EXPECT_EQ(f->payload, payload);
    EXPECT_FALSE(f->masked) << "server frames are never masked";
  }
}

TEST_F(Messages, ABinaryFrameGetsBadRequestAndTheConnectionCarriesOn) {
  WsClient c = client();
  ASSERT_TRUE(c.sendBinary(R"({"method":"ping"})"));
  Msg m = recvMsg(c);
  EXPECT_EQ(m.status(), 400) << m;
  EXPECT_EQ(m.event(), "badRequest") << m;
  // A fragmented binary message too.
  ASSERT_TRUE(c.sendFrame(msw::test::kOpBinary, "{\"method\":", false));
  ASSERT_TRUE(c.sendFrame(msw::test::kOpContinuation, "\"ping\"}", true));
  m = recvMsg(c);
  EXPECT_EQ(m.status(), 400) << m;
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong") << "the next text message is not taken for binary";
}

TEST_F(Messages, InvalidUtf8TextIsClosedWith1007) {
  WsClient c = client();
  ASSERT_TRUE(c.sendText("{\"method\":\"echo\",\"t\":\"\xff\xfe\"}"));
  EXPECT_EQ(c.waitClose(), 1007);
  WsClient other = client();
  EXPECT_EQ(request(other, R"({"method":"ping"})").event(), "pong");
}

TEST_F(Messages, AnUnmaskedClientFrameEndsTheConnection) {
  // RFC 6455 §5.1: "a server MUST close the connection upon receiving a frame
  // that is not masked". lws 4.1.6 unmasks without checking and has no option
  // for it, so the framework cannot see it; documented in docs/protocol.md#limits-and-close-codes.
  GTEST_SKIP() << "KNOWN (lws 4.1.6): an unmasked client frame is accepted and answered";
  WsClient c = client();
  ASSERT_TRUE(c.sendFrame(kOpText, R"({"method":"ping"})", true, /*mask=*/false));
  std::optional<std::string> m = c.recvMessage(3000);
  EXPECT_FALSE(m) << "an unmasked frame was answered: " << *m;
  EXPECT_FALSE(c.timedOut()) << "the connection should end (RFC 6455 §5.1)";
}

TEST_F(Messages, AClientCloseIsEchoed) {
  WsClient c = client();
  ASSERT_TRUE(c.sendClose(1000, "bye"));
  EXPECT_EQ(c.waitClose(), 1000);
}

TEST_F(Messages, AnActionCanCloseItsCallerAfterItsReply) {
  WsClient c = client();
  Msg m = request(c, R"({"method":"testmod.test.bye","code":4010})");
  EXPECT_EQ(m.event(), "bye") << "what was queued goes out before the close: " << m;
  EXPECT_EQ(c.waitClose(), 4010);
  EXPECT_EQ(c.closeReason(), "bye");
}

// ---------------------------------------------------------------- permessage-deflate (RFC 7692)

constexpr const char* kDeflateOffer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";

// One message compressed as RFC 7692 §7.2.1 sends it: raw DEFLATE, flushed,
// without the final 00 00 FF FF.
std::string deflateMessage(std::string_view text) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, text.size()) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  EXPECT_EQ(z.avail_in, 0u);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  EXPECT_EQ(out.substr(out.size() - 4), std::string("\0\0\xff\xff", 4));
  out.resize(out.size() - 4);
  return out;
}

// RSV1 marks a compressed message (RFC 7692 §6); encodeFrame takes it as opcode bit 6.
constexpr int kRsv1 = 0x40;

class Deflate : public SharedServerTest<Deflate> {
 public:
  static void configure(TestServer& s) {
    s.ini.set("outside", "permessage_deflate", "true").set("outside", "max_message_size", "1024");
  }
};

TEST_F(Deflate, IsAgreedWhenOfferedAndCompressedMessagesAreRead) {
  WsClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server().port, server().path(server().userToken()), {kDeflateOffer}))
      << c.error();
  EXPECT_EQ(msw::test::headerValue(c.response(), "sec-websocket-extensions").rfind("permessage-deflate", 0), 0u)
      << "extensions: " << msw::test::headerValue(c.response(), "sec-websocket-extensions");
  std::string text = R"({"method":"echo","rid":"z1","pad":")" + std::string(600, 'a') + "\"}";
  std::string packed = deflateMessage(text);
  ASSERT_LT(packed.size(), 100u);
  ASSERT_TRUE(c.sendFrame(kOpText | kRsv1, packed, true));
  // The reply is read by a client that refuses any reserved bit: msw's own
  // frames go out uncompressed, which RFC 7692 allows for any message.
  Msg m = recvMsg(c);
  EXPECT_EQ(m.status(), 200) << m << " " << c.error();
  EXPECT_EQ(m.rid().str(), "z1") << m;
  EXPECT_EQ(m.param()["pad"].str(), std::string(600, 'a')) << m;
  // Uncompressed messages stay allowed on the same connection.
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
}

TEST_F(Deflate, AMessageThatInflatesOverTheLimitIsClosedWith1009) {
  WsClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server().port, server().path(server().userToken()), {kDeflateOffer}))
      << c.error();
  // 1 MiB of text in about a kilobyte on the wire: the limit is on what it inflates to.
  std::string bomb = R"({"method":"echo","pad":")" + std::string(1 << 20, 'b') + "\"}";
  std::string packed = deflateMessage(bomb);
  ASSERT_LT(packed.size(), 4096u);
  ASSERT_TRUE(c.sendFrame(kOpText | kRsv1, packed, true));
  Msg m = recvMsg(c);
  EXPECT_EQ(m.status(), 413) << m;
  EXPECT_EQ(c.waitClose(), 1009);
  WsClient other = client();
  EXPECT_EQ(request(other, R"({"method":"ping"})").event(), "pong") << "the others carry on";
}

TEST_F(Deflate, AClientThatDoesNotOfferItGetsPlainWebSocket) {
  WsClient c = client();
  EXPECT_EQ(msw::test::headerValue(c.response(), "sec-websocket-extensions"), "");
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
}

TEST_F(Messages, WithoutPermessageDeflateTheOfferIsDeclinedAndRsv1IsAProtocolError) {
  WsClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server().port, server().path(server().userToken()), {kDeflateOffer}))
      << c.error();
  EXPECT_EQ(msw::test::headerValue(c.response(), "sec-websocket-extensions"), "")
      << "permessage_deflate is off by default";
  ASSERT_TRUE(c.sendFrame(kOpText | kRsv1, deflateMessage(R"({"method":"ping"})"), true));
  std::optional<std::string> m = c.recvMessage(3000);
  EXPECT_FALSE(m) << "a compressed frame was answered: " << *m;
  EXPECT_FALSE(c.timedOut()) << "RSV1 without the extension ends the connection (RFC 6455 §5.2)";
}

// ---------------------------------------------------------------- plain HTTP on the outside port

TEST_F(Messages, PlainHttpGetServesAFileFromStaticDir) {
  namespace fs = std::filesystem;
  fs::create_directories(server().root() + "/www/sub");
  std::ofstream(server().root() + "/www/hello.txt") << "hello from static_dir\n";
  std::ofstream(server().root() + "/www/sub/index.html") << "<p>index</p>";
  HttpResponse r = msw::test::httpRequest("127.0.0.1", server().port, "GET", "/hello.txt");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "hello from static_dir\n");
  r = msw::test::httpRequest("127.0.0.1", server().port, "GET", "/sub/");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "<p>index</p>");
  r = msw::test::httpRequest("127.0.0.1", server().port, "GET", "/nope.txt");
  EXPECT_EQ(r.status, 404) << r.body;
  r = msw::test::httpRequest("127.0.0.1", server().port, "GET", "/../config/app.ini");
  EXPECT_NE(r.status, 200) << "no escape from static_dir: " << r.body;
  EXPECT_EQ(r.body.find("key ="), std::string::npos) << r.body;
  // The WebSocket side is unaffected.
  WsClient c = client();
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
}

// ---------------------------------------------------------------- escape_html = false

class EscapeOff : public SharedServerTest<EscapeOff> {
 public:
  static void configure(TestServer& s) { s.ini.set("outside", "escape_html", "false"); }
};

TEST_F(EscapeOff, StringValuesReachTheActionAsSent) {
  WsClient c = client();
  Msg m = request(c, R"({"method":"echo","t":"<b>&'\"</b>","n":["<i>"]})");
  ASSERT_EQ(m.status(), 200) << m;
  EXPECT_EQ(m.param()["t"].str(), "<b>&'\"</b>") << m;
  EXPECT_EQ(m.param()["n"].at(0).str(), "<i>") << m;
}

// ---------------------------------------------------------------- rate limit

class RateLimit : public SharedServerTest<RateLimit> {
 public:
  static void configure(TestServer& s) { s.ini.set("outside", "rate_limit", "5").set("outside", "rate_burst", "5"); }
};

TEST_F(RateLimit, Status429OverTheLimitThenClose4029OnPersistentAbuse) {
  WsClient c = client();
  WsClient calm = client("calm");
  // 20 messages in one write: the burst passes, then 429s, then the close.
  std::string batch;
  for (int i = 0; i < 20; ++i)
    batch += msw::test::encodeFrame(kOpText, R"({"method":"ping","rid":)" + std::to_string(i) + "}", true, true,
                                    0x01020304u);
  ASSERT_TRUE(c.sendRawBytes(batch));
  int ok = 0, limited = 0;
  for (;;) {
    Msg m = recvMsg(c);
    if (!m.received) break;
    if (m.status() == 200) {
      ++ok;
      EXPECT_EQ(limited, 0) << "a 200 after a 429 within the same instant: " << m;
    } else {
      EXPECT_EQ(m.status(), 429) << m;
      EXPECT_EQ(m.event(), "rateLimited") << m;
      ++limited;
    }
  }
  EXPECT_EQ(c.closeCode(), 4029) << c.error();
  EXPECT_GE(ok, 5);
  EXPECT_LE(ok, 6);
  EXPECT_GE(limited, 1);
  EXPECT_LT(ok + limited, 20) << "the connection was closed before all 20 were answered";
  // Another connection has its own budget.
  EXPECT_EQ(request(calm, R"({"method":"ping"})").status(), 200);
  std::string metrics = server().metrics();
  EXPECT_GE(metricSum(metrics, "msw_rate_limited_total", "worker="), limited) << metrics;
  EXPECT_GE(metricSum(metrics, "msw_closes_total", "code=\"4029\""), 1) << metrics;
}

TEST_F(RateLimit, BinaryFramesCountTowardsTheLimit) {
  // Each binary frame costs the server a 400 reply: they are messages too.
  WsClient c = client();
  std::string batch;
  for (int i = 0; i < 20; ++i)
    batch += msw::test::encodeFrame(msw::test::kOpBinary, R"({"method":"ping"})", true, true, 0x0a0b0c0du);
  ASSERT_TRUE(c.sendRawBytes(batch));
  int answers = 0, limited = 0;
  while (answers < 20) {
    Msg m = recvMsg(c);
    if (!m.received) break;
    ++answers;
    if (m.status() == 429) ++limited;
  }
  if (answers == 20) c.waitClose(500);
  EXPECT_GE(limited, 1) << answers << " answers, none rateLimited";
  EXPECT_EQ(c.closeCode(), 4029) << answers << " answers";
}

TEST_F(RateLimit, PingsCountTowardsTheLimit) {
  // lws answers pings itself; each answered one is counted like a message.
  // The server's own count of 4029 closes is the judge: lws 4.1 keeps a
  // close's code in the buffer where it also stashes a ping's payload, so a
  // ping that arrives between the decision to close and the close frame can
  // overwrite the code's first byte on the wire (docs/protocol.md#limits-and-close-codes).
  auto closes4029 = [] { return metricSum(server().metrics(), "msw_closes_total", "code=\"4029\""); };
  ASSERT_TRUE(server().waitConnections(0)) << "the earlier tests' connections are still closing";
  int64_t before = closes4029();
  WsClient c = client();
  int pongs = 0;
  for (auto until = msw::test::deadlineIn(5000); msw::test::Clock::now() < until && !c.closeCode();) {
    if (!c.sendPing("p")) break;
    std::optional<msw::test::WsFrame> f = c.recvFrame(1000);
    if (f && f->opcode == msw::test::kOpPong) ++pongs;
  }
  if (!c.closeCode()) c.waitClose(1000);
  EXPECT_NE(c.closeCode(), 0) << pongs << " pongs and no close frame";
  EXPECT_TRUE(pollUntil([&] { return closes4029() == before + 1; }, 5000)) << pongs << " pongs, close " << c.closeCode();
  EXPECT_LT(pongs, 40) << "rate_limit 5 with a burst of 5";
}

TEST_F(RateLimit, HeartbeatsAreNotCounted) {
  WsClient c = client();
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(c.sendText("2"));
    std::optional<std::string> r = c.recvMessage();
    ASSERT_TRUE(r) << "heartbeat " << i << ": " << c.error() << " close " << c.closeCode();
    ASSERT_EQ(*r, "3");
  }
  EXPECT_EQ(request(c, R"({"method":"ping"})").status(), 200);
}

TEST_F(RateLimit, AClientWithinTheLimitIsNeverRefused) {
  WsClient c = client();
  // The burst at once is within the budget.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.sendText(R"({"method":"ping"})"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(recvMsg(c).status(), 200) << i;
}

}  // namespace
}  // namespace msw::it
