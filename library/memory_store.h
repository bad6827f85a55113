// library/memory_store.h: the in-process store driver (the default).
//
// One data set per process, shared by every thread under one mutex, with
// Redis's semantics for everything msw/store.h offers: types (a command on
// a key of another type is an error for reads and does nothing for writes),
// expiry, empty collections vanishing, list index rules. Read callbacks are
// handed to `defer`, which runs them later on the caller's own loop: never
// inside the call, as with a real network round trip.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "msw/store.h"

namespace msw {

class MemoryStore : public Store {
 public:
  using Defer = std::function<void(std::function<void()>)>;
  MemoryStore(std::string prefix, Defer defer);

  void set(std::string_view key, std::string_view value, int64_t ttlSeconds = 0) override;
  void get(std::string_view key, StoreCallback<std::optional<std::string>> cb) override;
  void incr(std::string_view key, int64_t by, StoreCallback<int64_t> cb = nullptr) override;
  void del(std::string_view key) override;
  void expire(std::string_view key, int64_t ttlSeconds) override;
  void exists(std::string_view key, StoreCallback<bool> cb) override;
  void hset(std::string_view key, std::string_view field, std::string_view value) override;
  void hdel(std::string_view key, std::string_view field) override;
  void hget(std::string_view key, std::string_view field, StoreCallback<std::optional<std::string>> cb) override;
  void hgetall(std::string_view key, StoreCallback<StrMap> cb) override;
  void sadd(std::string_view key, std::string_view member) override;
  void srem(std::string_view key, std::string_view member) override;
  void smembers(std::string_view key, StoreCallback<StrList> cb) override;
  void scard(std::string_view key, StoreCallback<int64_t> cb) override;
  void sismember(std::string_view key, std::string_view member, StoreCallback<bool> cb) override;
  void lpush(std::string_view key, std::string_view value) override;
  void rpush(std::string_view key, std::string_view value) override;
  void lrange(std::string_view key, int64_t start, int64_t stop, StoreCallback<StrList> cb) override;
  void ltrim(std::string_view key, int64_t start, int64_t stop) override;
  void lrem(std::string_view key, int64_t count, std::string_view value) override;
  void llen(std::string_view key, StoreCallback<int64_t> cb) override;

  // For tests and /status: number of live keys.
  size_t keyCount();

 private:
  using Hash = std::unordered_map<std::string, std::string>;
  using Set = std::unordered_set<std::string>;
  using List = std::deque<std::string>;
  struct Entry {
    std::variant<std::string, Hash, Set, List> value;
    int64_t expireAtMs = 0;  // 0 = never
  };
  using Clock = std::chrono::steady_clock;

  int64_t nowMs() const;
  std::string full(std::string_view key) const;
  // The live entry at key (expired ones are erased first), or nullptr.
  Entry* lookup(const std::string& key);
  // The entry's value as T, creating the key if absent; nullptr on a type clash.
  template <class T>
  T* writable(const std::string& key);
  template <class T>
  void reply(StoreCallback<T>& cb, StoreResult<T> r);
  void dropIfEmpty(const std::string& key, Entry& e);
  void sweep();

  const std::string prefix_;
  Defer defer_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> data_;
  // (deadline, key) for keys given a ttl; stale pairs are skipped when popped.
  std::priority_queue<std::pair<int64_t, std::string>, std::vector<std::pair<int64_t, std::string>>,
                      std::greater<>>
      expiries_;
};

extern const char* const kWrongType;

}  // namespace msw
