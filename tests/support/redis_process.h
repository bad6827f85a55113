// tests/support/redis_process.h: a redis-server of one test's own, and a
// minimal RESP client to look at what the server under test left in it.
//
// RedisProcess runs /usr/bin/redis-server (or the first redis-server on
// PATH) on a loopback port with no persistence (--save '' --appendonly no),
// so that a restart on the same port starts empty, as a real Redis that lost
// its data. The child gets SIGKILL when the test process dies.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace msw::test {

class RedisProcess {
 public:
  // port 0: a free one is picked at the first start().
  explicit RedisProcess(int port = 0) : port_(port) {}
  ~RedisProcess();  // kill9, then removes its folder
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  // Spawns it and waits (polling connect, with a deadline) until it answers
  // PING. With a port picked here, a port taken meanwhile is retried with
  // another one; a port given (or kept from an earlier start) is kept.
  bool start(int timeoutMs = 5000);
  void kill9();    // SIGKILL and reap; the port stays reserved for start()
  bool running();  // reaps it if it has exited
  void pause();    // SIGSTOP: a Redis that does not answer (connections stay open)
  void resume();   // SIGCONT
  int port() const { return port_; }
  const std::string& error() const { return error_; }
  std::string log() const;

 private:
  bool spawnOnce(int timeoutMs);

  int port_;
  bool fixedPort_ = false;
  pid_t pid_ = -1;
  std::string dir_;
  std::string error_;
};

// One RESP reply.
struct RespValue {
  enum Type { kStatus, kError, kInteger, kBulk, kNil, kArray } type = kNil;
  std::string str;  // status, error or bulk text
  int64_t integer = 0;
  std::vector<RespValue> elements;
};

// One command on a fresh connection to 127.0.0.1:port; nullopt when the
// connection or the exchange fails (error set when given).
std::optional<RespValue> redisCall(int port, const std::vector<std::string>& args, int timeoutMs = 2000,
                                   std::string* error = nullptr);
// KEYS pattern (fine on a test's own small Redis); empty on failure.
std::vector<std::string> redisKeys(int port, const std::string& pattern);
// Subscribers of one channel (PUBSUB NUMSUB), -1 on failure.
int64_t redisNumSub(int port, const std::string& channel);

}  // namespace msw::test
