#include "framework/store_hub.h"

#include <mutex>
#include <vector>

#include "framework/event_loop.h"
#include "framework/worker.h"
#include "library/log.h"
#include "library/memory_store.h"
#include "library/redis_store.h"
#include "library/redis_subscriber.h"

namespace msw {
namespace {

const char* const kNoStore = "no store on this thread";

// A read callback and the route table current when the read was issued.
// `pin` is declared first so that it is destroyed last: cb's code may live
// in a module that only the pin keeps loaded.
template <class T>
struct Pinned {
  std::shared_ptr<const RouteTable> pin;
  StoreCallback<T> cb;
  void operator()(StoreResult<T> r) {
    StorePin scope(pin);  // what cb reads from the store in turn stays pinned too
    cb(std::move(r));
  }
};

thread_local const StorePin* innermostPin = nullptr;

template <class T>
StoreCallback<T> pinned(StoreCallback<T> cb) {
  if (!cb) return cb;
  if (const auto* pin = StorePin::current(); pin && *pin) return Pinned<T>{*pin, std::move(cb)};
  Worker* w = Worker::current();
  return Pinned<T>{w ? w->routes() : nullptr, std::move(cb)};
}

// What modules see: the thread's driver, with every callback pinned.
class PinnedStore : public Store {
 public:
  explicit PinnedStore(Store& s) : s_(s) {}
  void set(std::string_view k, std::string_view v, int64_t ttl) override { s_.set(k, v, ttl); }
  void get(std::string_view k, StoreCallback<std::optional<std::string>> cb) override { s_.get(k, pinned(std::move(cb))); }
  void incr(std::string_view k, int64_t by, StoreCallback<int64_t> cb) override { s_.incr(k, by, pinned(std::move(cb))); }
  void del(std::string_view k) override { s_.del(k); }
  void expire(std::string_view k, int64_t ttl) override { s_.expire(k, ttl); }
  void exists(std::string_view k, StoreCallback<bool> cb) override { s_.exists(k, pinned(std::move(cb))); }
  void hset(std::string_view k, std::string_view f, std::string_view v) override { s_.hset(k, f, v); }
  void hdel(std::string_view k, std::string_view f) override { s_.hdel(k, f); }
  void hget(std::string_view k, std::string_view f, StoreCallback<std::optional<std::string>> cb) override {
    s_.hget(k, f, pinned(std::move(cb)));
  }
  void hgetall(std::string_view k, StoreCallback<StrMap> cb) override { s_.hgetall(k, pinned(std::move(cb))); }
  void sadd(std::string_view k, std::string_view m) override { s_.sadd(k, m); }
  void srem(std::string_view k, std::string_view m) override { s_.srem(k, m); }
  void smembers(std::string_view k, StoreCallback<StrList> cb) override { s_.smembers(k, pinned(std::move(cb))); }
  void scard(std::string_view k, StoreCallback<int64_t> cb) override { s_.scard(k, pinned(std::move(cb))); }
  void sismember(std::string_view k, std::string_view m, StoreCallback<bool> cb) override {
    s_.sismember(k, m, pinned(std::move(cb)));
  }
  void lpush(std::string_view k, std::string_view v) override { s_.lpush(k, v); }
  void rpush(std::string_view k, std::string_view v) override { s_.rpush(k, v); }
  void lrange(std::string_view k, int64_t a, int64_t b, StoreCallback<StrList> cb) override {
    s_.lrange(k, a, b, pinned(std::move(cb)));
  }
  void ltrim(std::string_view k, int64_t a, int64_t b) override { s_.ltrim(k, a, b); }
  void lrem(std::string_view k, int64_t n, std::string_view v) override { s_.lrem(k, n, v); }
  void llen(std::string_view k, StoreCallback<int64_t> cb) override { s_.llen(k, pinned(std::move(cb))); }

 private:
  Store& s_;
};

// For a thread with no loop (the main thread): writes are dropped and reads
// are never answered, with one log line each, instead of a crash.
class NoStore : public Store {
 public:
  void set(std::string_view, std::string_view, int64_t) override { complain(); }
  void get(std::string_view, StoreCallback<std::optional<std::string>>) override { complain(); }
  void incr(std::string_view, int64_t, StoreCallback<int64_t>) override { complain(); }
  void del(std::string_view) override { complain(); }
  void expire(std::string_view, int64_t) override { complain(); }
  void exists(std::string_view, StoreCallback<bool>) override { complain(); }
  void hset(std::string_view, std::string_view, std::string_view) override { complain(); }
  void hdel(std::string_view, std::string_view) override { complain(); }
  void hget(std::string_view, std::string_view, StoreCallback<std::optional<std::string>>) override { complain(); }
  void hgetall(std::string_view, StoreCallback<StrMap>) override { complain(); }
  void sadd(std::string_view, std::string_view) override { complain(); }
  void srem(std::string_view, std::string_view) override { complain(); }
  void smembers(std::string_view, StoreCallback<StrList>) override { complain(); }
  void scard(std::string_view, StoreCallback<int64_t>) override { complain(); }
  void sismember(std::string_view, std::string_view, StoreCallback<bool>) override { complain(); }
  void lpush(std::string_view, std::string_view) override { complain(); }
  void rpush(std::string_view, std::string_view) override { complain(); }
  void lrange(std::string_view, int64_t, int64_t, StoreCallback<StrList>) override { complain(); }
  void ltrim(std::string_view, int64_t, int64_t) override { complain(); }
  void lrem(std::string_view, int64_t, std::string_view) override { complain(); }
  void llen(std::string_view, StoreCallback<int64_t>) override { complain(); }

 private:
  static void complain() { LOG_ERROR("store used from a thread without an event loop: %s", kNoStore); }
};

// Hands a read callback to the calling thread's loop.
void deferOnCurrentLoop(std::function<void()> fn) {
  if (EventLoop* loop = EventLoop::current()) loop->post(std::move(fn));
  else LOG_ERROR("store reply for a thread without an event loop: dropped");
}

class MemoryHub : public StoreHub {
 public:
  explicit MemoryHub(const Config& c) : store_(c.cachePrefix, deferOnCurrentLoop), pinned_(store_) {}
  void attach(EventLoop&) override { thread() = {&store_, &pinned_}; }
  void detach() override { thread() = {}; }
  bool shared() const override { return false; }
  const char* driver() const override { return "memory"; }
  std::string health() const override { return "ok"; }
  size_t keyCount() override { return store_.keyCount(); }

 private:
  MemoryStore store_;
  PinnedStore pinned_;
};

class RedisHub : public StoreHub {
 public:
  explicit RedisHub(const Config& c) {
    options_.host = c.cacheHost;
    options_.port = c.cachePort;
    options_.unixSocket = c.cacheSocket;
    options_.password = c.cachePassword;
    options_.db = c.cacheDb;
    options_.prefix = c.cachePrefix;
    options_.connectTimeoutMs = c.cacheConnectTimeout;
  }
  void attach(EventLoop& loop) override {
    auto link = std::make_unique<Link>(loop.loop(), options_);
    thread() = {&link->store, &link->pinned};
    tLink = link.get();
    std::lock_guard<std::mutex> lock(mutex_);
    links_.push_back(std::move(link));
  }
  void detach() override {
    if (!tLink) return;
    tLink->store.close();
    std::lock_guard<std::mutex> lock(mutex_);
    std::erase_if(links_, [](const std::unique_ptr<Link>& l) { return l.get() == tLink; });
    tLink = nullptr;
    thread() = {};
  }
  void publish(std::string_view channel, std::string_view message) override {
    if (tLink) tLink->store.publish(channel, message);
  }
  void onReconnect(std::function<void()> hook) override {
    if (tLink) tLink->store.setOnConnected(std::move(hook));
  }
  std::unique_ptr<RedisSubscriber> subscriber(struct ev_loop* loop,
                                              std::function<void(std::string_view, std::string_view)> fn) override {
    return std::make_unique<RedisSubscriber>(loop, options_, std::move(fn));
  }
  bool shared() const override { return true; }
  const char* driver() const override { return "redis"; }
  std::string health() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& l : links_)
      if (!l->store.connected()) return l->store.health();
    return links_.empty() ? "not connected" : "ok";
  }

 private:
  struct Link {
    Link(struct ev_loop* loop, const RedisOptions& o) : store(loop, o, deferOnCurrentLoop), pinned(store) {}
    RedisStore store;
    PinnedStore pinned;
  };
  static thread_local Link* tLink;

  RedisOptions options_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Link>> links_;  // guarded by mutex_
};

thread_local RedisHub::Link* RedisHub::tLink = nullptr;

}  // namespace

StorePin::StorePin(const std::shared_ptr<const RouteTable>& table) : table_(table), outer_(innermostPin) {
  innermostPin = this;
}
StorePin::~StorePin() { innermostPin = outer_; }
const std::shared_ptr<const RouteTable>* StorePin::current() {
  return innermostPin ? &innermostPin->table_ : nullptr;
}

StoreCallback<StrList> pinnedCallback(StoreCallback<StrList> cb) { return pinned(std::move(cb)); }

StoreHub::ThreadStores& StoreHub::thread() {
  thread_local ThreadStores t;
  return t;
}

Store& StoreHub::current() {
  static NoStore none;
  Store* s = thread().pinned;
  return s ? *s : none;
}

Store& StoreHub::internal() {
  static NoStore none;
  Store* s = thread().driver;
  return s ? *s : none;
}

std::unique_ptr<StoreHub> StoreHub::create(const Config& config, std::string&) {
  if (config.driver == StoreDriver::kRedis) return std::make_unique<RedisHub>(config);
  return std::make_unique<MemoryHub>(config);
}

}  // namespace msw
