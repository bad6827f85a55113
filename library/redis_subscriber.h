// library/redis_subscriber.h: Redis pub/sub receiver for the cluster bus.
//
// A subscribed hiredis connection can do nothing but (un)subscribe, so
// receiving has a connection of its own, apart from the RedisStore that
// publishes. Same rules as the store: one loop, never blocks, connect
// timeout, reconnect with backoff; after every reconnect each channel in the
// set is subscribed again by itself. Channels get the [cache] prefix like
// keys (Redis channels ignore SELECT, so the prefix is what keeps two apps on
// one Redis apart); the callback sees them without it. Messages published
// while the connection is down are lost (Redis pub/sub is at most once).
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "library/redis_store.h"

namespace msw {

class RedisSubscriber {
 public:
  // Runs on the loop, inside hiredis's read handler: it may subscribe,
  // unsubscribe or publish, but must not destroy the subscriber.
  using MessageFn = std::function<void(std::string_view channel, std::string_view payload)>;

  // Starts connecting at once.
  RedisSubscriber(struct ev_loop* loop, RedisOptions options, MessageFn onMessage);
  ~RedisSubscriber();
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  // Idempotent; kept across reconnects until unsubscribed. Messages may
  // arrive only after Redis confirmed the subscription.
  void subscribe(std::string_view channel);
  void unsubscribe(std::string_view channel);
  bool subscribed(std::string_view channel) const { return channels_.count(channel) > 0; }
  size_t channelCount() const { return channels_.size(); }

  bool connected() const { return link_.connected(); }  // any thread
  std::string health() const { return link_.health(); }  // any thread
  // Called on the loop after every (re)connect, once SUBSCRIBE for every
  // channel was sent. Must not destroy the subscriber.
  void setOnConnected(std::function<void()> hook) { onConnected_ = std::move(hook); }
  // Disconnects for good and stops the timers. Idempotent; the destructor calls it.
  void close() { link_.close(); }

 private:
  static void onReply(redisAsyncContext* ac, void* reply, void* privdata);
  void resubscribeAll();
  void send(const char* verb, std::string_view channel);

  const std::string prefix_;
  MessageFn onMessage_;
  std::function<void()> onConnected_;
  std::set<std::string, std::less<>> channels_;  // without the prefix
  RedisLink link_;
};

}  // namespace msw
