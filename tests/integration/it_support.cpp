// tests/integration/it_support.cpp: the shared integration-test helpers of
// it_support.h (used on the test's main thread).
#include "tests/integration/it_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

extern char** environ;

namespace msw::it {

size_t countOf(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + needle.size()))
    ++n;
  return n;
}

std::string tail(const std::string& log, size_t bytes) {
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

bool pollUntil(const std::function<bool()>& pred, int timeoutMs, int stepMs) {
  const auto deadline = msw::test::deadlineIn(timeoutMs);
  for (;;) {
    if (pred()) return true;
    if (msw::test::remainingMs(deadline) == 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(stepMs));
  }
}

int64_t msSince(msw::test::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(msw::test::Clock::now() - t).count();
}

// ---- Ini

Ini& Ini::set(const std::string& section, const std::string& key, const std::string& value) {
  Keys& keys = find(section);
  for (auto& kv : keys)
    if (kv.first == key) {
      kv.second = value;
      return *this;
    }
  keys.emplace_back(key, value);
  return *this;
}

Ini& Ini::erase(const std::string& section, const std::string& key) {
  std::erase_if(find(section), [&](const auto& kv) { return kv.first == key; });
  return *this;
}

std::string Ini::str() const {
  std::string out;
  for (const auto& [name, keys] : sections_) {
    out += "[" + name + "]\n";
    for (const auto& [k, v] : keys) out += k + " = " + v + "\n";
  }
  return out;
}

Ini::Keys& Ini::find(const std::string& section) {
  for (auto& s : sections_)
    if (s.first == section) return s.second;
  sections_.emplace_back(section, Keys{});
  return sections_.back().second;
}

// ---- tokens and messages

std::string userJson(const std::string& id, const std::string& code, const std::string& type,
                     const std::string& nickname, int64_t ctime, const std::string& extra) {
  Json j = Json::object();
  j.set("id", id).set("type", type);
  if (!code.empty()) j.set("code", code);
  j.set("nickname", nickname).set("ctime", ctime);
  std::string s = j.dump();
  if (!extra.empty()) s.insert(s.size() - 1, "," + extra);
  return s;
}

Msg parseMsg(std::optional<std::string> text) {
  Msg m;
  if (!text) return m;
  m.received = true;
  m.raw = std::move(*text);
  m.root = Json::parse(m.raw);
  return m;
}

Msg request(WsClient& c, const std::string& json, int timeoutMs) {
  if (!c.sendText(json)) return Msg{};
  return recvMsg(c, timeoutMs);
}

std::ostream& operator<<(std::ostream& os, const Msg& m) {
  return os << (m.received ? m.raw : std::string("<no message>"));
}

// ---- InboxClient

Msg InboxClient::next(const Pred& pred, int timeoutMs) {
  for (auto it = inbox.begin(); it != inbox.end(); ++it)
    if (pred(*it)) {
      Msg m = std::move(*it);
      inbox.erase(it);
      return m;
    }
  const auto deadline = msw::test::deadlineIn(timeoutMs);
  for (;;) {
    int left = msw::test::remainingMs(deadline);
    if (left == 0) return Msg{};
    Msg m = recvMsg(ws, left);
    if (!m.received || pred(m)) return m;
    inbox.push_back(std::move(m));
  }
}

Msg InboxClient::next(int timeoutMs) {
  return next([](const Msg&) { return true; }, timeoutMs);
}

Msg InboxClient::waitEvent(const std::string& event, int timeoutMs) {
  return next([&event](const Msg& m) { return m.event() == event; }, timeoutMs);
}

Msg InboxClient::call(const std::string& json, const std::string& replyEvent, int timeoutMs) {
  if (!ws.sendText(json)) return Msg{};
  return waitEvent(replyEvent, timeoutMs);
}

std::vector<Msg> InboxClient::drain(int timeoutMs) {
  std::vector<Msg> out(std::make_move_iterator(inbox.begin()), std::make_move_iterator(inbox.end()));
  inbox.clear();
  const auto deadline = msw::test::deadlineIn(timeoutMs);
  for (;;) {
    Msg m = recvMsg(ws, std::max(1, msw::test::remainingMs(deadline)));
    if (!m.received) return out;
    out.push_back(std::move(m));
  }
}

int InboxClient::take(const std::string& event) {
  auto n = std::erase_if(inbox, [&event](const Msg& m) { return m.event() == event; });
  return static_cast<int>(n);
}

int InboxClient::keptCount(const std::string& event) const {
  return static_cast<int>(std::count_if(inbox.begin(), inbox.end(), [&event](const Msg& m) { return m.event() == event; }));
}

// ---- the console

namespace {

// Spawns MSW_BINARY with argv, stdin from /dev/null, stdout and stderr to files.
pid_t spawnConsole(std::vector<std::string> args, const std::string& outPath, const std::string& errPath) {
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  args.insert(args.begin(), "msw");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, MSW_BINARY, &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  return rc == 0 ? pid : -1;
}

// Waits for the console's exit (killing it after timeoutMs): its exit code,
// -1 if killed or signalled.
int waitConsole(pid_t pid, const std::function<void()>& onPoll, int timeoutMs, std::string& err) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  const auto deadline = msw::test::deadlineIn(timeoutMs);
  int status = 0;
  int code = -1;
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      break;
    }
    if (onPoll) onPoll();
    if (msw::test::remainingMs(deadline) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      err = "<console timed out>\n";
      break;
    }
    // Wakes at the console's exit; every 20 ms otherwise, to reap the server.
    pollfd p{pidfd, POLLIN, 0};
    ::poll(&p, pidfd >= 0 ? 1 : 0, 20);
  }
  if (pidfd >= 0) ::close(pidfd);
  return code;
}

}  // namespace

ConsoleResult runConsole(const std::vector<std::string>& args, const std::function<void()>& onPoll, int timeoutMs) {
  ConsoleResult r;
  const std::string dir = msw::test::makeTempDir("msw-console");
  if (dir.empty()) return r;
  const std::string outPath = dir + "/out";
  const std::string errPath = dir + "/err";
  pid_t pid = spawnConsole(args, outPath, errPath);
  if (pid > 0) r.exitCode = waitConsole(pid, onPoll, timeoutMs, r.err);
  r.out = readFile(outPath);
  r.err += readFile(errPath);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

ConsoleResult runConsole(const std::vector<std::string>& args, ServerProcess* reap, int timeoutMs) {
  return runConsole(
      args, [reap] { if (reap) reap->running(); }, timeoutMs);
}

std::ostream& operator<<(std::ostream& os, const ConsoleResult& r) {
  return os << "exit " << r.exitCode << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

// ---- TestServer

TestServer::TestServer(int workers) {
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

bool TestServer::start() {
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

void TestServer::writeConfig() const { std::ofstream(configPath(), std::ios::trunc) << ini.str(); }

size_t TestServer::countInLog(const std::string& needle) const {
  return countOf(readFile(root() + "/runtime/log/stderr.log"), needle);
}

HttpResponse TestServer::manager(const std::string& method, const std::string& target, const std::string& body,
                                 std::vector<std::string> headers) const {
  if (!managerToken.empty()) headers.push_back("Authorization: Bearer " + managerToken);
  return msw::test::httpRequest("127.0.0.1", managerPort, method, target, body, headers);
}

Json TestServer::getJson(const std::string& target) const {
  HttpResponse r = get(target);
  return r.status == 200 ? Json::parse(r.body) : Json();
}

bool TestServer::pollJson(const std::string& target, const std::function<bool(JsonRef)>& pred, int timeoutMs) const {
  return pollUntil(
      [&] {
        Json j = getJson(target);
        return j && pred(j);
      },
      timeoutMs, 5);
}

bool TestServer::waitStoreKeys(int64_t n, int timeoutMs) const {
  return pollJson("/status", [n](JsonRef j) { return j["store"]["keys"].i64(-1) == n; }, timeoutMs);
}

bool TestServer::waitRoomCount(const std::string& room, int64_t n, int timeoutMs) const {
  return pollJson("/online?room=" + room, [n](JsonRef j) { return j["count"].i64(-1) == n; }, timeoutMs);
}

bool TestServer::waitConnections(int64_t n, int timeoutMs) const {
  return pollJson("/status", [n](JsonRef j) { return j["connections"].i64(-1) == n; }, timeoutMs);
}

void TestServer::pickPorts() {
  port = msw::test::freePort();
  do managerPort = msw::test::freePort();
  while (managerPort == port);
}

// ---- logs and metrics

int64_t metricValue(const std::string& metrics, const std::string& nameAndLabels) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(nameAndLabels + " ", 0) == 0) return std::strtoll(line.c_str() + nameAndLabels.size() + 1, nullptr, 10);
  }
  return -1;
}

int64_t metricSum(const std::string& metrics, const std::string& name, const std::string& labelPart) {
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

std::string sanitizerReport(const std::string& log) {
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

}  // namespace msw::it
