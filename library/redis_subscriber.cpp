#include "library/redis_subscriber.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <vector>

#include "library/log.h"

namespace msw {

namespace {

bool isString(const redisReply* r, std::string_view text) {
  return r->type == REDIS_REPLY_STRING && std::string_view(r->str, r->len) == text;
}

}  // namespace

RedisSubscriber::RedisSubscriber(struct ev_loop* loop, RedisOptions options, MessageFn onMessage)
    : prefix_(options.prefix), onMessage_(std::move(onMessage)), link_(loop, std::move(options), "subscriber") {
  link_.onReady = [this] {
    resubscribeAll();
    if (onConnected_) {
      try {
        onConnected_();
      } catch (const std::exception& e) {
        LOG_ERROR("redis subscriber: connected hook threw: %s", e.what());
      } catch (...) {
        LOG_ERROR("redis subscriber: connected hook threw");
      }
    }
  };
  link_.start();
}

RedisSubscriber::~RedisSubscriber() { close(); }

void RedisSubscriber::subscribe(std::string_view channel) {
  if (!channels_.emplace(channel).second) return;
  // While down, the channel waits in the set for resubscribeAll().
  if (link_.ready()) send("SUBSCRIBE", channel);
}

void RedisSubscriber::unsubscribe(std::string_view channel) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  channels_.erase(it);
  if (link_.ready()) send("UNSUBSCRIBE", channel);
}

void RedisSubscriber::send(const char* verb, std::string_view channel) {
  std::string name = prefix_ + std::string(channel);
  std::string_view args[] = {verb, name};
  // hiredis keeps the callback per channel and calls it for every message;
  // for UNSUBSCRIBE it keeps none (and refuses when nothing is subscribed).
  link_.command(2, args, &RedisSubscriber::onReply, this);
}

// One SUBSCRIBE per batch of channels: a fresh connection knows none of them.
void RedisSubscriber::resubscribeAll() {
  constexpr size_t kBatch = 256;
  std::vector<std::string> names;
  std::vector<std::string_view> args;
  auto flush = [&] {
    if (names.empty()) return;
    args.assign({"SUBSCRIBE"});
    args.insert(args.end(), names.begin(), names.end());
    link_.command(args.size(), args.data(), &RedisSubscriber::onReply, this);
    names.clear();
  };
  for (const std::string& c : channels_) {
    names.push_back(prefix_ + c);
    if (names.size() == kBatch) flush();
  }
  flush();
  if (!channels_.empty()) LOG_INFO("redis subscriber: subscribed to %zu channels", channels_.size());
}

void RedisSubscriber::onReply(redisAsyncContext*, void* r, void* privdata) {
  // NULL: the connection is going away; the link reconnects and resubscribes.
  auto* reply = static_cast<const redisReply*>(r);
  if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) return;
  // Confirmations ("subscribe", "unsubscribe") need nothing from us.
  if (!isString(reply->element[0], "message")) return;
  const redisReply* ch = reply->element[1];
  const redisReply* payload = reply->element[2];
  if (ch->type != REDIS_REPLY_STRING || payload->type != REDIS_REPLY_STRING) return;
  auto* self = static_cast<RedisSubscriber*>(privdata);
  std::string_view channel(ch->str, ch->len);
  if (channel.substr(0, self->prefix_.size()) != self->prefix_) return;
  channel.remove_prefix(self->prefix_.size());
  // A message can still come for a channel unsubscribed a moment ago.
  if (!self->channels_.count(channel) || !self->onMessage_) return;
  try {
    self->onMessage_(channel, std::string_view(payload->str, payload->len));
  } catch (const std::exception& e) {
    LOG_ERROR("redis subscriber: message callback threw: %s", e.what());
  } catch (...) {  // never let it unwind through hiredis
    LOG_ERROR("redis subscriber: message callback threw");
  }
}

}  // namespace msw
