#include "tests/integration/test_backend.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "tests/support/files.h"
#include "tests/support/http_client.h"

namespace msw::it {

// Started on a free port that it prints on its first line.
TestBackend::TestBackend(const std::string& secret) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_adddup2(&files, fds[1], STDOUT_FILENO);
  std::string script = std::string(MSW_SOURCE_DIR) + "/tests/support/backend_server.py";
  std::vector<std::string> args = {"python3", script, secret.empty() ? "-" : secret};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (::posix_spawnp(&pid_, "python3", &files, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&files);
  ::close(fds[1]);
  msw::test::UniqueFd out(fds[0]);
  std::string buf;
  auto deadline = msw::test::deadlineIn(10000);
  char chunk[256];
  while (buf.find('\n') == std::string::npos && msw::test::remainingMs(deadline) > 0) {
    pollfd p{out.get(), POLLIN, 0};
    if (::poll(&p, 1, msw::test::remainingMs(deadline)) <= 0) break;
    ssize_t n = ::read(out.get(), chunk, sizeof chunk);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  if (buf.rfind("port ", 0) == 0) port = std::atoi(buf.c_str() + 5);
}

TestBackend::~TestBackend() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

Json TestBackend::stats() const {
  msw::test::HttpResponse r = msw::test::httpRequest("127.0.0.1", port, "GET", "/stats");
  return r.status == 200 ? Json::parse(r.body) : Json();
}

}  // namespace msw::it
