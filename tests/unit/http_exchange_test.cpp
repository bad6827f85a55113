// tests/unit/http_exchange_test.cpp: the manager's HTTP request state machine
// (framework/http_exchange.h), fed the reports the request parser makes.
#include "framework/http_exchange.h"

#include <gtest/gtest.h>

namespace msw {
namespace {

using Step = HttpExchange::Step;

HttpHead head(std::string_view method, std::string_view path, const char* length = nullptr, bool authorized = true) {
  HttpHead h;
  h.method = method;
  h.path = path;
  h.hasContentLength = length != nullptr;
  h.contentLength = length ? length : "";
  h.authorized = authorized;
  return h;
}

TEST(HttpExchange, AGetIsRoutedAtItsHeadAndKeepsTheConnection) {
  HttpExchange ex;
  EXPECT_EQ(ex.begin(head("GET", "/status")), Step::kRoute);
  EXPECT_EQ(ex.path(), "/status");
  EXPECT_FALSE(ex.post());
  EXPECT_TRUE(ex.answered());
  EXPECT_EQ(ex.begin(head("GET", "/metrics")), Step::kRoute) << "the next request on the connection";
}

TEST(HttpExchange, ABodyIsRoutedOnceAtItsEndHoweverOftenTheEndIsReported) {
  // lws 4.1 reported the end of a body again and again while a pipelined
  // request waited behind it: that once routed each push hundreds of times.
  HttpExchange ex;
  EXPECT_EQ(ex.begin(head("POST", "/push", "2")), Step::kWait);
  EXPECT_EQ(ex.body("{"), Step::kWait);
  EXPECT_EQ(ex.body("}"), Step::kWait);
  EXPECT_EQ(ex.bodyComplete(), Step::kRoute);
  EXPECT_EQ(ex.body(), "{}");
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ex.bodyComplete(), Step::kWait);
  EXPECT_TRUE(ex.answered()) << "the connection carries the next request";
}

TEST(HttpExchange, ContentLengthZeroIsOneRequestNotTwo) {
  // The console's POST /reload: routed at the head and again at the body's end = two reloads.
  HttpExchange ex;
  EXPECT_EQ(ex.begin(head("POST", "/reload", "0")), Step::kWait);
  EXPECT_EQ(ex.body(""), Step::kWait);
  EXPECT_EQ(ex.bodyComplete(), Step::kRoute);
  EXPECT_EQ(ex.bodyComplete(), Step::kWait);
}

TEST(HttpExchange, NoContentLengthIsAnEmptyBody) {
  HttpExchange ex;
  EXPECT_EQ(ex.begin(head("POST", "/reload")), Step::kRoute);
  EXPECT_EQ(ex.body(), "");
  EXPECT_TRUE(ex.answered());
}

TEST(HttpExchange, RefusalsSayWhy) {
  struct Case { HttpHead h; int status; bool transferEncoding = false; };
  for (auto [h, status, te] : {Case{head("POST", "/push", "2000000"), 413}, Case{head("POST", "/push", "12a"), 400},
                               Case{head("POST", "/push", "-1"), 400}, Case{head("GET", "/status", "3"), 400},
                               Case{head("POST", "/push"), 411, true}, Case{head("PUT", "/push"), 405},
                               Case{head("GET", "/status", nullptr, false), 401}}) {
    h.hasTransferEncoding = te;
    HttpExchange ex;
    EXPECT_EQ(ex.begin(h), Step::kRefuse) << status;
    EXPECT_EQ(ex.status(), status);
    EXPECT_FALSE(ex.errorReason().empty());
  }
}

TEST(HttpExchange, AnUnauthorizedBodyIsReadThenRefused) {
  HttpExchange ex;
  EXPECT_EQ(ex.begin(head("POST", "/push", "2", false)), Step::kWait);
  EXPECT_EQ(ex.body("{}"), Step::kWait);
  EXPECT_EQ(ex.bodyComplete(), Step::kRefuse);
  EXPECT_EQ(ex.status(), 401);
}

TEST(HttpExchange, BearerSchemeIsCaseInsensitive) {
  EXPECT_EQ(HttpExchange::bearerCredentials("Bearer abc"), "abc");
  EXPECT_EQ(HttpExchange::bearerCredentials("bearer abc"), "abc");
  EXPECT_EQ(HttpExchange::bearerCredentials("  BEARER \t abc  "), "abc");
  EXPECT_EQ(HttpExchange::bearerCredentials("Bearerabc"), "");
  EXPECT_EQ(HttpExchange::bearerCredentials("Basic abc"), "");
  EXPECT_EQ(HttpExchange::bearerCredentials("Bearer"), "");
  EXPECT_EQ(HttpExchange::bearerCredentials(""), "");
}

}  // namespace
}  // namespace msw
