// tests/integration/test_backend.h: the application backend of the hook
// tests, tests/support/backend_server.py (Python's http.server), as a child
// process on a free port. Code in test_backend.cpp; one per test or fixture,
// on the test's thread; killed on destruction.
#pragma once

#include <sys/types.h>

#include <string>

#include "msw/json.h"

namespace msw::it {

class TestBackend {
 public:
  // `secret`: the HMAC key every request's signature is checked against ("" = none).
  explicit TestBackend(const std::string& secret);
  ~TestBackend();
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  // GET /stats: what it was asked (a null Json when it did not answer).
  Json stats() const;
  int port = 0;  // 0 when it did not start

 private:
  pid_t pid_ = -1;
};

}  // namespace msw::it
