// framework/hook_stats.h: what /metrics tells of backend hooks (docs/backend.md#metrics).
//
// One per worker, written by its thread when a hook ends, read by the
// manager's thread: hook names come from modules, so the table grows at
// run time and a mutex guards it (one uncontended lock per hook, next to an
// HTTP round trip). Lifetime: the worker's.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "msw/app.h"

namespace msw {

class Server;

// Latency buckets, in seconds (upper bounds; +Inf is the count).
inline constexpr double kHookBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
inline constexpr int kHookBucketCount = sizeof(kHookBuckets) / sizeof(double);

struct HookTally {
  std::array<int64_t, kHookResults> results{};
  std::array<int64_t, kHookBucketCount> buckets{};  // cumulative, as Prometheus wants them
  int64_t count = 0;                                // latency samples
  double sum = 0;                                   // seconds
  void merge(const HookTally& o);
};

class HookStats {
 public:
  void record(std::string_view hook, HookResult result, double seconds);
  // Adds this worker's tallies into `into`.
  void mergeInto(std::map<std::string, HookTally>& into) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, HookTally, std::less<>> byHook_;  // guarded by mutex_
};

// The msw_hooks_total and msw_hook_duration_seconds families, summed over workers.
void appendHookMetrics(Server& server, std::string& out);

}  // namespace msw
