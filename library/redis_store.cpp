#include "library/redis_store.h"

#include <arpa/inet.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <thread>
#include <utility>

// hiredis's own libev adapter, on purpose (docs/design.md#the-store). lws
// programs join foreign descriptors to a worker through lws-adopted raw
// descriptors because lws owns the poll set there. But msw's worker loops are plain libev loops that
// msw creates itself (ev_loop_new, handed to lws as a foreign loop, run by
// msw's thread): any ev_io or ev_timer started on that loop is serviced like
// lws's own watchers. So hiredis's adapter (two ev_io that hiredis starts and
// stops as it needs) is the simpler correct choice: no dup()ed descriptor, no
// writeable-inside-writeable re-arm trap, and it also works on a loop with
// no lws at all (tests, the manager).
#include <hiredis/adapters/libev.h>

#include "library/log.h"

namespace msw {

const char* const kStoreUnavailable = "store unavailable";

namespace {

bool isNumericAddress(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// As hiredis itself does: the first IPv4 address, else the first IPv6 one.
std::string resolveHost(const std::string& host, std::string& error) {
  for (int family : {AF_INET, AF_INET6}) {
    struct addrinfo hints {};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo* res = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
      error = gai_strerror(rc);
      continue;
    }
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr = family == AF_INET
                           ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr)
                           : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr);
    inet_ntop(family, addr, text, sizeof text);
    freeaddrinfo(res);
    return text;
  }
  return {};
}

// So that a peer that vanished without a FIN (host down, partition) is
// noticed in about a minute. Not redisEnableKeepAlive: its failure would put
// the context in error. Best effort: a failure here changes nothing else.
void enableKeepAlive(int fd) {
  int on = 1, idle = 30, interval = 10, count = 3;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

// hiredis copies the arguments into its output buffer at once, so views of
// temporaries are fine; an empty view may have a null data pointer, which
// memcpy must not see.
bool issueArgv(redisAsyncContext* ac, size_t argc, const std::string_view* args, RedisLink::ReplyFn fn,
               void* privdata) {
  constexpr size_t kInline = 8;
  const char* argvInline[kInline];
  size_t lensInline[kInline];
  std::vector<const char*> argvHeap;
  std::vector<size_t> lensHeap;
  const char** argv = argvInline;
  size_t* lens = lensInline;
  if (argc > kInline) {
    argvHeap.resize(argc);
    lensHeap.resize(argc);
    argv = argvHeap.data();
    lens = lensHeap.data();
  }
  for (size_t i = 0; i < argc; ++i) {
    argv[i] = args[i].data() ? args[i].data() : "";
    lens[i] = args[i].size();
  }
  return redisAsyncCommandArgv(ac, fn, privdata, static_cast<int>(argc), argv, lens) == REDIS_OK;
}

}  // namespace

// ---------------------------------------------------------------------------
// RedisLink

// One host-name lookup, shared with the thread that does it. The link
// abandons it (timeout, close) under the mutex; after that the thread never
// touches the loop again.
struct RedisLink::Resolution {
  std::mutex mutex;
  bool abandoned = false;  // guarded by mutex
  bool done = false;       // guarded by mutex
  std::string address;     // guarded by mutex
  std::string error;       // guarded by mutex
  struct ev_loop* loop = nullptr;
  ev_async* wake = nullptr;
};

RedisLink::RedisLink(struct ev_loop* loop, RedisOptions options, const char* role)
    : loop_(loop), options_(std::move(options)), role_(role), rng_(std::random_device{}()) {
  ev_timer_init(&connectTimer_, &RedisLink::onConnectTimeout, 0., 0.);
  connectTimer_.data = this;
  ev_timer_init(&retryTimer_, &RedisLink::onRetryTimer, 0., 0.);
  retryTimer_.data = this;
  ev_async_init(&resolvedWake_, &RedisLink::onResolved);
  resolvedWake_.data = this;
}

RedisLink::~RedisLink() { close(); }

std::string RedisLink::where() const {
  if (!options_.unixSocket.empty()) return options_.unixSocket;
  return options_.host + ":" + std::to_string(options_.port);
}

void RedisLink::setError(const std::string& error) {
  std::lock_guard<std::mutex> lock(errorMutex_);
  lastError_ = error;
}

std::string RedisLink::health() const {
  if (connected()) return "ok";
  std::lock_guard<std::mutex> lock(errorMutex_);
  return lastError_.empty() ? std::string("connecting") : lastError_;
}

void RedisLink::start() {
  if (state_ == State::kIdle) attempt();
}

void RedisLink::attempt() {
  ev_timer_stop(loop_, &connectTimer_);
  ev_timer_set(&connectTimer_, std::max(1, options_.connectTimeoutMs) / 1000.0, 0.);
  ev_timer_start(loop_, &connectTimer_);
  if (options_.unixSocket.empty() && !isNumericAddress(options_.host)) {
    resolve();
  } else {
    connectTo(options_.host);
  }
}

// getaddrinfo may block for seconds on DNS: it runs on a thread of its own and
// wakes the loop through resolvedWake_ when done.
void RedisLink::resolve() {
  state_ = State::kResolving;
  auto r = std::make_shared<Resolution>();
  r->loop = loop_;
  r->wake = &resolvedWake_;
  resolution_ = r;
  ev_async_start(loop_, &resolvedWake_);
  std::thread([r, host = options_.host] {
    std::string error;
    std::string address = resolveHost(host, error);
    std::lock_guard<std::mutex> lock(r->mutex);
    r->done = true;
    r->address = std::move(address);
    r->error = std::move(error);
    if (!r->abandoned) ev_async_send(r->loop, r->wake);
  }).detach();
}

void RedisLink::abandonResolution() {
  if (!resolution_) return;
  {
    std::lock_guard<std::mutex> lock(resolution_->mutex);
    resolution_->abandoned = true;
  }
  resolution_.reset();
  ev_async_stop(loop_, &resolvedWake_);
}

void RedisLink::onResolved(struct ev_loop*, ev_async* w, int) {
  auto* self = static_cast<RedisLink*>(w->data);
  std::shared_ptr<Resolution> r = self->resolution_;
  if (!r || self->state_ != State::kResolving) return;
  std::string address, error;
  {
    std::lock_guard<std::mutex> lock(r->mutex);
    if (!r->done) return;
    address = r->address;
    error = r->error;
  }
  self->abandonResolution();
  if (address.empty()) {
    self->failAttempt("cannot resolve " + self->options_.host + ": " + error);
  } else {
    self->connectTo(address);
  }
}

void RedisLink::connectTo(const std::string& address) {
  redisAsyncContext* ac = options_.unixSocket.empty() ? redisAsyncConnect(address.c_str(), options_.port)
                                                      : redisAsyncConnectUnix(options_.unixSocket.c_str());
  if (!ac) {
    failAttempt("out of memory");
    return;
  }
  if (ac->err) {
    std::string error = ac->errstr;
    redisAsyncFree(ac);
    failAttempt(error);
    return;
  }
  ac->data = this;
  // Attach before setting the connect callback: that is what arms the first
  // write event, by which hiredis learns the connect finished.
  redisLibevAttach(loop_, ac);
  redisAsyncSetConnectCallback(ac, &RedisLink::onConnect);
  redisAsyncSetDisconnectCallback(ac, &RedisLink::onDisconnect);
  ac_ = ac;
  state_ = State::kConnecting;
}

void RedisLink::onConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisLink*>(ac->data);
  if (self->ac_ != ac) return;  // one we tore down ourselves
  if (status != REDIS_OK) {
    // hiredis frees the context when this returns; no disconnect callback follows.
    self->ac_ = nullptr;
    self->failAttempt(ac->errstr[0] ? ac->errstr : "connect failed");
    return;
  }
  if (self->options_.unixSocket.empty()) enableKeepAlive(ac->c.fd);
  self->handshake();
}

// AUTH and SELECT go first, pipelined; the link is ready when both answered OK.
void RedisLink::handshake() {
  state_ = State::kHandshake;
  handshakePending_ = 0;
  handshakeError_.clear();
  if (!options_.password.empty()) {
    std::string_view args[] = {"AUTH", options_.password};
    if (issueArgv(ac_, 2, args, &RedisLink::onHandshakeReply, this)) ++handshakePending_;
  }
  if (options_.db != 0) {
    std::string db = std::to_string(options_.db);
    std::string_view args[] = {"SELECT", db};
    if (issueArgv(ac_, 2, args, &RedisLink::onHandshakeReply, this)) ++handshakePending_;
  }
  if (handshakePending_ == 0) becomeReady();
}

void RedisLink::onHandshakeReply(redisAsyncContext* ac, void* r, void* privdata) {
  auto* self = static_cast<RedisLink*>(privdata);
  // A NULL reply means the context is going away: onDisconnect (or whoever
  // tore it down) deals with that.
  if (!r || self->ac_ != ac || self->state_ != State::kHandshake) return;
  auto* reply = static_cast<redisReply*>(r);
  if (reply->type == REDIS_REPLY_ERROR && self->handshakeError_.empty())
    self->handshakeError_.assign(reply->str, reply->len);
  if (--self->handshakePending_ > 0) return;
  if (self->handshakeError_.empty()) {
    self->becomeReady();
    return;
  }
  // Freed by hiredis as soon as this callback returns.
  self->ac_ = nullptr;
  redisAsyncFree(ac);
  self->failAttempt(self->handshakeError_);
}

void RedisLink::becomeReady() {
  ev_timer_stop(loop_, &connectTimer_);
  state_ = State::kReady;
  failures_ = 0;
  setError("");
  connected_.store(true, std::memory_order_relaxed);
  LOG_INFO("redis %s: connected to %s", role_, where().c_str());
  if (onReady) onReady();
}

void RedisLink::onDisconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisLink*>(ac->data);
  if (self->ac_ != ac) return;  // one we tore down ourselves
  self->ac_ = nullptr;
  std::string error = status == REDIS_OK || !ac->errstr[0] ? "connection closed" : ac->errstr;
  if (self->state_ != State::kReady) {  // lost during AUTH/SELECT
    self->failAttempt(error);
    return;
  }
  self->connected_.store(false, std::memory_order_relaxed);
  self->setError(error);
  LOG_WARN("redis %s: connection to %s lost: %s", self->role_, self->where().c_str(), error.c_str());
  self->scheduleRetry();
}

void RedisLink::onConnectTimeout(struct ev_loop*, ev_timer* w, int) {
  auto* self = static_cast<RedisLink*>(w->data);
  if (self->state_ != State::kResolving && self->state_ != State::kConnecting && self->state_ != State::kHandshake)
    return;
  self->abandonResolution();
  // From a timer, not from inside hiredis: the free happens now, and the
  // callbacks it triggers see ac_ already cleared.
  if (redisAsyncContext* ac = std::exchange(self->ac_, nullptr)) redisAsyncFree(ac);
  self->failAttempt("connect timeout (" + std::to_string(self->options_.connectTimeoutMs) + " ms)");
}

void RedisLink::failAttempt(const std::string& error) {
  ev_timer_stop(loop_, &connectTimer_);
  bool changed;
  {
    std::lock_guard<std::mutex> lock(errorMutex_);
    changed = lastError_ != error;
    lastError_ = error;
  }
  connected_.store(false, std::memory_order_relaxed);
  // Once per distinct error, not once per retry.
  if (changed) LOG_WARN("redis %s: cannot connect to %s: %s (retrying)", role_, where().c_str(), error.c_str());
  scheduleRetry();
}

void RedisLink::scheduleRetry() {
  if (state_ == State::kClosed) return;
  state_ = State::kBackoff;
  int64_t delay = std::max(1, options_.reconnectMinMs);
  for (int i = 0; i < failures_ && delay < options_.reconnectMaxMs; ++i) delay *= 2;
  delay = std::min<int64_t>(delay, std::max(options_.reconnectMinMs, options_.reconnectMaxMs));
  ++failures_;
  // +-20%, so that many workers (and nodes) do not reconnect in lockstep.
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  ev_timer_stop(loop_, &retryTimer_);
  ev_timer_set(&retryTimer_, static_cast<double>(delay) * jitter(rng_) / 1000.0, 0.);
  ev_timer_start(loop_, &retryTimer_);
}

void RedisLink::onRetryTimer(struct ev_loop*, ev_timer* w, int) {
  auto* self = static_cast<RedisLink*>(w->data);
  if (self->state_ == State::kBackoff) self->attempt();
}

bool RedisLink::command(size_t argc, const std::string_view* argv, ReplyFn fn, void* privdata) {
  if (state_ != State::kReady || !ac_) return false;
  return issueArgv(ac_, argc, argv, fn, privdata);
}

void RedisLink::close() {
  if (state_ == State::kClosed) return;
  bool wasReady = state_ == State::kReady;
  // Commands already issued still go out, as far as the socket takes them
  // without waiting: a server that stops wants its last writes to land. (A
  // write error here disconnects through onDisconnect, which the lines
  // below then undo.)
  if (wasReady && ac_) redisAsyncHandleWrite(ac_);
  state_ = State::kClosed;
  ev_timer_stop(loop_, &connectTimer_);
  ev_timer_stop(loop_, &retryTimer_);
  abandonResolution();
  connected_.store(false, std::memory_order_relaxed);
  setError("closed");
  // Pending callbacks run now with a NULL reply; the disconnect callback sees
  // ac_ cleared and does nothing.
  if (redisAsyncContext* ac = std::exchange(ac_, nullptr)) redisAsyncFree(ac);
  if (wasReady) LOG_INFO("redis %s: disconnected from %s", role_, where().c_str());
}

// ---------------------------------------------------------------------------
// RedisStore

namespace {

bool parseOptString(const redisReply* r, std::optional<std::string>& out) {
  if (r->type == REDIS_REPLY_NIL) return true;
  if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) return false;
  out.emplace(r->str, r->len);
  return true;
}

bool parseInt(const redisReply* r, int64_t& out) {
  if (r->type != REDIS_REPLY_INTEGER) return false;
  out = r->integer;
  return true;
}

bool parseBool(const redisReply* r, bool& out) {
  if (r->type != REDIS_REPLY_INTEGER) return false;
  out = r->integer != 0;
  return true;
}

bool parseList(const redisReply* r, StrList& out) {
  if (r->type != REDIS_REPLY_ARRAY) return false;
  out.reserve(r->elements);
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    if (e->type != REDIS_REPLY_STRING) return false;
    out.emplace_back(e->str, e->len);
  }
  return true;
}

bool parseMap(const redisReply* r, StrMap& out) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) return false;
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    const redisReply* k = r->element[i];
    const redisReply* v = r->element[i + 1];
    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) return false;
    out.insert_or_assign(std::string(k->str, k->len), std::string(v->str, v->len));
  }
  return true;
}

}  // namespace

// A read in flight: hiredis calls onReply exactly once, with the reply or
// with NULL when the connection goes away first.
template <class T>
struct RedisStore::Pending {
  RedisStore* store;
  StoreCallback<T> cb;
  bool (*parse)(const redisReply*, T&);

  static void onReply(redisAsyncContext*, void* r, void* privdata) {
    std::unique_ptr<Pending> p(static_cast<Pending*>(privdata));
    StoreResult<T> result;
    auto* reply = static_cast<const redisReply*>(r);
    if (!reply) {
      result.error = std::string(kStoreUnavailable) + ": connection lost";
    } else if (reply->type == REDIS_REPLY_ERROR) {
      result.error.assign(reply->str, reply->len);
    } else if (!p->parse(reply, result.value)) {
      result.value = T{};
      result.error = "unexpected reply type " + std::to_string(reply->type);
    }
    p->store->defer_([cb = std::move(p->cb), result = std::move(result)]() mutable { cb(std::move(result)); });
  }
};

RedisStore::RedisStore(struct ev_loop* loop, Options options, Defer defer)
    : prefix_(options.prefix), defer_(std::move(defer)), link_(loop, std::move(options), "store") {
  link_.onReady = [this] {
    replay();
    if (onConnected_) {
      try {
        onConnected_();
      } catch (const std::exception& e) {
        LOG_ERROR("redis store: connected hook threw: %s", e.what());
      } catch (...) {
        LOG_ERROR("redis store: connected hook threw");
      }
    }
  };
  link_.start();
}

RedisStore::~RedisStore() { close(); }

void RedisStore::close() {
  if (closed_) return;
  closed_ = true;
  link_.close();
  if (!queue_.empty()) {
    LOG_WARN("redis store: closed with %zu queued writes not sent", queue_.size());
    queue_.clear();
  }
}

std::string RedisStore::full(std::string_view key) const {
  std::string k;
  k.reserve(prefix_.size() + key.size());
  k.append(prefix_).append(key);
  return k;
}

void RedisStore::write(std::initializer_list<std::string_view> args) {
  if (closed_) return;
  // Only straight to Redis when nothing older is waiting, so order holds.
  if (queue_.empty() && link_.command(args.size(), args.begin(), nullptr, nullptr)) return;
  enqueue(args);
}

void RedisStore::enqueue(std::initializer_list<std::string_view> args) {
  if (queue_.size() >= link_.options().maxQueuedWrites) {
    // Log at 1, 2, 4, 8... drops: visible, without a line per write.
    ++dropped_;
    if ((dropped_ & (dropped_ - 1)) == 0)
      LOG_WARN("redis store: write queue full (%zu): %llu writes dropped so far", queue_.size(),
               static_cast<unsigned long long>(dropped_));
    return;
  }
  queue_.emplace_back(args.begin(), args.end());
}

void RedisStore::replay() {
  if (!queue_.empty()) LOG_INFO("redis store: replaying %zu queued writes", queue_.size());
  std::vector<std::string_view> views;
  while (!queue_.empty()) {
    const std::vector<std::string>& cmd = queue_.front();
    views.assign(cmd.begin(), cmd.end());
    if (!link_.command(views.size(), views.data(), nullptr, nullptr)) return;  // lost again: keep the rest
    queue_.pop_front();
  }
}

template <class T>
void RedisStore::fail(StoreCallback<T> cb, std::string error) {
  defer_([cb = std::move(cb), error = std::move(error)]() mutable {
    StoreResult<T> r;
    r.error = std::move(error);
    cb(std::move(r));
  });
}

template <class T>
void RedisStore::read(std::initializer_list<std::string_view> args, StoreCallback<T> cb,
                      bool (*parse)(const redisReply*, T&)) {
  if (!cb) return;
  if (!link_.ready()) {
    fail(std::move(cb), kStoreUnavailable);
    return;
  }
  auto* p = new Pending<T>{this, std::move(cb), parse};
  if (!link_.command(args.size(), args.begin(), &Pending<T>::onReply, p)) {
    fail(std::move(p->cb), kStoreUnavailable);
    delete p;
  }
}

void RedisStore::set(std::string_view key, std::string_view value, int64_t ttlSeconds) {
  // No ttl means no expiry, and (as in Redis) a plain SET drops an older ttl.
  if (ttlSeconds > 0) {
    write({"SET", full(key), value, "EX", std::to_string(ttlSeconds)});
  } else {
    write({"SET", full(key), value});
  }
}

void RedisStore::get(std::string_view key, StoreCallback<std::optional<std::string>> cb) {
  read({"GET", full(key)}, std::move(cb), parseOptString);
}

void RedisStore::incr(std::string_view key, int64_t by, StoreCallback<int64_t> cb) {
  if (cb) {
    read({"INCRBY", full(key), std::to_string(by)}, std::move(cb), parseInt);
  } else {
    write({"INCRBY", full(key), std::to_string(by)});
  }
}

void RedisStore::del(std::string_view key) { write({"DEL", full(key)}); }

void RedisStore::expire(std::string_view key, int64_t ttlSeconds) {
  write({"EXPIRE", full(key), std::to_string(ttlSeconds)});
}

void RedisStore::exists(std::string_view key, StoreCallback<bool> cb) {
  read({"EXISTS", full(key)}, std::move(cb), parseBool);
}

void RedisStore::hset(std::string_view key, std::string_view field, std::string_view value) {
  write({"HSET", full(key), field, value});
}

void RedisStore::hdel(std::string_view key, std::string_view field) { write({"HDEL", full(key), field}); }

void RedisStore::hget(std::string_view key, std::string_view field, StoreCallback<std::optional<std::string>> cb) {
  read({"HGET", full(key), field}, std::move(cb), parseOptString);
}

void RedisStore::hgetall(std::string_view key, StoreCallback<StrMap> cb) {
  read({"HGETALL", full(key)}, std::move(cb), parseMap);
}

void RedisStore::sadd(std::string_view key, std::string_view member) { write({"SADD", full(key), member}); }

void RedisStore::srem(std::string_view key, std::string_view member) { write({"SREM", full(key), member}); }

void RedisStore::smembers(std::string_view key, StoreCallback<StrList> cb) {
  read({"SMEMBERS", full(key)}, std::move(cb), parseList);
}

void RedisStore::scard(std::string_view key, StoreCallback<int64_t> cb) {
  read({"SCARD", full(key)}, std::move(cb), parseInt);
}

void RedisStore::sismember(std::string_view key, std::string_view member, StoreCallback<bool> cb) {
  read({"SISMEMBER", full(key), member}, std::move(cb), parseBool);
}

void RedisStore::lpush(std::string_view key, std::string_view value) { write({"LPUSH", full(key), value}); }

void RedisStore::rpush(std::string_view key, std::string_view value) { write({"RPUSH", full(key), value}); }

void RedisStore::lrange(std::string_view key, int64_t start, int64_t stop, StoreCallback<StrList> cb) {
  read({"LRANGE", full(key), std::to_string(start), std::to_string(stop)}, std::move(cb), parseList);
}

void RedisStore::ltrim(std::string_view key, int64_t start, int64_t stop) {
  write({"LTRIM", full(key), std::to_string(start), std::to_string(stop)});
}

void RedisStore::lrem(std::string_view key, int64_t count, std::string_view value) {
  write({"LREM", full(key), std::to_string(count), value});
}

void RedisStore::llen(std::string_view key, StoreCallback<int64_t> cb) {
  read({"LLEN", full(key)}, std::move(cb), parseInt);
}

void RedisStore::publish(std::string_view channel, std::string_view message) {
  write({"PUBLISH", full(channel), message});
}

}  // namespace msw
