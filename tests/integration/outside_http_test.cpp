// tests/integration/outside_http_test.cpp: what plain HTTP on the outside port
// gives a new user, against the real server serving the source tree's public/:
// the landing page at / (and every page it links to), the token probe that
// lets a page tell a refused link from a network drop (docs/client.md), and a
// refused handshake's log (one msw line, not lws's restatement of it).
#include <regex>
#include <set>

#include "tests/integration/it_support.h"

namespace msw::it {
namespace {

// static_dir = public: the root's public/ is the source tree's (server_process.h).
class OutsideHttp : public SharedServerTest<OutsideHttp> {
 public:
  static void configure(TestServer& s) { s.ini.set("outside", "static_dir", "public"); }

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

}  // namespace
}  // namespace msw::it
