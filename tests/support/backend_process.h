// tests/support/backend_process.h: the application backend of the hook
// tests (tests/support/backend_server.py, Python's http.server), run as a
// child of the test on a free port it prints; killed on destruction. One
// object per test (or fixture), on the test's thread.
#pragma once

#include <sys/types.h>

#include <string>

#include "msw/json.h"

namespace msw::test {

class BackendProcess {
 public:
  // secret: "" for none; else the backend checks every X-Msw-Signature.
  explicit BackendProcess(const std::string& secret);
  ~BackendProcess();
  BackendProcess(const BackendProcess&) = delete;
  BackendProcess& operator=(const BackendProcess&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  // GET /stats (a null Json when it did not answer).
  msw::Json stats() const;

  int port = 0;  // 0 when it did not start

 private:
  pid_t pid_ = -1;
};

}  // namespace msw::test
