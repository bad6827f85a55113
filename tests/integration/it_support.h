// tests/integration/it_support.h: what the integration tests share: an ini
// builder with test defaults, a TestServer around ServerProcess (ports,
// tokens, manager calls), message parsing, and a runner for the console verbs.
//
// Every wait here ends on an event (a message, a close, an HTTP answer, a
// process exit) or a deadline; nothing sleeps to let the server "catch up".
#pragma once

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "msw/json.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/ws_client.h"

extern char** environ;

namespace msw::it {

using msw::Json;
using msw::JsonRef;
using msw::test::HttpResponse;
using msw::test::ServerProcess;
using msw::test::WsClient;

inline const std::string kAuthKey = "integration-test-key";

inline int64_t unixNow() { return static_cast<int64_t>(std::time(nullptr)); }

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// An ini file: sections in insertion order, keys replaced in place.
class Ini {
 public:
  Ini& set(const std::string& section, const std::string& key, const std::string& value) {
    auto& keys = find(section);
    for (auto& kv : keys)
      if (kv.first == key) {
        kv.second = value;
        return *this;
      }
    keys.emplace_back(key, value);
    return *this;
  }
  Ini& erase(const std::string& section, const std::string& key) {
    auto& keys = find(section);
    std::erase_if(keys, [&](const auto& kv) { return kv.first == key; });
    return *this;
  }
  std::string str() const {
    std::string out;
    for (const auto& [name, keys] : sections_) {
      out += "[" + name + "]\n";
      for (const auto& [k, v] : keys) out += k + " = " + v + "\n";
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>>& find(const std::string& section) {
    for (auto& s : sections_)
      if (s.first == section) return s.second;
    sections_.emplace_back(section, std::vector<std::pair<std::string, std::string>>{});
    return sections_.back().second;
  }
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> sections_;
};

// The plaintext of a user token.
inline std::string userJson(const std::string& id = "u1", const std::string& code = "room1",
                            const std::string& type = "wechatUser", const std::string& nickname = "Nick",
                            int64_t ctime = unixNow(), const std::string& extra = "") {
  Json j = Json::object();
  j.set("id", id).set("type", type).set("code", code).set("nickname", nickname).set("ctime", ctime);
  std::string s = j.dump();
  if (!extra.empty()) s.insert(s.size() - 1, "," + extra);
  return s;
}

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

inline Msg parseMsg(std::optional<std::string> text) {
  Msg m;
  if (!text) return m;
  m.received = true;
  m.raw = std::move(*text);
  m.root = Json::parse(m.raw);
  return m;
}

inline Msg recvMsg(WsClient& c, int timeoutMs = 5000) { return parseMsg(c.recvMessage(timeoutMs)); }

// Sends `json` as one text frame and returns the next message.
inline Msg request(WsClient& c, const std::string& json, int timeoutMs = 5000) {
  if (!c.sendText(json)) return Msg{};
  return recvMsg(c, timeoutMs);
}

// gtest printing of a Msg in failure messages.
inline std::ostream& operator<<(std::ostream& os, const Msg& m) {
  return os << (m.received ? m.raw : std::string("<no message>"));
}

struct ConsoleResult {
  int exitCode = -1;  // -1: killed after the timeout or died by a signal
  std::string out;
  std::string err;
};

// Runs the msw binary as the console with `args` and waits for it. While it
// runs, `reap` (the server the console talks to) is reaped if it exits: the
// console waits for the server's pid to vanish, and a child of ours that has
// exited stays a zombie (still "alive" to kill(pid, 0)) until we reap it.
inline ConsoleResult runConsole(const std::vector<std::string>& args, const std::function<void()>& onPoll,
                                int timeoutMs = 30000) {
  ConsoleResult r;
  char dir[] = "/tmp/msw-console-XXXXXX";
  if (!::mkdtemp(dir)) return r;
  const std::string outPath = std::string(dir) + "/out";
  const std::string errPath = std::string(dir) + "/err";
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all = {"msw"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, MSW_BINARY, &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (rc == 0) {
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    const auto deadline = msw::test::deadlineIn(timeoutMs);
    int status = 0;
    for (;;) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        break;
      }
      if (onPoll) onPoll();
      if (msw::test::remainingMs(deadline) == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        r.err = "<console timed out>\n";
        break;
      }
      // Wakes at the console's exit; every 20 ms otherwise, to reap the server.
      pollfd p{pidfd, POLLIN, 0};
      ::poll(&p, pidfd >= 0 ? 1 : 0, 20);
    }
    if (pidfd >= 0) ::close(pidfd);
  }
  r.out = readFile(outPath);
  r.err += readFile(errPath);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

inline ConsoleResult runConsole(const std::vector<std::string>& args, ServerProcess* reap = nullptr,
                                int timeoutMs = 30000) {
  return runConsole(
      args, [reap] { if (reap) reap->running(); }, timeoutMs);
}

inline std::ostream& operator<<(std::ostream& os, const ConsoleResult& r) {
  return os << "exit " << r.exitCode << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

// One real server for a test or a fixture: free loopback ports, the test
// key, the index and testmod plugins, no rate limit, info logging.
class TestServer {
 public:
  explicit TestServer(int workers = 1) {
    pickPorts();
    ini.set("server", "worker_num", std::to_string(workers))
        .set("server", "log_level", "info")
        .set("server", "stop_timeout", "5")
        .set("outside", "host", "127.0.0.1")
        .set("outside", "port", std::to_string(port))
        .set("outside", "static_dir", "")
        .set("outside", "rate_limit", "0")
        .set("manager", "host", "127.0.0.1")
        .set("manager", "port", std::to_string(managerPort))
        .set("auth", "key", kAuthKey)
        .set("app", "modules", "index, testmod")
        .set("app", "plugin_dir", MSW_PLUGIN_DIR);
  }

  Ini ini;
  int port = 0;
  int managerPort = 0;
  std::string managerToken;  // sent as the bearer token, also put in the ini when set
  ServerProcess proc;

  // Starts it and waits until the manager answers and the workers listen (the
  // "msw ... workers on" line). Retries with fresh ports if one was taken
  // meanwhile by someone else.
  bool start() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (!managerToken.empty()) ini.set("manager", "token", managerToken);
      if (proc.start(ini.str(), managerPort, managerToken) && proc.waitLog(" workers on ", 10000)) return true;
      std::string log = proc.log();
      if (log.find("cannot listen") == std::string::npos && log.find("in use") == std::string::npos) break;
      proc.kill9();
      pickPorts();
      ini.set("outside", "port", std::to_string(port)).set("manager", "port", std::to_string(managerPort));
    }
    error_ = proc.error() + "\n" + proc.log();
    return false;
  }
  const std::string& error() const { return error_; }

  std::string root() const { return proc.root(); }
  std::string configPath() const { return proc.root() + "/config/app.ini"; }
  // --root ROOT -c INI, for the console.
  std::vector<std::string> consoleArgs(const std::string& verb) const {
    return {"-s", verb, "--root", root(), "-c", configPath()};
  }

  std::string userToken(const std::string& id = "u1", const std::string& code = "room1") const {
    return mint(userJson(id, code));
  }
  std::string path(const std::string& token) const { return "/ws?auth=" + token; }
  bool connect(WsClient& c, const std::string& token) const { return c.connect("127.0.0.1", port, path(token)); }
  bool connect(WsClient& c) const { return connect(c, userToken()); }

  HttpResponse manager(const std::string& method, const std::string& target, const std::string& body = {},
                       std::vector<std::string> headers = {}) const {
    if (!managerToken.empty()) headers.push_back("Authorization: Bearer " + managerToken);
    return msw::test::httpRequest("127.0.0.1", managerPort, method, target, body, headers);
  }
  Json status() const {
    HttpResponse r = manager("GET", "/status");
    return r.status == 200 ? Json::parse(r.body) : Json();
  }
  std::string metrics() const { return manager("GET", "/metrics").body; }

 private:
  void pickPorts() {
    port = msw::test::freePort();
    do managerPort = msw::test::freePort();
    while (managerPort == port);
  }
  std::string error_;
};

// The value of a Prometheus sample line "NAME{LABELS} VALUE" (exact name and
// labels), or -1 when there is no such line.
inline int64_t metricValue(const std::string& metrics, const std::string& nameAndLabels) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(nameAndLabels + " ", 0) == 0) return std::strtoll(line.c_str() + nameAndLabels.size() + 1, nullptr, 10);
  }
  return -1;
}

// Sum of every sample of NAME whose labels contain `labelPart` (e.g.
// "reason=\"expired\""), over all workers; -1 when there is none.
inline int64_t metricSum(const std::string& metrics, const std::string& name, const std::string& labelPart) {
  std::istringstream in(metrics);
  std::string line;
  int64_t sum = -1;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) != 0 || line.find(labelPart) == std::string::npos) continue;
    size_t space = line.rfind(' ');
    sum = (sum < 0 ? 0 : sum) + std::strtoll(line.c_str() + space + 1, nullptr, 10);
  }
  return sum;
}

// The first lines of an AddressSanitizer / UndefinedBehaviorSanitizer /
// LeakSanitizer report in a server log, or empty.
inline std::string sanitizerReport(const std::string& log) {
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                             "AddressSanitizer:DEADLYSIGNAL", "WARNING: ThreadSanitizer"}) {
    size_t at = log.find(marker);
    if (at == std::string::npos) continue;
    size_t from = log.rfind('\n', at);
    from = from == std::string::npos ? 0 : from + 1;
    return log.substr(from, 3000);
  }
  return {};
}

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
  static std::string tail(const std::string& log, size_t bytes = 4000) {
    return log.size() > bytes ? log.substr(log.size() - bytes) : log;
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
