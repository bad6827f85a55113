// framework/http_request_parser.h: the manager port's HTTP/1.1 request
// parser (docs/manager-api.md#keep-alive-and-pipelining), without I/O.
//
// The connection (framework/manager_http_conn.h) hands it the bytes read so
// far; it takes one request at a time off their front: the request line, the
// headers, a Content-Length body. What the request's head and body mean for
// the manager (its length, its body, 401/405/411/413) is HttpExchange's
// decision, which this feeds. Empty lines before a request line are skipped
// (RFC 9112 §2.2); a head over kMaxHead is refused 431, anything malformed
// 400; chunked bodies are refused 411 (by HttpExchange). Kept free of
// sockets so that it can be fuzzed (tests/fuzz/manager_http_fuzz.cpp).
// Lifetime: one per manager HTTP connection. Manager thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "framework/http_exchange.h"

namespace msw {

class HttpRequestParser {
 public:
  static constexpr size_t kMaxHead = 8192;
  static constexpr size_t kMaxHeaders = 64;

  // Whether a request's credentials (its Authorization header, its ?token=
  // query argument) pass the manager's token check.
  using Authorize = std::function<bool(std::string_view authorization, std::string_view query)>;
  explicit HttpRequestParser(Authorize authorize) : authorize_(std::move(authorize)) {}

  enum class Result {
    kNeedMore,  // no complete request yet
    kRequest,   // one request: see exchange(), query(), keepAlive(), upgrade()
    kBad,       // malformed: answer badStatus() with badReason(), then close
  };

  // Looks at `in` (the connection's unread bytes, from the point where the
  // last call's `consumed` ended) and sets `consumed`: how many bytes of its
  // front are done with and may be dropped, whatever the result. Call again
  // only once the previous request was answered (exchange().answered()).
  Result next(std::string_view in, size_t& consumed);

  // The request taken by the last kRequest. For an upgrade, exchange() was
  // not consulted: the head (headBytes() bytes from the front of the `in`
  // that was passed, before dropping `consumed`) is lws's to read.
  HttpExchange& exchange() { return exchange_; }
  HttpExchange::Step step() const { return step_; }  // kRoute or kRefuse
  const std::string& query() const { return query_; }  // after '?', undecoded
  bool keepAlive() const { return keepAlive_; }
  bool upgrade() const { return upgrade_; }
  size_t headBytes() const { return headBytes_; }

  // True once when the client waits for "100 Continue" before sending the
  // body that the last kNeedMore is waiting for (Expect: 100-continue, curl
  // with a body over 1 KiB).
  bool takeContinue() { return std::exchange(continuePending_, false); }

  int badStatus() const { return badStatus_; }
  const std::string& badReason() const { return badReason_; }

  // A query argument, percent- and '+'-decoded; empty when absent.
  static std::string queryArg(std::string_view query, std::string_view name);
  // Every parameter of a query, decoded, in order ("a&b=" gives a="" and b="").
  static std::vector<std::pair<std::string, std::string>> queryArgs(std::string_view query);

 private:
  Result head(std::string_view in, size_t start, size_t end, size_t& consumed);
  Result takeBody(std::string_view rest, size_t& used);
  bool header(std::string_view line);
  Result bad(int status, std::string reason);
  void reset();

  Authorize authorize_;
  HttpExchange exchange_;
  HttpExchange::Step step_ = HttpExchange::Step::kWait;
  bool inBody_ = false;
  size_t scanned_ = 0;   // bytes of an unfinished head already searched for its end
  size_t headBytes_ = 0;
  size_t bodyBytes_ = 0;
  // The head being read.
  std::string method_, path_, query_, authorization_, contentLength_;
  bool hasContentLength_ = false, hasTransferEncoding_ = false;
  bool http10_ = false, connClose_ = false, connKeepAlive_ = false, wsUpgrade_ = false, expectContinue_ = false;
  bool continuePending_ = false;
  size_t headers_ = 0;
  bool keepAlive_ = true;
  bool upgrade_ = false;
  int badStatus_ = 0;
  std::string badReason_;
};

}  // namespace msw
