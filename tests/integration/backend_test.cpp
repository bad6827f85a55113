// Integration tests of backend hooks (docs/backend.md): the real server
// against a real HTTP backend (tests/support/backend_server.py, Python's
// http.server) started by each fixture: module hooks through the hooktest
// module, the connect hook (an `[endpoint.x] auth = backend` endpoint at
// /ws, Laravel-S style `?token=...`, docs/endpoints.md),
// signatures, timeouts, a backend that is down, the in-flight bound, stop.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>

#include "tests/integration/it_support.h"
#include "tests/integration/test_backend.h"

namespace msw::it {
namespace {

using Ms = std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

const std::string kSecret = "s3cret";

long msSince(SteadyClock::time_point t) {
  return static_cast<long>(std::chrono::duration_cast<Ms>(SteadyClock::now() - t).count());
}

using Backend = TestBackend;

// connectHook: [endpoint.x] at /ws with auth = backend, the token in ?token=.
void configure(TestServer& s, const std::string& url, const std::string& secret, int timeout, int inFlight,
               bool connectHook = false) {
  s.ini.set("app", "modules", "index, testmod, hooktest")
      .set("backend", "url", url)
      .set("backend", "timeout", std::to_string(timeout))
      .set("backend", "max_in_flight", std::to_string(inFlight));
  if (!secret.empty()) s.ini.set("backend", "secret", secret);
  if (!connectHook) return;
  s.ini.set("endpoint.x", "path", "/ws").set("endpoint.x", "auth", "backend").set("endpoint.x", "auth_param", "token");
  // A controller with onOpen, and one that gets binary frames as they are.
  s.ini.set("endpoint.chat", "path", "/chat").set("endpoint.chat", "route", "type");
  s.ini.set("endpoint.chat", "controller", "testmod.chat").set("endpoint.chat", "auth", "backend");
  s.ini.set("endpoint.chat", "auth_param", "token");
  s.ini.set("endpoint.frames", "path", "/frames").set("endpoint.frames", "route", "raw");
  s.ini.set("endpoint.frames", "controller", "testmod.frames").set("endpoint.frames", "auth", "backend");
  s.ini.set("endpoint.frames", "auth_param", "token");
}

// hooktest.hook.call: the hook's answer as the module saw it.
Msg callHook(WsClient& c, const std::string& name, const std::string& bodyJson, int rid = 1, int timeoutMs = 8000) {
  std::string req = "{\"method\":\"hooktest.hook.call\",\"rid\":" + std::to_string(rid) + ",\"name\":\"" + name +
                    "\",\"body\":" + bodyJson + "}";
  if (!c.sendText(req)) return Msg{};
  return parseMsg(c.recvEvent("hookAnswer", timeoutMs));
}

std::string result(const Msg& m) { return std::string(m.param()["result"].str()); }

int64_t hooks(const TestServer& s, const std::string& hook, const std::string& result) {
  return metricValue(s.metrics(), "msw_hooks_total{hook=\"" + hook + "\",result=\"" + result + "\"}");
}

// One worker, timeout 2 s, max_in_flight 4, signed, against its own backend.
class HooksFixture : public ::testing::Test {
 protected:
  explicit HooksFixture(bool connectHook) : connectHook_(connectHook) {}
  void SetUp() override {
    ASSERT_GT(backend.port, 0) << "the Python backend did not start";
    configure(server, backend.url(), kSecret, 2, 4, connectHook_);
    ASSERT_TRUE(server.start()) << server.error();
  }
  void TearDown() override { EXPECT_EQ(sanitizerReport(server.proc.log()), ""); }

  bool connectHook_;
  Backend backend{kSecret};
  TestServer server{1};
};

// ---- module hooks

class ModuleHooks : public HooksFixture {
 protected:
  ModuleHooks() : HooksFixture(false) {}
};

TEST_F(ModuleHooks, AnswerComesBackSignedAndCounted) {
  WsClient c;
  ASSERT_TRUE(server.connect(c));
  Msg m = callHook(c, "echo", "{\"a\":1,\"text\":\"h\\u00e9\"}", 7);
  ASSERT_TRUE(m.received);
  EXPECT_EQ(result(m), "ok") << m;
  EXPECT_EQ(m.param()["status"].i64(), 200);
  EXPECT_EQ(m.param()["json"]["got"]["a"].i64(), 1) << m;
  EXPECT_EQ(m.param()["json"]["got"]["text"].str(), "h\xc3\xa9");
  EXPECT_TRUE(m.param()["json"]["signed"].boolean()) << "the backend checked X-Msw-Signature";
  EXPECT_EQ(m.rid().i64(), 7);
  EXPECT_EQ(backend.stats()["bad_signatures"].i64(-1), 0);
  EXPECT_EQ(hooks(server, "hooktest.echo", "ok"), 1);
  std::string metrics = server.metrics();
  EXPECT_EQ(metricValue(metrics, "msw_hook_duration_seconds_count{hook=\"hooktest.echo\"}"), 1) << metrics;
  EXPECT_EQ(metricValue(metrics, "msw_hook_duration_seconds_bucket{hook=\"hooktest.echo\",le=\"+Inf\"}"), 1);
}

TEST_F(ModuleHooks, HttpErrorStatusIsReportedWithItsBody) {
  WsClient c;
  ASSERT_TRUE(server.connect(c));
  Msg m = callHook(c, "status", "{\"status\":503}");
  EXPECT_EQ(result(m), "status") << m;
  EXPECT_EQ(m.param()["status"].i64(), 503);
  EXPECT_EQ(m.param()["json"]["status"].i64(), 503);
  EXPECT_EQ(hooks(server, "hooktest.status", "status"), 1);
  EXPECT_TRUE(server.proc.waitLog("hook hooktest.status: status: HTTP 503"));
}

TEST_F(ModuleHooks, BadHookNameIsRefusedWithoutARequest) {
  WsClient c;
  ASSERT_TRUE(server.connect(c));
  Msg m = callHook(c, "no such!", "{}");
  EXPECT_EQ(result(m), "disabled") << m;
  EXPECT_EQ(backend.stats()["requests"].i64(-1), 0);
}

// timeout = 2 s, the backend answers after 4 s: the caller gets "timeout"
// in about 2 s, and meanwhile the worker (the only one) serves another client.
TEST_F(ModuleHooks, SlowBackendTimesOutAndTheWorkerKeepsServing) {
  WsClient a, b;
  ASSERT_TRUE(server.connect(a));
  ASSERT_TRUE(server.connect(b));
  auto t0 = SteadyClock::now();
  ASSERT_TRUE(a.sendText("{\"method\":\"hooktest.hook.call\",\"name\":\"slow\",\"body\":{\"delay\":4}}"));
  // The hook is in flight once the backend has it.
  auto deadline = msw::test::deadlineIn(3000);
  while (backend.stats()["requests"].i64() < 1 && msw::test::remainingMs(deadline) > 0) {
  }
  ASSERT_EQ(backend.stats()["requests"].i64(), 1);
  for (int i = 0; i < 3; ++i) {
    auto t = SteadyClock::now();
    ASSERT_TRUE(b.sendText("2"));
    auto beat = b.recvMessage(1000);
    ASSERT_TRUE(beat) << "heartbeat " << i << " not answered while a hook waits";
    EXPECT_EQ(*beat, "3");
    EXPECT_LT(msSince(t), 500);
  }
  Msg m = parseMsg(a.recvEvent("hookAnswer", 5000));
  long took = msSince(t0);
  EXPECT_EQ(result(m), "timeout") << m;
  EXPECT_GE(took, 1900);
  EXPECT_LT(took, 3500);
  EXPECT_EQ(hooks(server, "hooktest.slow", "timeout"), 1);
  EXPECT_TRUE(server.proc.waitLog("hook hooktest.slow: timeout"));
}

// max_in_flight = 4: 30 hooks of 50 ms from 3 clients all come back, never
// more than 4 at the backend at once, over kept-alive connections.
TEST_F(ModuleHooks, ManyHooksAtOnceAreBoundedAndNoneIsLost) {
  std::vector<WsClient> clients(3);
  for (auto& c : clients) ASSERT_TRUE(server.connect(c));
  for (int i = 0; i < 30; ++i) {
    std::string req = "{\"method\":\"hooktest.hook.call\",\"rid\":" + std::to_string(i) +
                      ",\"name\":\"work\",\"body\":{\"n\":" + std::to_string(i) + "}}";
    ASSERT_TRUE(clients[i % 3].sendText(req));
  }
  std::set<int64_t> seen;
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 10; ++j) {
      Msg m = parseMsg(clients[k].recvEvent("hookAnswer", 8000));
      ASSERT_TRUE(m.received) << "client " << k << " answer " << j;
      EXPECT_EQ(result(m), "ok") << m;
      EXPECT_EQ(m.param()["json"]["n"].i64(-1), m.rid().i64(-2));
      seen.insert(m.rid().i64());
    }
  EXPECT_EQ(seen.size(), 30u);
  Json st = backend.stats();
  EXPECT_EQ(st["requests"].i64(), 30);
  EXPECT_LE(st["max_at_once"].i64(), 4) << st.dump();
  EXPECT_GE(st["max_at_once"].i64(), 2) << "the hooks ran one by one: " << st.dump();
  EXPECT_LE(st["connections"].i64(), 8) << "connections were not kept alive: " << st.dump();
  EXPECT_EQ(hooks(server, "hooktest.work", "ok"), 30);
}

// A hook in flight does not hold the stop up: the server exits at once
// (stop_timeout is 5 s, the hook would answer in 20).
TEST_F(ModuleHooks, StopWithAHookInFlightDoesNotWait) {
  WsClient c;
  ASSERT_TRUE(server.connect(c));
  ASSERT_TRUE(c.sendText("{\"method\":\"hooktest.hook.call\",\"name\":\"slow\",\"body\":{\"delay\":20}}"));
  auto deadline = msw::test::deadlineIn(3000);
  while (backend.stats()["requests"].i64() < 1 && msw::test::remainingMs(deadline) > 0) {
  }
  ASSERT_EQ(backend.stats()["requests"].i64(), 1);
  auto t0 = SteadyClock::now();
  EXPECT_EQ(server.proc.stop(8000), 0);
  EXPECT_LT(msSince(t0), 1500);
  EXPECT_EQ(c.waitClose(2000), 1001);
  EXPECT_NE(server.proc.log().find("hook hooktest.slow: cancelled"), std::string::npos) << server.proc.log();
}

// ---- the connect hook

class ConnectHook : public HooksFixture {
 protected:
  ConnectHook() : HooksFixture(true) {}
  bool open(WsClient& c, const std::string& token) {
    return c.connect("127.0.0.1", server.port, "/ws?token=" + token + "&room=r%201");
  }
};

TEST_F(ConnectHook, AdmittedClientGetsTheAnswerAsItsAuth) {
  WsClient c;
  ASSERT_TRUE(open(c, "ok-42"));
  // Sent at once: held until the hook answered, then handled with its auth.
  Msg m = request(c, "{\"method\":\"testmod.test.whoami\"}");
  ASSERT_EQ(m.status(), 200) << m;
  EXPECT_EQ(m.param()["id"].str(), "42");
  EXPECT_EQ(m.param()["type"].str(), "user");
  EXPECT_EQ(m.param()["code"].str(), "room-42");
  EXPECT_EQ(m.param()["nickname"].str(), "N-42");
  EXPECT_EQ(Json::parse(m.param()["auth"].str())["extra"]["k"].i64(), 1) << m;
  // The user index knows it, as for a token.
  HttpResponse online = server.manager("GET", "/online/user?id=42");
  EXPECT_NE(online.body.find("\"online\":true"), std::string::npos) << online.body;
  Json st = backend.stats();
  ASSERT_EQ(st["connect_bodies"].size(), 1) << st.dump();
  JsonRef body = st["connect_bodies"].at(0);
  EXPECT_EQ(body["endpoint"].str(), "x");
  EXPECT_EQ(body["path"].str(), "/ws");
  EXPECT_EQ(body["query"]["token"].str(), "ok-42");
  EXPECT_EQ(body["query"]["room"].str(), "r 1");
  EXPECT_EQ(body["ip"].str(), "127.0.0.1");
  EXPECT_EQ(st["bad_signatures"].i64(-1), 0);
  EXPECT_EQ(hooks(server, "connect", "ok"), 1);
}

TEST_F(ConnectHook, OnOpenRunsOnlyOnceAdmitted) {
  WsClient in;
  ASSERT_TRUE(in.connect("127.0.0.1", server.port, "/chat?token=ok-7"));
  ASSERT_TRUE(in.sendText(R"({"type":"say","n":1})"));  // held until the hook answers
  std::optional<std::string> first = in.recvMessage(5000);
  ASSERT_TRUE(first);
  EXPECT_EQ(Json::parse(*first)["event"].str(), "connected") << *first;
  EXPECT_TRUE(in.recvEvent("said", 5000));
  WsClient out;
  ASSERT_TRUE(out.connect("127.0.0.1", server.port, "/chat?token=nobody"));
  EXPECT_FALSE(out.recvMessage(5000)) << "onOpen ran for a refused connection";
  EXPECT_EQ(out.closeCode(), 4403);
  EXPECT_EQ(backend.stats()["connect_bodies"].at(0)["endpoint"].str(), "chat");
}

// Binary frames of a pending connection are held like text ones (docs/backend.md#connect).
TEST_F(ConnectHook, BinaryFramesAreHeldUntilAdmission) {
  WsClient in;
  ASSERT_TRUE(in.connect("127.0.0.1", server.port, "/frames?token=ok-8"));
  ASSERT_TRUE(in.sendBinary("abc"));
  std::optional<std::string> len = in.recvMessage(5000);
  ASSERT_TRUE(len);
  EXPECT_EQ(len->rfind("len:3", 0), 0u) << *len;
  EXPECT_EQ(in.recvMessage(5000).value_or(""), "cba");
  WsClient out;
  ASSERT_TRUE(out.connect("127.0.0.1", server.port, "/frames?token=nobody"));
  ASSERT_TRUE(out.sendBinary("abc"));
  EXPECT_FALSE(out.recvMessage(5000)) << "a binary frame reached the controller before the hook answered";
  EXPECT_EQ(out.closeCode(), 4403);
}

TEST_F(ConnectHook, RefusedClientIsClosed4403AndItsMessagesAreNotHandled) {
  WsClient c;
  ASSERT_TRUE(open(c, "nobody"));
  ASSERT_TRUE(c.sendText("{\"method\":\"testmod.test.whoami\"}"));
  EXPECT_EQ(c.waitClose(5000), 4403);
  EXPECT_EQ(c.closeReason(), "refused by backend");
  EXPECT_EQ(hooks(server, "connect", "status"), 1);
  EXPECT_TRUE(server.proc.waitLog("connect hook: refused by backend: closing 4403"));
  EXPECT_EQ(server.proc.log().find("whoami"), std::string::npos);
  // Counted by its own name, not as "other" (docs/manager-api.md#metrics).
  EXPECT_TRUE(pollUntil([&] { return metricSum(server.metrics(), "msw_closes_total", "code=\"4403\"") >= 1; },
                        5000))
      << server.metrics();
}

TEST_F(ConnectHook, EachFailureClosesWithItsReasonAndCounts) {
  struct Case {
    const char* token;
    const char* reason;
    const char* result;
  } cases[] = {{"badjson", "backend unavailable", "bad_json"},
               {"big", "backend unavailable", "too_large"},
               {"error", "backend error", "status"}};
  for (const Case& k : cases) {
    WsClient c;
    ASSERT_TRUE(open(c, k.token)) << k.token;
    EXPECT_EQ(c.waitClose(5000), 4403) << k.token;
    EXPECT_EQ(c.closeReason(), k.reason) << k.token;
  }
  EXPECT_EQ(hooks(server, "connect", "bad_json"), 1);
  EXPECT_EQ(hooks(server, "connect", "too_large"), 1);
  EXPECT_EQ(hooks(server, "connect", "status"), 1);
}

TEST_F(ConnectHook, SlowBackendRefusesAfterTimeoutWhileOthersAreServed) {
  WsClient fine, slow;
  ASSERT_TRUE(open(fine, "ok-1"));
  ASSERT_EQ(request(fine, "{\"method\":\"testmod.test.whoami\"}").status(), 200);
  auto t0 = SteadyClock::now();
  ASSERT_TRUE(open(slow, "slow"));
  for (int i = 0; i < 3; ++i) {
    Msg m = request(fine, "{\"method\":\"testmod.test.whoami\"}", 1000);
    ASSERT_EQ(m.status(), 200) << "the worker stopped serving while a connect hook waits";
  }
  // A broadcast to everyone reaches the admitted client, not the one still waiting.
  HttpResponse push = server.manager("POST", "/push", "{\"to\":{\"all\":true},\"event\":\"everyone\"}");
  EXPECT_EQ(push.body, "{\"delivered\":1}");
  EXPECT_TRUE(fine.recvEvent("everyone", 2000));
  EXPECT_LT(msSince(t0), 1500);
  EXPECT_FALSE(slow.recvMessage(5000)) << "a client not yet admitted got a message";
  EXPECT_EQ(slow.waitClose(5000), 4403);
  EXPECT_EQ(slow.closeReason(), "backend timeout");
  EXPECT_GE(msSince(t0), 1900);
  EXPECT_EQ(hooks(server, "connect", "timeout"), 1);
}

TEST_F(ConnectHook, ManyConnectsAtOnceAreAllAnswered) {
  constexpr int kClients = 24;  // six times max_in_flight
  std::vector<WsClient> clients(kClients);
  for (int i = 0; i < kClients; ++i) ASSERT_TRUE(open(clients[i], "ok-" + std::to_string(i)));
  for (auto& c : clients) ASSERT_TRUE(c.sendText("{\"method\":\"testmod.test.whoami\"}"));
  for (int i = 0; i < kClients; ++i) {
    Msg m = recvMsg(clients[i], 8000);
    ASSERT_EQ(m.status(), 200) << "client " << i << ": " << m;
    EXPECT_EQ(m.param()["id"].str(), std::to_string(i));
  }
  EXPECT_EQ(hooks(server, "connect", "ok"), kClients);
}

TEST_F(ConnectHook, StopWithAConnectHookInFlightDoesNotWait) {
  WsClient c;
  ASSERT_TRUE(open(c, "slow"));
  auto deadline = msw::test::deadlineIn(3000);
  while (backend.stats()["connect_bodies"].size() < 1 && msw::test::remainingMs(deadline) > 0) {
  }
  auto t0 = SteadyClock::now();
  EXPECT_EQ(server.proc.stop(8000), 0);
  EXPECT_LT(msSince(t0), 1500);
  EXPECT_EQ(c.waitClose(2000), 1001);
}

// max_in_flight = 1: one at the backend and 8 in the queue; the 10th to
// 12th hooks fail at once with "busy", the first nine all come back.
TEST(BackendQueue, BeyondTheQueueHooksFailBusyAtOnce) {
  Backend backend(kSecret);
  ASSERT_GT(backend.port, 0);
  TestServer server(1);
  configure(server, backend.url(), kSecret, 5, 1);
  ASSERT_TRUE(server.start()) << server.error();
  WsClient c;
  ASSERT_TRUE(server.connect(c));
  for (int i = 0; i < 12; ++i) {
    std::string req = "{\"method\":\"hooktest.hook.call\",\"rid\":" + std::to_string(i) +
                      ",\"name\":\"work\",\"body\":{\"n\":" + std::to_string(i) + "}}";
    ASSERT_TRUE(c.sendText(req));
  }
  std::map<std::string, int> results;
  for (int i = 0; i < 12; ++i) {
    Msg m = parseMsg(c.recvEvent("hookAnswer", 8000));
    ASSERT_TRUE(m.received) << "answer " << i;
    ++results[result(m)];
  }
  EXPECT_EQ(results["ok"], 9);
  EXPECT_EQ(results["busy"], 3);
  Json st = backend.stats();
  EXPECT_EQ(st["requests"].i64(), 9);
  EXPECT_EQ(st["max_at_once"].i64(), 1);
  EXPECT_EQ(hooks(server, "hooktest.work", "busy"), 3);
}

// ---- a backend that is down, or that does not share the secret

TEST(BackendDown, HooksFailUnreachableAndConnectsAreRefused) {
  std::string url = "http://127.0.0.1:" + std::to_string(msw::test::freePort());
  {
    TestServer server(1);
    configure(server, url, "", 2, 4);
    ASSERT_TRUE(server.start()) << server.error();
    WsClient c;
    ASSERT_TRUE(server.connect(c));
    auto t0 = SteadyClock::now();
    Msg m = callHook(c, "echo", "{}");
    EXPECT_EQ(result(m), "unreachable") << m;
    EXPECT_LT(msSince(t0), 1000) << "a refused connection is known at once";
    EXPECT_EQ(hooks(server, "hooktest.echo", "unreachable"), 1);
  }
  TestServer server(1);
  configure(server, url, "", 2, 4, true);
  ASSERT_TRUE(server.start()) << server.error();
  WsClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server.port, "/ws?token=ok-1"));
  EXPECT_EQ(c.waitClose(5000), 4403);
  EXPECT_EQ(c.closeReason(), "backend unavailable");
}

TEST(BackendSignature, WrongSecretIsRefusedByTheBackend) {
  Backend backend(kSecret);
  ASSERT_GT(backend.port, 0);
  TestServer server(1);
  configure(server, backend.url(), "not-the-secret", 2, 4);
  ASSERT_TRUE(server.start()) << server.error();
  WsClient c;
  ASSERT_TRUE(server.connect(c));
  Msg m = callHook(c, "echo", "{}");
  EXPECT_EQ(result(m), "status") << m;
  EXPECT_EQ(m.param()["status"].i64(), 401);
  EXPECT_EQ(backend.stats()["bad_signatures"].i64(), 1);
}

}  // namespace
}  // namespace msw::it
