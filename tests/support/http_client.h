// tests/support/http_client.h: a minimal blocking HTTP/1.1 client, and the
// socket helpers it shares with WsClient and the load generator.
//
// Every socket is non-blocking; "blocking" calls wait with poll() against a
// deadline, so a test never hangs longer than the timeout it asked for.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace msw::test {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

Deadline deadlineIn(int timeoutMs);
int remainingMs(Deadline deadline);  // 0 once it has passed

// Owns a file descriptor: closed on destruction, movable, not copyable.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Non-blocking TCP connection to host:port with TCP_NODELAY and FD_CLOEXEC;
// an empty UniqueFd and *error set when it fails or the deadline passes.
UniqueFd connectTcp(const std::string& host, int port, Deadline deadline, std::string* error);

// Writes all of data (MSG_NOSIGNAL: a peer that went away is an error, not a signal).
bool sendAll(int fd, std::string_view data, Deadline deadline, std::string* error);

enum class ReadResult { kData, kEof, kTimeout, kError };
// Waits for readable data and appends what one recv() returns to buf.
ReadResult readSome(int fd, std::string& buf, Deadline deadline, std::string* error);

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeated headers joined with ", "
  std::string body;
};

// The value of the header named lowerName (lower case), or empty when absent.
std::string headerValue(const HttpResponse& response, const std::string& lowerName);

// Reads one response from fd. buf holds bytes already read and keeps what
// follows the response (after a 101 that is the first WebSocket frames). The
// body is read by Content-Length, chunked encoding, or until EOF; a 1xx, 204,
// 304 or an answer to HEAD (bodyExpected false) has none.
bool readHttpResponse(int fd, std::string& buf, Deadline deadline, HttpResponse& out, std::string* error,
                      bool bodyExpected = true);

// One request on a fresh connection ("Connection: close"). Bodies, and every
// POST/PUT/PATCH, get a Content-Length. `headers` are full lines "Name: value";
// a Host, Connection or Content-Length among them replaces ours. status 0 and
// the error in body when the exchange fails.
HttpResponse httpRequest(const std::string& host, int port, const std::string& method, const std::string& path,
                         const std::string& body = {}, const std::vector<std::string>& headers = {},
                         int timeoutMs = 5000);

// A TCP port free on 127.0.0.1 right now (bind port 0, read it, close).
int freePort();

}  // namespace msw::test
