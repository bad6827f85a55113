// tests/fuzz/manager_http_fuzz.cpp: libFuzzer target for the manager's HTTP
// request handling (framework/http_exchange.h), where pipelined requests once
// made the manager loop: the input is a script of the reports lws makes
// (a head, body pieces, the body's end, the answer written), in any order
// and repeated, and the invariants below must hold whatever the script.
//
//   clang++ -std=c++20 -g -fsanitize=fuzzer,address,undefined -I. \
//     tests/fuzz/manager_http_fuzz.cpp framework/http_exchange.cpp -o manager_http_fuzz
//   ./manager_http_fuzz tests/fuzz/corpus/manager_http
//
// Script: one opcode byte each (low 2 bits), then its operands:
//   0 head: flags byte (method 2 bits, Content-Length present, Transfer-
//     Encoding present, authorized), length byte n, n bytes of Content-Length
//     text, length byte m, m bytes of path
//   1 body: length byte n, n bytes (n 255: a 2 MiB piece)
//   2 end of body
//   3 answer written
//   (bytes 4..7 of the low 3 bits: bearerCredentials on the rest of the input)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "framework/http_exchange.h"

namespace {

struct Reader {
  const uint8_t* p;
  size_t left;
  uint8_t byte() {
    if (!left) return 0;
    --left;
    return *p++;
  }
  std::string_view take(size_t n) {
    if (n > left) n = left;
    std::string_view s(reinterpret_cast<const char*>(p), n);
    p += n;
    left -= n;
    return s;
  }
};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using msw::HttpExchange;
  Reader in{data, size};
  HttpExchange ex;
  int answersOwed = 0;  // requests routed or refused and not yet answered
  std::string big;
  while (in.left) {
    uint8_t op = in.byte();
    HttpExchange::Step step = HttpExchange::Step::kWait;
    if (op & 4) {
      std::string_view rest = in.take(in.left);
      std::string_view creds = HttpExchange::bearerCredentials(rest);
      // What comes back is a part of what went in, never a copy or a dangling view.
      check(creds.empty() || (creds.data() >= rest.data() && creds.data() + creds.size() <= rest.data() + rest.size()));
      break;
    }
    switch (op & 3) {
      case 0: {
        uint8_t flags = in.byte();
        static const char* const kMethods[] = {"GET", "POST", "PUT", ""};
        msw::HttpHead head;
        head.method = kMethods[flags & 3];
        head.hasContentLength = flags & 4;
        head.hasTransferEncoding = flags & 8;
        head.authorized = flags & 16;
        head.contentLength = in.take(in.byte());
        head.path = in.take(in.byte());
        step = ex.begin(head);
        break;
      }
      case 1: {
        uint8_t n = in.byte();
        if (n == 255) {
          big.assign(2u << 20, 'x');
          step = ex.body(big);
        } else {
          step = ex.body(in.take(n));
        }
        break;
      }
      case 2:
        step = ex.bodyComplete();
        break;
      case 3:
        if (answersOwed > 0) {
          ex.answered();
          --answersOwed;
        }
        break;
    }
    if (step != HttpExchange::Step::kWait) {
      // Each request is routed or refused once: never a second time before its answer.
      check(answersOwed == 0);
      ++answersOwed;
      check(ex.awaitingAnswer());
    }
    if (step == HttpExchange::Step::kRefuse) check(ex.status() >= 400 && ex.status() < 600 && !ex.errorReason().empty());
    if (step == HttpExchange::Step::kRoute) check(ex.body().size() <= HttpExchange::kMaxBody);
  }
  return 0;
}
