#include "library/memory_store.h"

#include <algorithm>
#include <charconv>

namespace msw {

const char* const kWrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";

namespace {

const char* const kNotInteger = "ERR value is not an integer or out of range";

// As Redis: only the exact decimal spelling of an int64 ("007", "-0", "+5",
// "" and spaces are not integers).
bool canonicalInteger(const std::string& s, int64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size() && std::to_string(v) == s;
}

// Redis's index rules: negative counts from the end; the range is clamped.
bool listRange(int64_t size, int64_t& start, int64_t& stop) {
  if (start < 0) start += size;
  if (stop < 0) stop += size;
  if (start < 0) start = 0;
  if (stop >= size) stop = size - 1;
  return start <= stop && start < size;
}

}  // namespace

MemoryStore::MemoryStore(std::string prefix, Defer defer) : prefix_(std::move(prefix)), defer_(std::move(defer)) {}

int64_t MemoryStore::nowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

std::string MemoryStore::full(std::string_view key) const {
  std::string k;
  k.reserve(prefix_.size() + key.size());
  k.append(prefix_).append(key);
  return k;
}

MemoryStore::Entry* MemoryStore::lookup(const std::string& key) {
  auto it = data_.find(key);
  if (it == data_.end()) return nullptr;
  if (it->second.expireAtMs && it->second.expireAtMs <= nowMs()) {
    data_.erase(it);
    return nullptr;
  }
  return &it->second;
}

template <class T>
T* MemoryStore::writable(const std::string& key) {
  Entry* e = lookup(key);
  if (!e) {
    Entry& fresh = data_[key];
    fresh.value = T{};
    return &std::get<T>(fresh.value);
  }
  return std::get_if<T>(&e->value);
}

template <class T>
void MemoryStore::reply(StoreCallback<T>& cb, StoreResult<T> r) {
  if (!cb) return;
  defer_([cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
}

void MemoryStore::dropIfEmpty(const std::string& key, Entry& e) {
  bool empty = std::visit(
      [](auto& v) {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) return false;
        else return v.empty();
      },
      e.value);
  if (empty) data_.erase(key);
}

// Drops keys whose time has come, so that keys never read again do not pile up.
void MemoryStore::sweep() {
  int64_t now = nowMs();
  while (!expiries_.empty() && expiries_.top().first <= now) {
    auto it = data_.find(expiries_.top().second);
    if (it != data_.end() && it->second.expireAtMs && it->second.expireAtMs <= now) data_.erase(it);
    expiries_.pop();
  }
}

size_t MemoryStore::keyCount() {
  std::lock_guard<std::mutex> lock(mutex_);
  sweep();
  return data_.size();
}

void MemoryStore::set(std::string_view key, std::string_view value, int64_t ttlSeconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  sweep();
  std::string k = full(key);
  Entry& e = data_[k];
  e.value = std::string(value);
  e.expireAtMs = ttlSeconds > 0 ? nowMs() + ttlSeconds * 1000 : 0;
  if (e.expireAtMs) expiries_.emplace(e.expireAtMs, std::move(k));
}

void MemoryStore::get(std::string_view key, StoreCallback<std::optional<std::string>> cb) {
  StoreResult<std::optional<std::string>> r;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (Entry* e = lookup(full(key))) {
      if (auto* s = std::get_if<std::string>(&e->value)) r.value = *s;
      else r.error = kWrongType;
    }
  }
  reply(cb, std::move(r));
}

void MemoryStore::incr(std::string_view key, int64_t by, StoreCallback<int64_t> cb) {
  StoreResult<int64_t> r;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string k = full(key);
    Entry* e = lookup(k);
    int64_t v = 0;
    if (e) {
      const std::string* s = std::get_if<std::string>(&e->value);
      if (!s) r.error = kWrongType;
      else if (!canonicalInteger(*s, v)) r.error = kNotInteger;
    }
    if (r.ok() && ((by > 0 && v > INT64_MAX - by) || (by < 0 && v < INT64_MIN - by)))
      r.error = "ERR increment or decrement would overflow";
    if (r.ok()) {
      r.value = v + by;
      if (!e) e = &data_[k];  // a new key has no expiry; an existing one keeps its own
      e->value = std::to_string(r.value);
    }
  }
  reply(cb, std::move(r));
}

void MemoryStore::del(std::string_view key) {
  std::lock_guard<std::mutex> lock(mutex_);
  data_.erase(full(key));
}

void MemoryStore::expire(std::string_view key, int64_t ttlSeconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string k = full(key);
  Entry* e = lookup(k);
  if (!e) return;
  if (ttlSeconds <= 0) {  // as Redis: a non-positive ttl deletes
    data_.erase(k);
    return;
  }
  e->expireAtMs = nowMs() + ttlSeconds * 1000;
  expiries_.emplace(e->expireAtMs, std::move(k));
}

void MemoryStore::exists(std::string_view key, StoreCallback<bool> cb) {
  StoreResult<bool> r;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    r.value = lookup(full(key)) != nullptr;
  }
  reply(cb, std::move(r));
}

void MemoryStore::hset(std::string_view key, std::string_view field, std::string_view value) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Hash* h = writable<Hash>(full(key))) (*h)[std::string(field)] = std::string(value);
}

void MemoryStore::hdel(std::string_view key, std::string_view field) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string k = full(key);
  Entry* e = lookup(k);
  if (!e) return;
  if (Hash* h = std::get_if<Hash>(&e->value)) {
    h->erase(std::string(field));
    dropIfEmpty(k, *e);
  }
}

void MemoryStore::hget(std::string_view key, std::string_view field, StoreCallback<std::optional<std::string>> cb) {
  StoreResult<std::optional<std::string>> r;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (Entry* e = lookup(full(key))) {
      if (Hash* h = std::get_if<Hash>(&e->value)) {
        auto it = h->find(std::string(field));
        if (it != h->end()) r.value = it->second;
      } else {
        r.error = kWrongType;
      }
    }
  }
  reply(cb, std::move(r));
}

void MemoryStore::hgetall(std::string_view key, StoreCallback<StrMap> cb) {
  StoreResult<StrMap> r;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (Entry* e = lookup(full(key))) {
      if (Hash* h = std::get_if<Hash>(&e->value)) r.value.insert(h->begin(), h->end());
      else r.error = kWrongType;
    }
  }
  reply(cb, std::move(r));
}

void MemoryStore::sadd(std::string_view key, std::string_view member) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Set* s = writable<Set>(full(key))) s->emplace(member);
}

void MemoryStore::srem(std::string_view key, std::string_view member) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string k = full(key);
  Entry* e = lookup(k);
  if (!e) return;
  if (Set* s = std::get_if<Set>(&e->value)) {
    s->erase(std::string(member));
    dropIfEmpty(k, *e);
  }
}

void MemoryStore::smembers(std::string_view key, StoreCallback<StrList> cb) {
  StoreResult<StrList> r;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (Entry* e = lookup(full(key))) {
      if (Set* s = std::get_if<Set>(&e->value)) r.value.assign(s->begin(), s->end());
      else r.error = kWrongType;
    }
  }
  reply(cb, std::move(r));
}

void MemoryStore::scard(std::string_view key, StoreCallback<int64_t> cb) {
  StoreResult<int64_t> r;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (Entry* e = lookup(full(key))) {
      if (Set* s = std::get_if<Set>(&e->value)) r.value = static_cast<int64_t>(s->size());
      else r.error = kWrongType;
    }
  }
  reply(cb, std::move(r));
}

void MemoryStore::sismember(std::string_view key, std::string_view member, StoreCallback<bool> cb) {
  StoreResult<bool> r;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (Entry* e = lookup(full(key))) {
      if (Set* s = std::get_if<Set>(&e->value)) r.value = s->count(std::string(member)) > 0;
      else r.error = kWrongType;
    }
  }
  reply(cb, std::move(r));
}

void MemoryStore::lpush(std::string_view key, std::string_view value) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (List* l = writable<List>(full(key))) l->emplace_front(value);
}

void MemoryStore::rpush(std::string_view key, std::string_view value) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (List* l = writable<List>(full(key))) l->emplace_back(value);
}

void MemoryStore::lrange(std::string_view key, int64_t start, int64_t stop, StoreCallback<StrList> cb) {
  StoreResult<StrList> r;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (Entry* e = lookup(full(key))) {
      if (List* l = std::get_if<List>(&e->value)) {
        if (listRange(static_cast<int64_t>(l->size()), start, stop))
          r.value.assign(l->begin() + start, l->begin() + stop + 1);
      } else {
        r.error = kWrongType;
      }
    }
  }
  reply(cb, std::move(r));
}

void MemoryStore::ltrim(std::string_view key, int64_t start, int64_t stop) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string k = full(key);
  Entry* e = lookup(k);
  if (!e) return;
  List* l = std::get_if<List>(&e->value);
  if (!l) return;
  if (!listRange(static_cast<int64_t>(l->size()), start, stop)) {
    data_.erase(k);
    return;
  }
  l->erase(l->begin() + stop + 1, l->end());
  l->erase(l->begin(), l->begin() + start);
}

void MemoryStore::lrem(std::string_view key, int64_t count, std::string_view value) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string k = full(key);
  Entry* e = lookup(k);
  if (!e) return;
  List* l = std::get_if<List>(&e->value);
  if (!l) return;
  int64_t left = count == 0 ? INT64_MAX : (count < 0 ? -count : count);
  if (count >= 0) {
    for (auto it = l->begin(); it != l->end() && left > 0;) {
      if (*it == value) { it = l->erase(it); --left; }
      else ++it;
    }
  } else {
    for (size_t i = l->size(); i-- > 0 && left > 0;) {
      if ((*l)[i] == value) { l->erase(l->begin() + static_cast<long>(i)); --left; }
    }
  }
  dropIfEmpty(k, *e);
}

void MemoryStore::llen(std::string_view key, StoreCallback<int64_t> cb) {
  StoreResult<int64_t> r;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (Entry* e = lookup(full(key))) {
      if (List* l = std::get_if<List>(&e->value)) r.value = static_cast<int64_t>(l->size());
      else r.error = kWrongType;
    }
  }
  reply(cb, std::move(r));
}

}  // namespace msw
