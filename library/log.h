// library/log.h: one log line per event, from any thread.
//
// Lines go to standard error with a single write(2) each, so lines from
// different threads never interleave; a daemon points standard error at its
// log file. Format: "2026-11-22 10:00:00.123 INFO  [w0] text". Control
// characters in the text (whatever a client sent: \n, \r, ESC, DEL...) are
// written escaped (\n, \r, \t, \xNN), so one call is always one line.
#pragma once

#include <atomic>

namespace msw::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

inline std::atomic<int> gLevel{static_cast<int>(Level::kInfo)};

inline bool enabled(Level l) { return static_cast<int>(l) >= gLevel.load(std::memory_order_relaxed); }
inline void setLevel(Level l) { gLevel.store(static_cast<int>(l), std::memory_order_relaxed); }

// Names this thread in its log lines ("main", "mgr", "w0", ...): at most 7 chars.
void setThreadName(const char* name);

void write(Level l, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace msw::log

#define MSW_LOG(level, ...)                                               \
  do {                                                                    \
    if (::msw::log::enabled(level)) ::msw::log::write(level, __VA_ARGS__); \
  } while (0)
#define LOG_DEBUG(...) MSW_LOG(::msw::log::Level::kDebug, __VA_ARGS__)
#define LOG_INFO(...) MSW_LOG(::msw::log::Level::kInfo, __VA_ARGS__)
#define LOG_WARN(...) MSW_LOG(::msw::log::Level::kWarn, __VA_ARGS__)
#define LOG_ERROR(...) MSW_LOG(::msw::log::Level::kError, __VA_ARGS__)
