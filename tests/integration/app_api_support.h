// tests/integration/app_api_support.h: what the live_*, app_api_* and
// manager_api_* integration tests add to it_support.h: a server of each
// test's own with the index, live and apptest modules on two workers, and a
// client that calls methods by request id and reads events through its
// inbox (so a test can wait for one event and still count the others).
// Code in app_api_support.cpp; waits as it_support.h says.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/it_support.h"

namespace msw::apptest {

using namespace msw::it;  // the shared layer these tests build on

inline const std::string& kKey = msw::it::kAuthKey;
constexpr int kWorkers = 2;

inline int workerOf(uint64_t fd) { return msw::it::workerOf(fd, kWorkers); }

struct Options {
  int idle = 60;                          // [outside] heartbeat_idle_time
  std::string sendQueueLimit = "1m";      // [outside] send_queue_limit
  std::string managerToken;               // [manager] token
  int stopTimeout = 5;                    // [server] stop_timeout
  std::string modules = "index, live, apptest";
  std::string moreIni;                    // "[section]" and "key = value" lines set over the rest ("[live]\nmax_pending = 5\n")
};

// One server process for one test.
class Server : public msw::it::TestServer {
 public:
  explicit Server(const Options& o = {});

  // Starts it; a test failure (with the log) when it does not come up.
  bool start();

  // A token for these fields plus ctime; `extra` is more JSON members ("\"a\":1").
  static std::string token(const std::string& id, const std::string& type, const std::string& code,
                           const std::string& nickname, const std::string& extra = {}) {
    return msw::it::mint(msw::it::userJson(id, code, type, nickname, msw::it::unixNow(), extra));
  }

  HttpResponse http(const std::string& method, const std::string& target, const std::string& body = {}) const {
    return manager(method, target, body);
  }

 private:
  void setLines(const std::string& text);  // Options::moreIni
};

// One WebSocket client of the apptest module: replies found by request id,
// events by name; messages not asked for yet stay in the inbox.
class Client : public msw::it::InboxClient {
 public:
  bool open(int port, const std::string& token);
  bool sendJson(const std::string& text) { return ws.sendText(text); }

  // Sends {"method": method, ...data, "rid": N} and returns the reply carrying rid N.
  Json call(const std::string& method, const std::string& dataMembers = {}, int timeoutMs = 5000);
  // The first kept or arriving JSON message that pred accepts; a null Json
  // on timeout or close.
  Json next(const std::function<bool(JsonRef)>& pred, int timeoutMs = 5000);
  Json event(const std::string& name, int timeoutMs = 5000);
  // Reads until an event "barrier" whose info is `tag`; returns how many kept
  // messages (the barrier excluded) have event `name`, and drops those.
  int countBefore(const std::string& barrierTag, const std::string& name, int timeoutMs = 5000);

  // Puts a message already taken back at the front of the inbox (so that
  // countBefore counts it with the others).
  void putBack(const Json& m);

  // whoami through apptest: fills fd and member.
  uint64_t whoami();

  uint64_t fd = 0;
  std::string member;

 private:
  int rid_ = 0;
};

// Opens clients (token from makeToken(i)) until each worker has at least
// `perWorker` of them; all opened clients are kept (grouped by worker).
bool openSpread(const Server& s, int perWorker, const std::function<std::string(int)>& makeToken,
                std::vector<std::unique_ptr<Client>>& out, int maxTries = 64);

std::string fdsJson(const std::vector<uint64_t>& fds);

// A token for user "u<i>" of room r1.
std::string numberedToken(int i);

// Every client reads up to the barrier tagged `tag`: fd -> how many `event`
// messages it had before it.
std::map<uint64_t, int> collectBefore(const std::vector<std::unique_ptr<Client>>& clients, const std::string& tag,
                                      const std::string& event);
// Each fd of `seen` had one event when it is in `to`, none otherwise.
void expectDelivered(const std::map<uint64_t, int>& seen, const std::set<uint64_t>& to, const std::string& what);

// A fixture with a started server and the clients a test spreads over its workers.
class SpreadClientsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server.start()); }
  std::map<uint64_t, int> collect(const std::string& tag, const std::string& event) {
    return collectBefore(clients, tag, event);
  }
  // The nth client on that worker.
  Client& on(int worker, int nth = 0);

  Server server;
  std::vector<std::unique_ptr<Client>> clients;
};

}  // namespace msw::apptest
