// bench/hook_backend.cpp: msw-hook-backend, the backend bench/run's connecthook
// scenario puts behind msw's connect hook (docs/backend.md#connect): it admits
// every POST at once with {"id":"1","type":"bench"}, on kept-alive HTTP/1.1
// connections, one thread each (msw opens at most [backend] max_in_flight per
// worker). Prints "port N" once listening on 127.0.0.1 (port 0 = any free
// one); runs until killed. Not hardened: a local benchmark tool only.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

const char kAnswer[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n{\"id\":\"1\",\"type\":\"bench\"}\n";

size_t contentLength(const std::string& head) {
  for (const char* name : {"Content-Length:", "content-length:"}) {
    size_t at = head.find(name);
    if (at != std::string::npos) return std::strtoul(head.c_str() + at + std::strlen(name), nullptr, 10);
  }
  return 0;
}

// One request after the other until the client closes.
void serve(int fd) {
  std::string in;
  char buf[16384];
  for (;;) {
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return (void)::close(fd);
      in.append(buf, static_cast<size_t>(n));
    }
    size_t total = end + 4 + contentLength(in.substr(0, end));
    while (in.size() < total) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return (void)::close(fd);
      in.append(buf, static_cast<size_t>(n));
    }
    in.erase(0, total);
    if (::write(fd, kAnswer, sizeof kAnswer - 1) != static_cast<ssize_t>(sizeof kAnswer - 1)) return (void)::close(fd);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof a;
  if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 1024) != 0 ||
      ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::perror("msw-hook-backend");
    return 1;
  }
  std::printf("port %d\n", ntohs(a.sin_port));
  std::fflush(stdout);
  for (;;) {
    int fd = ::accept(ls, nullptr, nullptr);
    if (fd < 0) continue;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::thread(serve, fd).detach();
  }
}
