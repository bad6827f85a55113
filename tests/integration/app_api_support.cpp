// tests/integration/app_api_support.cpp: the apptest server and client of
// app_api_support.h (used on the test's main thread).
#include "tests/integration/app_api_support.h"

#include <algorithm>
#include <iterator>
#include <sstream>

namespace msw::apptest {
namespace {

std::string trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

Server::Server(const Options& o) : TestServer(kWorkers) {
  managerToken = o.managerToken;
  ini.set("server", "stop_timeout", std::to_string(o.stopTimeout))
      .set("server", "node_id", "apptest1")
      .set("outside", "heartbeat_idle_time", std::to_string(o.idle))
      .set("outside", "send_queue_limit", o.sendQueueLimit)
      .set("auth", "ttl", "0")
      .set("cache", "driver", "memory")
      .set("app", "modules", o.modules);
  setLines(o.moreIni);
}

void Server::setLines(const std::string& text) {
  std::istringstream in(text);
  std::string line, section;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (line.starts_with('[') && line.ends_with(']')) section = line.substr(1, line.size() - 2);
    else if (eq != std::string::npos) ini.set(section, trimmed(line.substr(0, eq)), trimmed(line.substr(eq + 1)));
  }
}

bool Server::start() {
  if (TestServer::start()) return true;
  ADD_FAILURE() << "server did not start: " << error();
  return false;
}

bool Client::open(int port, const std::string& token) {
  if (!ws.connect("127.0.0.1", port, "/ws?auth=" + token)) {
    ADD_FAILURE() << "connect: " << ws.error() << " " << ws.response().status << " " << ws.response().body;
    return false;
  }
  return true;
}

Json Client::call(const std::string& method, const std::string& dataMembers, int timeoutMs) {
  int rid = ++rid_;
  std::string text = "{\"method\":\"" + method + "\",\"rid\":" + std::to_string(rid);
  if (!dataMembers.empty()) text += "," + dataMembers;
  text += "}";
  if (!ws.sendText(text)) return Json();
  return next([rid](JsonRef m) { return m["rid"].i64(-1) == rid; }, timeoutMs);
}

Json Client::next(const std::function<bool(JsonRef)>& pred, int timeoutMs) {
  // "3" and other non-JSON texts are kept, never matched.
  return InboxClient::next([&pred](const msw::it::Msg& m) { return m.root && pred(m.root); }, timeoutMs).root;
}

Json Client::event(const std::string& name, int timeoutMs) {
  return next([&name](JsonRef m) { return m["event"].str() == name; }, timeoutMs);
}

int Client::countBefore(const std::string& barrierTag, const std::string& name, int timeoutMs) {
  Json b = next([&barrierTag](JsonRef m) { return m["event"].str() == "barrier" && m["info"].str() == barrierTag; },
                timeoutMs);
  if (!b) return -1;
  return take(name);
}

void Client::putBack(const Json& m) {
  msw::it::Msg kept;
  kept.received = true;
  kept.raw = m.dump();
  kept.root = Json::copy(m);
  inbox.push_front(std::move(kept));
}

uint64_t Client::whoami() {
  Json r = call("apptest.api.whoami");
  fd = static_cast<uint64_t>(r["param"]["fd"].num());
  member = std::string(r["param"]["member"].str());
  return fd;
}

bool openSpread(const Server& s, int perWorker, const std::function<std::string(int)>& makeToken,
                std::vector<std::unique_ptr<Client>>& out, int maxTries) {
  int have[kWorkers] = {0, 0};
  auto enough = [&] { return std::all_of(std::begin(have), std::end(have), [perWorker](int h) { return h >= perWorker; }); };
  for (int i = 0; i < maxTries && !enough(); ++i) {
    auto c = std::make_unique<Client>();
    if (!c->open(s.port, makeToken(static_cast<int>(out.size())))) return false;
    if (c->whoami() == 0) return false;
    ++have[workerOf(c->fd)];
    out.push_back(std::move(c));
  }
  return enough();
}

std::string fdsJson(const std::vector<uint64_t>& fds) {
  std::string s = "[";
  for (size_t i = 0; i < fds.size(); ++i) s += (i ? "," : "") + std::to_string(fds[i]);
  return s + "]";
}

std::string numberedToken(int i) {
  return Server::token("u" + std::to_string(i), "wechatUser", "r1", "n" + std::to_string(i));
}

std::map<uint64_t, int> collectBefore(const std::vector<std::unique_ptr<Client>>& clients, const std::string& tag,
                                      const std::string& event) {
  std::map<uint64_t, int> seen;
  for (auto& c : clients) {
    int n = c->countBefore(tag, event);
    EXPECT_GE(n, 0) << "fd " << c->fd << " never got barrier " << tag;
    seen[c->fd] = n;
  }
  return seen;
}

void expectDelivered(const std::map<uint64_t, int>& seen, const std::set<uint64_t>& to, const std::string& what) {
  for (auto& [fd, n] : seen) EXPECT_EQ(n, to.count(fd) ? 1 : 0) << what << ": fd " << fd << " (worker " << workerOf(fd) << ")";
}

Client& SpreadClientsTest::on(int worker, int nth) {
  for (auto& c : clients)
    if (workerOf(c->fd) == worker && nth-- == 0) return *c;
  ADD_FAILURE() << "not enough clients on worker " << worker;
  return *clients.front();
}

}  // namespace msw::apptest
