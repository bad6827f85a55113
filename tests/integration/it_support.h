// tests/integration/it_support.h: what every integration test shares (its
// code in it_support.cpp, library msw_it_support): an ini builder, tokens,
// a real server on free ports (TestServer) and its manager calls, parsed
// messages, a client that keeps the messages it was not waiting for, a
// runner for the console verbs, metrics and sanitizer reports in logs, and
// a fixture whose tests share one server. app_api_support.h and
// cluster_support.h add what only their tests use.
//
// Every wait here ends on an event (a message, a close, an HTTP answer, a
// process exit) or polls an observable state against a deadline; nothing
// sleeps to let the server "catch up". Objects live for one test (or one
// fixture) on the test's main thread.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <deque>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "msw/json.h"
#include "tests/support/files.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/ws_client.h"

namespace msw::it {

using msw::Json;
using msw::JsonRef;
using msw::test::HttpResponse;
using msw::test::ServerProcess;
using msw::test::WsClient;

inline const std::string kAuthKey = "integration-test-key";

inline int64_t unixNow() { return static_cast<int64_t>(std::time(nullptr)); }

using msw::test::readFile;
// How often `needle` occurs in `haystack` (non-overlapping).
size_t countOf(const std::string& haystack, const std::string& needle);
// The last `bytes` of a log, for a failure message.
std::string tail(const std::string& log, size_t bytes = 4000);
// Polls `pred` every stepMs until it holds or timeoutMs passed: the last result.
// Only for a state the server sends nothing about (registry, store, Redis).
bool pollUntil(const std::function<bool()>& pred, int timeoutMs, int stepMs = 20);
// Milliseconds since t (on msw::test::Clock, the steady clock).
int64_t msSince(msw::test::Clock::time_point t);
// The worker that owns a connection, from its fd (docs/deployment.md).
inline int workerOf(uint64_t fd, int workers) { return static_cast<int>(fd % static_cast<uint64_t>(workers)); }

// An ini file: sections in insertion order, keys replaced in place.
class Ini {
 public:
  Ini& set(const std::string& section, const std::string& key, const std::string& value);
  Ini& erase(const std::string& section, const std::string& key);
  std::string str() const;

 private:
  using Keys = std::vector<std::pair<std::string, std::string>>;
  Keys& find(const std::string& section);
  std::vector<std::pair<std::string, Keys>> sections_;
};

// The plaintext of a user token; no "code" member when code is empty;
// `extra` is more JSON members ("\"a\":1").
std::string userJson(const std::string& id = "u1", const std::string& code = "room1",
                     const std::string& type = "wechatUser", const std::string& nickname = "Nick",
                     int64_t ctime = unixNow(), const std::string& extra = "");

inline std::string mint(const std::string& plaintext, CipherKind cipher = CipherKind::kAes256Gcm,
                        const std::string& key = kAuthKey) {
  return msw::test::mintToken(plaintext, cipher, key);
}

// One reply of the server, parsed.
struct Msg {
  bool received = false;  // a text message arrived
  std::string raw;
  Json root;
  int status() const { return static_cast<int>(root["status"].i64(-1)); }
  std::string event() const { return std::string(root["event"].str()); }
  std::string info() const { return std::string(root["info"].str()); }
  JsonRef param() const { return root["param"]; }
  JsonRef rid() const { return root["rid"]; }
  bool has(const char* key) const { return root.has(key); }
};

Msg parseMsg(std::optional<std::string> text);
inline Msg recvMsg(WsClient& c, int timeoutMs = 5000) { return parseMsg(c.recvMessage(timeoutMs)); }
// Sends `json` as one text frame and returns the next message.
Msg request(WsClient& c, const std::string& json, int timeoutMs = 5000);

// gtest printing of a Msg in failure messages.
std::ostream& operator<<(std::ostream& os, const Msg& m);

// A WebSocket client that keeps every message it has read and not yet been
// asked for, in arrival order: a test can wait for one event and still see
// (or count) the others.
class InboxClient {
 public:
  using Pred = std::function<bool(const Msg&)>;

  // The first kept or arriving message that pred accepts (taken out of the
  // inbox); others read meanwhile are kept. Not received on timeout or close.
  Msg next(const Pred& pred, int timeoutMs = 5000);
  // The next message: the inbox first, then the wire.
  Msg next(int timeoutMs = 5000);
  // The first message with that event.
  Msg waitEvent(const std::string& event, int timeoutMs = 5000);
  // Sends `json` and waits for the reply with that event.
  Msg call(const std::string& json, const std::string& replyEvent, int timeoutMs = 5000);
  // Every message that arrives within timeoutMs (the inbox included).
  std::vector<Msg> drain(int timeoutMs);
  // Drops the kept messages with that event: how many there were.
  int take(const std::string& event);
  int keptCount(const std::string& event) const;

  WsClient ws;
  std::deque<Msg> inbox;  // received but not yet looked at
};

struct ConsoleResult {
  int exitCode = -1;  // -1: killed after the timeout or died by a signal
  std::string out;
  std::string err;
};

// Runs the msw binary as the console with `args` and waits for it, calling
// onPoll while it runs.
ConsoleResult runConsole(const std::vector<std::string>& args, const std::function<void()>& onPoll,
                         int timeoutMs = 30000);
// The same, reaping `reap` (the server the console talks to) if it exits:
// the console waits for the server's pid to vanish, and a child of ours that
// has exited stays a zombie (still "alive" to kill(pid, 0)) until reaped.
ConsoleResult runConsole(const std::vector<std::string>& args, ServerProcess* reap = nullptr,
                         int timeoutMs = 30000);
std::ostream& operator<<(std::ostream& os, const ConsoleResult& r);

// One real server for a test or a fixture: free loopback ports, the test
// key, the index and testmod plugins, no rate limit, info logging.
class TestServer {
 public:
  explicit TestServer(int workers = 1);

  Ini ini;
  int port = 0;
  int managerPort = 0;
  std::string managerToken;  // sent as the bearer token, also put in the ini when set
  ServerProcess proc;

  // Starts it and waits until the manager answers and the workers listen (the
  // "msw ... workers on" line). Retries with fresh ports if one was taken
  // meanwhile by someone else.
  bool start();
  const std::string& error() const { return error_; }

  std::string root() const { return proc.root(); }
  std::string configPath() const { return proc.root() + "/config/app.ini"; }
  // Rewrites the config file from `ini` (before a reload).
  void writeConfig() const;
  // --root ROOT -c INI, for the console.
  std::vector<std::string> consoleArgs(const std::string& verb) const {
    return {"-s", verb, "--root", root(), "-c", configPath()};
  }
  // How often `needle` occurs in the server's own log file (stderr.log:
  // where the foreground server writes every line once).
  size_t countInLog(const std::string& needle) const;

  std::string userToken(const std::string& id = "u1", const std::string& code = "room1") const {
    return mint(userJson(id, code));
  }
  std::string path(const std::string& token) const { return "/ws?auth=" + token; }
  bool connect(WsClient& c, const std::string& token) const { return c.connect("127.0.0.1", port, path(token)); }
  bool connect(WsClient& c) const { return connect(c, userToken()); }

  // A manager call, with the bearer token when there is one.
  HttpResponse manager(const std::string& method, const std::string& target, const std::string& body = {},
                       std::vector<std::string> headers = {}) const;
  HttpResponse get(const std::string& target) const { return manager("GET", target); }
  HttpResponse post(const std::string& target, const std::string& body) const { return manager("POST", target, body); }
  // GET target, parsed (a null Json when it did not answer 200 with JSON).
  Json getJson(const std::string& target) const;
  Json status() const { return getJson("/status"); }
  std::string metrics() const { return manager("GET", "/metrics").body; }
  int64_t storeKeys() const { return status()["store"]["keys"].i64(-1); }

  // Polls GET target until pred holds for its JSON (the server sends nothing
  // when its registry or store changes).
  bool pollJson(const std::string& target, const std::function<bool(JsonRef)>& pred, int timeoutMs = 5000) const;
  bool waitStoreKeys(int64_t n, int timeoutMs = 5000) const;
  bool waitRoomCount(const std::string& room, int64_t n, int timeoutMs = 5000) const;
  bool waitConnections(int64_t n, int timeoutMs = 5000) const;

 private:
  void pickPorts();
  std::string error_;
};

// The value of a Prometheus sample line "NAME{LABELS} VALUE" (exact name and
// labels), or -1 when there is no such line.
int64_t metricValue(const std::string& metrics, const std::string& nameAndLabels);
// Sum of every sample of NAME whose labels contain `labelPart` (e.g.
// "reason=\"expired\""), over all workers; -1 when there is none.
int64_t metricSum(const std::string& metrics, const std::string& name, const std::string& labelPart);
// The first lines of an AddressSanitizer / UndefinedBehaviorSanitizer /
// LeakSanitizer report in a server log, or empty.
std::string sanitizerReport(const std::string& log);

// A fixture whose tests share one server (started once for the suite).
// Derive, and define `static void configure(TestServer&)` to change its ini.
template <class Derived>
class SharedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer(Derived::kWorkers);
    Derived::configure(*server_);
    started_ = server_->start();
  }
  // Stops the shared server gracefully: it must exit 0 with no sanitizer
  // report (a leak or an error at shutdown shows up only here).
  static void TearDownTestSuite() {
    if (started_ && server_->proc.running()) {
      int status = server_->proc.stop();
      if (status != 0) ADD_FAILURE() << "the shared server exited with " << status << ":\n" << tail(server_->proc.log());
    }
    if (started_) {
      std::string report = sanitizerReport(server_->proc.log());
      if (!report.empty()) ADD_FAILURE() << "sanitizer report from the server:\n" << report;
    }
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(started_) << server_->error();
    ASSERT_TRUE(server_->proc.running()) << "the shared server died in an earlier test:\n" << server_->proc.log();
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "---- server log tail ----\n" << tail(server_->proc.log()) << "\n";
  }
  // A connected client with a fresh user token.
  static WsClient client(const std::string& id = "u1", const std::string& code = "room1") {
    WsClient c;
    bool ok = server_->connect(c, server_->userToken(id, code));
    EXPECT_TRUE(ok) << c.error() << " " << c.response().status << " " << c.response().body;
    return c;
  }
  static TestServer& server() { return *server_; }

  static constexpr int kWorkers = 1;
  static void configure(TestServer&) {}

  static inline TestServer* server_ = nullptr;
  static inline bool started_ = false;
};

}  // namespace msw::it
