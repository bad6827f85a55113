// tests/integration/manager_test.cpp: the manager port against the real
// server: /status and /metrics, the bearer token, loopback-only binding,
// request checks; and pushes, kicks, rooms and close hooks seen from it.
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <thread>

#include "tests/integration/it_support.h"

namespace msw::it {
namespace {

class Manager : public SharedServerTest<Manager> {};

uint64_t fdOf(WsClient& c) {
  Msg m = request(c, R"({"method":"testmod.test.whoami"})");
  return static_cast<uint64_t>(m.param()["fd"].num());
}

// Raw request on a fresh connection; the whole answer.
HttpResponse raw(int port, const std::string& request) {
  HttpResponse r;
  std::string error;
  auto deadline = msw::test::deadlineIn(5000);
  msw::test::UniqueFd fd = msw::test::connectTcp("127.0.0.1", port, deadline, &error);
  if (!fd) return r;
  std::string buf;
  if (!msw::test::sendAll(fd.get(), request, deadline, &error) ||
      !msw::test::readHttpResponse(fd.get(), buf, deadline, r, &error))
    r.body = "<" + error + ">";
  return r;
}

TEST_F(Manager, StatusHasTheFieldsOfSpec6) {
  WsClient a = client("a"), b = client("b");
  ASSERT_EQ(request(a, R"({"method":"testmod.test.join","room":"status-room"})").event(), "joined");
  ASSERT_EQ(request(b, R"({"method":"ping"})").event(), "pong");
  HttpResponse r = server().manager("GET", "/status");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(msw::test::headerValue(r, "content-type").find("application/json"), std::string::npos);
  Json s = Json::parse(r.body);
  ASSERT_TRUE(s.isObject()) << r.body;
  EXPECT_TRUE(s["version"].isString() && !s["version"].str().empty()) << r.body;
  char host[256] = "";
  ::gethostname(host, sizeof host);
  EXPECT_EQ(s["node_id"].str(), std::string(host) + ":" + std::to_string(server().port)) << "the default node_id";
  EXPECT_TRUE(s["node_id"].isString() && !s["node_id"].str().empty()) << r.body;
  EXPECT_TRUE(s["uptime"].isNumber() && s["uptime"].num() >= 0) << r.body;
  ASSERT_TRUE(s["workers"].isArray()) << r.body;
  ASSERT_EQ(s["workers"].size(), 1) << r.body;
  EXPECT_TRUE(s["workers"].at(0)["connections"].isNumber()) << r.body;
  EXPECT_EQ(s["connections"].i64(), 2) << r.body;
  EXPECT_EQ(s["workers"].at(0)["connections"].i64(), 2) << r.body;
  EXPECT_EQ(s["rooms"].i64(), 1) << r.body;
  EXPECT_GE(s["messages_in"].i64(), 2) << r.body;
  EXPECT_GE(s["messages_out"].i64(), 2) << r.body;
  EXPECT_TRUE(s["memory"].isObject() || s["memory"].isNumber()) << r.body;
  EXPECT_GT(s["memory"]["rss_bytes"].num(), 0) << r.body;
  ASSERT_TRUE(s["store"].isObject()) << r.body;
  EXPECT_EQ(s["store"]["driver"].str(), "memory") << r.body;
  EXPECT_FALSE(s.has("cluster")) << "no cluster without Redis: " << r.body;
}

TEST_F(Manager, StatusCountsMessages) {
  WsClient c = client();
  Json before = server().status();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  Json after = server().status();
  EXPECT_GE(after["messages_in"].i64() - before["messages_in"].i64(), 10);
  EXPECT_GE(after["messages_out"].i64() - before["messages_out"].i64(), 10);
}

TEST_F(Manager, MetricsIsPrometheusText) {
  WsClient c = client();
  ASSERT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  WsClient refused;
  ASSERT_FALSE(refused.connect("127.0.0.1", server().port, "/ws"));
  HttpResponse r = server().manager("GET", "/metrics");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(msw::test::headerValue(r, "content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE msw_connections gauge"), std::string::npos) << r.body;
  EXPECT_EQ(metricValue(r.body, "msw_connections{worker=\"0\"}"), 1) << r.body;
  EXPECT_NE(r.body.find("# TYPE msw_handshakes_rejected_total counter"), std::string::npos) << r.body;
  EXPECT_GE(metricValue(r.body, "msw_handshakes_rejected_total{worker=\"0\",reason=\"missing_auth\"}"), 1) << r.body;
  // Every sample line is NAME[{LABELS}] INTEGER.
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_EQ(line.rfind("msw_", 0), 0u) << line;
    size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    EXPECT_NE(line.find_first_of("0123456789", space), std::string::npos) << line;
  }
}

TEST_F(Manager, UnknownPathsAndMethods) {
  EXPECT_EQ(server().manager("GET", "/nope").status, 404);
  EXPECT_EQ(server().manager("POST", "/status", "{}").status, 405);
  EXPECT_EQ(server().manager("GET", "/push").status, 405);
  HttpResponse r = server().manager("POST", "/push", "not json");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_TRUE(Json::parse(r.body).isObject()) << "a reason comes with a 400: " << r.body;
  r = server().manager("POST", "/push", R"({"to":{"planet":"mars"},"event":"x"})");
  EXPECT_EQ(r.status, 400) << r.body;
  r = server().manager("POST", "/kick", R"({})");
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(Manager, PostWithoutContentLengthHasAnEmptyBody) {
  // RFC 9112 §6.3: neither Content-Length nor Transfer-Encoding: no body
  // (`curl -XPOST $M/reload` sends neither).
  HttpResponse r = raw(server().managerPort, "POST /reload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  r = raw(server().managerPort, "POST /push HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 400) << "an empty body is no JSON object: " << r.body;
  r = raw(server().managerPort,
          "POST /push HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
          "5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 411) << r.body;
  r = raw(server().managerPort, "GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_EQ(r.status, 400) << "a GET takes no body: " << r.body;
  EXPECT_EQ(server().manager("GET", "/status").status, 200) << "the manager carries on";
}

// One connection to the manager port, written to and read from raw.
struct Pipe {
  msw::test::UniqueFd fd;
  std::string buf, error;
  explicit Pipe(int port) { fd = msw::test::connectTcp("127.0.0.1", port, msw::test::deadlineIn(5000), &error); }
  // `bytes` in one send, or one byte per send (`slow`).
  bool send(const std::string& bytes, bool slow = false) {
    auto deadline = msw::test::deadlineIn(5000);
    if (!slow) return msw::test::sendAll(fd.get(), bytes, deadline, &error);
    for (char c : bytes)
      if (!msw::test::sendAll(fd.get(), std::string_view(&c, 1), deadline, &error)) return false;
    return true;
  }
  // Up to n answers (fewer if the manager closes or 5 s pass).
  std::vector<HttpResponse> read(size_t n) {
    std::vector<HttpResponse> out;
    auto deadline = msw::test::deadlineIn(5000);
    for (HttpResponse r; out.size() < n && msw::test::readHttpResponse(fd.get(), buf, deadline, r, &error); r = {})
      out.push_back(r);
    return out;
  }
  // The manager closed the connection (within 5 s) with nothing more to say.
  bool closed() {
    auto deadline = msw::test::deadlineIn(5000);
    for (;;) {
      msw::test::ReadResult r = msw::test::readSome(fd.get(), buf, deadline, &error);
      if (r != msw::test::ReadResult::kData) return r == msw::test::ReadResult::kEof && buf.empty();
    }
  }
};

std::string pushRequest(const std::string& event) {
  std::string body = R"({"to":{"all":true},"event":")" + event + "\"}";
  return "POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kGetStatus = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n";

int64_t rss(TestServer& s) { return s.status()["memory"]["rss_bytes"].i64(); }

bool isStatus(const HttpResponse& r) { return r.status == 200 && Json::parse(r.body).has("version"); }
bool isPush(const HttpResponse& r) { return r.status == 200 && Json::parse(r.body).has("delivered"); }

TEST_F(Manager, PipelinedRequestsAreEachAnsweredOnceInOrderOnTheSameConnection) {
  // lws 4.1 looped on these (the manager ate memory at 400 MB/s and delivered
  // each push hundreds of times), then closed after any body: now the
  // manager reads its HTTP itself (docs/manager-api.md).
  WsClient c = client();
  int64_t before = rss(server());
  struct Case { std::string name, bytes; std::vector<const char*> answers; bool slow = false; };
  for (const Case& k :
       {Case{"two pushes", pushRequest("p1") + pushRequest("p2"), {"push", "push"}},
        Case{"push then GET", pushRequest("p3") + kGetStatus, {"push", "status"}},
        Case{"stray CRLFs", "\r\n\r\n" + pushRequest("p4") + "\r\n" + kGetStatus + "\r\n\n" + pushRequest("p5"),
             {"push", "status", "push"}},
        Case{"one byte at a time", kGetStatus + pushRequest("p6") + kGetStatus, {"status", "push", "status"}, true}}) {
    Pipe pipe(server().managerPort);
    ASSERT_TRUE(pipe.send(k.bytes, k.slow)) << k.name << ": " << pipe.error;
    std::vector<HttpResponse> got = pipe.read(k.answers.size());
    ASSERT_EQ(got.size(), k.answers.size()) << k.name << ": " << pipe.error;
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_TRUE(std::string(k.answers[i]) == "push" ? isPush(got[i]) : isStatus(got[i]))
          << k.name << " #" << i << ": " << got[i].status << " " << got[i].body;
    // An extra (repeated) answer would come before this one.
    ASSERT_TRUE(pipe.send(kGetStatus)) << k.name;
    std::vector<HttpResponse> more = pipe.read(1);
    ASSERT_EQ(more.size(), 1u) << k.name << ": the connection is kept alive";
    EXPECT_TRUE(isStatus(more[0])) << k.name << ": nothing more was answered: " << more[0].body;
    EXPECT_TRUE(isStatus(server().get("/status"))) << k.name << ": the manager answers others meanwhile";
  }
  std::map<std::string, int> seen;  // every event that reached c, until a ping's answer
  EXPECT_TRUE(c.sendText(R"({"method":"ping"})"));
  for (Msg m = recvMsg(c); m.received && m.event() != "pong"; m = recvMsg(c)) ++seen[m.event()];
  for (const char* event : {"p1", "p2", "p3", "p4", "p5", "p6"}) EXPECT_EQ(seen[event], 1) << event;
  EXPECT_LT(rss(server()) - before, 16 << 20) << "resident memory stays flat";
}

TEST_F(Manager, AHundredPipelinedGetsGetAHundredAnswersInOrder) {
  std::string bytes;
  for (int i = 0; i < 100; ++i) bytes += "GET /nope" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  bytes += "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  Pipe pipe(server().managerPort);
  ASSERT_TRUE(pipe.send(bytes));
  std::vector<HttpResponse> got = pipe.read(101);
  ASSERT_EQ(got.size(), 101u) << pipe.error;
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(got[i].status, 404) << i;
    EXPECT_EQ(Json::parse(got[i].body)["error"].str(), "no such endpoint /nope" + std::to_string(i)) << "in order";
  }
  EXPECT_TRUE(isStatus(got[100]));
  EXPECT_TRUE(pipe.closed()) << "Connection: close is honoured";
}

TEST_F(Manager, GarbageGets400JsonAndTheConnectionCloses) {
  for (std::string junk : {std::string("\x16\x03garbage\r\n\r\n"), std::string("GET /status HTTP/1.1\r\n folded\r\n\r\n"),
                           kGetStatus + "\x01\x02 nonsense\r\n\r\n" + kGetStatus}) {
    Pipe pipe(server().managerPort);
    ASSERT_TRUE(pipe.send(junk));
    std::vector<HttpResponse> got = pipe.read(3);
    ASSERT_FALSE(got.empty()) << pipe.error;
    const HttpResponse& last = got.back();
    EXPECT_EQ(last.status, 400) << last.body;
    EXPECT_TRUE(Json::parse(last.body)["error"].isString()) << last.body;
    EXPECT_EQ(msw::test::headerValue(last, "connection"), "close");
    EXPECT_EQ(got.size(), junk.starts_with("GET") && junk.find("folded") == std::string::npos ? 2u : 1u)
        << "what came before the garbage is answered, nothing after it";
  }
  EXPECT_TRUE(isStatus(server().get("/status")));
}

TEST_F(Manager, ExpectContinueGetsA100BeforeTheBody) {
  // curl sends `Expect: 100-continue` with a body over 1 KiB and waits for it.
  std::string push = pushRequest("p7");
  size_t split = push.find("\r\n\r\n") + 4;
  Pipe pipe(server().managerPort);
  ASSERT_TRUE(pipe.send(push.substr(0, split - 2) + "Expect: 100-continue\r\n\r\n"));
  std::vector<HttpResponse> got = pipe.read(1);
  ASSERT_EQ(got.size(), 1u) << pipe.error;
  EXPECT_EQ(got[0].status, 100);
  ASSERT_TRUE(pipe.send(push.substr(split)));
  got = pipe.read(1);
  ASSERT_EQ(got.size(), 1u) << pipe.error;
  EXPECT_TRUE(isPush(got[0])) << got[0].body;
}

TEST(ManagerStop, StopsWhileARequestIsInFlight) {
  TestServer s;
  ASSERT_TRUE(s.start()) << s.error();
  Pipe half(s.managerPort), waiting(s.managerPort);
  // A push whose body is still coming, and a complete one queued behind a GET.
  ASSERT_TRUE(half.send(pushRequest("x").substr(0, 70)));
  ASSERT_TRUE(waiting.send(kGetStatus + pushRequest("y")));
  ASSERT_EQ(waiting.read(2).size(), 2u) << waiting.error;
  EXPECT_EQ(s.proc.stop(), 0) << "a clean exit";
  EXPECT_TRUE(half.closed()) << "the half-read request's connection is closed";
}

TEST_F(Manager, ManyRequestsOnOneKeptAliveConnection) {
  std::string error;
  auto deadline = msw::test::deadlineIn(5000);
  msw::test::UniqueFd fd = msw::test::connectTcp("127.0.0.1", server().managerPort, deadline, &error);
  ASSERT_TRUE(fd) << error;
  std::string buf;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(msw::test::sendAll(fd.get(), "GET /status HTTP/1.1\r\nHost: x\r\n\r\n", deadline, &error)) << error;
    HttpResponse r;
    ASSERT_TRUE(msw::test::readHttpResponse(fd.get(), buf, deadline, r, &error)) << i << ": " << error;
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_TRUE(Json::parse(r.body).isObject()) << i;
  }
}

TEST_F(Manager, ListensOnLoopbackOnly) {
  ifaddrs* list = nullptr;
  ASSERT_EQ(::getifaddrs(&list), 0);
  std::vector<std::string> addresses;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || (a->ifa_flags & IFF_LOOPBACK) || !(a->ifa_flags & IFF_UP)) continue;
    char text[INET6_ADDRSTRLEN] = "";
    if (a->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(a->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)) continue;  // would need a scope id
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    } else {
      continue;
    }
    addresses.push_back(text);
  }
  ::freeifaddrs(list);
  if (addresses.empty()) GTEST_SKIP() << "this machine has no non-loopback address";
  for (const std::string& address : addresses) {
    std::string error;
    msw::test::UniqueFd fd = msw::test::connectTcp(address, server().managerPort, msw::test::deadlineIn(2000), &error);
    EXPECT_FALSE(fd) << "the manager port answers on " << address;
  }
  // The loopback address does answer.
  EXPECT_EQ(server().manager("GET", "/status").status, 200);
}

TEST_F(Manager, PushReachesTheNamedConnection) {
  WsClient a = client("a"), b = client("b");
  uint64_t fa = fdOf(a);
  HttpResponse r = server().manager(
      "POST", "/push", R"({"to":{"fd":)" + std::to_string(fa) + R"(},"event":"hello","info":"hi","param":{"n":1}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["delivered"].i64(), 1) << r.body;
  Msg m = recvMsg(a);
  EXPECT_EQ(m.raw, R"({"status":200,"event":"hello","info":"hi","param":{"n":1}})");
  // b got nothing: its next message is the reply to its own request.
  EXPECT_EQ(request(b, R"({"method":"ping"})").event(), "pong");
  r = server().manager("POST", "/push", R"({"to":{"fd":999999},"event":"x"})");
  EXPECT_EQ(Json::parse(r.body)["delivered"].i64(), 0) << r.body;
}

TEST_F(Manager, PushAndKickWithAbsurdFdsAreRefusedOrMissNobody) {
  WsClient a = client("a");
  for (const char* fd : {"1e300", "-1", "0", "1.5", "18446744073709551616", "\"x\"", "null"}) {
    HttpResponse r = server().manager("POST", "/push", std::string(R"({"to":{"fd":)") + fd + R"(},"event":"x"})");
    EXPECT_TRUE(r.status == 400 || (r.status == 200 && Json::parse(r.body)["delivered"].i64() == 0))
        << fd << ": " << r.status << " " << r.body;
    r = server().manager("POST", "/kick", std::string(R"({"fd":)") + fd + "}");
    EXPECT_TRUE(r.status == 400 || (r.status == 200 && Json::parse(r.body)["kicked"].i64() == 0))
        << fd << ": " << r.status << " " << r.body;
  }
  ASSERT_TRUE(server().proc.running()) << server().proc.log();
  EXPECT_EQ(request(a, R"({"method":"ping"})").event(), "pong");
}

TEST_F(Manager, KickClosesWith4010) {
  WsClient a = client("kicked-user");
  uint64_t fa = fdOf(a);
  HttpResponse r = server().manager("POST", "/kick", R"({"fd":)" + std::to_string(fa) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(a.waitClose(), 4010);
  WsClient u1 = client("kick-me"), u2 = client("kick-me"), other = client("stay");
  ASSERT_EQ(request(u2, R"({"method":"ping"})").event(), "pong");
  r = server().manager("POST", "/kick", R"({"user":"kick-me"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["kicked"].i64(), 2) << r.body;
  EXPECT_EQ(u1.waitClose(), 4010);
  EXPECT_EQ(u2.waitClose(), 4010);
  EXPECT_EQ(request(other, R"({"method":"ping"})").event(), "pong");
}

TEST_F(Manager, RoomMembershipEndsWithTheConnectionAndCloseHooksRun) {
  WsClient watcher = client("watcher");
  WsClient member = client("member", "hook-room");
  uint64_t wfd = fdOf(watcher);
  uint64_t mfd = fdOf(member);
  ASSERT_EQ(request(member, R"({"method":"testmod.test.join","room":"hook-room"})").event(), "joined");
  ASSERT_EQ(request(member, R"({"method":"testmod.test.hooks","notify":)" + std::to_string(wfd) + "}").event(),
            "hooked");
  HttpResponse r = server().manager("GET", "/online?room=hook-room");
  ASSERT_EQ(r.status, 200) << r.body;
  Json online = Json::parse(r.body);
  EXPECT_EQ(online["count"].i64(), 1) << r.body;
  EXPECT_EQ(online["members"].at(0)["id"].str(), "member") << r.body;
  EXPECT_EQ(static_cast<uint64_t>(online["members"].at(0)["fd"].num()), mfd) << r.body;
  int roomsBefore = static_cast<int>(server().status()["rooms"].i64());
  ASSERT_GE(roomsBefore, 1);
  member.sendClose(1000);
  EXPECT_EQ(member.waitClose(), 1000);
  Msg hook = recvMsg(watcher);
  EXPECT_EQ(hook.event(), "closedHook") << hook;
  EXPECT_EQ(static_cast<uint64_t>(hook.param()["fd"].num()), mfd) << hook;
  EXPECT_EQ(hook.param()["code"].i64(), 1000) << hook;
  // The hook runs after the room is left.
  EXPECT_EQ(Json::parse(server().manager("GET", "/online?room=hook-room").body)["count"].i64(), 0);
  EXPECT_EQ(server().status()["rooms"].i64(), roomsBefore - 1);
}

TEST_F(Manager, CloseHooksRunForAnAbruptEndToo) {
  WsClient watcher = client("watcher");
  WsClient member = client("member");
  uint64_t wfd = fdOf(watcher);
  ASSERT_EQ(request(member, R"({"method":"testmod.test.hooks","notify":)" + std::to_string(wfd) + "}").event(),
            "hooked");
  member.resetConnection();
  Msg hook = recvMsg(watcher);
  EXPECT_EQ(hook.event(), "closedHook") << hook;
  EXPECT_EQ(hook.param()["code"].i64(), 1006) << hook;
}

// ---------------------------------------------------------------- with a token

class ManagerToken : public SharedServerTest<ManagerToken> {
 public:
  static void configure(TestServer& s) { s.managerToken = "s3cret-manager-token"; }
};

TEST_F(ManagerToken, NoOrWrongBearerIs401) {
  for (const std::string& path : {std::string("/status"), std::string("/metrics")}) {
    HttpResponse r = msw::test::httpRequest("127.0.0.1", server().managerPort, "GET", path);
    EXPECT_EQ(r.status, 401) << path << " " << r.body;
    r = msw::test::httpRequest("127.0.0.1", server().managerPort, "GET", path, {},
                               {"Authorization: Bearer wrong-token"});
    EXPECT_EQ(r.status, 401) << path;
    r = msw::test::httpRequest("127.0.0.1", server().managerPort, "GET", path, {},
                               {"Authorization: Bearer s3cret-manager-token-and-more"});
    EXPECT_EQ(r.status, 401) << path;
    r = msw::test::httpRequest("127.0.0.1", server().managerPort, "GET", path, {},
                               {"Authorization: s3cret-manager-token"});
    EXPECT_EQ(r.status, 401) << "without the Bearer scheme: " << path;
  }
  HttpResponse r = msw::test::httpRequest("127.0.0.1", server().managerPort, "POST", "/stop", "");
  EXPECT_EQ(r.status, 401);
  r = msw::test::httpRequest("127.0.0.1", server().managerPort, "POST", "/push",
                             R"({"to":{"all":true},"event":"x"})");
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(server().proc.running());
}

TEST_F(ManagerToken, TheRightBearerIs200) {
  EXPECT_EQ(server().manager("GET", "/status").status, 200);
  EXPECT_EQ(server().manager("GET", "/metrics").status, 200);
  EXPECT_EQ(server().manager("POST", "/push", R"({"to":{"all":true},"event":"x"})").status, 200);
}

TEST_F(ManagerToken, TheBearerSchemeIsCaseInsensitive) {
  for (const char* scheme : {"bearer ", "BEARER ", "BeArEr   "}) {
    HttpResponse r = msw::test::httpRequest("127.0.0.1", server().managerPort, "GET", "/status", {},
                                            {std::string("Authorization: ") + scheme + "s3cret-manager-token"});
    EXPECT_EQ(r.status, 200) << scheme << r.body;
  }
  HttpResponse r = msw::test::httpRequest("127.0.0.1", server().managerPort, "GET", "/status", {},
                                          {"Authorization: Bearers3cret-manager-token"});
  EXPECT_EQ(r.status, 401);
}

TEST_F(ManagerToken, TheConsoleUsesTheTokenOfTheConfig) {
  ConsoleResult r = runConsole(server().consoleArgs("status"));
  EXPECT_EQ(r.exitCode, 0) << r;
}

// ---------------------------------------------------------------- docs

// The `curl` lines of the ```sh blocks of docs/manager-api.md, in order.
std::vector<std::string> curlExamples() {
  std::ifstream in(std::string(MSW_SOURCE_DIR) + "/docs/manager-api.md");
  std::vector<std::string> out;
  bool inSh = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("```", 0) == 0) inSh = !inSh && line == "```sh";
    else if (inSh && line.rfind("curl ", 0) == 0) out.push_back(line);
  }
  return out;
}

// Runs a shell command line; its standard output, and its exit status.
std::pair<std::string, int> shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return {out, -1};
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = ::pclose(p);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

TEST(DocsExamples, EveryCurlLineOfTheManagerPageWorksAsWritten) {
  std::vector<std::string> lines = curlExamples();
  ASSERT_GE(lines.size(), 9u) << "docs/manager-api.md has its examples";
  TestServer s;
  ASSERT_TRUE(s.start()) << s.error();
  ASSERT_EQ(::setenv("M", ("http://127.0.0.1:" + std::to_string(s.managerPort)).c_str(), 1), 0);
  for (const std::string& line : lines) {
    auto [out, exit] = shell(line);
    EXPECT_EQ(exit, 0) << line;
    EXPECT_FALSE(out.empty()) << line;
    if (line.find("/metrics") != std::string::npos) {
      EXPECT_NE(out.find("msw_connections{worker=\"0\"}"), std::string::npos) << line << "\n" << out;
      continue;
    }
    Json j = Json::parse(out);
    EXPECT_TRUE(j.isObject()) << line << "\n" << out;
    EXPECT_FALSE(j.has("error")) << line << "\n" << out;
  }
  EXPECT_NE(lines.back().find("/stop"), std::string::npos) << "stop comes last";
  EXPECT_EQ(s.proc.stop(), 0);
}

// ---------------------------------------------------------------- startup

TEST(ManagerStartup, StatusPolledDuringStartupNeverCrashesTheServer) {
  // Hammers /status from the moment the process exists, for several starts.
  // Eight workers: the window between the manager's start and the last
  // worker's is longer, so the race shows more often.
  for (int round = 0; round < 8; ++round) {
    TestServer s(8);
    std::atomic<bool> stop{false};
    std::atomic<int> answered{0};
    std::vector<std::thread> pollers;
    for (int t = 0; t < 2; ++t)
      pollers.emplace_back([&] {
        while (!stop.load()) {
          // A short timeout keeps the polling dense while the server starts.
          HttpResponse r = msw::test::httpRequest("127.0.0.1", s.managerPort, "GET", "/status", {}, {}, 50);
          if (r.status == 200) ++answered;
        }
      });
    bool ok = s.proc.start(s.ini.str(), s.managerPort) && s.proc.waitLog(" workers on ");
    stop = true;
    for (std::thread& t : pollers) t.join();
    ASSERT_TRUE(ok) << "round " << round << ": " << s.proc.error() << "\n" << s.proc.log();
    ASSERT_TRUE(s.proc.running()) << "round " << round << ":\n" << s.proc.log();
    EXPECT_EQ(s.proc.stop(), 0) << "round " << round;
  }
}

TEST(ManagerStop, PostStopIsAnsweredBeforeTheServerGoesAway) {
  // The console's `-s stop` reports a failure when this answer is lost. A
  // race: it was lost about once in 20 stops here, hence the rounds.
  for (int round = 0; round < 15; ++round) {
    TestServer s;
    ASSERT_TRUE(s.start()) << s.error();
    HttpResponse r = s.manager("POST", "/stop", "");
    EXPECT_EQ(r.status, 200) << "round " << round << ": " << r.body;
    EXPECT_EQ(s.proc.stop(), 0);
  }
}

}  // namespace
}  // namespace msw::it
