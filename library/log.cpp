#include "library/log.h"

#include <sys/time.h>
#include <unistd.h>

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
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(line + n, sizeof line - n, fmt, ap);
  va_end(ap);
  if (m < 0) m = 0;
  n += static_cast<size_t>(m);
  if (n > sizeof line - 2) n = sizeof line - 2;  // a cut line still ends the line
  line[n++] = '\n';
  // One write per line: a partial write of a log line is not worth a retry loop.
  ssize_t w = ::write(STDERR_FILENO, line, n);
  (void)w;
}

}  // namespace msw::log
