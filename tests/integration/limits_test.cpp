// tests/integration/limits_test.cpp: the connection limits of docs/protocol.md#limits-and-close-codes that
// take time or volume: heartbeat_idle_time (4008) and send_queue_limit (4009).
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/it_support.h"

namespace msw::it {
namespace {

class Idle : public SharedServerTest<Idle> {
 public:
  static void configure(TestServer& s) { s.ini.set("outside", "heartbeat_idle_time", "2"); }
};

TEST_F(Idle, ASilentClientIsClosedWith4008AfterTheIdleTime) {
  auto t0 = msw::test::Clock::now();
  WsClient c = client();
  // Nothing may arrive during the first 1.5 s.
  std::optional<msw::test::WsFrame> early = c.recvFrame(1500);
  EXPECT_FALSE(early) << "frame " << early->opcode << " '" << early->payload << "' after " << msSince(t0) << " ms";
  EXPECT_TRUE(c.timedOut()) << c.error();
  int code = c.waitClose(4000);
  int64_t elapsed = msSince(t0);
  EXPECT_EQ(code, 4008) << "after " << elapsed << " ms";
  EXPECT_GE(elapsed, 1900) << "closed before heartbeat_idle_time";
  EXPECT_LE(elapsed, 4000) << "closed late";
  EXPECT_EQ(c.closeReason(), "idle timeout");
}

TEST_F(Idle, WebSocketPingsCountAsActivity) {
  auto t0 = msw::test::Clock::now();
  WsClient c = client();
  while (msSince(t0) < 3500) {
    ASSERT_TRUE(c.sendPing("keep")) << c.error() << " after " << msSince(t0) << " ms";
    // The pong, then a quiet half second (which a close frame would end).
    std::optional<msw::test::WsFrame> pong = c.recvFrame(1000);
    ASSERT_TRUE(pong) << c.error() << " after " << msSince(t0) << " ms";
    ASSERT_EQ(pong->opcode, msw::test::kOpPong) << "close code " << c.closeCode() << " after " << msSince(t0) << " ms";
    std::optional<msw::test::WsFrame> other = c.recvFrame(500);
    ASSERT_FALSE(other) << "opcode " << other->opcode << ", close code " << c.closeCode() << " after "
                        << msSince(t0) << " ms";
  }
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong") << "still open after " << msSince(t0) << " ms";
}

TEST_F(Idle, AByteTrickleThatNeverEndsAFrameIsClosed4008) {
  auto t0 = msw::test::Clock::now();
  WsClient c = client();
  std::string frame = msw::test::encodeFrame(msw::test::kOpText, std::string(100, 'x'), true, true, 0x11223344u);
  ASSERT_TRUE(c.sendRawBytes(frame.substr(0, 6)));  // header and mask: a 100-byte frame begins
  int code = 0;
  // One byte every 300 ms: the frame would end after 30 s, far past the 2 s idle time.
  for (size_t i = 6; i < frame.size() && code == 0; ++i) {
    if (!c.sendRawBytes(frame.substr(i, 1))) break;
    code = c.waitClose(300);
  }
  if (code == 0) code = c.waitClose(1000);
  int64_t elapsed = msSince(t0);
  EXPECT_EQ(code, 4008) << "after " << elapsed << " ms";
  EXPECT_GE(elapsed, 1900) << "closed before heartbeat_idle_time";
  EXPECT_LE(elapsed, 4500) << "closed late";
}

TEST_F(Idle, TextHeartbeatsCountAsActivity) {
  auto t0 = msw::test::Clock::now();
  WsClient c = client();
  while (msSince(t0) < 3500) {
    ASSERT_TRUE(c.sendText("2"));
    std::optional<std::string> three = c.recvMessage(1000);
    ASSERT_TRUE(three) << "close code " << c.closeCode() << " after " << msSince(t0) << " ms";
    ASSERT_EQ(*three, "3");
    std::optional<msw::test::WsFrame> other = c.recvFrame(500);
    ASSERT_FALSE(other) << "opcode " << other->opcode << ", close code " << c.closeCode() << " after "
                        << msSince(t0) << " ms";
  }
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
}

TEST_F(Idle, AClientThatListensButNeverSpeaksIsStillIdle) {
  // Server pushes are not client activity.
  auto t0 = msw::test::Clock::now();
  WsClient c = client("listener");
  Msg who = request(c, R"({"method":"testmod.test.whoami"})");
  double fd = who.param()["fd"].num();
  ASSERT_GT(fd, 0) << who;
  std::string push = R"({"to":{"fd":)" + std::to_string(static_cast<uint64_t>(fd)) + R"(},"event":"tick"})";
  int pushes = 0;
  while (c.closeCode() == 0 && msSince(t0) < 5000) {
    HttpResponse r = server().manager("POST", "/push", push);
    if (r.status != 200 || r.body.find("\"delivered\":1") == std::string::npos) break;
    ++pushes;
    std::optional<std::string> m = c.recvMessage(400);  // the tick, then quiet
    if (m) c.recvFrame(300);
  }
  EXPECT_GT(pushes, 2);
  EXPECT_EQ(c.waitClose(3000), 4008) << "after " << msSince(t0) << " ms";
}

// Starts s, connects c (a ping answered), then reloads s with
// heartbeat_idle_time = 2 (reloadable, docs/configuration.md).
void connectThenReloadIdle2(TestServer& s, WsClient& c) {
  ASSERT_TRUE(s.start()) << s.error();
  ASSERT_TRUE(s.connect(c)) << c.error();
  ASSERT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  s.ini.set("outside", "heartbeat_idle_time", "2");
  s.writeConfig();
  ASSERT_EQ(s.manager("POST", "/reload").status, 200);
}

TEST(IdleReload, AShorterIdleTimeAppliesToConnectionsAlreadyOpen) {
  TestServer s;  // heartbeat_idle_time 60 -> 2
  WsClient c;
  ASSERT_NO_FATAL_FAILURE(connectThenReloadIdle2(s, c));
  auto t0 = msw::test::Clock::now();
  int code = c.waitClose(4500);
  EXPECT_EQ(code, 4008) << "still open " << msSince(t0) << " ms after a reload to heartbeat_idle_time = 2";
  // A connection opened after the reload gets the new time, of course.
  WsClient fresh;
  ASSERT_TRUE(s.connect(fresh)) << fresh.error();
  EXPECT_EQ(fresh.waitClose(4500), 4008);
}

TEST(IdleReload, TurningTheIdleTimeOnAppliesToConnectionsAlreadyOpen) {
  TestServer s;
  s.ini.set("outside", "heartbeat_idle_time", "0");
  WsClient c;
  ASSERT_NO_FATAL_FAILURE(connectThenReloadIdle2(s, c));
  EXPECT_EQ(c.waitClose(4500), 4008) << "a connection opened while idle closing was off is never closed";
}

// ---------------------------------------------------------------- max_connections

class MaxConnections : public SharedServerTest<MaxConnections> {
 public:
  static void configure(TestServer& s) { s.ini.set("outside", "max_connections", "3"); }
};

TEST_F(MaxConnections, UpgradesBeyondTheLimitAreRefusedUntilOneCloses) {
  WsClient watcher = client("watcher");
  WsClient a = client("a"), b = client("b");
  ASSERT_EQ(request(b, R"({"method":"ping"})").event(), "pong");
  WsClient over;
  EXPECT_FALSE(server().connect(over, server().userToken())) << "a 4th connection with max_connections = 3";
  EXPECT_NE(over.response().status, 101);
  ASSERT_EQ(request(watcher, R"({"method":"ping"})").event(), "pong") << "the others are unaffected";
  // b leaves; the watcher hears of it once the server has forgotten b.
  Msg w = request(watcher, R"({"method":"testmod.test.whoami"})");
  ASSERT_EQ(request(b, R"({"method":"testmod.test.hooks","notify":)" +
                           std::to_string(static_cast<uint64_t>(w.param()["fd"].num())) + "}")
                .event(),
            "hooked");
  b.sendClose(1000);
  EXPECT_EQ(b.waitClose(), 1000);
  EXPECT_EQ(recvMsg(watcher).event(), "closedHook");
  WsClient again;
  EXPECT_TRUE(server().connect(again, server().userToken())) << again.error() << " " << again.response().body;
}

class MaxConnectionsAtOnce : public SharedServerTest<MaxConnectionsAtOnce> {
 public:
  static constexpr int kWorkers = 2;
  static void configure(TestServer& s) { s.ini.set("outside", "max_connections", "20"); }
};

TEST_F(MaxConnectionsAtOnce, SixtyAtOnceAdmitExactlyTheLimitAndTheRestGet503WithJson) {
  constexpr int kClients = 60;
  std::vector<WsClient> clients(kClients);
  std::vector<int> outcome(kClients, 0);  // 101, or the refusal's status
  std::vector<std::string> bodies(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&, i] {
      bool ok = server().connect(clients[static_cast<size_t>(i)], server().userToken("at" + std::to_string(i)));
      outcome[static_cast<size_t>(i)] = ok ? 101 : clients[static_cast<size_t>(i)].response().status;
      bodies[static_cast<size_t>(i)] = clients[static_cast<size_t>(i)].response().body;
    });
  for (std::thread& t : threads) t.join();
  int admitted = 0;
  for (int i = 0; i < kClients; ++i) {
    if (outcome[static_cast<size_t>(i)] == 101) {
      ++admitted;
      continue;
    }
    EXPECT_EQ(outcome[static_cast<size_t>(i)], 503) << bodies[static_cast<size_t>(i)];
    EXPECT_EQ(Json::parse(bodies[static_cast<size_t>(i)])["status"].i64(), 503) << bodies[static_cast<size_t>(i)];
  }
  EXPECT_EQ(admitted, 20);
  for (int i = 0; i < kClients; ++i) {
    if (outcome[static_cast<size_t>(i)] != 101) continue;
    EXPECT_EQ(request(clients[static_cast<size_t>(i)], R"({"method":"ping"})").event(), "pong") << i;
  }
}

// The server's descriptor limits (soft, hard) from /proc.
std::pair<long, long> openFileLimits(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream fields(line.substr(std::string("Max open files").size()));
    long soft = -1, hard = -1;
    fields >> soft >> hard;
    return {soft, hard};
  }
  return {-1, -1};
}

TEST_F(MaxConnections, TheDescriptorLimitFollowsItNotTheHardLimit) {
  // libwebsockets scans a table of one slot per allowed descriptor at every
  // connection's open and close: the server keeps the limit near need.
  auto [soft, hard] = openFileLimits(server().proc.pid());
  ASSERT_GT(soft, 0);
  // max_connections 3, the server's own 64 + 8 per worker, 1,024 for
  // manager clients and files: far below the machine's hard limit.
  EXPECT_EQ(soft, std::min<long>(hard, 3 + 64 + 8 * kWorkers + 1024));
  EXPECT_LE(soft, hard);
}

TEST_F(Idle, WithoutMaxConnectionsTheDescriptorLimitIsRaisedToTheHardOne) {
  auto [soft, hard] = openFileLimits(server().proc.pid());
  ASSERT_GT(soft, 0);
  EXPECT_EQ(soft, hard);
}

// ---------------------------------------------------------------- send_queue_limit

class SendQueue : public SharedServerTest<SendQueue> {
 public:
  static void configure(TestServer& s) { s.ini.set("outside", "send_queue_limit", "64k"); }
};

TEST_F(SendQueue, AReaderGetsEverythingUnderTheLimit) {
  WsClient c = client();
  // 50 messages of ~1.1 KB: 55 KB queued at once, under 64 KiB.
  ASSERT_TRUE(c.sendText(R"({"method":"testmod.test.flood","n":50,"size":1000})"));
  for (int i = 0; i < 50; ++i) {
    Msg m = recvMsg(c);
    ASSERT_EQ(m.event(), "flood") << i << ": " << c.error() << " close " << c.closeCode();
    ASSERT_EQ(m.info(), std::to_string(i));
  }
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
}

TEST_F(SendQueue, OneBurstOverTheLimitCloses4009) {
  WsClient c = client();
  WsClient bystander = client("by");
  ASSERT_TRUE(c.sendText(R"({"method":"testmod.test.flood","n":100,"size":1000})"));
  EXPECT_EQ(c.waitClose(5000), 4009) << c.error();
  EXPECT_EQ(request(bystander, R"({"method":"ping"})").event(), "pong");
}

// True when one line of the server log holds both texts.
bool logLineWith(const std::string& log, const std::string& a, const std::string& b) {
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line))
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return true;
  return false;
}

TEST_F(SendQueue, AClientThatDoesNotReadIsClosedWith4009) {
  WsClient slow = client("slow");
  WsClient bystander = client("by");
  Msg who = request(slow, R"({"method":"testmod.test.whoami"})");
  const std::string conn = "conn " + std::to_string(static_cast<uint64_t>(who.param()["fd"].num())) + ": ";
  // Batches of 32 KB (each under the limit) while reading nothing: the
  // socket buffers fill, then the server's queue, then the close.
  const std::string flood = R"({"method":"testmod.test.flood","n":32,"size":1000})";
  bool overflowed = false;
  int batches = 0;
  for (; batches < 2000 && !overflowed; ++batches) {
    if (!slow.sendText(flood)) break;  // the server may stop reading us once it has closed us
    if (batches % 20 == 19) {
      // A round trip on the bystander: the server is alive and has handled the batches so far.
      ASSERT_EQ(request(bystander, R"({"method":"ping"})").event(), "pong") << "after " << batches << " batches";
      overflowed = logLineWith(server().proc.log(), conn, "over send_queue_limit");
    }
  }
  ASSERT_EQ(request(bystander, R"({"method":"ping"})").event(), "pong");
  ASSERT_TRUE(logLineWith(server().proc.log(), conn, "over send_queue_limit"))
      << "no overflow after " << batches << " batches of 32 KB";
  // Now read: what was already in the socket buffers, then the close.
  // (A receive buffer shrunk with SO_RCVBUF would fill sooner but then
  // drain at a few KB per 200 ms persist probe: too slow for the deadline.)
  EXPECT_EQ(slow.waitClose(10000), 4009) << slow.error();
  EXPECT_EQ(request(bystander, R"({"method":"ping"})").event(), "pong");
  std::string metrics = server().metrics();
  EXPECT_GE(metricSum(metrics, "msw_closes_total", "code=\"4009\""), 1) << metrics;
}

}  // namespace
}  // namespace msw::it
