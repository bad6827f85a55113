// library/redis_store.h: the Redis store driver (hiredis async on a worker's libev loop).
//
// RedisStore gives msw/store.h the same behaviour as the memory driver (the
// contract tests run both), plus publish() for the cluster bus. Everything
// happens on the loop it was given: construct it (or before that loop runs),
// call it and destroy it on that loop's thread only, and before the loop is
// destroyed. Nothing ever blocks the loop: the connect is non-blocking and
// bounded by connectTimeoutMs, a host name is resolved on a helper thread,
// and every command is pipelined on the one connection.
//
// While the connection is down, writes (set, del, hset, ..., publish, and
// incr without a callback) are queued in order, up to maxQueuedWrites, and
// replayed first thing after the next connect; reads fail at once (in a later
// callback, never inside the call) with "store unavailable". A connection that
// drops reconnects by itself with exponential backoff and jitter. Reads in
// flight when it drops fail with "store unavailable: connection lost"; writes
// in flight then are not replayed (Redis may already have applied them).
//
// Read callbacks go through `defer` when the reply arrives, not when the read
// was issued: whatever must be pinned for the callback's sake (a module's
// route table) has to be captured in the callback itself by the caller.
// hiredis writes with write(2): the process must ignore SIGPIPE (lws does).
#pragma once

#include <ev.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "msw/store.h"

struct redisAsyncContext;
struct redisReply;

namespace msw {

// The read error while Redis is unreachable (a read in flight when the
// connection drops gets this text followed by ": connection lost").
extern const char* const kStoreUnavailable;

struct RedisOptions {
  std::string host = "127.0.0.1";  // an address or a host name (resolved off the loop)
  int port = 6379;
  std::string unixSocket;          // non-empty: connect to this path instead of host:port
  std::string password;            // non-empty: AUTH first on every connection
  int db = 0;                      // non-zero: SELECT first on every connection
  std::string prefix = "msw:";     // prepended to every key and pub/sub channel
  int connectTimeoutMs = 2000;     // connect + AUTH/SELECT; then drop it and back off
  int reconnectMinMs = 100;        // first retry delay, doubled per failure...
  int reconnectMaxMs = 5000;       // ...up to this; each delay gets +-20% jitter
  size_t maxQueuedWrites = 10000;  // writes kept while disconnected; more are dropped
};

// One hiredis connection that keeps itself up: connect (timeout), AUTH and
// SELECT, then "ready"; on any failure or loss, retry after a backoff. A
// building block of RedisStore and RedisSubscriber, not for direct use.
// Lifetime: owned by one of those; close() (or the destructor) frees the
// hiredis context, which completes its pending callbacks at once.
class RedisLink {
 public:
  using ReplyFn = void (*)(redisAsyncContext*, void* reply, void* privdata);

  RedisLink(struct ev_loop* loop, RedisOptions options, const char* role);
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // Runs on the loop after AUTH/SELECT succeeded, on every (re)connect, from
  // inside a hiredis callback: it may issue commands but must not destroy
  // the owner.
  std::function<void()> onReady;

  void start();  // first connect attempt; later ones happen by themselves
  void close();  // idempotent; no reconnect afterwards

  bool ready() const { return state_ == State::kReady; }
  bool connected() const { return connected_.load(std::memory_order_relaxed); }  // any thread
  std::string health() const;                                                     // any thread
  const RedisOptions& options() const { return options_; }

  // Pipelines one command on the ready connection (binary-safe arguments).
  // False if not ready or hiredis refused it: then fn is never called.
  bool command(size_t argc, const std::string_view* argv, ReplyFn fn, void* privdata);

 private:
  enum class State { kIdle, kResolving, kConnecting, kHandshake, kReady, kBackoff, kClosed };
  struct Resolution;

  void attempt();
  void connectTo(const std::string& address);
  void resolve();
  void abandonResolution();
  void handshake();
  void becomeReady();
  void failAttempt(const std::string& error);
  void scheduleRetry();
  void setError(const std::string& error);
  std::string where() const;

  static void onConnect(const redisAsyncContext* ac, int status);
  static void onDisconnect(const redisAsyncContext* ac, int status);
  static void onHandshakeReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void onConnectTimeout(struct ev_loop* loop, ev_timer* w, int revents);
  static void onRetryTimer(struct ev_loop* loop, ev_timer* w, int revents);
  static void onResolved(struct ev_loop* loop, ev_async* w, int revents);

  struct ev_loop* const loop_;
  const RedisOptions options_;
  const char* const role_;  // "store" or "subscriber", for log lines
  State state_ = State::kIdle;
  redisAsyncContext* ac_ = nullptr;  // the live context, or null
  int handshakePending_ = 0;
  std::string handshakeError_;
  int failures_ = 0;  // consecutive failed attempts: the backoff exponent
  ev_timer connectTimer_;
  ev_timer retryTimer_;
  ev_async resolvedWake_;
  std::shared_ptr<Resolution> resolution_;  // shared with the resolver thread
  std::minstd_rand rng_;
  std::atomic<bool> connected_{false};
  mutable std::mutex errorMutex_;
  std::string lastError_;  // guarded by errorMutex_; empty = none yet
};

class RedisStore : public Store {
 public:
  using Options = RedisOptions;
  // Runs a read callback later on the caller's loop (as MemoryStore's).
  using Defer = std::function<void(std::function<void()>)>;

  // Starts connecting at once; the first outcome is seen on a later loop iteration.
  RedisStore(struct ev_loop* loop, Options options, Defer defer);
  ~RedisStore() override;

  void set(std::string_view key, std::string_view value, int64_t ttlSeconds = 0) override;
  void get(std::string_view key, StoreCallback<std::optional<std::string>> cb) override;
  // With a callback incr is a read (fails while disconnected, not applied);
  // without one it is a queued write.
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

  // PUBLISH prefix+channel on this connection: a write (queued while down).
  void publish(std::string_view channel, std::string_view message);

  bool connected() const { return link_.connected(); }  // any thread
  std::string health() const { return link_.health(); }  // "ok" or the last error; any thread
  // Called on the loop after every (re)connect, once the queued writes were
  // sent: re-register what the server forgot. Must not destroy the store.
  void setOnConnected(std::function<void()> hook) { onConnected_ = std::move(hook); }
  // Disconnects for good: pending reads complete with an error (through
  // defer), queued writes are dropped, timers stop. Idempotent; the
  // destructor calls it. Afterwards the loop may be destroyed.
  void close();

  size_t queuedWrites() const { return queue_.size(); }
  uint64_t droppedWrites() const { return dropped_; }

 private:
  template <class T>
  struct Pending;

  std::string full(std::string_view key) const;
  void write(std::initializer_list<std::string_view> args);
  void enqueue(std::initializer_list<std::string_view> args);
  void replay();
  template <class T>
  void read(std::initializer_list<std::string_view> args, StoreCallback<T> cb, bool (*parse)(const redisReply*, T&));
  template <class T>
  void fail(StoreCallback<T> cb, std::string error);

  const std::string prefix_;
  Defer defer_;
  std::function<void()> onConnected_;
  std::deque<std::vector<std::string>> queue_;  // writes waiting for a connection
  uint64_t dropped_ = 0;
  bool closed_ = false;
  RedisLink link_;
};

}  // namespace msw
