// Integration tests of the manager port (docs/manager-api.md): every endpoint with its
// documented body and answer, every error, the bearer token, and the MSwoole
// console's WebSocket commands; pushes are checked for exact delivery on
// both workers with barriers (a push to everyone after the push under test:
// each worker runs what the manager posts in order).
#include "tests/integration/app_api_support.h"

namespace msw::apptest {
namespace {

class ManagerApi : public SpreadClientsTest {
 protected:
  // POST /push with `body`; the answer's delivered count (-1 if not 200).
  int64_t push(const std::string& body) {
    HttpResponse r = server.post("/push", body);
    EXPECT_EQ(r.status, 200) << body << " -> " << r.body;
    if (r.status != 200) return -1;
    Json j = Json::parse(r.body);
    EXPECT_EQ(j.size(), 1) << r.body;
    return j["delivered"].i64(-1);
  }
  // Pushes a barrier to everyone, then every client reads up to it: fd -> how many `event` it got.
  std::map<uint64_t, int> collect(const std::string& event) {
    EXPECT_EQ(push("{\"to\":{\"all\":true},\"event\":\"barrier\",\"info\":\"" + event + "\"}"),
              static_cast<int64_t>(clients.size()));
    return SpreadClientsTest::collect(event, event);
  }
  // Pushes `event` to `to` (a JSON target) with "exclude": every fd of
  // `reached` but the excluded ones gets it, once.
  void pushExcluding(const std::string& to, std::set<uint64_t> reached, const std::vector<uint64_t>& excluded,
                     const std::string& event, const std::string& what) {
    for (uint64_t fd : excluded) reached.erase(fd);
    EXPECT_EQ(push("{\"to\":" + to + ",\"exclude\":" + fdsJson(excluded) + ",\"event\":\"" + event + "\"}"),
              static_cast<int64_t>(reached.size()));
    expectDelivered(collect(event), reached, what);
  }
  void expect400(const std::string& body, const std::string& reasonPart, const std::string& path = "/push") {
    HttpResponse r = server.post(path, body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    Json j = Json::parse(r.body);
    EXPECT_TRUE(j.isObject()) << r.body;
    EXPECT_NE(std::string(j["error"].str()).find(reasonPart), std::string::npos)
        << body << " -> " << r.body << " (wanted a reason with \"" << reasonPart << "\")";
  }
};

TEST_F(ManagerApi, PushToFdDeliversToThatConnectionOnEitherWorker) {
  ASSERT_TRUE(openSpread(server, 2, numberedToken, clients));
  for (int w = 0; w < kWorkers; ++w) {
    Client& target = on(w, 1);
    std::string ev = "pf" + std::to_string(w);
    EXPECT_EQ(push("{\"to\":{\"fd\":" + std::to_string(target.fd) + "},\"event\":\"" + ev +
                   "\",\"info\":\"hello\",\"param\":{\"a\":[1,{\"b\":\"c\"}]}}"),
              1);
    // The message as the client sees it (read before the barrier so it is whole).
    Json m = target.event(ev);
    ASSERT_TRUE(m);
    EXPECT_EQ(m["status"].i64(), 200);
    EXPECT_EQ(m["info"].str(), "hello");
    EXPECT_EQ(m["param"].dump(), "{\"a\":[1,{\"b\":\"c\"}]}");
    EXPECT_FALSE(m.has("rid"));
    target.putBack(m);  // counted below with the others
    expectDelivered(collect(ev), {target.fd}, "push to fd");
  }
  // A fd given as a numeric string; a fd that is not connected delivers nothing.
  EXPECT_EQ(push("{\"to\":{\"fd\":\"" + std::to_string(on(1).fd) + "\"},\"event\":\"ps\"}"), 1);
  EXPECT_EQ(push("{\"to\":{\"fd\":987654},\"event\":\"nobody\"}"), 0);
  expectDelivered(collect("ps"), {on(1).fd}, "push to fd as a string");
}

TEST_F(ManagerApi, PushWithStatusAndWithoutInfoOrParam) {
  ASSERT_TRUE(openSpread(server, 1, numberedToken, clients));
  Client& c = on(0);
  EXPECT_EQ(push("{\"to\":{\"fd\":" + std::to_string(c.fd) + "},\"event\":\"st\",\"status\":302}"), 1);
  Json m = c.event("st");
  ASSERT_TRUE(m);
  EXPECT_EQ(m["status"].i64(), 302);
  EXPECT_EQ(m["info"].str("missing"), "");
  EXPECT_FALSE(m.has("param")) << m.dump();
}

TEST_F(ManagerApi, PushToFdsDeliversToEachListedConnection) {
  ASSERT_TRUE(openSpread(server, 3, numberedToken, clients));
  std::set<uint64_t> to = {on(0, 0).fd, on(0, 2).fd, on(1, 1).fd};
  std::vector<uint64_t> list(to.begin(), to.end());
  list.push_back(987654);
  EXPECT_EQ(push("{\"to\":{\"fds\":" + fdsJson(list) + "},\"event\":\"fs\"}"), 3);
  expectDelivered(collect("fs"), to, "push to fds");
  EXPECT_EQ(push("{\"to\":{\"fds\":[]},\"event\":\"none\"}"), 0);
}

TEST_F(ManagerApi, PushToUserAndUsersReachEveryConnectionOfThem) {
  std::set<uint64_t> dup;
  std::set<int> workers;
  for (int i = 0; i < 64 && workers.size() < kWorkers; ++i) {
    auto c = std::make_unique<Client>();
    ASSERT_TRUE(c->open(server.port, Server::token("dup", "wechatUser", "r1", "D")));
    dup.insert(c->whoami());
    workers.insert(workerOf(c->fd));
    clients.push_back(std::move(c));
  }
  ASSERT_EQ(workers.size(), static_cast<size_t>(kWorkers));
  ASSERT_TRUE(openSpread(server, 2, numberedToken, clients));
  EXPECT_EQ(push("{\"to\":{\"user\":\"dup\"},\"event\":\"us\"}"), static_cast<int64_t>(dup.size()));
  expectDelivered(collect("us"), dup, "push to user");

  Client& other = *clients.back();  // "uN"
  Json who = other.call("apptest.api.whoami");
  std::string otherId(who["param"]["id"].str());
  std::set<uint64_t> both = dup;
  both.insert(other.fd);
  EXPECT_EQ(push("{\"to\":{\"users\":[\"dup\",\"" + otherId + "\",\"ghost\"]},\"event\":\"uss\"}"),
            static_cast<int64_t>(both.size()));
  expectDelivered(collect("uss"), both, "push to users");
  EXPECT_EQ(push("{\"to\":{\"user\":\"ghost\"},\"event\":\"none\"}"), 0);
}

TEST_F(ManagerApi, PushToRoomHonoursExclude) {
  ASSERT_TRUE(openSpread(server, 3, numberedToken, clients));
  std::set<uint64_t> members;
  for (int w = 0; w < kWorkers; ++w)
    for (int k = 0; k < 2; ++k) {
      ASSERT_EQ(on(w, k).call("apptest.api.join", "\"room\":\"lobby\"")["status"].i64(), 200);
      members.insert(on(w, k).fd);
    }
  EXPECT_EQ(push("{\"to\":{\"room\":\"lobby\"},\"event\":\"rm\"}"), static_cast<int64_t>(members.size()));
  expectDelivered(collect("rm"), members, "push to room");
  pushExcluding("{\"room\":\"lobby\"}", members, {on(0, 1).fd, on(1, 0).fd, on(1, 2).fd /* not a member */}, "rx",
                "push to room with exclude");
  EXPECT_EQ(push("{\"to\":{\"room\":\"empty-room\"},\"event\":\"none\"}"), 0);
}

TEST_F(ManagerApi, PushToAllHonoursExclude) {
  ASSERT_TRUE(openSpread(server, 2, numberedToken, clients));
  std::set<uint64_t> all;
  for (auto& c : clients) all.insert(c->fd);
  EXPECT_EQ(push("{\"to\":{\"all\":true},\"event\":\"al\"}"), static_cast<int64_t>(all.size()));
  expectDelivered(collect("al"), all, "push to all");
  pushExcluding("{\"all\":true}", all, {on(0).fd, on(1).fd}, "ax", "push to all with exclude");
}

// "exclude" is a field of every push (docs/manager-api.md), not only of room and all.
TEST_F(ManagerApi, ExcludeAppliesToUserAndFdsPushesToo) {
  std::set<uint64_t> dup;
  for (int i = 0; i < 3; ++i) {
    auto c = std::make_unique<Client>();
    ASSERT_TRUE(c->open(server.port, Server::token("dup", "wechatUser", "r1", "D")));
    dup.insert(c->whoami());
    clients.push_back(std::move(c));
  }
  uint64_t skip = *dup.begin();
  std::set<uint64_t> rest = dup;
  rest.erase(skip);
  EXPECT_EQ(push("{\"to\":{\"user\":\"dup\"},\"exclude\":[" + std::to_string(skip) + "],\"event\":\"ux\"}"),
            static_cast<int64_t>(rest.size()));
  expectDelivered(collect("ux"), rest, "push to user with exclude");
  std::vector<uint64_t> list(dup.begin(), dup.end());
  EXPECT_EQ(push("{\"to\":{\"fds\":" + fdsJson(list) + "},\"exclude\":[" + std::to_string(skip) + "],\"event\":\"fx\"}"),
            static_cast<int64_t>(rest.size()));
  expectDelivered(collect("fx"), rest, "push to fds with exclude");
}

TEST_F(ManagerApi, OnlineListsTheRoomMembersWithTheirTokenFields) {
  ASSERT_TRUE(openSpread(server, 2, numberedToken, clients));
  std::map<uint64_t, std::string> ids;
  for (int w = 0; w < kWorkers; ++w)
    for (int k = 0; k < 2; ++k) {
      Client& c = on(w, k);
      Json who = c.call("apptest.api.whoami");
      ids[c.fd] = std::string(who["param"]["id"].str());
      ASSERT_EQ(c.call("apptest.api.join", "\"room\":\"hall\"")["status"].i64(), 200);
    }
  HttpResponse r = server.get("/online?room=hall");
  ASSERT_EQ(r.status, 200);
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["count"].i64(), static_cast<int64_t>(ids.size()));
  ASSERT_EQ(j["members"].size(), static_cast<int>(ids.size()));
  for (JsonRef m : j["members"]) {
    uint64_t fd = static_cast<uint64_t>(m["fd"].num());
    ASSERT_TRUE(ids.count(fd)) << r.body;
    EXPECT_EQ(m["id"].str(), ids[fd]);
    EXPECT_EQ(m["nickname"].str(), "n" + ids[fd].substr(1));
    EXPECT_EQ(m["type"].str(), "wechatUser");
  }
  r = server.get("/online?room=nobody-here");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body)["count"].i64(-1), 0);
  EXPECT_EQ(Json::parse(r.body)["members"].size(), 0);
  r = server.get("/online");
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(ManagerApi, OnlineUserGivesTheFdsOfAUser) {
  std::set<uint64_t> fds;
  std::vector<std::unique_ptr<Client>> mine;
  for (int i = 0; i < 3; ++i) {
    auto c = std::make_unique<Client>();
    ASSERT_TRUE(c->open(server.port, Server::token("multi", "wechatUser", "r1", "M")));
    fds.insert(c->whoami());
    mine.push_back(std::move(c));
  }
  HttpResponse r = server.get("/online/user?id=multi");
  ASSERT_EQ(r.status, 200);
  Json j = Json::parse(r.body);
  EXPECT_TRUE(j["online"].boolean(false)) << r.body;
  std::set<uint64_t> got;
  for (JsonRef f : j["fds"]) got.insert(static_cast<uint64_t>(f.num()));
  EXPECT_EQ(got, fds);
  r = server.get("/online/user?id=nobody");
  ASSERT_EQ(r.status, 200);
  j = Json::parse(r.body);
  EXPECT_FALSE(j["online"].boolean(true)) << r.body;
  EXPECT_TRUE(j["fds"].isArray()) << r.body;
  EXPECT_EQ(j["fds"].size(), 0) << r.body;
  EXPECT_EQ(server.get("/online/user").status, 400);
}

TEST_F(ManagerApi, KickFdClosesItWith4010) {
  ASSERT_TRUE(openSpread(server, 1, numberedToken, clients));
  for (int w = 0; w < kWorkers; ++w) {
    Client& c = on(w);
    HttpResponse r = server.post("/kick", "{\"fd\":" + std::to_string(c.fd) + "}");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"kicked\":1}");
    EXPECT_EQ(c.ws.waitClose(), 4010);
  }
  HttpResponse r = server.post("/kick", "{\"fd\":987654}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"kicked\":0}");
  EXPECT_TRUE(server.waitConnections(static_cast<int64_t>(clients.size()) - kWorkers));
}

TEST_F(ManagerApi, KickUserClosesEveryConnectionOfIt) {
  std::vector<std::unique_ptr<Client>> victims;
  std::set<int> workers;
  for (int i = 0; i < 64 && (workers.size() < kWorkers || victims.size() < 3); ++i) {
    auto c = std::make_unique<Client>();
    ASSERT_TRUE(c->open(server.port, Server::token("bad", "wechatUser", "r1", "B")));
    workers.insert(workerOf(c->whoami()));
    victims.push_back(std::move(c));
  }
  ASSERT_EQ(workers.size(), static_cast<size_t>(kWorkers));
  Client bystander;
  ASSERT_TRUE(bystander.open(server.port, numberedToken(1)));
  bystander.whoami();
  HttpResponse r = server.post("/kick", "{\"user\":\"bad\"}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"kicked\":" + std::to_string(victims.size()) + "}");
  for (auto& v : victims) EXPECT_EQ(v->ws.waitClose(), 4010) << "fd " << v->fd;
  EXPECT_TRUE(server.waitConnections(1));
  EXPECT_EQ(bystander.call("apptest.api.whoami")["status"].i64(), 200) << "the bystander must stay";
  r = server.post("/kick", "{\"user\":\"bad\"}");
  EXPECT_EQ(r.body, "{\"kicked\":0}");
}

TEST_F(ManagerApi, ReloadKeepsConnectionsAndAnswersTheModules) {
  ASSERT_TRUE(openSpread(server, 1, numberedToken, clients));
  HttpResponse r = server.post("/reload", "");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_TRUE(j["reloaded"].boolean(false)) << r.body;
  std::set<std::string> mods;
  for (JsonRef m : j["modules"]) mods.insert(std::string(m.str()));
  EXPECT_EQ(mods, (std::set<std::string>{"index", "live", "apptest"})) << r.body;
  EXPECT_EQ(j["errors"].size(), 0) << r.body;
  for (auto& c : clients) EXPECT_EQ(c->call("apptest.api.whoami")["param"]["fd"].num(), static_cast<double>(c->fd));
  // A body is allowed and ignored.
  EXPECT_EQ(server.post("/reload", "{}").status, 200);
  // Module routes come from the reloaded table.
  EXPECT_EQ(server.get("/apptest/echo?x=1").status, 200);
}

TEST_F(ManagerApi, StopClosesClientsWith1001AndExits) {
  ASSERT_TRUE(openSpread(server, 1, numberedToken, clients));
  HttpResponse r = server.post("/stop", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"stopping\":true}");
  for (auto& c : clients) EXPECT_EQ(c->ws.waitClose(), 1001) << "fd " << c->fd;
  EXPECT_EQ(server.proc.stop(), 0);  // already exiting: reaps it
}

TEST_F(ManagerApi, StatusAndMetricsAnswer) {
  ASSERT_TRUE(openSpread(server, 1, numberedToken, clients));
  Json st = server.status();
  ASSERT_TRUE(st);
  for (const char* k : {"version", "node_id", "uptime", "workers", "connections", "rooms", "messages_in",
                        "messages_out", "memory", "store"})
    EXPECT_TRUE(st.has(k)) << k << " missing from " << st.dump();
  EXPECT_EQ(st["node_id"].str(), "apptest1");
  EXPECT_EQ(st["store"]["driver"].str(), "memory");
  HttpResponse m = server.get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("msw_connections{worker=\"0\"}"), std::string::npos) << m.body;
  EXPECT_NE(msw::test::headerValue(m, "content-type").find("text/plain"), std::string::npos);
}

TEST_F(ManagerApi, BadPushBodiesGet400WithAReason) {
  expect400("not json", "JSON");
  expect400("[1,2]", "JSON");
  expect400("{\"event\":\"x\"}", "\"to\"");
  expect400("{\"to\":{},\"event\":\"x\"}", "\"to\"");
  expect400("{\"to\":{\"fd\":1,\"room\":\"r\"},\"event\":\"x\"}", "\"to\"");
  expect400("{\"to\":{\"planet\":\"mars\"},\"event\":\"x\"}", "planet");
  expect400("{\"to\":\"all\",\"event\":\"x\"}", "\"to\"");
  expect400("{\"to\":{\"all\":true}}", "event");
  expect400("{\"to\":{\"all\":true},\"event\":\"\"}", "event");
  expect400("{\"to\":{\"all\":true},\"event\":5}", "event");
  expect400("{\"to\":{\"all\":false},\"event\":\"x\"}", "all");
  for (const char* fd : {"0", "-3", "1.5", "\"abc\"", "\"\"", "null", "true", "[1]"})
    expect400(std::string("{\"to\":{\"fd\":") + fd + "},\"event\":\"x\"}", "fd");
  expect400("{\"to\":{\"fds\":[1,\"x\"]},\"event\":\"x\"}", "fds");
  expect400("{\"to\":{\"fds\":5},\"event\":\"x\"}", "fds");
  expect400("{\"to\":{\"room\":\"\"},\"event\":\"x\"}", "room");
  expect400("{\"to\":{\"all\":true},\"exclude\":[0],\"event\":\"x\"}", "exclude");
  expect400("{\"to\":{\"all\":true},\"exclude\":7,\"event\":\"x\"}", "exclude");
  expect400("{\"to\":{\"all\":true},\"event\":\"x\",\"info\":3}", "info");
  // /kick
  expect400("not json", "JSON", "/kick");
  expect400("{}", "fd", "/kick");
  expect400("{\"fd\":0}", "fd", "/kick");
  expect400("{\"fd\":\"x\"}", "fd", "/kick");
  expect400("{\"user\":\"\"}", "user", "/kick");
}

TEST_F(ManagerApi, UnknownPathIs404AndWrongMethodIs405) {
  HttpResponse r = server.get("/nope");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_TRUE(Json::parse(r.body)["error"].isString()) << r.body;
  EXPECT_EQ(server.post("/nope", "{}").status, 404);
  for (const char* p : {"/push", "/kick", "/reload", "/stop"}) EXPECT_EQ(server.get(p).status, 405) << "GET " << p;
  for (const char* p : {"/status", "/metrics", "/online?room=a", "/online/user?id=a"})
    EXPECT_EQ(server.post(p, "{}").status, 405) << "POST " << p;
  r = server.http("PUT", "/status", "{}");
  EXPECT_EQ(r.status, 405) << r.body;
  r = server.http("DELETE", "/push");
  EXPECT_EQ(r.status, 405) << r.body;
  EXPECT_TRUE(server.proc.running());
}

// docs/manager-api.md#module-routes: apptest's routes (tests/modules/apptest).
TEST_F(ManagerApi, ModuleRoutesGetTheirMethodPathQueryAndBody) {
  HttpResponse r = server.get("/apptest/echo?y=1&x=a%20b%26c");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"method\":\"GET\",\"path\":\"/apptest/echo\",\"x\":\"a b&c\",\"raw\":\"\"}");
  EXPECT_NE(msw::test::headerValue(r, "content-type").find("application/json"), std::string::npos);
  r = server.post("/apptest/echo", "{\"k\":[1,2]}");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["method"].str(), "POST");
  EXPECT_EQ(j["body"].dump(), "{\"k\":[1,2]}");
  // A body that is not JSON reaches the handler as it is, for its own answer.
  r = server.post("/apptest/echo", "a=1");
  ASSERT_EQ(r.status, 200) << r.body;
  j = Json::parse(r.body);
  EXPECT_EQ(j["raw"].str(), "a=1");
  EXPECT_FALSE(j.has("body")) << r.body;
}

TEST_F(ManagerApi, ModuleRouteAnswersFromItsStoreCallback) {
  HttpResponse r = server.post("/apptest/counter", "{\"by\":5}");
  ASSERT_EQ(r.status, 200) << r.body;
  int64_t first = Json::parse(r.body)["value"].i64(-1);
  r = server.post("/apptest/counter", "{\"by\":2}");
  EXPECT_EQ(Json::parse(r.body)["value"].i64(-1), first + 2) << r.body;
  r = server.post("/apptest/counter", "{}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.body, "{\"error\":\"give by\"}");
}

TEST_F(ManagerApi, ModuleRouteErrorsAre404405And500) {
  EXPECT_EQ(server.post("/apptest/counter", "{}").status, 400);
  HttpResponse r = server.get("/apptest/counter");
  EXPECT_EQ(r.status, 405) << r.body;
  EXPECT_EQ(server.get("/apptest/none").status, 404);
  r = server.get("/apptest/throw");
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(server.proc.log().find("manager route /apptest/throw threw: on purpose"), std::string::npos);
  EXPECT_EQ(server.get("/apptest/echo").status, 200) << "the manager must go on";
}

TEST_F(ManagerApi, ModuleRoutesOnTheManagersPathsOrOtherMethodsAreRefusedAtLoad) {
  const std::string log = server.proc.log();
  EXPECT_NE(log.find("module apptest: manager route GET /status refused: the manager serves that path itself"),
            std::string::npos) << tail(log);
  EXPECT_NE(log.find("module apptest: manager route PUT /apptest/put refused"), std::string::npos) << tail(log);
  Json st = server.status();
  EXPECT_EQ(st["node_id"].str(), "apptest1") << "/status stays the manager's";
  EXPECT_EQ(server.http("PUT", "/apptest/put").status, 405);
}

// A route two modules register is the first one's, in [app] modules order.
TEST(ManagerApiRoutes, APathTwoModulesTakeIsTheFirstOnes) {
  Options o;
  o.modules = "index, apptest, testmod";
  Server server(o);
  ASSERT_TRUE(server.start());
  HttpResponse r = server.get("/apptest/echo?x=1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["x"].str(), "1") << "apptest's handler answers: " << r.body;
  EXPECT_NE(server.proc.log().find("module testmod: manager route GET /apptest/echo refused: module apptest serves it"),
            std::string::npos)
      << tail(server.proc.log());
  // A reload keeps the same owner.
  ASSERT_EQ(server.post("/reload", "").status, 200);
  EXPECT_EQ(Json::parse(server.get("/apptest/echo?x=2").body)["x"].str(), "2");
}

TEST(ManagerApiToken, MissingOrWrongTokenIs401WithWwwAuthenticate) {
  Options o;
  o.managerToken = "s3cret-token";
  Server server(o);
  ASSERT_TRUE(server.start());
  for (std::vector<std::string> headers :
       {std::vector<std::string>{}, {"Authorization: Bearer wrong"}, {"Authorization: Bearer s3cret-tokenX"},
        {"Authorization: s3cret-token"}, {"Authorization: Basic czNjcmV0LXRva2Vu"}}) {
    // An unrelated header stands in for "no Authorization at all".
    if (headers.empty()) headers.push_back("X-None: 1");
    for (const char* path : {"/status", "/online?room=a"}) {
      HttpResponse r = msw::test::httpRequest("127.0.0.1", server.managerPort, "GET", path, {}, headers);
      EXPECT_EQ(r.status, 401) << path << " " << (headers.empty() ? "" : headers[0]);
      EXPECT_NE(msw::test::headerValue(r, "www-authenticate").find("Bearer"), std::string::npos)
          << path << " " << headers[0];
    }
    HttpResponse r = msw::test::httpRequest("127.0.0.1", server.managerPort, "POST", "/stop", "{}", headers);
    EXPECT_EQ(r.status, 401) << headers[0];
    r = msw::test::httpRequest("127.0.0.1", server.managerPort, "GET", "/apptest/echo", {}, headers);
    EXPECT_EQ(r.status, 401) << "module routes are behind the token too: " << headers[0];
  }
  EXPECT_TRUE(server.proc.running());
  EXPECT_EQ(server.get("/status").status, 200);
  EXPECT_EQ(server.post("/push", "{\"to\":{\"all\":true},\"event\":\"x\"}").body, "{\"delivered\":0}");
  // The console WebSocket needs the token too (header or ?token=).
  WsClient bad;
  EXPECT_FALSE(bad.connect("127.0.0.1", server.managerPort, "/"));
  WsClient header;
  EXPECT_TRUE(header.connect("127.0.0.1", server.managerPort, "/", {"Authorization: Bearer s3cret-token"}))
      << header.error();
  WsClient good;
  ASSERT_TRUE(good.connect("127.0.0.1", server.managerPort, "/?token=s3cret-token")) << good.error();
  ASSERT_TRUE(good.sendText("{\"method\":\"status\"}"));
  std::optional<std::string> m = good.recvMessage();
  ASSERT_TRUE(m);
  EXPECT_EQ(Json::parse(*m)["status"].i64(), 200) << *m;
}

// docs/manager-api.md: "A wrong or missing token gets 401" - the console's WebSocket
// upgrade included (a real HTTP answer, not a dropped connection).
TEST(ManagerApiToken, ConsoleWebSocketWithoutTheTokenGets401) {
  Options o;
  o.managerToken = "s3cret-token";
  Server server(o);
  ASSERT_TRUE(server.start());
  WsClient none;
  EXPECT_FALSE(none.connect("127.0.0.1", server.managerPort, "/"));
  EXPECT_EQ(none.response().status, 401) << none.error();
  WsClient wrong;
  EXPECT_FALSE(wrong.connect("127.0.0.1", server.managerPort, "/", {"Authorization: Bearer nope"}));
  EXPECT_EQ(wrong.response().status, 401) << wrong.error();
}

// docs/manager-api.md: with a token set, MSwoole's console sends it as ?token=.
TEST(ManagerApiToken, ConsoleWebSocketWithTheTokenInTheQueryIsAccepted) {
  Options o;
  o.managerToken = "s3cret-token";
  Server server(o);
  ASSERT_TRUE(server.start());
  Client console;
  ASSERT_TRUE(console.ws.connect("127.0.0.1", server.managerPort, "/?token=s3cret-token")) << console.ws.error();
  ASSERT_TRUE(console.sendJson("{\"method\":\"status\"}"));
  Json r = console.next([](JsonRef) { return true; });
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  EXPECT_EQ(r["event"].str(), "status") << r.dump();
}

// ---------------------------------------------------------------- console WebSocket

class ManagerConsole : public ManagerApi {
 protected:
  Json command(const std::string& text) {
    if (!connected && !(connected = console.ws.connect("127.0.0.1", server.managerPort, "/"))) {
      ADD_FAILURE() << "console connect: " << console.ws.error();
      return Json();
    }
    EXPECT_TRUE(console.sendJson(text));
    return console.next([](JsonRef) { return true; });
  }
  Client console;
  bool connected = false;
};

TEST_F(ManagerConsole, StatusAnswersWithTheStatusJson) {
  Json r = command("{\"method\":\"status\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  EXPECT_EQ(r["event"].str(), "status");
  EXPECT_EQ(r["param"]["node_id"].str(), "apptest1") << r.dump();
  EXPECT_TRUE(r["param"]["workers"].isArray()) << r.dump();
}

TEST_F(ManagerConsole, SayReachesEveryOutsideClient) {
  ASSERT_TRUE(openSpread(server, 2, numberedToken, clients));
  Json r = command("{\"method\":\"say\",\"say\":\"hi\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  EXPECT_EQ(r["param"]["delivered"].i64(), static_cast<int64_t>(clients.size())) << r.dump();
  for (auto& c : clients) {
    Json m = c->event("serverBroadcast");
    ASSERT_TRUE(m) << "fd " << c->fd;
    EXPECT_EQ(m["info"].str(), "hi");
    EXPECT_EQ(m["param"].str(), "hi") << "MSwoole's pages read the text from param: " << m.dump();
  }
  expectDelivered(collect("serverBroadcast"), {}, "no second serverBroadcast");
}

TEST_F(ManagerConsole, ReloadAndUnknownMethod) {
  ASSERT_TRUE(openSpread(server, 1, numberedToken, clients));
  Json r = command("{\"method\":\"reload\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  EXPECT_TRUE(r["param"]["reloaded"].boolean(false)) << r.dump();
  for (auto& c : clients) EXPECT_EQ(c->call("apptest.api.whoami")["status"].i64(), 200);
  r = command("{\"method\":\"dance\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r["status"].i64(), 400) << r.dump();
  r = command("not json at all");
  ASSERT_TRUE(r);
  EXPECT_EQ(r["status"].i64(), 400) << r.dump();
  r = command("{\"method\":\"status\"}");  // the console connection still works
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
}

TEST_F(ManagerConsole, StopClosesClientsAndExits) {
  ASSERT_TRUE(openSpread(server, 1, numberedToken, clients));
  Json r = command("{\"method\":\"stop\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r["status"].i64(), 200) << r.dump();
  for (auto& c : clients) EXPECT_EQ(c->ws.waitClose(), 1001);
  EXPECT_EQ(server.proc.stop(), 0);
}

// ServerProcess polls GET /status from the moment the process exists, so a
// request may reach the manager before the workers are up. The server must
// answer (or refuse) it, not crash.
TEST(ManagerApiStartup, StatusDuringStartupDoesNotCrashTheServer) {
  for (int i = 0; i < 8; ++i) {
    Server server;
    ASSERT_TRUE(server.start()) << "start #" << i;
    EXPECT_EQ(server.proc.stop(), 0);
  }
}

}  // namespace
}  // namespace msw::apptest
