#include "library/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace msw::log {
namespace {

thread_local char tName[8] = "-";

const char* levelName(Level l) {
  switch (l) {
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO ";
    case Level::kWarn: return "WARN ";
    case Level::kError: return "ERROR";
  }
  return "?    ";
}

// Copies `text` to `out` (room for `room` bytes) with every control
// character spelled out: a client's value in a log line (a token id, a
// path, a header) must not start a line of its own or drive the terminal
// (docs/controllers.md, "Logging"). Returns the bytes written; an escape that
// does not fit whole is left out.
size_t escapeControls(const char* text, size_t size, char* out, size_t room) {
  size_t n = 0;
  for (size_t i = 0; i < size; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    char esc[4] = {static_cast<char>(c), 0, 0, 0};
    size_t len = 1;
    if (c == '\n' || c == '\r' || c == '\t') {
      esc[0] = '\\';
      esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
      len = 2;
    } else if (c < 0x20 || c == 0x7f) {
      const char* hex = "0123456789abcdef";
      esc[0] = '\\', esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15];
      len = 4;
    }
    if (n + len > room) break;
    std::memcpy(out + n, esc, len);
    n += len;
  }
  return n;
}

}  // namespace

void setThreadName(const char* name) {
  std::snprintf(tName, sizeof tName, "%s", name);
}

void write(Level l, const char* fmt, ...) {
  char line[2048];
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  localtime_r(&tv.tv_sec, &t);
  size_t n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &t);
  n += static_cast<size_t>(std::snprintf(line + n, sizeof line - n, ".%03d %s [%s] ",
                                         static_cast<int>(tv.tv_usec / 1000), levelName(l), tName));
  char text[sizeof line];
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  size_t size = m < 0 ? 0 : std::min(static_cast<size_t>(m), sizeof text - 1);
  // A cut line still ends the line: one byte is kept for the '\n'.
  n += escapeControls(text, size, line + n, sizeof line - 1 - n);
  line[n++] = '\n';
  // One write per line: a partial write of a log line is not worth a retry loop.
  ssize_t w = ::write(STDERR_FILENO, line, n);
  (void)w;
}

}  // namespace msw::log
