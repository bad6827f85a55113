// tests/integration/redis_store_test.cpp: the Store contract
// (tests/support/store_contract.cpp) on the Redis driver, then the driver's
// own promises: reconnects, the write queue, the connect timeout, pub/sub.
//
// Each test starts its own redis-server on a free loopback port (never a
// shared one); the contract cases share one per process, a fresh key prefix
// per test keeping them apart.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>

#include "library/redis_store.h"
#include "library/redis_subscriber.h"
#include "tests/support/files.h"
#include "tests/support/http_client.h"
#include "tests/support/store_fixture.h"

namespace msw::test {
namespace {

// hiredis writes with write(2): a dropped connection must not kill the test
// (the server ignores SIGPIPE the same way).
const bool kSigpipeIgnored = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

// ---------------------------------------------------------------------------
// A redis-server of the test's own, on a free loopback port.

bool acceptsTcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extraArgs = {})
      : port_(freePort()), extra_(std::move(extraArgs)), dir_(makeTempDir("msw-redis")) {}
  ~RedisServer() {
    kill();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

  // Spawns redis-server and waits until it accepts connections.
  bool start() {
    if (pid_ > 0) return true;
    std::vector<std::string> args = {"redis-server", "--port",    std::to_string(port_), "--bind", "127.0.0.1",
                                     "--save",       "",          "--appendonly",        "no",     "--dir",
                                     dir_,           "--loglevel", "warning"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {  // only async-signal-safe calls until exec
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    pid_ = pid;
    bool up = pollUntil(
        [&] {
          if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
            pid_ = -1;
            return true;  // exited: give up at once
          }
          return acceptsTcp(port_);
        },
        5000ms, 5ms);
    return up && pid_ > 0;
  }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  int port_;
  std::vector<std::string> extra_;
  std::string dir_;
  pid_t pid_ = -1;
};

// The one server the contract suite shares in this process (a fresh key
// prefix per test keeps them apart); killed at exit.
RedisServer& sharedRedis() {
  static RedisServer server;
  static bool started = server.start();
  if (!started) ADD_FAILURE() << "could not start redis-server (is it installed?)";
  return server;
}

RedisOptions redisOptions(int port, std::string prefix) {
  RedisOptions o;
  o.port = port;
  o.prefix = std::move(prefix);
  o.connectTimeoutMs = 1000;
  o.reconnectMinMs = 50;
  o.reconnectMaxMs = 300;  // the tests wait for reconnects: keep them quick
  return o;
}

// The fixture of the Redis driver's own tests: Redis stores on the loop.
class RedisFixture : public LoopFixture {
 protected:
  RedisStore* redisStore(RedisOptions o) {
    return own<RedisStore>([&] { return std::make_shared<RedisStore>(loop_.ev(), o, loop_.defer()); });
  }
  RedisStore* connectedRedisStore(RedisOptions o) {
    RedisStore* s = redisStore(std::move(o));
    EXPECT_TRUE(pollUntil([s] { return s->connected(); }, 5000ms)) << s->health();
    return s;
  }
};

// ---------------------------------------------------------------------------
// The contract on Redis.

Driver redisDriver() {
  // Started from the main thread: PR_SET_PDEATHSIG follows the thread that forked.
  return {"redis", [] { sharedRedis(); },
          [](LoopThread& loop, const std::string& prefix) {
            return std::make_shared<RedisStore>(loop.ev(), redisOptions(sharedRedis().port(), prefix), loop.defer());
          },
          [](Store& s) { return static_cast<RedisStore&>(s).connected(); }};
}

INSTANTIATE_TEST_SUITE_P(Redis, StoreContract, ::testing::Values(redisDriver()), driverName);

// ---------------------------------------------------------------------------
// The Redis driver beyond the contract.

class RedisDriver : public RedisFixture {};

TEST_F(RedisDriver, KeysAndChannelsCarryThePrefixInRedis) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  RedisStore* prefixed = connectedRedisStore(redisOptions(server.port(), "app1:"));
  RedisStore* raw = connectedRedisStore(redisOptions(server.port(), ""));
  apply([](Store& s) { s.set("k", "v"); }, prefixed);
  EXPECT_EQ(get("k", prefixed).value, "v");  // the write is done: now visible on any connection
  EXPECT_EQ(get("app1:k", raw).value, "v");
  EXPECT_EQ(get("k", raw).value, std::nullopt);
  EXPECT_EQ(prefixed->health(), "ok");
}

TEST_F(RedisDriver, AuthAndSelectComeFirstOnEveryConnection) {
  RedisServer server({"--requirepass", "s3cret"});
  ASSERT_TRUE(server.start());
  RedisOptions db3 = redisOptions(server.port(), "");
  db3.password = "s3cret";
  db3.db = 3;
  RedisOptions db0 = db3;
  db0.db = 0;
  RedisStore* a = connectedRedisStore(db3);
  RedisStore* b = connectedRedisStore(db0);
  apply([](Store& s) { s.set("k", "in db 3"); }, a);
  EXPECT_EQ(get("k", a).value, "in db 3");  // the write is done: now visible on any connection
  EXPECT_EQ(get("k", b).value, std::nullopt);

  RedisOptions wrong = db3;
  wrong.password = "wrong";
  RedisStore* bad = redisStore(wrong);
  EXPECT_TRUE(pollUntil([&] { return bad->health() != "connecting"; }, 3000ms));
  std::this_thread::sleep_for(100ms);  // a few retries, still refused
  EXPECT_FALSE(bad->connected());
  EXPECT_NE(bad->health().find("WRONGPASS"), std::string::npos) << bad->health();
  EXPECT_EQ(get("k", bad).error, kStoreUnavailable);
}

TEST_F(RedisDriver, ConnectsOverAUnixSocketAndByHostName) {
  RedisServer tcp;
  ASSERT_TRUE(tcp.start());
  RedisOptions byName = redisOptions(tcp.port(), "");
  byName.host = "localhost";  // resolved on a helper thread, not on the loop
  RedisStore* named = connectedRedisStore(byName);
  apply([](Store& s) { s.set("k", "by name"); }, named);
  EXPECT_EQ(get("k", named).value, "by name");

  std::string path = tcp.dir() + "/unix.sock";
  RedisServer unix({"--unixsocket", path});
  ASSERT_TRUE(unix.start());
  ASSERT_TRUE(pollUntil([&] { return std::filesystem::exists(path); }, 2000ms));
  RedisOptions overUnix = redisOptions(0, "");
  overUnix.unixSocket = path;
  RedisStore* viaSocket = connectedRedisStore(overUnix);
  apply([](Store& s) { s.rpush("l", "over unix"); }, viaSocket);
  EXPECT_EQ(lrange("l", 0, -1, viaSocket).value, StrList{"over unix"});
}

TEST_F(RedisDriver, AnUnresolvableHostFailsWithoutBlockingTheLoop) {
  RedisOptions o = redisOptions(6379, "");
  o.host = "no-such-host.invalid";
  o.connectTimeoutMs = 500;
  auto t0 = Clock::now();
  RedisStore* s = redisStore(o);
  EXPECT_EQ(get("k", s).error, kStoreUnavailable);
  EXPECT_LT(Clock::now() - t0, 400ms) << "the lookup held up the loop";
  // Whether the lookup fails fast or hangs offline, the attempt ends in time.
  EXPECT_TRUE(pollUntil(
      [s] {
        std::string h = s->health();
        return h.find("resolve") != std::string::npos || h.find("timeout") != std::string::npos;
      },
      3000ms))
      << s->health();
  EXPECT_FALSE(s->connected());
}

TEST_F(RedisDriver, NotRunningAtStartThenStarted) {
  RedisServer server;  // not started yet
  RedisOptions o = redisOptions(server.port(), "p:");
  RedisStore* s = redisStore(o);
  std::this_thread::sleep_for(300ms);  // several refused attempts
  EXPECT_FALSE(s->connected());
  EXPECT_NE(s->health(), "ok");
  auto r = get("a", s);
  EXPECT_EQ(r.error, kStoreUnavailable);
  EXPECT_EQ(incr("n", 1, s).error, kStoreUnavailable) << "incr with a callback is a read";
  apply(
      [](Store& st) {
        st.set("a", "1");
        st.rpush("l", "x");
        st.rpush("l", "y");
        st.incr("n", 5);
        st.del("a");
        st.set("a", "2");
      },
      s);

  ASSERT_TRUE(server.start());
  ASSERT_TRUE(pollUntil([s] { return s->connected(); }, 5000ms)) << s->health();
  EXPECT_EQ(s->health(), "ok");
  EXPECT_EQ(get("a", s).value, "2");
  EXPECT_EQ(lrange("l", 0, -1, s).value, (StrList{"x", "y"}));
  EXPECT_EQ(get("n", s).value, "5");
}

TEST_F(RedisDriver, KilledAndRestartedReplaysQueuedWrites) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  RedisStore* s = connectedRedisStore(redisOptions(server.port(), "p:"));
  auto reconnects = std::make_shared<std::atomic<int>>(0);
  loop_.sync([&] { s->setOnConnected([reconnects] { ++*reconnects; }); });
  apply([](Store& st) { st.set("k", "1"); }, s);
  EXPECT_EQ(get("k", s).value, "1");

  // A read in flight when the connection drops completes with an error.
  server.pause();
  auto p = std::make_shared<std::promise<StoreResult<OptStr>>>();
  auto inflight = p->get_future();
  loop_.loop().post([s, p] { s->get("k", [p](StoreResult<OptStr> r) { p->set_value(std::move(r)); }); });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(inflight.wait_for(0ms), std::future_status::timeout) << "a stopped server cannot answer";
  server.kill();
  ASSERT_EQ(inflight.wait_for(kReplyTimeout), std::future_status::ready);
  auto lost = inflight.get();
  EXPECT_TRUE(startsWith(lost.error, kStoreUnavailable)) << lost.error;
  EXPECT_EQ(lost.value, std::nullopt);

  ASSERT_TRUE(pollUntil([s] { return !s->connected(); }, 2000ms));
  EXPECT_NE(s->health(), "ok");
  EXPECT_EQ(get("k", s).error, kStoreUnavailable);
  apply(
      [](Store& st) {
        st.set("k", "2");
        st.rpush("l", "a");
        st.rpush("l", "b");
        st.hset("h", "f", "v");
      },
      s);

  ASSERT_TRUE(server.start());  // same port, empty data set
  ASSERT_TRUE(pollUntil([s] { return s->connected(); }, 5000ms)) << s->health();
  EXPECT_EQ(get("k", s).value, "2");
  EXPECT_EQ(lrange("l", 0, -1, s).value, (StrList{"a", "b"}));
  EXPECT_EQ(hget("h", "f", s).value, "v");
  EXPECT_EQ(reconnects->load(), 1) << "the connected hook runs on every reconnect";
}

TEST_F(RedisDriver, TheWriteQueueIsBounded) {
  RedisServer server;  // not started yet
  RedisOptions o = redisOptions(server.port(), "");
  o.maxQueuedWrites = 5;
  RedisStore* s = redisStore(o);
  apply(
      [](Store& st) {
        for (int i = 0; i < 8; ++i) st.rpush("l", std::to_string(i));
      },
      s);
  size_t queued = 0;
  uint64_t dropped = 0;
  loop_.sync([&] {
    queued = s->queuedWrites();
    dropped = s->droppedWrites();
  });
  EXPECT_EQ(queued, 5u);
  EXPECT_EQ(dropped, 3u);
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(pollUntil([s] { return s->connected(); }, 5000ms)) << s->health();
  EXPECT_EQ(lrange("l", 0, -1, s).value, (StrList{"0", "1", "2", "3", "4"}));
}

// A listening socket whose accept queue is full (backlog 0, one connection
// never accepted) leaves every further connect hanging: the SYN is dropped.
class Blackhole {
 public:
  Blackhole() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener_, 0) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
    // Fill the queue until a connect stays pending.
    for (int i = 0; i < 8; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      fillers_.push_back(fd);
      connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, 100) == 0) {
        full_ = true;
        break;
      }
    }
  }
  ~Blackhole() {
    for (int fd : fillers_) close(fd);
    if (listener_ >= 0) close(listener_);
  }
  int port() const { return port_; }
  bool full() const { return full_; }

 private:
  int listener_ = -1;
  int port_ = 0;
  bool full_ = false;
  std::vector<int> fillers_;
};

// Records when each tick of a repeating 10 ms timer ran (loop thread only).
struct Ticker {
  ev_timer timer;
  std::vector<Clock::time_point> ticks;

  static void onTick(struct ev_loop*, ev_timer* w, int) { static_cast<Ticker*>(w->data)->ticks.push_back(Clock::now()); }
  void start(struct ev_loop* loop) {
    ev_timer_init(&timer, &Ticker::onTick, 0.01, 0.01);
    timer.data = this;
    ev_timer_start(loop, &timer);
  }
  std::vector<Clock::time_point> stop(struct ev_loop* loop) {
    ev_timer_stop(loop, &timer);
    return ticks;
  }
};

TEST_F(RedisDriver, ABlackholedConnectTimesOutWithoutBlockingTheLoop) {
  Blackhole hole;
  ASSERT_TRUE(hole.full()) << "could not make a connect hang on this machine";

  // A 10 ms repeating timer on the same loop: its ticks show the loop never stalls.
  auto ticker = std::make_shared<Ticker>();
  loop_.sync([&] { ticker->start(loop_.ev()); });

  const int timeoutMs = 300;
  RedisOptions o = redisOptions(hole.port(), "");
  o.connectTimeoutMs = timeoutMs;
  o.reconnectMinMs = 5000;  // one attempt within this test
  o.reconnectMaxMs = 5000;
  auto t0 = Clock::now();
  RedisStore* s = redisStore(o);
  // Reads fail at once while the connect hangs.
  auto r = get("k", s);
  auto readTime = Clock::now() - t0;
  bool timedOut = pollUntil([s] { return s->health().find("timeout") != std::string::npos; }, 3000ms, 2ms);
  auto elapsed = Clock::now() - t0;
  std::vector<Clock::time_point> ticks;
  loop_.sync([&] { ticks = ticker->stop(loop_.ev()); });

  EXPECT_EQ(r.error, kStoreUnavailable);
  EXPECT_LT(readTime, std::chrono::milliseconds(timeoutMs)) << "the read waited for the connect";
  ASSERT_TRUE(timedOut) << s->health();
  EXPECT_GE(elapsed, std::chrono::milliseconds(timeoutMs - 20));
  EXPECT_LE(elapsed, std::chrono::milliseconds(timeoutMs + 400)) << "the timeout fired late";
  EXPECT_FALSE(s->connected());
  ASSERT_GE(ticks.size(), 10u);
  auto maxGap = Clock::duration::zero();
  for (size_t i = 1; i < ticks.size(); ++i) maxGap = std::max(maxGap, ticks[i] - ticks[i - 1]);
  EXPECT_LT(maxGap, 150ms) << "the loop stalled for "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(maxGap).count() << " ms";
}

TEST_F(RedisDriver, CloseFailsPendingReadsAndStopsForGood) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  RedisStore* s = connectedRedisStore(redisOptions(server.port(), ""));
  server.pause();
  auto p = std::make_shared<std::promise<StoreResult<OptStr>>>();
  auto inflight = p->get_future();
  loop_.loop().post([s, p] { s->get("k", [p](StoreResult<OptStr> r) { p->set_value(std::move(r)); }); });
  loop_.sync([s] { s->close(); });
  ASSERT_EQ(inflight.wait_for(kReplyTimeout), std::future_status::ready);
  EXPECT_TRUE(startsWith(inflight.get().error, kStoreUnavailable));
  EXPECT_FALSE(s->connected());
  EXPECT_EQ(get("k", s).error, kStoreUnavailable);
  server.resume();
  std::this_thread::sleep_for(200ms);  // longer than a retry: none happens
  EXPECT_FALSE(s->connected());
  destroy(s);
}

// ---------------------------------------------------------------------------
// Publish (on the store's connection) and RedisSubscriber (its own).

class RedisPubSub : public RedisFixture {
 protected:
  struct Inbox {
    std::mutex mutex;
    std::vector<std::pair<std::string, std::string>> messages;
    size_t size() {
      std::lock_guard<std::mutex> lock(mutex);
      return messages.size();
    }
    bool has(const std::string& channel, const std::string& payload) {
      std::lock_guard<std::mutex> lock(mutex);
      return std::find(messages.begin(), messages.end(), std::make_pair(channel, payload)) != messages.end();
    }
  };

  RedisSubscriber* subscriber(RedisOptions o, std::shared_ptr<Inbox> inbox) {
    return own<RedisSubscriber>([&] {
      return std::make_shared<RedisSubscriber>(loop_.ev(), o, [inbox](std::string_view c, std::string_view m) {
        std::lock_guard<std::mutex> lock(inbox->mutex);
        inbox->messages.emplace_back(c, m);
      });
    });
  }

  // A subscription is live only once Redis handled the SUBSCRIBE, which the
  // publisher cannot see: publish again until the message arrives.
  bool publishUntilReceived(RedisStore* pub, Inbox& inbox, const std::string& channel, const std::string& payload) {
    return pollUntil(
        [&] {
          if (inbox.has(channel, payload)) return true;
          loop_.loop().post([=] { pub->publish(channel, payload); });
          return false;
        },
        5000ms, 25ms);
  }
};

TEST_F(RedisPubSub, RoundTrip) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  RedisStore* pub = connectedRedisStore(redisOptions(server.port(), "app:"));
  auto inbox = std::make_shared<Inbox>();
  auto otherApp = std::make_shared<Inbox>();
  RedisSubscriber* sub = subscriber(redisOptions(server.port(), "app:"), inbox);
  RedisSubscriber* other = subscriber(redisOptions(server.port(), "other:"), otherApp);
  loop_.sync([&] {
    sub->subscribe("room:1");
    sub->subscribe("room:1");  // idempotent
    other->subscribe("room:1");
  });
  const std::string payload("hello\0\r\nworld", 13);
  ASSERT_TRUE(publishUntilReceived(pub, *inbox, "room:1", payload));
  EXPECT_TRUE(sub->connected());
  EXPECT_EQ(sub->health(), "ok");

  // After unsubscribe nothing more comes: "marker", published after "late"
  // on the same connection, arrives after it would have.
  loop_.sync([&] {
    sub->unsubscribe("room:1");
    sub->subscribe("marker");
  });
  ASSERT_TRUE(pollUntil(
      [&] {
        if (inbox->has("marker", "m")) return true;
        loop_.loop().post([pub] {
          pub->publish("room:1", "late");
          pub->publish("marker", "m");
        });
        return false;
      },
      5000ms, 25ms));
  EXPECT_FALSE(inbox->has("room:1", "late"));
  EXPECT_EQ(otherApp->size(), 0u) << "another prefix is another app";
}

TEST_F(RedisPubSub, SubscriberResubscribesAfterARestart) {
  RedisServer server;
  ASSERT_TRUE(server.start());
  RedisStore* pub = connectedRedisStore(redisOptions(server.port(), ""));
  auto inbox = std::make_shared<Inbox>();
  RedisSubscriber* sub = subscriber(redisOptions(server.port(), ""), inbox);
  loop_.sync([&] {
    sub->subscribe("a");
    sub->subscribe("b");
  });
  ASSERT_TRUE(publishUntilReceived(pub, *inbox, "a", "before"));

  server.kill();
  ASSERT_TRUE(pollUntil([&] { return !sub->connected() && !pub->connected(); }, 2000ms));
  EXPECT_NE(sub->health(), "ok");
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(pollUntil([&] { return sub->connected() && pub->connected(); }, 5000ms)) << sub->health();
  EXPECT_TRUE(publishUntilReceived(pub, *inbox, "a", "after"));
  EXPECT_TRUE(publishUntilReceived(pub, *inbox, "b", "after"));
}

}  // namespace
}  // namespace msw::test
