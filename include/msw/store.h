// msw/store.h: the asynchronous key-value store every controller shares.
//
// One API over two drivers (the in-process memory driver and Redis), with the
// same behaviour on both; the contract tests in tests/ hold them to it.
// Writes are fire-and-forget and applied in the order they were issued by one
// thread. Reads take a callback that runs later on the calling thread's event
// loop, never inside the call, and never after the server stopped that loop.
// Keys are prefixed with [cache] prefix by the driver. Values are bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace msw {

// What a read gives back: the value, or an error (store unreachable, a key of
// the wrong type) with the value left at its default.
template <class T>
struct StoreResult {
  T value{};
  std::string error;
  bool ok() const { return error.empty(); }
  explicit operator bool() const { return ok(); }
  const T& operator*() const { return value; }
  const T* operator->() const { return &value; }
};

using StrList = std::vector<std::string>;
using StrMap = std::map<std::string, std::string>;

template <class T>
using StoreCallback = std::function<void(StoreResult<T>)>;

class Store {
 public:
  virtual ~Store() = default;

  // Strings. ttlSeconds 0 = no expiry.
  virtual void set(std::string_view key, std::string_view value, int64_t ttlSeconds = 0) = 0;
  virtual void get(std::string_view key, StoreCallback<std::optional<std::string>> cb) = 0;
  // Adds `by` to the integer at key (missing = 0); the callback, if any, gets the new value.
  virtual void incr(std::string_view key, int64_t by, StoreCallback<int64_t> cb = nullptr) = 0;

  // Any key.
  virtual void del(std::string_view key) = 0;
  virtual void expire(std::string_view key, int64_t ttlSeconds) = 0;
  virtual void exists(std::string_view key, StoreCallback<bool> cb) = 0;

  // Hashes.
  virtual void hset(std::string_view key, std::string_view field, std::string_view value) = 0;
  virtual void hdel(std::string_view key, std::string_view field) = 0;
  virtual void hget(std::string_view key, std::string_view field,
                    StoreCallback<std::optional<std::string>> cb) = 0;
  virtual void hgetall(std::string_view key, StoreCallback<StrMap> cb) = 0;

  // Sets. smembers' order is unspecified.
  virtual void sadd(std::string_view key, std::string_view member) = 0;
  virtual void srem(std::string_view key, std::string_view member) = 0;
  virtual void smembers(std::string_view key, StoreCallback<StrList> cb) = 0;
  virtual void scard(std::string_view key, StoreCallback<int64_t> cb) = 0;
  virtual void sismember(std::string_view key, std::string_view member, StoreCallback<bool> cb) = 0;

  // Lists. Indexes as Redis: 0 first, -1 last, both ends inclusive.
  virtual void lpush(std::string_view key, std::string_view value) = 0;
  virtual void rpush(std::string_view key, std::string_view value) = 0;
  virtual void lrange(std::string_view key, int64_t start, int64_t stop, StoreCallback<StrList> cb) = 0;
  virtual void ltrim(std::string_view key, int64_t start, int64_t stop) = 0;
  // Removes up to |count| elements equal to value (count 0 = all; < 0 from the tail).
  virtual void lrem(std::string_view key, int64_t count, std::string_view value) = 0;
  virtual void llen(std::string_view key, StoreCallback<int64_t> cb) = 0;
};

}  // namespace msw
