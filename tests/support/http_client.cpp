#include "tests/support/http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace msw::test {

namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kMaxBodyBytes = size_t{1} << 30;  // a corrupt length must not become a huge allocation

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

void setError(std::string* error, std::string text) {
  if (error) *error = std::move(text);
}

std::string toLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Polls fd for `events` until the deadline: 1 ready, 0 timed out, -1 error.
int waitFor(int fd, short events, Deadline deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remainingMs(deadline));
    if (n >= 0) return n;
    if (errno != EINTR) return -1;
  }
}

int tryConnect(const addrinfo* ai, Deadline deadline, std::string* error) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    setError(error, errnoText("socket"));
    return -1;
  }
  UniqueFd guard(fd);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    if (errno != EINPROGRESS) {
      setError(error, errnoText("connect"));
      return -1;
    }
    int ready = waitFor(fd, POLLOUT, deadline);
    if (ready <= 0) {
      setError(error, ready == 0 ? "connect: timed out" : errnoText("poll"));
      return -1;
    }
    int soError = 0;
    socklen_t len = sizeof soError;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len);
    if (soError != 0) {
      setError(error, std::string("connect: ") + std::strerror(soError));
      return -1;
    }
  }
  return guard.release();
}

// Waits until buf holds `delim`; its position, or npos with *error set.
size_t readUntil(int fd, std::string& buf, std::string_view delim, size_t limit, Deadline deadline,
                 std::string* error) {
  size_t from = 0;
  for (;;) {
    size_t pos = buf.find(delim, from);
    if (pos != std::string::npos) return pos;
    if (buf.size() > limit) {
      setError(error, "line or header block too long");
      return std::string::npos;
    }
    from = buf.size() >= delim.size() ? buf.size() - delim.size() + 1 : 0;
    ReadResult r = readSome(fd, buf, deadline, error);
    if (r == ReadResult::kEof) setError(error, "connection closed mid-response");
    if (r == ReadResult::kTimeout) setError(error, "timed out waiting for the response");
    if (r != ReadResult::kData) return std::string::npos;
  }
}

// Waits until buf holds at least n bytes.
bool readAtLeast(int fd, std::string& buf, size_t n, Deadline deadline, std::string* error) {
  while (buf.size() < n) {
    ReadResult r = readSome(fd, buf, deadline, error);
    if (r == ReadResult::kEof) setError(error, "connection closed before the end of the body");
    if (r == ReadResult::kTimeout) setError(error, "timed out reading the body");
    if (r != ReadResult::kData) return false;
  }
  return true;
}

bool parseHead(std::string_view head, HttpResponse& out, std::string* error) {
  size_t lineEnd = head.find("\r\n");
  std::string_view statusLine = head.substr(0, lineEnd);
  int status = 0;
  if (statusLine.size() < 12 || statusLine.substr(0, 7) != "HTTP/1." || statusLine[8] != ' ' ||
      std::from_chars(statusLine.data() + 9, statusLine.data() + 12, status).ptr != statusLine.data() + 12) {
    setError(error, "malformed status line: " + std::string(statusLine));
    return false;
  }
  out.status = status;
  while (lineEnd != std::string_view::npos) {
    size_t start = lineEnd + 2;
    lineEnd = head.find("\r\n", start);
    std::string_view line = head.substr(start, lineEnd == std::string_view::npos ? head.npos : lineEnd - start);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = toLower(trim(line.substr(0, colon)));
    std::string_view value = trim(line.substr(colon + 1));
    auto [it, inserted] = out.headers.emplace(name, value);
    if (!inserted) it->second.append(", ").append(value);
  }
  return true;
}

bool parseSize(std::string_view text, int base, size_t& out) {
  text = trim(text);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && ptr == text.data() + text.size() && out <= kMaxBodyBytes;
}

bool readChunkedBody(int fd, std::string& buf, Deadline deadline, std::string& body, std::string* error) {
  for (;;) {
    size_t eol = readUntil(fd, buf, "\r\n", kMaxHeadBytes, deadline, error);
    if (eol == std::string::npos) return false;
    std::string_view sizeText = std::string_view(buf).substr(0, eol);
    sizeText = sizeText.substr(0, sizeText.find(';'));  // chunk extensions are ignored
    size_t size = 0;
    if (!parseSize(sizeText, 16, size)) {
      setError(error, "malformed chunk size");
      return false;
    }
    buf.erase(0, eol + 2);
    if (size == 0) break;
    if (!readAtLeast(fd, buf, size + 2, deadline, error)) return false;
    if (buf.compare(size, 2, "\r\n") != 0) {
      setError(error, "chunk not followed by CRLF");
      return false;
    }
    body.append(buf, 0, size);
    buf.erase(0, size + 2);
  }
  // Trailer lines up to the empty line that ends the message.
  for (;;) {
    size_t eol = readUntil(fd, buf, "\r\n", kMaxHeadBytes, deadline, error);
    if (eol == std::string::npos) return false;
    buf.erase(0, eol + 2);
    if (eol == 0) return true;
  }
}

bool readBodyToEof(int fd, std::string& buf, Deadline deadline, std::string& body, std::string* error) {
  for (;;) {
    ReadResult r = readSome(fd, buf, deadline, error);
    if (r == ReadResult::kEof) break;
    if (r == ReadResult::kTimeout) setError(error, "timed out reading the body");
    if (r != ReadResult::kData) return false;
  }
  body = std::move(buf);
  buf.clear();
  return true;
}

bool overrides(const std::vector<std::string>& lines, std::string_view lowerName) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
    return toLower(trim(std::string_view(line).substr(0, line.find(':')))) == lowerName;
  });
}

}  // namespace

Deadline deadlineIn(int timeoutMs) { return Clock::now() + std::chrono::milliseconds(std::max(timeoutMs, 0)); }

int remainingMs(Deadline deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int UniqueFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

UniqueFd connectTcp(const std::string& host, int port, Deadline deadline, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
  if (rc != 0) {
    setError(error, "getaddrinfo " + host + ": " + gai_strerror(rc));
    return UniqueFd();
  }
  int fd = -1;
  for (addrinfo* ai = list; ai && fd < 0; ai = ai->ai_next) fd = tryConnect(ai, deadline, error);
  ::freeaddrinfo(list);
  return UniqueFd(fd);
}

bool sendAll(int fd, std::string_view data, Deadline deadline, std::string* error) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      setError(error, errnoText("send"));
      return false;
    }
    int ready = waitFor(fd, POLLOUT, deadline);
    if (ready <= 0) {
      setError(error, ready == 0 ? "send: timed out" : errnoText("poll"));
      return false;
    }
  }
  return true;
}

ReadResult readSome(int fd, std::string& buf, Deadline deadline, std::string* error) {
  char chunk[64 * 1024];
  for (;;) {
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      return ReadResult::kData;
    }
    if (n == 0) return ReadResult::kEof;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      setError(error, errnoText("recv"));
      return ReadResult::kError;
    }
    int ready = waitFor(fd, POLLIN, deadline);
    if (ready == 0) return ReadResult::kTimeout;
    if (ready < 0) {
      setError(error, errnoText("poll"));
      return ReadResult::kError;
    }
  }
}

std::string headerValue(const HttpResponse& response, const std::string& lowerName) {
  auto it = response.headers.find(lowerName);
  return it == response.headers.end() ? std::string() : it->second;
}

bool readHttpResponse(int fd, std::string& buf, Deadline deadline, HttpResponse& out, std::string* error,
                      bool bodyExpected) {
  out = HttpResponse();
  size_t end = readUntil(fd, buf, "\r\n\r\n", kMaxHeadBytes, deadline, error);
  if (end == std::string::npos) return false;
  if (!parseHead(std::string_view(buf).substr(0, end), out, error)) return false;
  buf.erase(0, end + 4);
  if (!bodyExpected || out.status < 200 || out.status == 204 || out.status == 304) return true;
  if (toLower(headerValue(out, "transfer-encoding")).find("chunked") != std::string::npos) {
    return readChunkedBody(fd, buf, deadline, out.body, error);
  }
  std::string lengthText = headerValue(out, "content-length");
  if (lengthText.empty()) return readBodyToEof(fd, buf, deadline, out.body, error);
  size_t length = 0;
  if (!parseSize(lengthText, 10, length)) {
    setError(error, "malformed Content-Length: " + lengthText);
    return false;
  }
  bool complete = readAtLeast(fd, buf, length, deadline, error);
  out.body = buf.substr(0, length);  // what arrived, even when incomplete, helps a failing test
  buf.erase(0, std::min(length, buf.size()));
  return complete;
}

HttpResponse httpRequest(const std::string& host, int port, const std::string& method, const std::string& path,
                         const std::string& body, const std::vector<std::string>& headers, int timeoutMs) {
  Deadline deadline = deadlineIn(timeoutMs);
  HttpResponse response;
  std::string error;
  UniqueFd fd = connectTcp(host, port, deadline, &error);
  if (!fd) {
    response.body = error;
    return response;
  }
  std::string request = method + " " + path + " HTTP/1.1\r\n";
  if (!overrides(headers, "host")) request += "Host: " + host + ":" + std::to_string(port) + "\r\n";
  if (!overrides(headers, "connection")) request += "Connection: close\r\n";
  bool needsLength = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  if (needsLength && !overrides(headers, "content-length")) {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  for (const std::string& line : headers) request += line + "\r\n";
  request += "\r\n" + body;

  std::string buf;
  if (!sendAll(fd.get(), request, deadline, &error) ||
      !readHttpResponse(fd.get(), buf, deadline, response, &error, method != "HEAD")) {
    response.status = 0;
    response.body = error;
  }
  return response;
}

int freePort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) < 0) {
    return -1;
  }
  return ntohs(addr.sin_port);
}

}  // namespace msw::test
