// tests/integration/outside_http_test.cpp: what plain HTTP on the outside port
// gives a new user, against the real server serving the source tree's public/:
// the landing page at / (and every page it links to), the token probe that
// lets a page tell a refused link from a network drop (docs/client.md), a
// refused handshake's log (one msw line, not lws's restatement of it), and the
// demo links `make run` prints (scripts/demo-urls).
#include <cstdio>
#include <map>
#include <regex>
#include <set>

#include "tests/integration/it_support.h"

namespace msw::it {
namespace {

// static_dir = public: the root's public/ is the source tree's (server_process.h).
// The live module, for the demo links.
class OutsideHttp : public SharedServerTest<OutsideHttp> {
 public:
  static void configure(TestServer& s) {
    s.ini.set("outside", "static_dir", "public").set("app", "modules", "index, live");
  }

 protected:
  static HttpResponse get(const std::string& path) {
    return msw::test::httpRequest("127.0.0.1", server().port, "GET", path);
  }
  static void expectRefusedProbe(const std::string& path, const std::string& info) {
    HttpResponse r = get(path);
    EXPECT_EQ(r.status, 403) << path << ": " << r.body;
    EXPECT_NE(msw::test::headerValue(r, "content-type").find("application/json"), std::string::npos) << path;
    Json body = Json::parse(r.body);
    ASSERT_TRUE(body.isObject()) << path << ": " << r.body;
    EXPECT_EQ(body["status"].i64(), 403) << r.body;
    EXPECT_EQ(body["info"].str(), info) << r.body;
  }
};

TEST_F(OutsideHttp, TheLandingPageIsServedAtTheRoot) {
  HttpResponse r = get("/");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(msw::test::headerValue(r, "content-type").find("text/html"), std::string::npos);
  EXPECT_NE(r.body.find("<title>msw</title>"), std::string::npos) << r.body.substr(0, 300);
  EXPECT_NE(r.body.find("docs/protocol.md"), std::string::npos) << "the landing page names the docs";
  // Every page it links to is there (a renamed page would leave a dead link).
  std::set<std::string> links;
  std::regex href(R"re(href="([^"#:]+)")re");
  for (auto it = std::sregex_iterator(r.body.begin(), r.body.end(), href); it != std::sregex_iterator(); ++it)
    links.insert((*it)[1].str());
  EXPECT_TRUE(links.count("live/index.html") && links.count("live/wall.html") && links.count("js/msw.js"))
      << "links to the demo pages and the client";
  for (const std::string& link : links) EXPECT_EQ(get("/" + link).status, 200) << "/" << link;
}

TEST_F(OutsideHttp, AGetWithARefusedTokenGetsTheHandshakesAnswer) {
  expectRefusedProbe("/live/socket?auth=garbage", "invalid auth");
  expectRefusedProbe("/live/socket?a=1&auth=" + std::string(40, 'A'), "invalid auth");
  expectRefusedProbe("/socket?auth=", "missing auth");
  expectRefusedProbe("/live/index.html?auth=" + mint(userJson("u1", "r", "wall", "N", unixNow() - 90000)),
                     "auth expired");
}

TEST_F(OutsideHttp, AGetWithAGoodTokenOrNoneIsServedAsUsual) {
  EXPECT_EQ(get("/live/socket?auth=" + server().userToken()).status, 404) << "a good token is not refused";
  EXPECT_EQ(get("/live/index.html?auth=" + server().userToken()).status, 200);
  EXPECT_EQ(get("/live/index.html?token=garbage").status, 200) << "only the auth argument is a token";
  EXPECT_EQ(get("/live/index.html").status, 200);
  WsClient c = client();  // the WebSocket side is unaffected
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
}

TEST_F(OutsideHttp, ARefusedHandshakeLogsMswsLineAndNotLwsWarning) {
  WsClient c;
  EXPECT_FALSE(c.connect("127.0.0.1", server().port, "/ws?auth=refused-in-this-test"));
  EXPECT_EQ(c.response().status, 403);
  // The worker logs in order: once the probe's line is there, lws's warning
  // about the handshake (logged right after msw's refusal) would be too.
  expectRefusedProbe("/after-the-handshake?auth=garbage", "invalid auth");
  ASSERT_TRUE(server().proc.waitLog("token probe from")) << server().proc.log();
  std::string log = server().proc.log();
  EXPECT_NE(log.find("refused: 403 invalid auth"), std::string::npos) << log;
  EXPECT_EQ(log.find("User code denied connection"), std::string::npos) << log;
}

// What scripts/demo-urls prints for this server's root, minted by the built console.
std::string demoUrls(const std::string& root) {
  std::string cmd = "MSW_ROOT='" + root + "' MSW_CONSOLE='" MSW_BINARY "' '" MSW_SOURCE_DIR "/scripts/demo-urls' 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  pclose(p);
  return out;
}

TEST_F(OutsideHttp, TheDemoLinksAreDistinctPeopleAndAWall) {
  std::string out = demoUrls(server().root());
  std::map<std::string, std::string> attendees;  // name -> token
  std::regex line(R"re(attendee (\w+): +http://127\.0\.0\.1:(\d+)/live/index\.html\?token=(\S+))re");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ((*it)[2].str(), std::to_string(server().port)) << "the port of this root's config";
    attendees[(*it)[1].str()] = (*it)[3].str();
  }
  ASSERT_GE(attendees.size(), 3u) << out;
  std::smatch wall;
  ASSERT_TRUE(std::regex_search(out, wall, std::regex(R"(/live/wall\.html\?token=(\S+))"))) << out;
  std::vector<WsClient> people(attendees.size());
  size_t i = 0;
  for (const auto& [name, token] : attendees) {
    ASSERT_TRUE(people[i].connect("127.0.0.1", server().port, "/live/socket?auth=" + token)) << name;
    EXPECT_EQ(request(people[i++], R"({"method":"live.user.join"})").status(), 200) << name;
  }
  WsClient screen;
  ASSERT_TRUE(screen.connect("127.0.0.1", server().port, "/live/socket?auth=" + wall[1].str()));
  EXPECT_EQ(request(screen, R"({"method":"live.wall.join"})").status(), 200) << "the wall link is a wall";
  // Each attendee link is its own user, under the name it was printed with.
  Json online = Json::parse(server().manager("GET", "/online?room=demo").body);
  std::set<std::string> ids;
  std::set<std::string> names;
  for (JsonRef m : online["members"]) {
    if (m["type"].str() != "wechatUser") continue;
    ids.insert(std::string(m["id"].text()));
    names.insert(std::string(m["nickname"].str()));
  }
  EXPECT_EQ(ids.size(), attendees.size()) << online.dump();
  std::set<std::string> printed;
  for (const auto& a : attendees) printed.insert(a.first);
  EXPECT_EQ(names, printed) << online.dump();
}

}  // namespace
}  // namespace msw::it
