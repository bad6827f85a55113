// tests/support/server_process.h: runs the real server binary for one test,
// in a fresh application root under /tmp, and stops it.
//
// The root holds config/app.ini (the text the test gives), public/ (a symlink
// to the source tree's public/) and runtime/log/ (the server's stdout and
// stderr go to runtime/log/stderr.log). It is removed when the fixture is
// destroyed, unless MSW_KEEP_ROOT is set in the environment (to read the logs
// of a failed run).
#pragma once

#include <sys/types.h>

#include <string>

#include "library/config.h"

namespace msw::test {

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess();  // kill9 if still running, then remove the root

  // Starts MSW_BINARY -s start --root ROOT -c ROOT/config/app.ini and waits
  // until GET /status on 127.0.0.1:managerPort answers 200 (with "Bearer
  // managerToken" when it is not empty). False, with the log left readable,
  // when the process exited or timeoutMs passed first.
  bool start(const std::string& iniBody, int managerPort, const std::string& managerToken = {},
             int timeoutMs = 15000);
  // SIGTERM, then waits: the exit status, or -1 if it had to be killed or died by a signal.
  int stop(int timeoutMs = 15000);
  void kill9();   // SIGKILL and reap
  bool running(); // reaps it if it has exited

  pid_t pid() const { return pid_; }  // of the last start, even once it has exited
  const std::string& root() const { return root_; }
  const std::string& error() const { return error_; }  // why start() failed
  std::string log() const;  // runtime/log/stderr.log then runtime/log/msw.log
  bool waitLog(const std::string& needle, int timeoutMs = 5000);

 private:
  bool makeRoot(const std::string& iniBody);
  bool spawn();
  bool waitReady(int managerPort, const std::string& managerToken, int timeoutMs);
  bool waitExit(int timeoutMs);  // true once reaped (status_ set)
  void reaped(int status);

  pid_t pid_ = -1;
  bool alive_ = false;  // spawned and not yet reaped
  int status_ = 0;      // waitpid status once reaped
  std::string root_;
  std::string error_;
};

// An auth token for plaintextJson with the given cipher and key (msw::TokenCodec).
// Throws std::runtime_error when the codec cannot be set up.
std::string mintToken(const std::string& plaintextJson, msw::CipherKind cipher, const std::string& key);

}  // namespace msw::test
