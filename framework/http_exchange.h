// framework/http_exchange.h: one HTTP request on the manager port, from its
// head to its answer, as a state machine without I/O (docs/manager-api.md).
//
// The request parser (framework/http_request_parser.h) reports the head, the
// body and the body's end; this decides, from those reports alone, when a
// request is complete and goes to its endpoint (exactly once, however often
// a report is repeated), what a refused request is answered, and whether the
// connection may carry the next (pipelined or kept-alive) request afterwards.
// Kept free of I/O so that it can be fuzzed (tests/fuzz/manager_http_fuzz.cpp).
// Lifetime: one per manager session, reused for each request on it. Manager
// thread only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace msw {

// What the parser read of a request head.
struct HttpHead {
  std::string_view method;  // "GET", "POST", or anything else (refused)
  std::string_view path;    // without the query
  bool hasContentLength = false;
  std::string_view contentLength;  // the header's value as sent
  bool hasTransferEncoding = false;
  bool authorized = true;  // the bearer token (if one is configured) matched
};

class HttpExchange {
 public:
  static constexpr size_t kMaxBody = 1 << 20;

  // What the caller does after a report.
  enum class Step {
    kWait,    // nothing: more of the request is to come, or this report was a repeat
    kRoute,   // the request is complete: hand path(), post(), body() to its endpoint
    kRefuse,  // answer status() with errorReason(); the request goes no further
  };

  // The head. A request without Content-Length is complete at once (no
  // body, RFC 9112 §6.3); with one (even 0) it completes at bodyComplete().
  Step begin(const HttpHead& head);
  Step body(std::string_view bytes);
  Step bodyComplete();
  // The answer was written. True: the connection may carry the next request;
  // false: close it (a refused request's body may still be on the wire).
  bool answered();

  // A request was routed or refused and its answer is not written yet: the
  // connection's next request must wait meanwhile.
  bool awaitingAnswer() const { return phase_ == Phase::kRouted || phase_ == Phase::kRefused; }

  bool post() const { return post_; }
  const std::string& path() const { return path_; }
  const std::string& body() const { return body_; }
  int status() const { return status_; }
  const std::string& errorReason() const { return reason_; }

  // The credentials of an Authorization header of the Bearer scheme (the
  // scheme's name in any case, RFC 9110 §11.1), or empty.
  static std::string_view bearerCredentials(std::string_view authorization);

 private:
  enum class Phase { kIdle, kHead, kBody, kRouted, kRefused };

  Step refuse(int status, std::string reason, bool keepAlive);
  void refuseLater(int status, std::string reason);  // once the body is read, so that the connection stays usable
  Step complete();

  Phase phase_ = Phase::kIdle;
  bool post_ = false;
  bool keepAlive_ = true;
  bool refuseAtEnd_ = false;
  size_t expected_ = 0;  // Content-Length
  size_t received_ = 0;
  std::string path_;
  std::string body_;
  int status_ = 0;
  std::string reason_;
};

}  // namespace msw
