#include "tests/support/redis_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/files.h"
#include "tests/support/http_client.h"

namespace msw::test {

namespace {

const char* redisBinary() {
  return ::access("/usr/bin/redis-server", X_OK) == 0 ? "/usr/bin/redis-server" : "redis-server";
}

std::string encodeCommand(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

// Parses one reply at buf[pos]: the position after it, 0 when more bytes are
// needed, npos on a protocol error.
size_t parseReply(const std::string& buf, size_t pos, RespValue& out) {
  if (pos >= buf.size()) return 0;
  size_t eol = buf.find("\r\n", pos);
  if (eol == std::string::npos) return 0;
  char kind = buf[pos];
  std::string line = buf.substr(pos + 1, eol - pos - 1);
  size_t next = eol + 2;
  switch (kind) {
    case '+':
      out.type = RespValue::kStatus;
      out.str = line;
      return next;
    case '-':
      out.type = RespValue::kError;
      out.str = line;
      return next;
    case ':':
      out.type = RespValue::kInteger;
      out.integer = std::strtoll(line.c_str(), nullptr, 10);
      return next;
    case '$': {
      long long n = std::strtoll(line.c_str(), nullptr, 10);
      if (n < 0) {
        out.type = RespValue::kNil;
        return next;
      }
      if (buf.size() < next + static_cast<size_t>(n) + 2) return 0;
      out.type = RespValue::kBulk;
      out.str = buf.substr(next, static_cast<size_t>(n));
      return next + static_cast<size_t>(n) + 2;
    }
    case '*': {
      long long n = std::strtoll(line.c_str(), nullptr, 10);
      if (n < 0) {
        out.type = RespValue::kNil;
        return next;
      }
      out.type = RespValue::kArray;
      out.elements.assign(static_cast<size_t>(n), RespValue{});
      for (auto& e : out.elements) {
        next = parseReply(buf, next, e);
        if (next == 0 || next == std::string::npos) return next;
      }
      return next;
    }
    default:
      return std::string::npos;
  }
}

}  // namespace

RedisProcess::~RedisProcess() {
  kill9();
  if (!dir_.empty() && !std::getenv("MSW_KEEP_ROOT")) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string RedisProcess::log() const {
  if (dir_.empty()) return {};
  return readFile(dir_ + "/redis.log");
}

bool RedisProcess::start(int timeoutMs) {
  error_.clear();
  if (running()) return true;
  if (dir_.empty()) {
    dir_ = makeTempDir("msw-redis");
    if (dir_.empty()) {
      error_ = std::string("mkdtemp: ") + std::strerror(errno);
      return false;
    }
  }
  if (port_ != 0) fixedPort_ = true;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (port_ == 0) port_ = freePort();
    if (spawnOnce(timeoutMs)) {
      fixedPort_ = true;  // a restart comes back on the same port
      return true;
    }
    if (fixedPort_) return false;
    port_ = 0;  // taken meanwhile by someone else: another one
  }
  return false;
}

bool RedisProcess::spawnOnce(int timeoutMs) {
  std::vector<std::string> args = {redisBinary(), "--port",       std::to_string(port_), "--bind", "127.0.0.1",
                                   "--save",      "",             "--appendonly",        "no",     "--dir",
                                   dir_,          "--loglevel",   "notice"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string logPath = dir_ + "/redis.log";
  int logFd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    if (logFd >= 0) ::close(logFd);
    error_ = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (logFd >= 0) {
      ::dup2(logFd, STDOUT_FILENO);
      ::dup2(logFd, STDERR_FILENO);
    }
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  if (logFd >= 0) ::close(logFd);
  pid_ = pid;
  const Deadline deadline = deadlineIn(timeoutMs);
  for (;;) {
    if (!running()) {
      error_ = "redis-server on port " + std::to_string(port_) + " exited at start: " + log();
      return false;
    }
    std::optional<RespValue> pong = redisCall(port_, {"PING"}, 200);
    if (pong && pong->type == RespValue::kStatus && pong->str == "PONG") return true;
    if (remainingMs(deadline) == 0) {
      error_ = "redis-server on port " + std::to_string(port_) + " did not answer PING in time";
      kill9();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void RedisProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void RedisProcess::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisProcess::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

bool RedisProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  pid_ = -1;
  return false;
}

std::optional<RespValue> redisCall(int port, const std::vector<std::string>& args, int timeoutMs,
                                   std::string* error) {
  const Deadline deadline = deadlineIn(timeoutMs);
  std::string err;
  UniqueFd fd = connectTcp("127.0.0.1", port, deadline, &err);
  if (!fd || !sendAll(fd.get(), encodeCommand(args), deadline, &err)) {
    if (error) *error = err;
    return std::nullopt;
  }
  std::string buf;
  for (;;) {
    RespValue v;
    size_t end = parseReply(buf, 0, v);
    if (end == std::string::npos) {
      if (error) *error = "protocol error: " + buf.substr(0, 100);
      return std::nullopt;
    }
    if (end != 0) return v;
    ReadResult r = readSome(fd.get(), buf, deadline, &err);
    if (r != ReadResult::kData) {
      if (error) *error = r == ReadResult::kTimeout ? "timeout" : (r == ReadResult::kEof ? "eof" : err);
      return std::nullopt;
    }
  }
}

std::vector<std::string> redisKeys(int port, const std::string& pattern) {
  std::vector<std::string> out;
  std::optional<RespValue> v = redisCall(port, {"KEYS", pattern});
  if (!v || v->type != RespValue::kArray) return out;
  for (const RespValue& e : v->elements) out.push_back(e.str);
  return out;
}

int64_t redisNumSub(int port, const std::string& channel) {
  std::optional<RespValue> v = redisCall(port, {"PUBSUB", "NUMSUB", channel});
  if (!v || v->type != RespValue::kArray || v->elements.size() != 2) return -1;
  return v->elements[1].integer;
}

}  // namespace msw::test
