// tests/fuzz/manager_http_fuzz.cpp: libFuzzer target for the manager port's
// HTTP/1.1 request parsing (framework/http_request_parser.h, and
// framework/http_exchange.h beneath it), where pipelined requests once made
// the manager loop. The input is what a client sends on one connection; it
// reaches the parser in pieces as a socket would hand them over, and the
// invariants below must hold whatever the bytes and however they are split.
//
//   clang++ -std=c++20 -g -fsanitize=fuzzer,address,undefined -I. tests/fuzz/manager_http_fuzz.cpp \
//     framework/http_request_parser.cpp framework/http_exchange.cpp -o manager_http_fuzz
//   ./manager_http_fuzz tests/fuzz/corpus/manager_http_fuzz
//
// Input: one byte, the piece size (0: all at once), then the connection's bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "framework/http_request_parser.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using msw::HttpExchange;
  using msw::HttpRequestParser;
  if (size == 0) return 0;
  size_t piece = data[0] ? data[0] : size;
  std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
  HttpRequestParser parser([](std::string_view authorization, std::string_view) {
    std::string_view creds = HttpExchange::bearerCredentials(authorization);
    // What comes back is a part of what went in, never a copy or a dangling view.
    check(creds.empty() || (creds.data() >= authorization.data() &&
                            creds.data() + creds.size() <= authorization.data() + authorization.size()));
    return creds == "secret";
  });
  std::string in;
  for (size_t at = 0; at < wire.size(); at += piece) {
    in.append(wire.substr(at, piece));
    for (;;) {
      size_t consumed = 0;
      HttpRequestParser::Result r = parser.next(in, consumed);
      check(consumed <= in.size());
      in.erase(0, consumed);
      if (r == HttpRequestParser::Result::kNeedMore) {
        // What waits for more is at most one request's head and body.
        check(in.size() <= HttpRequestParser::kMaxHead + HttpExchange::kMaxBody + 4);
        break;
      }
      if (r == HttpRequestParser::Result::kBad) {
        check(parser.badStatus() >= 400 && parser.badStatus() < 500 && !parser.badReason().empty());
        return 0;  // the connection is closed
      }
      if (parser.upgrade()) {
        check(parser.headBytes() <= in.size());
        return 0;  // lws takes the connection
      }
      HttpExchange& ex = parser.exchange();
      // Each request is routed or refused once, and awaits its answer.
      check(ex.awaitingAnswer());
      if (parser.step() == HttpExchange::Step::kRefuse)
        check(ex.status() >= 400 && ex.status() < 600 && !ex.errorReason().empty());
      else
        check(parser.step() == HttpExchange::Step::kRoute && ex.body().size() <= HttpExchange::kMaxBody);
      bool keep = ex.answered() && parser.keepAlive();
      check(!ex.awaitingAnswer());
      if (!keep) return 0;  // the connection is closed after this answer
    }
  }
  return 0;
}
