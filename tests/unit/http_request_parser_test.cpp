// tests/unit/http_request_parser_test.cpp: the manager port's HTTP/1.1
// request parser (framework/http_request_parser.h) on byte streams as
// clients send them: pipelined, split anywhere, with stray empty lines.
#include "framework/http_request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace msw {
namespace {

using Result = HttpRequestParser::Result;

HttpRequestParser parser() {
  return HttpRequestParser([](std::string_view auth, std::string_view) { return auth != "wrong"; });
}

// Feeds `bytes` in pieces of `step` bytes; returns "PATH BODY" per request, "!STATUS" for a bad one.
std::vector<std::string> feed(const std::string& bytes, size_t step) {
  HttpRequestParser p = parser();
  std::vector<std::string> out;
  std::string in;
  for (size_t at = 0; at < bytes.size();) {
    in += bytes.substr(at, step);
    at += step;
    for (;;) {
      size_t consumed = 0;
      Result r = p.next(in, consumed);
      in.erase(0, consumed);
      if (r == Result::kNeedMore) break;
      if (r == Result::kBad) return out.push_back("!" + std::to_string(p.badStatus())), out;
      HttpExchange& ex = p.exchange();
      out.push_back(p.step() == HttpExchange::Step::kRoute ? ex.path() + " " + ex.body()
                                                          : "!" + std::to_string(ex.status()));
      ex.answered();
    }
  }
  return out;
}

const std::string kPush = "POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
const std::string kGet = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n";

TEST(HttpRequestParser, PipelinedRequestsComeOutOnceEachInOrderHoweverTheBytesAreSplit) {
  std::string all = "\r\n" + kPush + kPush + "\r\n" + kGet + "\n" + kPush;
  std::vector<std::string> want = {"/push {}", "/push {}", "/status ", "/push {}"};
  for (size_t step : {1, 2, 7, 1000}) EXPECT_EQ(feed(all, step), want) << "pieces of " << step;
}

TEST(HttpRequestParser, MalformedInputIsBad) {
  for (std::string bad : {"\x16\x03garbage\r\n\r\n", "GET status HTTP/1.1\r\n\r\n", "GET /status HTTP/2\r\n\r\n",
                          "GET /status HTTP/1.1\r\n folded\r\n\r\n", "GET /status HTTP/1.1\r\nno colon\r\n\r\n",
                          "GET  /status HTTP/1.1\r\n\r\n",
                          "POST /push HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"})
    EXPECT_EQ(feed(bad, 1000), std::vector<std::string>{"!400"}) << bad;
  EXPECT_EQ(feed("GET /" + std::string(9000, 'a'), 1000), std::vector<std::string>{"!431"});
  EXPECT_EQ(feed("GET /status HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 1000), std::vector<std::string>{"!411"});
}

TEST(HttpRequestParser, KeepAliveConnectionCloseAndUpgrades) {
  HttpRequestParser p = parser();
  size_t used = 0;
  std::string in = "GET /a HTTP/1.1\r\nConnection: Close\r\n\r\n";
  ASSERT_EQ(p.next(in, used), Result::kRequest);
  EXPECT_FALSE(p.keepAlive());
  in = "GET /a HTTP/1.0\r\n\r\n";
  ASSERT_EQ(p.next(in, used), Result::kRequest);
  EXPECT_FALSE(p.keepAlive()) << "HTTP/1.0 closes by default";
  in = "\r\nGET /?token=t HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n";
  ASSERT_EQ(p.next(in, used), Result::kRequest);
  EXPECT_TRUE(p.upgrade());
  EXPECT_EQ(used, 2u) << "the head stays for lws";
  EXPECT_EQ(p.headBytes(), in.size() - 2);
}

TEST(HttpRequestParser, QueryArgumentsAreDecoded) {
  EXPECT_EQ(HttpRequestParser::queryArg("a=1&room=r%201+x&b", "room"), "r 1 x");
  EXPECT_EQ(HttpRequestParser::queryArg("rooms=1", "room"), "");
}

TEST(HttpRequestParser, AnUnauthorizedRequestIsRefused401AndTheConnectionGoesOn) {
  EXPECT_EQ(feed("GET /status HTTP/1.1\r\nAuthorization: wrong\r\n\r\n" + kGet, 5),
            (std::vector<std::string>{"!401", "/status "}));
}

}  // namespace
}  // namespace msw
