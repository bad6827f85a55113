// tests/integration/app_api_support.h: what the live_*, app_api_* and
// manager_api_* integration tests share: a server with the index, live and
// apptest modules on free loopback ports, token minting, manager calls, and a
// client that keeps the messages it was not waiting for (so a test can wait
// for one event and still count the others).
//
// Every wait ends on an event (a message, a close, an HTTP answer, a log
// line) or a deadline. Polling is used only for a state of the server
// process that sends nothing (store key counts, room membership).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "msw/json.h"
#include "tests/support/http_client.h"
#include "tests/support/server_process.h"
#include "tests/support/ws_client.h"

namespace msw::apptest {

using msw::Json;
using msw::JsonRef;
using msw::test::HttpResponse;
using msw::test::ServerProcess;
using msw::test::WsClient;

inline const std::string kKey = "app-api-integration-key";
constexpr int kWorkers = 2;

inline int workerOf(uint64_t fd) { return static_cast<int>(fd % kWorkers); }

inline size_t countOf(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

struct Options {
  int idle = 60;                          // [outside] heartbeat_idle_time
  std::string sendQueueLimit = "1m";      // [outside] send_queue_limit
  std::string managerToken;               // [manager] token
  int stopTimeout = 5;                    // [server] stop_timeout
  std::string modules = "index, live, apptest";
  std::string moreIni;                    // sections appended to the file ("[live]\nmax_pending = 5\n")
};

// One server process for one test.
class Server {
 public:
  explicit Server(Options o = {}) : opts_(std::move(o)) {}

  bool start() {
    port = msw::test::freePort();
    managerPort = msw::test::freePort();
    while (managerPort == port) managerPort = msw::test::freePort();
    std::string ini =
        "[server]\n"
        "worker_num = " + std::to_string(kWorkers) + "\n"
        "log_level = info\n"
        "stop_timeout = " + std::to_string(opts_.stopTimeout) + "\n"
        "node_id = apptest1\n"
        "[outside]\n"
        "host = 127.0.0.1\n"
        "port = " + std::to_string(port) + "\n"
        "heartbeat_idle_time = " + std::to_string(opts_.idle) + "\n"
        "send_queue_limit = " + opts_.sendQueueLimit + "\n"
        "rate_limit = 0\n"
        "static_dir =\n"
        "[manager]\n"
        "host = 127.0.0.1\n"
        "port = " + std::to_string(managerPort) + "\n"
        "token = " + opts_.managerToken + "\n"
        "[auth]\n"
        "key = " + kKey + "\n"
        "ttl = 0\n"
        "[cache]\n"
        "driver = memory\n"
        "[app]\n"
        "plugin_dir = " MSW_PLUGIN_DIR "\n"
        "modules = " + opts_.modules + "\n" + opts_.moreIni;
    if (!proc.start(ini, managerPort, opts_.managerToken)) {
      ADD_FAILURE() << "server did not start: " << proc.error() << "\n" << proc.log();
      return false;
    }
    return true;
  }

  // A token for these fields plus ctime; `extra` is more JSON members ("\"a\":1").
  static std::string token(const std::string& id, const std::string& type, const std::string& code,
                           const std::string& nickname, const std::string& extra = {}) {
    Json j = Json::object();
    j.set("id", id).set("type", type).set("nickname", nickname).set("ctime", static_cast<int64_t>(std::time(nullptr)));
    if (!code.empty()) j.set("code", code);
    std::string text = j.dump();
    if (!extra.empty()) text = text.substr(0, text.size() - 1) + "," + extra + "}";
    return msw::test::mintToken(text, msw::CipherKind::kAes256Gcm, kKey);
  }

  HttpResponse http(const std::string& method, const std::string& path, const std::string& body = {},
                    std::vector<std::string> headers = {}) const {
    if (!opts_.managerToken.empty() && headers.empty()) headers.push_back("Authorization: Bearer " + opts_.managerToken);
    return msw::test::httpRequest("127.0.0.1", managerPort, method, path, body, headers);
  }
  HttpResponse get(const std::string& path) const { return http("GET", path); }
  HttpResponse post(const std::string& path, const std::string& body) const { return http("POST", path, body); }

  // GET path, parsed (a null Json when it did not answer 200 with JSON).
  Json getJson(const std::string& path) const {
    HttpResponse r = get(path);
    if (r.status != 200) return Json();
    return Json::parse(r.body);
  }
  Json status() const { return getJson("/status"); }
  int64_t storeKeys() const { return status()["store"]["keys"].i64(-1); }

  // Polls GET path until pred holds for its JSON (the server sends nothing
  // when a state changes, so this is the one place a test polls).
  bool pollJson(const std::string& path, const std::function<bool(JsonRef)>& pred, int timeoutMs = 5000) const {
    auto deadline = msw::test::deadlineIn(timeoutMs);
    for (;;) {
      Json j = getJson(path);
      if (j && pred(j)) return true;
      if (msw::test::remainingMs(deadline) == 0) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  bool waitStoreKeys(int64_t n, int timeoutMs = 5000) const {
    return pollJson("/status", [n](JsonRef j) { return j["store"]["keys"].i64(-1) == n; }, timeoutMs);
  }
  bool waitRoomCount(const std::string& room, int64_t n, int timeoutMs = 5000) const {
    return pollJson("/online?room=" + room, [n](JsonRef j) { return j["count"].i64(-1) == n; }, timeoutMs);
  }
  bool waitConnections(int64_t n, int timeoutMs = 5000) const {
    return pollJson("/status", [n](JsonRef j) { return j["connections"].i64(-1) == n; }, timeoutMs);
  }

  Options opts_;
  int port = 0;
  int managerPort = 0;
  ServerProcess proc;
};

// One WebSocket client that keeps every message it has read and not yet
// been asked for, in arrival order.
class Client {
 public:
  bool open(int port, const std::string& token) {
    if (!ws.connect("127.0.0.1", port, "/ws?auth=" + token)) {
      ADD_FAILURE() << "connect: " << ws.error() << " " << ws.response().status << " " << ws.response().body;
      return false;
    }
    return true;
  }
  bool sendJson(const std::string& text) { return ws.sendText(text); }

  // Sends {"method": method, ...data, "rid": N} and returns the reply carrying rid N.
  Json call(const std::string& method, const std::string& dataMembers = {}, int timeoutMs = 5000) {
    int rid = ++rid_;
    std::string text = "{\"method\":\"" + method + "\",\"rid\":" + std::to_string(rid);
    if (!dataMembers.empty()) text += "," + dataMembers;
    text += "}";
    if (!ws.sendText(text)) return Json();
    return next([rid](JsonRef m) { return m["rid"].i64(-1) == rid; }, timeoutMs);
  }

  // The first kept or arriving message that pred accepts (taken out of the
  // kept ones); others read meanwhile are kept. A null Json on timeout or close.
  Json next(const std::function<bool(JsonRef)>& pred, int timeoutMs = 5000) {
    for (auto it = kept.begin(); it != kept.end(); ++it)
      if (pred(*it)) {
        Json m = std::move(*it);
        kept.erase(it);
        return m;
      }
    auto deadline = msw::test::deadlineIn(timeoutMs);
    for (;;) {
      int left = msw::test::remainingMs(deadline);
      if (left == 0) return Json();
      std::optional<std::string> text = ws.recvMessage(left);
      if (!text) return Json();
      Json m = Json::parse(*text);
      if (!m) continue;  // "3" and the like
      if (pred(m)) return m;
      kept.push_back(std::move(m));
    }
  }
  Json event(const std::string& name, int timeoutMs = 5000) {
    return next([name](JsonRef m) { return m["event"].str() == name; }, timeoutMs);
  }
  // Reads until an event "barrier" whose info is `tag`; returns how many kept
  // messages (the barrier excluded) have event `name`, and drops those.
  int countBefore(const std::string& barrierTag, const std::string& name, int timeoutMs = 5000) {
    Json b = next([barrierTag](JsonRef m) { return m["event"].str() == "barrier" && m["info"].str() == barrierTag; },
                  timeoutMs);
    if (!b) return -1;
    return take(name);
  }
  // Drops the kept messages with event `name`; how many there were.
  int take(const std::string& name) {
    int n = 0;
    for (auto it = kept.begin(); it != kept.end();) {
      if ((*it)["event"].str() == name) {
        ++n;
        it = kept.erase(it);
      } else {
        ++it;
      }
    }
    return n;
  }
  int keptCount(const std::string& name) const {
    int n = 0;
    for (const Json& m : kept)
      if (m["event"].str() == name) ++n;
    return n;
  }

  // whoami through apptest: fills fd.
  uint64_t whoami() {
    Json r = call("apptest.api.whoami");
    fd = static_cast<uint64_t>(r["param"]["fd"].num());
    member = std::string(r["param"]["member"].str());
    return fd;
  }

  WsClient ws;
  std::deque<Json> kept;
  uint64_t fd = 0;
  std::string member;

 private:
  int rid_ = 0;
};

// Opens clients (token from makeToken(i)) until each worker has at least
// `perWorker` of them; all opened clients are kept (grouped by worker).
inline bool openSpread(const Server& s, int perWorker, const std::function<std::string(int)>& makeToken,
                       std::vector<std::unique_ptr<Client>>& out, int maxTries = 64) {
  int have[kWorkers] = {0, 0};
  for (int i = 0; i < maxTries; ++i) {
    if (std::all_of(std::begin(have), std::end(have), [perWorker](int h) { return h >= perWorker; })) return true;
    auto c = std::make_unique<Client>();
    if (!c->open(s.port, makeToken(static_cast<int>(out.size())))) return false;
    if (c->whoami() == 0) return false;
    ++have[workerOf(c->fd)];
    out.push_back(std::move(c));
  }
  return std::all_of(std::begin(have), std::end(have), [perWorker](int h) { return h >= perWorker; });
}

inline std::string fdsJson(const std::vector<uint64_t>& fds) {
  std::string s = "[";
  for (size_t i = 0; i < fds.size(); ++i) s += (i ? "," : "") + std::to_string(fds[i]);
  return s + "]";
}

}  // namespace msw::apptest
