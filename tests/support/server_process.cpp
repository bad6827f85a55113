#include "tests/support/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "library/token_codec.h"
#include "tests/support/files.h"
#include "tests/support/http_client.h"

extern char** environ;

namespace msw::test {

namespace {

namespace fs = std::filesystem;

constexpr auto kPollInterval = std::chrono::milliseconds(10);

// Sleeps one poll interval, or less when the deadline is nearer.
void pause(Deadline deadline) {
  std::this_thread::sleep_for(std::min<Clock::duration>(kPollInterval, deadline - Clock::now()));
}

std::string describeStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// The spawn attributes: the child starts with no blocked signals and default
// dispositions, whatever the test runner set up.
struct SpawnAttributes {
  SpawnAttributes() {
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attr); }
  posix_spawnattr_t attr;
};

struct SpawnFileActions {
  explicit SpawnFileActions(const std::string& logPath) {
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  }
  ~SpawnFileActions() { posix_spawn_file_actions_destroy(&actions); }
  posix_spawn_file_actions_t actions;
};

}  // namespace

ServerProcess::~ServerProcess() {
  try {
    kill9();
    if (!root_.empty() && !std::getenv("MSW_KEEP_ROOT")) {
      std::error_code ec;
      fs::remove_all(root_, ec);  // does not follow the public/ symlink
    }
  } catch (...) {
    // A destructor must not throw; a leftover temp folder is harmless.
  }
}

bool ServerProcess::start(const std::string& iniBody, int managerPort, const std::string& managerToken,
                          int timeoutMs) {
  error_.clear();
  if (running()) {
    error_ = "already running";
    return false;
  }
  return makeRoot(iniBody) && spawn() && waitReady(managerPort, managerToken, timeoutMs);
}

// A second start() after stop() keeps the root, so runtime/ state (auth.key,
// logs) survives a restart the way it does for a real deployment.
bool ServerProcess::makeRoot(const std::string& iniBody) {
  if (root_.empty()) {
    root_ = makeTempDir("msw-test");
    if (root_.empty()) {
      error_ = std::string("mkdtemp: ") + std::strerror(errno);
      return false;
    }
  }
  std::error_code ec;
  fs::create_directories(root_ + "/config", ec);
  if (!ec) fs::create_directories(root_ + "/runtime/log", ec);
  const fs::path publicLink = root_ + "/public";
  if (!ec && !fs::exists(fs::symlink_status(publicLink))) {
    fs::create_directory_symlink(fs::path(MSW_SOURCE_DIR) / "public", publicLink, ec);
  }
  if (ec) {
    error_ = "preparing " + root_ + ": " + ec.message();
    return false;
  }
  std::ofstream ini(root_ + "/config/app.ini", std::ios::binary | std::ios::trunc);
  ini << iniBody;
  ini.close();
  if (!ini) error_ = "writing " + root_ + "/config/app.ini failed";
  return error_.empty();
}

bool ServerProcess::spawn() {
  const std::string config = root_ + "/config/app.ini";
  std::vector<std::string> args = {"msw", "-s", "start", "--root", root_, "-c", config};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  SpawnAttributes attributes;
  SpawnFileActions files(root_ + "/runtime/log/stderr.log");
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, MSW_BINARY, &files.actions, &attributes.attr, argv.data(), environ);
  if (rc != 0) {
    error_ = std::string("spawning " MSW_BINARY ": ") + std::strerror(rc);
    return false;
  }
  pid_ = pid;
  alive_ = true;
  status_ = 0;
  return true;
}

bool ServerProcess::waitReady(int managerPort, const std::string& managerToken, int timeoutMs) {
  const Deadline deadline = deadlineIn(timeoutMs);
  std::vector<std::string> headers;
  if (!managerToken.empty()) headers.push_back("Authorization: Bearer " + managerToken);
  std::string lastAnswer = "no answer";
  for (;;) {
    if (!running()) {
      error_ = "the server ended (" + describeStatus(status_) + ") before it was ready; see " + root_ + "/runtime/log";
      return false;
    }
    const int left = remainingMs(deadline);
    if (left == 0) {
      error_ = "the server was not ready after " + std::to_string(timeoutMs) + " ms (" + lastAnswer + ")";
      return false;
    }
    HttpResponse r = httpRequest("127.0.0.1", managerPort, "GET", "/status", {}, headers, std::min(left, 1000));
    if (r.status == 200) return true;
    lastAnswer = r.status == 0 ? r.body : "GET /status answered " + std::to_string(r.status);
    pause(deadline);
  }
}

int ServerProcess::stop(int timeoutMs) {
  if (alive_) {
    ::kill(pid_, SIGTERM);
    if (!waitExit(timeoutMs)) {
      kill9();
      return -1;
    }
  }
  if (pid_ < 0) return -1;
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

void ServerProcess::kill9() {
  if (!alive_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    reaped(status);
  } else {
    alive_ = false;  // someone else reaped it: nothing left to wait for
  }
}

bool ServerProcess::running() {
  if (!alive_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    reaped(status);
  } else {
    alive_ = false;
  }
  return false;
}

void ServerProcess::reaped(int status) {
  alive_ = false;
  status_ = status;
}

// Waits on a pidfd, which becomes readable when the child exits, so the wait
// ends the moment it does; without pidfd support it polls every 10 ms.
bool ServerProcess::waitExit(int timeoutMs) {
  const Deadline deadline = deadlineIn(timeoutMs);
  int pidfd = -1;
#ifdef SYS_pidfd_open
  pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
#endif
  UniqueFd guard(pidfd);
  for (;;) {
    if (!running()) return true;
    const int left = remainingMs(deadline);
    if (left == 0) return false;
    if (guard) {
      pollfd p{guard.get(), POLLIN, 0};
      ::poll(&p, 1, left);
    } else {
      pause(deadline);
    }
  }
}

std::string ServerProcess::log() const {
  if (root_.empty()) return {};
  return readFile(root_ + "/runtime/log/stderr.log") + readFile(root_ + "/runtime/log/msw.log");
}

bool ServerProcess::waitLog(const std::string& needle, int timeoutMs) {
  const Deadline deadline = deadlineIn(timeoutMs);
  for (;;) {
    if (log().find(needle) != std::string::npos) return true;
    if (remainingMs(deadline) == 0) return false;
    pause(deadline);
  }
}

std::string mintToken(const std::string& plaintextJson, msw::CipherKind cipher, const std::string& key) {
  std::string error;
  std::unique_ptr<msw::TokenCodec> codec = msw::TokenCodec::create(cipher, key, &error);
  if (!codec) throw std::runtime_error("mintToken: " + error);
  return codec->encrypt(plaintextJson);
}

}  // namespace msw::test
