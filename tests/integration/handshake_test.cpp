// tests/integration/handshake_test.cpp: the upgrade, against the real server:
// the auth token of docs/protocol.md#the-token (403 before any upgrade, both ciphers, required =
// false) and strict RFC 6455 (version, key), with /metrics counting refusals.
#include <cstdio>
#include <set>

#include "tests/integration/it_support.h"

namespace msw::it {
namespace {

// ttl 3600 so that "expired" is cheap to make.
class Handshake : public SharedServerTest<Handshake> {
 public:
  static void configure(TestServer& s) { s.ini.set("auth", "ttl", "3600"); }

 protected:
  // Connects with `path`; expects a refusal with `status` and a JSON body.
  static void expectRefused(const std::string& path, int status, const std::vector<std::string>& headers = {}) {
    WsClient c;
    EXPECT_FALSE(c.connect("127.0.0.1", server().port, path, headers)) << path << ": upgraded";
    const HttpResponse& r = c.response();
    EXPECT_EQ(r.status, status) << path << ": " << c.error() << " " << r.body;
    EXPECT_EQ(msw::test::headerValue(r, "upgrade"), "") << "no upgrade on a refusal";
    EXPECT_EQ(msw::test::headerValue(r, "sec-websocket-accept"), "");
    EXPECT_NE(msw::test::headerValue(r, "content-type").find("application/json"), std::string::npos);
    Json body = Json::parse(r.body);
    ASSERT_TRUE(body.isObject()) << "body: " << r.body;
    EXPECT_EQ(body["status"].i64(), status) << r.body;
    EXPECT_TRUE(body["info"].isString() && !body["info"].str().empty()) << r.body;
  }
  static void expectAccepted(const std::string& token, const std::string& path = "/ws?auth=") {
    WsClient c;
    ASSERT_TRUE(c.connect("127.0.0.1", server().port, path + token))
        << c.error() << " " << c.response().status << " " << c.response().body;
    EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  }
  static int64_t rejected(const char* reason) {
    return metricSum(server().metrics(), "msw_handshakes_rejected_total", std::string("reason=\"") + reason + "\"");
  }
};

TEST_F(Handshake, AValidAesTokenIsAccepted) { expectAccepted(server().userToken()); }

TEST_F(Handshake, TheTokenMayComeAmongOtherArgumentsOnAnyPath) {
  expectAccepted(server().userToken() + "&b=2", "/some/deep/path?a=1&auth=");
}

TEST_F(Handshake, ThePercentEncodedTokenIsDecoded) {
  std::string token = server().userToken();
  std::string encoded;
  for (char ch : token) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(ch));
    encoded += buf;
  }
  expectAccepted(encoded);
}

TEST_F(Handshake, MissingAuthIs403) {
  expectRefused("/ws", 403);
  expectRefused("/ws?auth=", 403);
  expectRefused("/ws?other=1", 403);
  expectRefused("/ws?xauth=" + server().userToken(), 403);
}

TEST_F(Handshake, GarbageIs403) {
  expectRefused("/ws?auth=garbage", 403);
  expectRefused("/ws?auth=" + std::string(40, 'A'), 403);
  std::string token = server().userToken();
  token[token.size() / 2] = token[token.size() / 2] == 'A' ? 'B' : 'A';  // one flipped character
  expectRefused("/ws?auth=" + token, 403);
}

TEST_F(Handshake, ATokenOfAnotherKeyIs403) {
  expectRefused("/ws?auth=" + mint(userJson(), CipherKind::kAes256Gcm, "not-the-key"), 403);
}

TEST_F(Handshake, APlaintextThatIsNotAJsonObjectIs403) {
  for (const char* p : {"[1,2,3]", "\"u1\"", "12", "hello", "null"}) expectRefused("/ws?auth=" + mint(p), 403);
}

TEST_F(Handshake, AnExpiredTokenIs403) {
  expectRefused("/ws?auth=" + mint(userJson("u1", "r", "wall", "N", unixNow() - 3700)), 403);
  expectAccepted(mint(userJson("u1", "r", "wall", "N", unixNow() - 3500)));
}

TEST_F(Handshake, ACtimeMoreThan300sAheadIs403) {
  expectRefused("/ws?auth=" + mint(userJson("u1", "r", "wall", "N", unixNow() + 400)), 403);
  expectAccepted(mint(userJson("u1", "r", "wall", "N", unixNow() + 200)));
}

// Up to the 4 KB a URL may have (docs/protocol.md), more than lws's 2 KB read-ahead note.
TEST_F(Handshake, ALongTokenWorks) {
  std::string extra = "\"blob\":\"" + std::string(2700, 'b') + "\",\"more\":\"" + std::string(100, 'm') + "\"";
  std::string token = mint(userJson("long", "r", "wall", "N", unixNow(), extra));
  ASSERT_GT(token.size(), 3800u);
  ASSERT_LT(token.size(), 4096u - 9);
  WsClient c;
  ASSERT_TRUE(server().connect(c, token)) << c.error() << " " << c.response().status << " " << c.response().body;
  Msg m = request(c, R"({"method":"testmod.test.whoami"})");
  EXPECT_EQ(m.param()["id"].str(), "long") << m;
  EXPECT_EQ(Json::parse(m.param()["auth"].str())["blob"].str().size(), 2700u) << m;
}

TEST_F(Handshake, ANumericIdIsText) {
  WsClient c;
  ASSERT_TRUE(server().connect(c, mint(R"({"id":4242,"type":"wall","code":"r","ctime":)" + std::to_string(unixNow()) + "}")))
      << c.error();
  Msg m = request(c, R"({"method":"testmod.test.whoami"})");
  EXPECT_EQ(m.param()["id"].str(), "4242") << m;
}

std::string idToken(const std::string& id) {
  return mint(R"({"id":)" + id + R"(,"type":"wall","code":"r","ctime":)" + std::to_string(unixNow()) + "}");
}

// Issue 11, item 3: a double would hold these ids only approximately.
TEST_F(Handshake, ANumericIdBeyond2To53OrNotAnIntegerIs403) {
  for (const char* id : {"9007199254740993", "9223372036854775808", "1e400", "-1e400", "1.5", "1e3"})
    expectRefused("/ws?auth=" + idToken(id), 403);
  expectAccepted(idToken("9007199254740992"));
}

// 0 and -0 are one double: as written, they are two users that a push to
// one never reaches both of.
TEST_F(Handshake, NumericIdsAreComparedAsWritten) {
  WsClient zero, minusZero;
  ASSERT_TRUE(server().connect(zero, idToken("0"))) << zero.error();
  ASSERT_TRUE(server().connect(minusZero, idToken("-0"))) << minusZero.error();
  EXPECT_EQ(request(minusZero, R"({"method":"testmod.test.whoami"})").param()["id"].str(), "-0");
  std::set<int64_t> fds;
  for (const char* id : {"0", "-0"}) {
    Json online = Json::parse(server().manager("GET", std::string("/online/user?id=") + id).body);
    EXPECT_EQ(online["fds"].size(), 1) << id << ": " << online.dump();
    fds.insert(online["fds"].at(0).i64());
  }
  EXPECT_EQ(fds.size(), 2u) << "one connection each";
  auto push = [](const char* user, const char* event) {
    std::string body = std::string(R"({"to":{"user":")") + user + R"("},"event":")" + event + "\"}";
    EXPECT_EQ(server().manager("POST", "/push", body).status, 200) << body;
  };
  push("0", "forZero");
  push("-0", "forMinusZero");
  // Each worker handles the pushes in order: the second arriving first means the first never came.
  EXPECT_EQ(recvMsg(zero).event(), "forZero");
  EXPECT_EQ(recvMsg(minusZero).event(), "forMinusZero");
}

// Issue 11, item 9: what a client puts in its token reaches the log escaped,
// one line per event, so it cannot write a line of its own.
TEST_F(Handshake, TokenFieldsAreLoggedWithControlCharactersEscaped) {
  std::string forged = "2026-01-01 00:00:00.000 ERROR [w0] forged";
  std::string json = R"({"id":"inj\n)" + forged + R"(","type":"wall","code":"a\u001b[31mred\u007f","ctime":)" +
                     std::to_string(unixNow()) + "}";
  WsClient c;
  ASSERT_TRUE(server().connect(c, mint(json))) << c.error();
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  std::string expected = "id=inj\\n" + forged + " type=wall code=a\\x1b[31mred\\x7f";
  const auto deadline = msw::test::deadlineIn(5000);
  std::string log;
  while ((log = server().proc.log()).find(expected) == std::string::npos && msw::test::remainingMs(deadline) > 0)
    c.recvMessage(20);  // waits a little while the line is on its way
  EXPECT_NE(log.find(expected), std::string::npos) << log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
  EXPECT_EQ(log.find("\n" + forged), std::string::npos) << "a forged line";
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "a raw ESC";
}

TEST_F(Handshake, MetricsCountEachRefusalByReason) {
  const char* reasons[] = {"missing_auth", "invalid_auth", "expired", "ctime_in_future", "bad_version", "bad_key"};
  std::map<std::string, int64_t> before;
  for (const char* r : reasons) {
    before[r] = rejected(r);
    ASSERT_GE(before[r], 0) << "no msw_handshakes_rejected_total line for " << r << ":\n" << server().metrics();
  }
  expectRefused("/ws", 403);
  expectRefused("/ws?auth=bad", 403);
  expectRefused("/ws?auth=bad2", 403);
  expectRefused("/ws?auth=" + mint(userJson("u", "r", "w", "n", unixNow() - 4000)), 403);
  expectRefused("/ws?auth=" + mint(userJson("u", "r", "w", "n", unixNow() + 4000)), 403);
  expectRefused(server().path(server().userToken()), 426, {"Sec-WebSocket-Version: 8"});
  expectRefused(server().path(server().userToken()), 400, {"Sec-WebSocket-Key: c2hvcnQ="});
  EXPECT_EQ(rejected("missing_auth") - before["missing_auth"], 1);
  EXPECT_EQ(rejected("invalid_auth") - before["invalid_auth"], 2);
  EXPECT_EQ(rejected("expired") - before["expired"], 1);
  EXPECT_EQ(rejected("ctime_in_future") - before["ctime_in_future"], 1);
  EXPECT_EQ(rejected("bad_version") - before["bad_version"], 1);
  EXPECT_EQ(rejected("bad_key") - before["bad_key"], 1);
}

// ---------------------------------------------------------------- RFC 6455

TEST_F(Handshake, Version8Is426WithTheVersionWeSpeak) {
  WsClient c;
  EXPECT_FALSE(c.connect("127.0.0.1", server().port, server().path(server().userToken()), {"Sec-WebSocket-Version: 8"}));
  EXPECT_EQ(c.response().status, 426) << c.error();
  EXPECT_EQ(msw::test::headerValue(c.response(), "sec-websocket-version"), "13");
  expectRefused(server().path(server().userToken()), 426, {"Sec-WebSocket-Version: 14"});
  expectRefused(server().path(server().userToken()), 426, {"Sec-WebSocket-Version: 13, 8"});
}

TEST_F(Handshake, AMissingVersionIs426) {
  expectRefused(server().path(server().userToken()), 426, {"Sec-WebSocket-Version:"});
}

TEST_F(Handshake, ABadKeyIs400) {
  for (const char* key : {"c2hvcnQ=", "not base64 at all!!!!!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                          "dGhlIHNhbXBsZSBub25jZQ"}) {
    expectRefused(server().path(server().userToken()), 400, {std::string("Sec-WebSocket-Key: ") + key});
  }
}

TEST_F(Handshake, UpgradesWithoutAKeyAreRefusedAndTheServerSurvives) {
  for (int i = 0; i < 20; ++i) expectRefused(server().path(server().userToken()), 400, {"Sec-WebSocket-Key:"});
  // The same, raw, half of them without auth either, one dropped mid-request.
  for (int i = 0; i < 10; ++i) {
    WsClient raw;
    std::string req = "GET /ws" + std::string(i % 2 ? "" : "?auth=" + server().userToken()) +
                      " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    EXPECT_FALSE(raw.connectRaw("127.0.0.1", server().port, req));
    EXPECT_NE(raw.response().status, 101);
  }
  {
    msw::test::UniqueFd fd = msw::test::connectTcp("127.0.0.1", server().port, msw::test::deadlineIn(2000), nullptr);
    ASSERT_TRUE(fd);
    msw::test::sendAll(fd.get(), "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
                       msw::test::deadlineIn(2000), nullptr);
  }  // closed half-way through the headers
  ASSERT_TRUE(server().proc.running()) << server().proc.log();
  expectAccepted(server().userToken());
}

// ---------------------------------------------------------------- strictness (docs/protocol.md)

// A raw upgrade request: `line` is the request line, `extra` more header lines.
std::string upgradeRequest(const std::string& line, const std::string& extra = "") {
  return line + "\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         extra + "\r\n";
}

// Sends `request` raw; expects `status` with the JSON body {"status","info"} and no upgrade.
void expectRawRefused(int port, const std::string& request, int status) {
  WsClient c;
  std::string shown = request.substr(0, 60);
  EXPECT_FALSE(c.connectRaw("127.0.0.1", port, request)) << shown;
  const HttpResponse& r = c.response();
  EXPECT_EQ(r.status, status) << shown << ": " << c.error() << " " << r.body;
  EXPECT_NE(msw::test::headerValue(r, "content-type").find("application/json"), std::string::npos) << shown;
  Json body = Json::parse(r.body);
  EXPECT_EQ(body["status"].i64(), status) << shown << ": " << r.body;
  EXPECT_FALSE(body["info"].str().empty()) << shown << ": " << r.body;
}

TEST_F(Handshake, OnlyGetUpgrades) {
  std::string path = server().path(server().userToken());
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FOO"})
    expectRawRefused(server().port, upgradeRequest(std::string(method) + " " + path + " HTTP/1.1"), 405);
  WsClient ok;
  EXPECT_TRUE(ok.connectRaw("127.0.0.1", server().port, upgradeRequest("GET " + path + " HTTP/1.1")))
      << ok.error() << " " << ok.response().body;
}

TEST_F(Handshake, OnlyHttp11OrLaterUpgrades) {
  std::string path = server().path(server().userToken());
  expectRawRefused(server().port, upgradeRequest("GET " + path + " HTTP/1.0"), 400);
  expectRawRefused(server().port, upgradeRequest("GET " + path + " HTTP/0.9"), 400);
  expectRawRefused(server().port, upgradeRequest("GET " + path), 400);
}

TEST_F(Handshake, HeadersOver8KBAre431) {
  std::string path = server().path(server().userToken());
  for (size_t size : {9000u, 20000u, 200000u})
    expectRawRefused(server().port,
                     upgradeRequest("GET " + path + " HTTP/1.1", "X-Big: " + std::string(size, 'a') + "\r\n"), 431);
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  expectRawRefused(server().port, upgradeRequest("GET " + path + " HTTP/1.1", many), 431);
  // Just under: accepted.
  WsClient ok;
  std::string fill = "X-Fill: " + std::string(7000 - path.size(), 'f') + "\r\n";
  EXPECT_TRUE(ok.connectRaw("127.0.0.1", server().port, upgradeRequest("GET " + path + " HTTP/1.1", fill)))
      << ok.error() << " " << ok.response().body;
  EXPECT_GT(rejected("bad_request"), 0);
}

TEST_F(Handshake, UrlsOver4KBAre414) {
  std::string path = server().path(server().userToken());
  expectRawRefused(server().port, upgradeRequest("GET " + path + "&x=" + std::string(4100, 'u') + " HTTP/1.1"), 414);
  expectRawRefused(server().port, upgradeRequest("GET " + path + "&x=" + std::string(9000, 'u') + " HTTP/1.1"), 414);
  expectRawRefused(server().port, upgradeRequest("GET /" + std::string(5000, 'p') + " HTTP/1.1"), 414);
}

TEST_F(Handshake, PercentZeroZeroInTheUrlIs400) {
  std::string path = server().path(server().userToken());
  expectRawRefused(server().port, upgradeRequest("GET " + path + "&x=%00 HTTP/1.1"), 400);
  expectRawRefused(server().port, upgradeRequest("GET /a%00b?auth=x HTTP/1.1"), 400);
  expectAccepted(server().userToken());
}

// ---------------------------------------------------------------- per-address and per-user limits

class PerAddress : public SharedServerTest<PerAddress> {
 public:
  static constexpr int kWorkers = 2;
  static void configure(TestServer& s) {
    s.ini.set("outside", "max_connections_per_ip", "3").set("outside", "max_connections_per_user", "2");
  }
};

TEST_F(PerAddress, AThirdConnectionOfAUserIs429UntilOneCloses) {
  WsClient a = client("pu"), b = client("pu");
  WsClient over;
  EXPECT_FALSE(server().connect(over, server().userToken("pu")));
  EXPECT_EQ(over.response().status, 429) << over.response().body;
  EXPECT_EQ(Json::parse(over.response().body)["status"].i64(), 429) << over.response().body;
  a.sendClose(1000);
  EXPECT_EQ(a.waitClose(), 1000);
  // The release follows the close on the server: poll with a deadline.
  bool admitted = false;
  for (auto until = msw::test::deadlineIn(5000); !admitted && msw::test::Clock::now() < until;) {
    WsClient again;
    admitted = server().connect(again, server().userToken("pu"));
    if (!admitted) {
      ASSERT_EQ(again.response().status, 429) << again.error();
    }
  }
  EXPECT_TRUE(admitted) << "the closed connection's place was never given back";
}

TEST_F(PerAddress, AFourthConnectionFromOneAddressIs429AndHeadersAreNotBelieved) {
  WsClient a = client("ip1"), b = client("ip2"), c = client("ip3");
  WsClient over;
  // 127.0.0.1 is not a trusted proxy here: X-Real-IP changes nothing.
  EXPECT_FALSE(over.connect("127.0.0.1", server().port, server().path(server().userToken("ip4")),
                            {"X-Real-IP: 10.9.9.9", "X-Forwarded-For: 10.9.9.8"}));
  EXPECT_EQ(over.response().status, 429) << over.response().body;
  EXPECT_EQ(request(a, R"({"method":"ping"})").event(), "pong") << "the others are unaffected";
  EXPECT_GE(metricSum(server().metrics(), "msw_handshakes_rejected_total", "reason=\"over_limit\""), 1);
}

class Proxied : public SharedServerTest<Proxied> {
 public:
  static void configure(TestServer& s) {
    s.ini.set("outside", "trusted_proxies", "127.0.0.1, ::1").set("outside", "max_connections_per_ip", "1");
  }
};

TEST_F(Proxied, TheAddressBehindATrustedProxyIsCountedAndLogged) {
  auto open = [](WsClient& c, const std::string& id, std::vector<std::string> headers) {
    return c.connect("127.0.0.1", server().port, server().path(server().userToken(id)), headers);
  };
  WsClient a, b, c;
  ASSERT_TRUE(open(a, "px1", {"X-Real-IP: 10.1.1.1"})) << a.error() << " " << a.response().body;
  ASSERT_TRUE(open(b, "px2", {"X-Forwarded-For: 10.2.2.2, 127.0.0.1"})) << b.error() << " " << b.response().body;
  EXPECT_FALSE(open(c, "px3", {"X-Real-IP: 10.1.1.1"})) << "a second connection from 10.1.1.1";
  EXPECT_EQ(c.response().status, 429) << c.response().body;
  WsClient d;
  EXPECT_FALSE(open(d, "px4", {"X-Forwarded-For: 10.2.2.2"})) << "a second connection from 10.2.2.2";
  EXPECT_EQ(d.response().status, 429) << d.response().body;
  EXPECT_TRUE(server().proc.waitLog("open from 10.1.1.1 id=px1")) << server().proc.log();
  EXPECT_TRUE(server().proc.waitLog("open from 10.2.2.2 id=px2")) << server().proc.log();
  // A header that holds no address is not believed: the proxy's own address counts.
  WsClient f;
  ASSERT_TRUE(open(f, "px6", {"X-Real-IP: not-an-address"})) << f.error() << " " << f.response().body;
  EXPECT_TRUE(server().proc.waitLog("open from 127.0.0.1 id=px6")) << server().proc.log();
}

// ---------------------------------------------------------------- 3DES

class Des : public SharedServerTest<Des> {
 public:
  static void configure(TestServer& s) { s.ini.set("auth", "cipher", "des-ede3-ecb"); }
};

TEST_F(Des, AValid3DesTokenIsAccepted) {
  std::string token = mint(userJson("d1", "droom"), CipherKind::kDesEde3Ecb);
  WsClient c;
  ASSERT_TRUE(server().connect(c, token)) << c.error() << " " << c.response().status << " " << c.response().body;
  Msg m = request(c, R"({"method":"testmod.test.whoami"})");
  EXPECT_EQ(m.param()["id"].str(), "d1") << m;
  EXPECT_EQ(m.param()["code"].str(), "droom") << m;
}

TEST_F(Des, AnAesTokenIsRefused) {
  WsClient c;
  EXPECT_FALSE(server().connect(c, server().userToken()));
  EXPECT_EQ(c.response().status, 403) << c.error();
}

TEST_F(Des, A3DesTokenOfAnotherKeyIsRefused) {
  for (int i = 0; i < 20; ++i) {
    WsClient c;
    std::string token = mint(userJson("x" + std::to_string(i)), CipherKind::kDesEde3Ecb, "wrong-key");
    EXPECT_FALSE(server().connect(c, token)) << i;
    EXPECT_EQ(c.response().status, 403) << i;
  }
}

TEST_F(Des, A3DesTokenWithLegacyCharactersUrlEncodedWorks) {
  // The legacy alphabet's '*' ':' '_' as a PHP client's urlencode() sends them.
  std::string token = mint(userJson("enc"), CipherKind::kDesEde3Ecb);
  std::string encoded;
  for (char ch : token) {
    if (ch == '*') encoded += "%2A";
    else if (ch == ':') encoded += "%3A";
    else if (ch == '_') encoded += "%5F";
    else encoded += ch;
  }
  WsClient c;
  ASSERT_TRUE(server().connect(c, encoded)) << c.error() << " " << c.response().body;
}

// ---------------------------------------------------------------- required = false

class AuthOptional : public SharedServerTest<AuthOptional> {
 public:
  static void configure(TestServer& s) { s.ini.set("auth", "required", "false"); }
};

TEST_F(AuthOptional, NoTokenIsAccepted) {
  WsClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server().port, "/ws")) << c.error() << " " << c.response().body;
  Msg m = request(c, R"({"method":"testmod.test.whoami"})");
  EXPECT_EQ(m.status(), 200) << m;
  EXPECT_EQ(m.param()["id"].str(), "") << m;
}

TEST_F(AuthOptional, AValidTokenIsStillRead) {
  WsClient c;
  ASSERT_TRUE(server().connect(c, mint(userJson("opt")))) << c.error();
  EXPECT_EQ(request(c, R"({"method":"testmod.test.whoami"})").param()["id"].str(), "opt");
}

}  // namespace
}  // namespace msw::it
