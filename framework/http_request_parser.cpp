// framework/http_request_parser.cpp: the manager port's HTTP/1.1 request
// parser (see the header). No sockets here, by design.
#include "framework/http_request_parser.h"

#include <cctype>

namespace msw {
namespace {

// RFC 9110 §5.6.2 token characters.
bool isTchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  for (char t : std::string_view("!#$%&'*+-.^_`|~"))
    if (c == t) return true;
  return false;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!isTchar(c)) return false;
  return true;
}

bool equalsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != lower[i]) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls each(token) for every comma-separated element of a list header.
template <typename F>
void forEachElement(std::string_view v, F each) {
  while (!v.empty()) {
    size_t comma = v.find(',');
    each(trim(v.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

HttpRequestParser::Result HttpRequestParser::next(std::string_view in, size_t& consumed) {
  consumed = 0;
  if (inBody_) return takeBody(in, consumed);
  size_t pos = 0;
  // Empty lines before a request line are ignored (RFC 9112 §2.2).
  while (pos < in.size() && (in[pos] == '\n' || (in[pos] == '\r' && pos + 1 < in.size() && in[pos + 1] == '\n')))
    pos += in[pos] == '\n' ? 1 : 2;
  consumed = pos;
  if (pos == in.size() || (in[pos] == '\r' && pos + 1 == in.size())) return Result::kNeedMore;
  // The head ends at an empty line: "\n\n" or "\n\r\n".
  for (size_t i = pos + (scanned_ > 2 ? scanned_ - 2 : 0); i < in.size(); ++i) {
    if (in[i] != '\n') continue;
    size_t end = i + 1 < in.size() && in[i + 1] == '\n'                          ? i + 2
                 : i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n' ? i + 3
                                                                               : 0;
    if (!end) continue;
    scanned_ = 0;
    if (end - pos > kMaxHead) return bad(431, "request head over 8 KiB");
    return head(in, pos, end, consumed);
  }
  scanned_ = in.size() - pos;
  if (scanned_ > kMaxHead) return bad(431, "request head over 8 KiB");
  return Result::kNeedMore;
}

void HttpRequestParser::reset() {
  method_.clear();
  path_.clear();
  query_.clear();
  authorization_.clear();
  contentLength_.clear();
  hasContentLength_ = hasTransferEncoding_ = http10_ = connClose_ = connKeepAlive_ = wsUpgrade_ = false;
  expectContinue_ = continuePending_ = false;
  headers_ = 0;
  upgrade_ = false;
}

HttpRequestParser::Result HttpRequestParser::head(std::string_view in, size_t start, size_t end, size_t& consumed) {
  reset();
  std::string_view h = in.substr(start, end - start);
  auto line = [&h] {
    size_t nl = h.find('\n');
    std::string_view l = h.substr(0, nl);
    h.remove_prefix(nl + 1);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    return l;
  };
  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
  std::string_view rl = line();
  size_t sp1 = rl.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos)
    return bad(400, "malformed request line");
  std::string_view method = rl.substr(0, sp1), target = rl.substr(sp1 + 1, sp2 - sp1 - 1), version = rl.substr(sp2 + 1);
  if (!isToken(method) || method.size() > 32) return bad(400, "malformed method");
  if (target.empty() || target[0] != '/') return bad(400, "the request target must be a path");
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad(400, "malformed request target");
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return bad(400, "only HTTP/1.1 and HTTP/1.0");
  http10_ = version == "HTTP/1.0";
  method_ = method;
  size_t q = target.find('?');
  path_ = target.substr(0, q);
  if (q != std::string_view::npos) query_ = target.substr(q + 1);
  for (std::string_view l = line(); !l.empty(); l = line()) {
    if (++headers_ > kMaxHeaders) return bad(431, "more than 64 header fields");
    if (!header(l)) return bad(400, "malformed header field");
  }
  keepAlive_ = http10_ ? connKeepAlive_ : !connClose_;
  upgrade_ = wsUpgrade_ && method_ == "GET";
  headBytes_ = end - start;
  if (upgrade_) {
    consumed = start;  // the head stays, for lws
    return Result::kRequest;
  }
  consumed = end;
  HttpHead hd;
  hd.method = method_;
  hd.path = path_;
  hd.hasContentLength = hasContentLength_;
  hd.contentLength = contentLength_;
  hd.hasTransferEncoding = hasTransferEncoding_;
  hd.authorized = authorize_(authorization_, query_);
  step_ = exchange_.begin(hd);
  if (step_ != HttpExchange::Step::kWait) return Result::kRequest;
  // HttpExchange accepted the length: digits, at most 1 MiB.
  bodyBytes_ = 0;
  for (char c : contentLength_) bodyBytes_ = bodyBytes_ * 10 + static_cast<size_t>(c - '0');
  inBody_ = true;
  size_t used = 0;
  Result r = takeBody(in.substr(end), used);
  consumed += used;
  continuePending_ = r == Result::kNeedMore && expectContinue_;
  return r;
}

HttpRequestParser::Result HttpRequestParser::takeBody(std::string_view rest, size_t& used) {
  used = 0;
  if (rest.size() < bodyBytes_) return Result::kNeedMore;
  inBody_ = false;
  used = bodyBytes_;
  step_ = exchange_.body(rest.substr(0, bodyBytes_));
  if (step_ == HttpExchange::Step::kWait) step_ = exchange_.bodyComplete();
  return Result::kRequest;
}

bool HttpRequestParser::header(std::string_view l) {
  if (l[0] == ' ' || l[0] == '\t') return false;  // obsolete line folding (RFC 9112 §5.2)
  size_t colon = l.find(':');
  if (colon == std::string_view::npos || !isToken(l.substr(0, colon))) return false;
  std::string_view name = l.substr(0, colon), value = trim(l.substr(colon + 1));
  for (char c : value)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return false;
  if (equalsLower(name, "content-length")) {
    if (hasContentLength_ && value != contentLength_) return false;  // RFC 9112 §6.3
    hasContentLength_ = true;
    contentLength_ = value;
  } else if (equalsLower(name, "transfer-encoding")) {
    hasTransferEncoding_ = true;
  } else if (equalsLower(name, "authorization")) {
    if (authorization_.empty()) authorization_ = value;
  } else if (equalsLower(name, "connection")) {
    forEachElement(value, [this](std::string_view t) {
      connClose_ = connClose_ || equalsLower(t, "close");
      connKeepAlive_ = connKeepAlive_ || equalsLower(t, "keep-alive");
    });
  } else if (equalsLower(name, "expect")) {
    expectContinue_ = equalsLower(value, "100-continue");
  } else if (equalsLower(name, "upgrade")) {
    forEachElement(value, [this](std::string_view t) { wsUpgrade_ = wsUpgrade_ || equalsLower(t, "websocket"); });
  }
  return true;
}

HttpRequestParser::Result HttpRequestParser::bad(int status, std::string reason) {
  badStatus_ = status;
  badReason_ = std::move(reason);
  keepAlive_ = false;
  return Result::kBad;
}

std::string HttpRequestParser::queryArg(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return percentDecode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> HttpRequestParser::queryArgs(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (!pair.empty())
      out.emplace_back(percentDecode(pair.substr(0, eq)),
                       eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace msw
