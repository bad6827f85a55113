// framework/stats.h: counters each worker keeps and the manager reads.
//
// Every counter has one writer (its worker thread), so an increment is a
// relaxed load and store, no locked instruction; readers on other threads
// see a recent value, which is all /status and /metrics need.
#pragma once

#include <atomic>
#include <cstdint>

namespace msw {

class Counter {
 public:
  void add(int64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void set(int64_t n) { v_.store(n, std::memory_order_relaxed); }
  int64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

enum class Reject {
  kMissing, kInvalid, kExpired, kFuture, kVersion, kKey, kCapacity, kRequest, kLimit, kEndpoint, kCount
};
inline const char* rejectName(Reject r) {
  static const char* const names[] = {"missing_auth", "invalid_auth", "expired", "ctime_in_future",
                                      "bad_version", "bad_key", "capacity", "bad_request", "over_limit",
                                      "no_endpoint"};
  return names[static_cast<int>(r)];
}

// Close codes counted one by one; anything else is "other".
inline constexpr int kCountedCloseCodes[] = {1000, 1001, 1006, 1009, 1011, 4008, 4009, 4010, 4029, 4403};
inline constexpr int kCloseSlots = sizeof(kCountedCloseCodes) / sizeof(int) + 1;
inline int closeSlot(int code) {
  for (int i = 0; i < kCloseSlots - 1; ++i)
    if (kCountedCloseCodes[i] == code) return i;
  return kCloseSlots - 1;
}

struct WorkerStats {
  Counter connections;   // established WebSocket connections now
  Counter handshakes;    // upgrades accepted since start
  Counter rejected[static_cast<int>(Reject::kCount)];
  Counter messagesIn;
  Counter messagesOut;   // frames queued to clients
  Counter bytesIn;
  Counter bytesOut;      // bytes written to client sockets
  Counter queuedBytes;   // bytes waiting in send queues now
  Counter rooms;         // rooms with a member on this worker now
  Counter rateLimited;   // 429 answers
  Counter actionErrors;  // 500 answers
  Counter flavorPayloads;  // payloads built for a flavor (App::sendToRoomByFlavor)
  Counter closes[kCloseSlots];
};

}  // namespace msw
