// framework/http_exchange.cpp: one manager HTTP request's state machine
// (see the header). No lws and no I/O here, by design.
#include "framework/http_exchange.h"

#include <cctype>

namespace msw {
namespace {

// A Content-Length value: digits only (RFC 9110 §8.6), at most 1 MiB + 1 read.
bool parseLength(std::string_view v, size_t& out) {
  if (v.empty() || v.size() > 18) return false;
  size_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  out = n;
  return true;
}

bool isSpace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

HttpExchange::Step HttpExchange::begin(const HttpHead& head) {
  if (awaitingAnswer()) {
    // A request before the last one was answered: the caller's bug. Answer
    // that one, then close rather than guess at the order.
    keepAlive_ = false;
    return Step::kWait;
  }
  phase_ = Phase::kHead;
  post_ = head.method == "POST";
  path_ = head.path.empty() ? "/" : std::string(head.path);
  body_.clear();
  status_ = 0;
  reason_.clear();
  keepAlive_ = true;
  refuseAtEnd_ = false;
  expected_ = received_ = 0;
  // A request with neither header has no body (RFC 9112 §6.3).
  if (head.hasTransferEncoding) return refuse(411, "chunked bodies are not accepted: send a Content-Length", false);
  if (head.hasContentLength && !parseLength(head.contentLength, expected_))
    return refuse(400, "Content-Length is not a number", false);
  if (expected_ > kMaxBody) return refuse(413, "body over 1 MiB", false);
  if (head.method == "GET" && expected_ > 0) return refuse(400, "a GET takes no body", false);
  if (!head.authorized) refuseLater(401, "missing or wrong bearer token");
  else if (!post_ && head.method != "GET") refuseLater(405, "only GET and POST");
  // With Content-Length (even 0) the body and its end are reported.
  if (!head.hasContentLength) return complete();
  phase_ = Phase::kBody;
  return Step::kWait;
}

HttpExchange::Step HttpExchange::body(std::string_view bytes) {
  if (phase_ != Phase::kBody) return Step::kWait;
  received_ += bytes.size();
  if (received_ > expected_) return refuse(400, "more body than Content-Length", false);
  if (!refuseAtEnd_) body_.append(bytes);
  return Step::kWait;
}

HttpExchange::Step HttpExchange::bodyComplete() {
  if (phase_ != Phase::kBody) return Step::kWait;  // done already: a repeated report
  if (received_ < expected_) return refuse(400, "body shorter than Content-Length", false);
  return complete();
}

bool HttpExchange::answered() {
  phase_ = Phase::kIdle;
  return keepAlive_;
}

void HttpExchange::refuseLater(int status, std::string reason) {
  refuseAtEnd_ = true;
  status_ = status;
  reason_ = std::move(reason);
}

HttpExchange::Step HttpExchange::refuse(int status, std::string reason, bool keepAlive) {
  phase_ = Phase::kRefused;
  status_ = status;
  reason_ = std::move(reason);
  keepAlive_ = keepAlive_ && keepAlive;
  return Step::kRefuse;
}

HttpExchange::Step HttpExchange::complete() {
  if (refuseAtEnd_) return refuse(status_, reason_, true);
  phase_ = Phase::kRouted;
  return Step::kRoute;
}

std::string_view HttpExchange::bearerCredentials(std::string_view a) {
  while (!a.empty() && isSpace(a.front())) a.remove_prefix(1);
  while (!a.empty() && isSpace(a.back())) a.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (a.size() <= kScheme.size() || !isSpace(a[kScheme.size()])) return {};
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != kScheme[i]) return {};
  a.remove_prefix(kScheme.size());
  while (!a.empty() && isSpace(a.front())) a.remove_prefix(1);
  return a;
}

}  // namespace msw
