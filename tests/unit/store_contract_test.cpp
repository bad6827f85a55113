// tests/unit/store_contract_test.cpp: the Store contract (msw/store.h),
// stated once and run against every driver, then the Redis driver's own
// promises: reconnects, the write queue, the connect timeout, pub/sub.
//
// Each store lives on an EventLoop running on its own thread, as on a
// worker: the test posts the operations to that loop and waits for the read
// callbacks through promises, with a timeout. Redis tests start their own
// redis-server on a free loopback port (never a shared one).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "framework/event_loop.h"
#include "library/memory_store.h"
#include "library/redis_store.h"
#include "library/redis_subscriber.h"
#include "msw/store.h"

namespace msw {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using OptStr = std::optional<std::string>;

constexpr auto kReplyTimeout = 5s;

// hiredis writes with write(2): a dropped connection must not kill the test
// (the server ignores SIGPIPE the same way).
const bool kSigpipeIgnored = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

template <class Pred>
bool pollUntil(Pred pred, std::chrono::milliseconds timeout, std::chrono::milliseconds step = 10ms) {
  auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
  return true;
}

bool startsWith(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

StrList sorted(StrList v) {
  std::sort(v.begin(), v.end());
  return v;
}

// ---------------------------------------------------------------------------
// An EventLoop on a thread of its own.

class LoopThread {
 public:
  LoopThread() : thread_([this] { loop_.run(); }) {}
  ~LoopThread() {
    loop_.post([this] { loop_.stop(); });
    thread_.join();
  }
  EventLoop& loop() { return loop_; }
  struct ev_loop* ev() { return loop_.loop(); }
  std::thread::id id() const { return thread_.get_id(); }
  MemoryStore::Defer defer() {
    return [loop = &loop_](std::function<void()> f) { loop->post(std::move(f)); };
  }

  // Runs f on the loop and waits for it to have run.
  bool sync(std::function<void()> f) {
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    loop_.post([f = std::move(f), done] {
      f();
      done->set_value();
    });
    return fut.wait_for(kReplyTimeout) == std::future_status::ready;
  }

 private:
  EventLoop loop_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// A redis-server of the test's own, on a free loopback port.

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

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
  explicit RedisServer(std::vector<std::string> extraArgs = {}) : port_(freePort()), extra_(std::move(extraArgs)) {
    std::string pattern = (std::filesystem::temp_directory_path() / "msw-redis-XXXXXX").string();
    if (mkdtemp(pattern.data())) dir_ = pattern;
  }
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

// ---------------------------------------------------------------------------
// The fixture: stores are created, used and destroyed on the loop thread.

class LoopFixture : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_TRUE(loop_.sync([this] { owned_.clear(); }));
  }

  // Builds a T on the loop; the fixture destroys it there at the end.
  template <class T, class Make>
  T* own(Make make) {
    T* out = nullptr;
    loop_.sync([&] {
      std::shared_ptr<T> p = make();
      out = p.get();
      owned_.push_back(std::move(p));
    });
    return out;
  }
  // Destroys one of them now, on the loop.
  void destroy(void* p) {
    loop_.sync([&] {
      std::erase_if(owned_, [p](const std::shared_ptr<void>& o) { return o.get() == p; });
    });
  }

  RedisStore* redisStore(RedisOptions o) {
    return own<RedisStore>([&] { return std::make_shared<RedisStore>(loop_.ev(), o, loop_.defer()); });
  }
  RedisStore* connectedRedisStore(RedisOptions o) {
    RedisStore* s = redisStore(std::move(o));
    EXPECT_TRUE(pollUntil([s] { return s->connected(); }, 5000ms)) << s->health();
    return s;
  }

  // Posts writes (no wait: later posts run after them).
  void apply(std::function<void(Store&)> f, Store* s = nullptr) {
    Store* target = s ? s : store_;
    loop_.loop().post([f = std::move(f), target] { f(*target); });
  }

  // Issues one read on the loop and waits for its callback.
  template <class T>
  StoreResult<T> await(std::function<void(Store&, StoreCallback<T>)> issue, Store* s = nullptr) {
    Store* target = s ? s : store_;
    auto p = std::make_shared<std::promise<StoreResult<T>>>();
    auto fut = p->get_future();
    loop_.loop().post([issue = std::move(issue), target, p] {
      issue(*target, [p](StoreResult<T> r) { p->set_value(std::move(r)); });
    });
    if (fut.wait_for(kReplyTimeout) != std::future_status::ready) {
      ADD_FAILURE() << "no callback within the timeout";
      StoreResult<T> r;
      r.error = "test: no callback";
      return r;
    }
    return fut.get();
  }

  StoreResult<OptStr> get(std::string k, Store* s = nullptr) {
    return await<OptStr>([k](Store& st, auto cb) { st.get(k, cb); }, s);
  }
  StoreResult<int64_t> incr(std::string k, int64_t by, Store* s = nullptr) {
    return await<int64_t>([k, by](Store& st, auto cb) { st.incr(k, by, cb); }, s);
  }
  StoreResult<bool> exists(std::string k, Store* s = nullptr) {
    return await<bool>([k](Store& st, auto cb) { st.exists(k, cb); }, s);
  }
  StoreResult<OptStr> hget(std::string k, std::string f, Store* s = nullptr) {
    return await<OptStr>([k, f](Store& st, auto cb) { st.hget(k, f, cb); }, s);
  }
  StoreResult<StrMap> hgetall(std::string k, Store* s = nullptr) {
    return await<StrMap>([k](Store& st, auto cb) { st.hgetall(k, cb); }, s);
  }
  StoreResult<StrList> smembers(std::string k, Store* s = nullptr) {
    return await<StrList>([k](Store& st, auto cb) { st.smembers(k, cb); }, s);
  }
  StoreResult<int64_t> scard(std::string k, Store* s = nullptr) {
    return await<int64_t>([k](Store& st, auto cb) { st.scard(k, cb); }, s);
  }
  StoreResult<bool> sismember(std::string k, std::string m, Store* s = nullptr) {
    return await<bool>([k, m](Store& st, auto cb) { st.sismember(k, m, cb); }, s);
  }
  StoreResult<StrList> lrange(std::string k, int64_t a, int64_t b, Store* s = nullptr) {
    return await<StrList>([k, a, b](Store& st, auto cb) { st.lrange(k, a, b, cb); }, s);
  }
  StoreResult<int64_t> llen(std::string k, Store* s = nullptr) {
    return await<int64_t>([k](Store& st, auto cb) { st.llen(k, cb); }, s);
  }
  void pushAll(const std::string& key, const StrList& values, Store* s = nullptr) {
    apply(
        [key, values](Store& st) {
          for (const std::string& v : values) st.rpush(key, v);
        },
        s);
  }

  LoopThread loop_;
  Store* store_ = nullptr;  // the default target of the helpers

 private:
  std::vector<std::shared_ptr<void>> owned_;  // destroyed on the loop, in TearDown
};

// ---------------------------------------------------------------------------
// The contract, once, for every driver.

struct Driver {
  std::string name;
  std::function<void()> prepare;  // on the test's main thread, before make
  // Called on the loop thread.
  std::function<std::shared_ptr<Store>(LoopThread&, const std::string& prefix)> make;
  std::function<bool(Store&)> ready;  // any thread
};

void PrintTo(const Driver& d, std::ostream* os) { *os << d.name; }

Driver memoryDriver() {
  return {"memory", [] {},
          [](LoopThread& loop, const std::string& prefix) {
            return std::make_shared<MemoryStore>(prefix, loop.defer());
          },
          [](Store&) { return true; }};
}

Driver redisDriver() {
  // Started from the main thread: PR_SET_PDEATHSIG follows the thread that forked.
  return {"redis", [] { sharedRedis(); },
          [](LoopThread& loop, const std::string& prefix) {
            return std::make_shared<RedisStore>(loop.ev(), redisOptions(sharedRedis().port(), prefix), loop.defer());
          },
          [](Store& s) { return static_cast<RedisStore&>(s).connected(); }};
}

class StoreContract : public LoopFixture, public ::testing::WithParamInterface<Driver> {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string("t") + std::to_string(getpid()) + ":" + info->name() + ":";
    GetParam().prepare();
    store_ = make(prefix_);
    ASSERT_NE(store_, nullptr);
  }

  Store* make(const std::string& prefix) {
    Store* s = own<Store>([&] { return GetParam().make(loop_, prefix); });
    EXPECT_TRUE(pollUntil([&] { return GetParam().ready(*s); }, 5000ms)) << "store not ready";
    return s;
  }

  std::string prefix_;
};

TEST_P(StoreContract, SetGetOverwriteAndMissing) {
  apply([](Store& s) { s.set("k", "v1"); });
  auto r = get("k");
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value, "v1");
  apply([](Store& s) { s.set("k", "v2"); });
  EXPECT_EQ(get("k").value, "v2");

  auto missing = get("nope");
  EXPECT_TRUE(missing.ok()) << missing.error;
  EXPECT_EQ(missing.value, std::nullopt);

  // SET replaces a key of any type.
  apply([](Store& s) {
    s.rpush("list", "x");
    s.set("list", "now a string");
  });
  EXPECT_EQ(get("list").value, "now a string");
}

TEST_P(StoreContract, ValuesAndKeysAreBinarySafe) {
  const std::string key("key with spaces\r\n\0and nul", 26);
  const std::string value("\0\x01\xff\r\n*3\r\n$3", 12);
  apply([&](Store& s) {
    s.set(key, value);
    s.set("empty", "");
    s.hset("h", key, value);
    s.rpush("l", value);
  });
  EXPECT_EQ(get(key).value, value);
  auto empty = get("empty");
  ASSERT_TRUE(empty.value.has_value()) << "an empty value is a value, not a missing key";
  EXPECT_EQ(*empty.value, "");
  EXPECT_EQ(hget("h", key).value, value);
  EXPECT_EQ(lrange("l", 0, -1).value, StrList{value});
}

// ttl 1 s: awaited by polling exists(), so the test takes as long as the expiry.
TEST_P(StoreContract, TtlExpiresAndPlainSetClearsIt) {
  auto t0 = Clock::now();
  apply([](Store& s) {
    s.set("ttl", "v", 1);
    s.set("kept", "v", 1);
    s.set("kept", "v2");  // no ttl: the earlier one is gone
    s.set("expired", "v");
    s.expire("expired", 1);
    s.hset("hash", "f", "v");
    s.expire("hash", 1);
  });
  EXPECT_TRUE(exists("ttl").value);
  EXPECT_EQ(get("ttl").value, "v");
  ASSERT_TRUE(pollUntil([&] { return !exists("ttl").value; }, 3000ms, 20ms)) << "ttl 1 s never expired";
  EXPECT_GE(Clock::now() - t0, 900ms) << "expired too early";
  EXPECT_EQ(get("ttl").value, std::nullopt);
  EXPECT_TRUE(pollUntil([&] { return !exists("expired").value && !exists("hash").value; }, 1000ms, 20ms));
  EXPECT_TRUE(exists("kept").value);
  EXPECT_EQ(get("kept").value, "v2");
}

TEST_P(StoreContract, IncrCountsFromZero) {
  auto r = incr("n", 5);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value, 5);
  EXPECT_EQ(incr("n", -7).value, -2);
  EXPECT_EQ(incr("n", 0).value, -2);
  apply([](Store& s) {
    s.incr("n", 10);           // the callback is optional
    s.incr("n", 1, nullptr);
  });
  EXPECT_EQ(get("n").value, "9");
  apply([](Store& s) { s.set("s", "41"); });
  EXPECT_EQ(incr("s", 1).value, 42);
  EXPECT_EQ(incr("neg", -3).value, -3);
}

TEST_P(StoreContract, IncrRejectsNonIntegersAndOverflow) {
  apply([](Store& s) {
    s.set("word", "abc");
    s.set("float", "1.5");
    s.set("big", std::to_string(INT64_MAX));
    s.set("small", std::to_string(INT64_MIN));
  });
  for (const char* key : {"word", "float"}) {
    auto r = incr(key, 1);
    EXPECT_FALSE(r.ok()) << key;
    EXPECT_TRUE(startsWith(r.error, "ERR")) << r.error;
  }
  auto over = incr("big", 1);
  EXPECT_FALSE(over.ok());
  EXPECT_TRUE(startsWith(over.error, "ERR")) << over.error;
  auto under = incr("small", -1);
  EXPECT_FALSE(under.ok());
  // A failed incr changes nothing.
  EXPECT_EQ(get("word").value, "abc");
  EXPECT_EQ(get("big").value, std::to_string(INT64_MAX));
  EXPECT_EQ(get("small").value, std::to_string(INT64_MIN));
  EXPECT_EQ(incr("big", -1).value, INT64_MAX - 1);
}

// Redis counts only canonical integers: no empty string, sign, space or
// leading zero ("007" and "-0" are not integers to INCR).
TEST_P(StoreContract, IncrAcceptsOnlyCanonicalIntegers) {
  const char* const bad[] = {"", "007", "-0", "+5", " 5", "5 "};
  for (const char* v : bad) {
    std::string key = std::string("k[") + v + "]";
    apply([key, v](Store& s) { s.set(key, v); });
    auto r = incr(key, 1);
    EXPECT_FALSE(r.ok()) << "'" << v << "' counted as " << r.value;
    EXPECT_EQ(get(key).value, v) << "a failed incr changes nothing";
  }
}

TEST_P(StoreContract, DelAndExists) {
  apply([](Store& s) {
    s.set("a", "1");
    s.hset("h", "f", "v");
  });
  EXPECT_TRUE(exists("a").value);
  EXPECT_TRUE(exists("h").value);
  auto none = exists("none");
  EXPECT_TRUE(none.ok());
  EXPECT_FALSE(none.value);
  apply([](Store& s) {
    s.del("a");
    s.del("h");
    s.del("none");  // deleting a missing key is fine
  });
  EXPECT_FALSE(exists("a").value);
  EXPECT_FALSE(exists("h").value);
  EXPECT_EQ(get("a").value, std::nullopt);
}

TEST_P(StoreContract, ExpireWithNonPositiveTtlDeletes) {
  apply([](Store& s) {
    s.set("zero", "v");
    s.set("negative", "v");
    s.sadd("set", "m");
    s.expire("zero", 0);
    s.expire("negative", -5);
    s.expire("set", 0);
    s.expire("missing", 10);  // does not create it
  });
  EXPECT_FALSE(exists("zero").value);
  EXPECT_FALSE(exists("negative").value);
  EXPECT_FALSE(exists("set").value);
  EXPECT_FALSE(exists("missing").value);
}

TEST_P(StoreContract, Hashes) {
  apply([](Store& s) {
    s.hset("h", "f1", "v1");
    s.hset("h", "f2", "v2");
    s.hset("h", "f1", "v1b");  // overwrite
  });
  EXPECT_EQ(hget("h", "f1").value, "v1b");
  EXPECT_EQ(hget("h", "f2").value, "v2");
  auto nofield = hget("h", "nope");
  EXPECT_TRUE(nofield.ok());
  EXPECT_EQ(nofield.value, std::nullopt);
  EXPECT_EQ(hget("nokey", "f").value, std::nullopt);
  EXPECT_EQ(hgetall("h").value, (StrMap{{"f1", "v1b"}, {"f2", "v2"}}));
  auto none = hgetall("nokey");
  EXPECT_TRUE(none.ok());
  EXPECT_TRUE(none.value.empty());

  apply([](Store& s) {
    s.hdel("h", "f1");
    s.hdel("h", "nope");
    s.hdel("nokey", "f");
  });
  EXPECT_EQ(hgetall("h").value, (StrMap{{"f2", "v2"}}));
  EXPECT_FALSE(exists("nokey").value);
}

TEST_P(StoreContract, EmptyHashVanishes) {
  apply([](Store& s) {
    s.hset("h", "f", "v");
    s.hdel("h", "f");
  });
  EXPECT_FALSE(exists("h").value);
  EXPECT_TRUE(hgetall("h").value.empty());
}

TEST_P(StoreContract, Sets) {
  apply([](Store& s) {
    s.sadd("s", "a");
    s.sadd("s", "a");  // twice = once
    s.sadd("s", "b");
    s.sadd("s", "c");
  });
  EXPECT_EQ(scard("s").value, 3);
  EXPECT_EQ(sorted(smembers("s").value), (StrList{"a", "b", "c"}));
  EXPECT_TRUE(sismember("s", "a").value);
  auto no = sismember("s", "z");
  EXPECT_TRUE(no.ok());
  EXPECT_FALSE(no.value);
  apply([](Store& s) {
    s.srem("s", "a");
    s.srem("s", "z");
  });
  EXPECT_EQ(scard("s").value, 2);
  EXPECT_EQ(sorted(smembers("s").value), (StrList{"b", "c"}));
  EXPECT_FALSE(sismember("s", "a").value);

  EXPECT_EQ(scard("none").value, 0);
  EXPECT_TRUE(smembers("none").value.empty());
  EXPECT_FALSE(sismember("none", "a").value);
}

TEST_P(StoreContract, EmptySetVanishes) {
  apply([](Store& s) {
    s.sadd("s", "a");
    s.sadd("s", "b");
    s.srem("s", "a");
    s.srem("s", "b");
  });
  EXPECT_FALSE(exists("s").value);
  EXPECT_EQ(scard("s").value, 0);
}

TEST_P(StoreContract, ListPushOrder) {
  apply([](Store& s) {
    s.rpush("l", "a");
    s.rpush("l", "b");
    s.lpush("l", "z");
    s.lpush("l", "y");
  });
  EXPECT_EQ(lrange("l", 0, -1).value, (StrList{"y", "z", "a", "b"}));
  EXPECT_EQ(llen("l").value, 4);
  auto none = llen("none");
  EXPECT_TRUE(none.ok());
  EXPECT_EQ(none.value, 0);
  EXPECT_TRUE(lrange("none", 0, -1).value.empty());
}

TEST_P(StoreContract, LrangeIndexesAsRedis) {
  pushAll("l", {"a", "b", "c", "d", "e"});
  struct Case {
    int64_t start, stop;
    StrList want;
  };
  const Case cases[] = {
      {0, -1, {"a", "b", "c", "d", "e"}},
      {0, 0, {"a"}},
      {1, 2, {"b", "c"}},
      {-2, -1, {"d", "e"}},
      {4, -1, {"e"}},
      {-100, 1, {"a", "b"}},       // start before the head: clamped
      {2, 100, {"c", "d", "e"}},   // stop past the tail: clamped
      {-100, 100, {"a", "b", "c", "d", "e"}},
      {5, 10, {}},                 // start past the tail
      {3, 1, {}},                  // start after stop
      {-1, -2, {}},
      {-100, -50, {}},             // both before the head
      {INT64_MIN / 2, INT64_MAX / 2, {"a", "b", "c", "d", "e"}},
  };
  for (const Case& c : cases) {
    auto r = lrange("l", c.start, c.stop);
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.value, c.want) << "lrange " << c.start << " " << c.stop;
  }
}

TEST_P(StoreContract, LtrimKeepsTheRangeAndEmptyResultDeletesTheKey) {
  const StrList abcde = {"a", "b", "c", "d", "e"};
  for (const char* k : {"l1", "l2", "l3", "l4", "l5", "l6"}) pushAll(k, abcde);
  apply([](Store& s) {
    s.ltrim("l1", 1, -2);
    s.ltrim("l2", -2, 100);
    s.ltrim("l3", 0, -1);
    s.ltrim("l4", 3, 1);    // start after stop: empty
    s.ltrim("l5", 10, 20);  // past the tail: empty
    s.ltrim("l6", -100, -50);
    s.ltrim("none", 0, 1);
  });
  EXPECT_EQ(lrange("l1", 0, -1).value, (StrList{"b", "c", "d"}));
  EXPECT_EQ(lrange("l2", 0, -1).value, (StrList{"d", "e"}));
  EXPECT_EQ(lrange("l3", 0, -1).value, abcde);
  for (const char* k : {"l4", "l5", "l6", "none"}) EXPECT_FALSE(exists(k).value) << k;
}

TEST_P(StoreContract, LremCounts) {
  pushAll("l", {"x", "a", "x", "b", "x", "c", "x"});
  apply([](Store& s) { s.lrem("l", 2, "x"); });  // the first two from the head
  EXPECT_EQ(lrange("l", 0, -1).value, (StrList{"a", "b", "x", "c", "x"}));
  apply([](Store& s) { s.lrem("l", -1, "x"); });  // one from the tail
  EXPECT_EQ(lrange("l", 0, -1).value, (StrList{"a", "b", "x", "c"}));
  apply([](Store& s) {
    s.lrem("l", 0, "nope");
    s.lrem("l", 0, "x");  // all
  });
  EXPECT_EQ(lrange("l", 0, -1).value, (StrList{"a", "b", "c"}));
  EXPECT_EQ(llen("l").value, 3);

  pushAll("l2", {"x", "y", "x", "y", "x"});
  apply([](Store& s) { s.lrem("l2", -2, "x"); });
  EXPECT_EQ(lrange("l2", 0, -1).value, (StrList{"x", "y", "y"}));
  apply([](Store& s) { s.lrem("l2", 10, "y"); });  // more than there are
  EXPECT_EQ(lrange("l2", 0, -1).value, (StrList{"x"}));

  pushAll("xs", {"x", "x"});
  apply([](Store& s) { s.lrem("xs", 0, "x"); });
  EXPECT_FALSE(exists("xs").value) << "an emptied list vanishes";
}

TEST_P(StoreContract, ReadsOnAKeyOfAnotherTypeFailWithWrongType) {
  apply([](Store& s) {
    s.set("str", "v");
    s.hset("hash", "f", "v");
    s.sadd("set", "m");
    s.rpush("list", "x");
  });
  auto expectWrongType = [](const std::string& what, const std::string& error) {
    EXPECT_TRUE(startsWith(error, "WRONGTYPE")) << what << ": '" << error << "'";
  };
  expectWrongType("get hash", get("hash").error);
  expectWrongType("hget str", hget("str", "f").error);
  expectWrongType("hgetall list", hgetall("list").error);
  expectWrongType("smembers str", smembers("str").error);
  expectWrongType("scard hash", scard("hash").error);
  expectWrongType("sismember list", sismember("list", "x").error);
  expectWrongType("lrange set", lrange("set", 0, -1).error);
  expectWrongType("llen str", llen("str").error);
  expectWrongType("incr hash", incr("hash", 1).error);
  auto r = get("list");
  EXPECT_EQ(r.value, std::nullopt) << "the value stays at its default on error";
  EXPECT_TRUE(exists("set").value) << "exists works on every type";
}

TEST_P(StoreContract, WritesOnAKeyOfAnotherTypeChangeNothing) {
  apply([](Store& s) {
    s.set("str", "v");
    s.hset("hash", "f", "v");
    s.sadd("set", "m");
    s.rpush("list", "x");
  });
  apply([](Store& s) {
    s.hset("str", "f", "v");
    s.lpush("str", "x");
    s.rpush("str", "x");
    s.sadd("str", "x");
    s.sadd("hash", "x");
    s.hdel("set", "m");
    s.rpush("set", "x");
    s.ltrim("set", 1, 0);
    s.srem("list", "x");
    s.hset("list", "f", "v");
    s.lrem("hash", 0, "v");
    s.incr("list", 1);
  });
  EXPECT_EQ(get("str").value, "v");
  EXPECT_EQ(hgetall("hash").value, (StrMap{{"f", "v"}}));
  EXPECT_EQ(smembers("set").value, StrList{"m"});
  EXPECT_EQ(lrange("list", 0, -1).value, StrList{"x"});
}

TEST_P(StoreContract, PrefixesIsolateStores) {
  Store* other = make("other" + prefix_);
  apply([](Store& s) {
    s.set("k", "mine");
    s.sadd("s", "m");
  });
  apply([](Store& s) { s.set("k", "theirs"); }, other);
  EXPECT_EQ(get("k").value, "mine");
  EXPECT_EQ(get("k", other).value, "theirs");
  EXPECT_FALSE(exists("s", other).value);
  apply([](Store& s) { s.del("k"); }, other);
  EXPECT_EQ(get("k", other).value, std::nullopt);
  EXPECT_EQ(get("k").value, "mine");
}

// Every read's callback runs on the calling loop's thread and never inside
// the call: a flag set right after the calls return must already be seen.
TEST_P(StoreContract, CallbacksRunLaterOnTheCallingLoop) {
  apply([](Store& s) {
    s.set("k", "v");
    s.hset("h", "f", "v");
    s.sadd("s", "m");
    s.rpush("l", "x");
  });
  struct Probe {
    std::atomic<int> calls{0};
    std::atomic<int> early{0};
    std::atomic<int> wrongThread{0};
  };
  auto probe = std::make_shared<Probe>();
  const std::thread::id loopId = loop_.id();
  const int issued = 14;
  Store* s = store_;
  ASSERT_TRUE(loop_.sync([&] {
    auto returned = std::make_shared<bool>(false);  // loop thread only
    auto check = [probe, returned, loopId](auto&&) {
      if (!*returned) probe->early++;
      if (std::this_thread::get_id() != loopId) probe->wrongThread++;
      probe->calls++;
    };
    s->get("k", check);
    s->get("missing", check);
    s->get("h", check);  // an error reply
    s->incr("n", 1, check);
    s->exists("k", check);
    s->hget("h", "f", check);
    s->hgetall("h", check);
    s->smembers("s", check);
    s->scard("s", check);
    s->sismember("s", "m", check);
    s->lrange("l", 0, -1, check);
    s->llen("l", check);
    s->llen("k", check);  // another error reply
    s->hget("none", "f", check);
    *returned = true;
  }));
  EXPECT_TRUE(pollUntil([&] { return probe->calls.load() == issued; }, 5000ms)) << probe->calls.load();
  EXPECT_EQ(probe->early.load(), 0) << "a callback ran inside the call";
  EXPECT_EQ(probe->wrongThread.load(), 0);
}

// Writes and reads issued by one thread are applied in that order, and the
// read callbacks complete in the order the reads were issued.
TEST_P(StoreContract, OneThreadsWritesAndReadsKeepTheirOrder) {
  struct Seen {
    std::mutex mutex;
    std::vector<std::string> log;
  };
  auto seen = std::make_shared<Seen>();
  auto record = [seen](std::string what) {
    std::lock_guard<std::mutex> lock(seen->mutex);
    seen->log.push_back(std::move(what));
  };
  Store* s = store_;
  ASSERT_TRUE(loop_.sync([&] {
    for (int i = 0; i < 200; ++i) {
      s->set("k", std::to_string(i));
      s->rpush("l", std::to_string(i));
      s->incr("n", 1);
    }
    s->get("k", [record](StoreResult<OptStr> r) { record("k=" + r.value.value_or("nil")); });
    s->llen("l", [record](StoreResult<int64_t> r) { record("llen=" + std::to_string(r.value)); });
    s->set("k", "after");
    s->get("k", [record](StoreResult<OptStr> r) { record("k=" + r.value.value_or("nil")); });
    s->del("k");
    s->get("k", [record](StoreResult<OptStr> r) { record("k=" + r.value.value_or("nil")); });
    s->get("n", [record](StoreResult<OptStr> r) { record("n=" + r.value.value_or("nil")); });
  }));
  ASSERT_TRUE(pollUntil(
      [&] {
        std::lock_guard<std::mutex> lock(seen->mutex);
        return seen->log.size() == 5;
      },
      5000ms));
  EXPECT_EQ(seen->log, (std::vector<std::string>{"k=199", "llen=200", "k=after", "k=nil", "n=200"}));
  EXPECT_EQ(lrange("l", -1, -1).value, StrList{"199"});
  EXPECT_EQ(lrange("l", 0, 0).value, StrList{"0"});
}

INSTANTIATE_TEST_SUITE_P(Memory, StoreContract, ::testing::Values(memoryDriver()),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Redis, StoreContract, ::testing::Values(redisDriver()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------
// The Redis driver beyond the contract.

class RedisDriver : public LoopFixture {};

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

class RedisPubSub : public LoopFixture {
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
}  // namespace msw
