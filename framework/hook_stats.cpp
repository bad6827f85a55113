// framework/hook_stats.cpp: hook counters per worker and their /metrics text.
#include "framework/hook_stats.h"

#include <cstdio>

#include "framework/server.h"
#include "framework/worker.h"

namespace msw {

void HookTally::merge(const HookTally& o) {
  for (int i = 0; i < kHookResults; ++i) results[i] += o.results[i];
  for (int i = 0; i < kHookBucketCount; ++i) buckets[i] += o.buckets[i];
  count += o.count;
  sum += o.sum;
}

void HookStats::record(std::string_view hook, HookResult result, double seconds) {
  std::lock_guard lock(mutex_);
  auto it = byHook_.find(hook);
  if (it == byHook_.end()) it = byHook_.emplace(std::string(hook), HookTally{}).first;
  HookTally& t = it->second;
  ++t.results[static_cast<int>(result)];
  // Hooks never sent (busy, disabled) have no latency worth a sample.
  if (result == HookResult::kBusy || result == HookResult::kDisabled) return;
  for (int i = 0; i < kHookBucketCount; ++i)
    if (seconds <= kHookBuckets[i]) ++t.buckets[i];
  ++t.count;
  t.sum += seconds;
}

void HookStats::mergeInto(std::map<std::string, HookTally>& into) const {
  std::lock_guard lock(mutex_);
  for (const auto& [name, t] : byHook_) into[name].merge(t);
}

void appendHookMetrics(Server& server, std::string& out) {
  std::map<std::string, HookTally> all;
  for (int i = 0; i < server.workerCount(); ++i) server.worker(i).hookStats().mergeInto(all);
  out += "# HELP msw_hooks_total Backend hooks ended, by hook and result.\n# TYPE msw_hooks_total counter\n";
  for (const auto& [name, t] : all)
    for (int r = 0; r < kHookResults; ++r) {
      if (t.results[r] == 0) continue;
      out += "msw_hooks_total{hook=\"" + name + "\",result=\"" + hookResultName(static_cast<HookResult>(r)) +
             "\"} " + std::to_string(t.results[r]) + "\n";
    }
  out += "# HELP msw_hook_duration_seconds Time from a hook's call to its answer or failure.\n"
         "# TYPE msw_hook_duration_seconds histogram\n";
  char le[32];
  for (const auto& [name, t] : all) {
    std::string prefix = "msw_hook_duration_seconds_bucket{hook=\"" + name + "\",le=\"";
    for (int i = 0; i < kHookBucketCount; ++i) {
      std::snprintf(le, sizeof le, "%g", kHookBuckets[i]);
      out += prefix + le + "\"} " + std::to_string(t.buckets[i]) + "\n";
    }
    out += prefix + "+Inf\"} " + std::to_string(t.count) + "\n";
    std::snprintf(le, sizeof le, "%.6f", t.sum);
    out += "msw_hook_duration_seconds_sum{hook=\"" + name + "\"} " + le + "\n";
    out += "msw_hook_duration_seconds_count{hook=\"" + name + "\"} " + std::to_string(t.count) + "\n";
  }
}

}  // namespace msw
