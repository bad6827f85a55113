// tests/support/store_fixture.h: what the Store tests share: an EventLoop on
// a thread of its own, a fixture that builds stores on that loop and awaits
// their callbacks, and the StoreContract suite (msw/store.h) parameterised
// by driver. The contract's cases are in store_contract.cpp, written once;
// each driver's test binary instantiates them (unit/store_contract_test.cpp
// for the memory driver, integration/redis_store_test.cpp for Redis).
//
// Each store lives on the loop thread, as on a worker: the test thread posts
// operations there and waits for the read callbacks through promises, with
// a timeout. Fixtures live for one test, on the test's main thread.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "framework/event_loop.h"
#include "library/memory_store.h"
#include "msw/store.h"

namespace msw::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using OptStr = std::optional<std::string>;

inline constexpr auto kReplyTimeout = 5s;

template <class Pred>
bool pollUntil(Pred pred, std::chrono::milliseconds timeout, std::chrono::milliseconds step = 10ms) {
  auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
  return true;
}

inline bool startsWith(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

inline StrList sorted(StrList v) {
  std::sort(v.begin(), v.end());
  return v;
}

// An EventLoop on a thread of its own.
class LoopThread {
 public:
  LoopThread();
  ~LoopThread();
  EventLoop& loop() { return loop_; }
  struct ev_loop* ev() { return loop_.loop(); }
  std::thread::id id() const { return thread_.get_id(); }
  MemoryStore::Defer defer() {
    return [loop = &loop_](std::function<void()> f) { loop->post(std::move(f)); };
  }
  // Runs f on the loop and waits for it to have run.
  bool sync(std::function<void()> f);

 private:
  EventLoop loop_;
  std::thread thread_;
};

// The fixture: stores are created, used and destroyed on the loop thread.
class LoopFixture : public ::testing::Test {
 protected:
  void TearDown() override;

  // Builds a T on the loop; the fixture destroys it there at the end.
  template <class T, class Make>
  T* own(Make make) {
    T* out = nullptr;
    loop_.sync([&] {
      std::shared_ptr<T> p = make();
      out = p.get();
      owned_.push_back(std::move(p));
    });
    return out;
  }
  // Destroys one of them now, on the loop.
  void destroy(void* p);

  // Posts writes (no wait: later posts run after them).
  void apply(std::function<void(Store&)> f, Store* s = nullptr);

  // Issues one read on the loop and waits for its callback.
  template <class T>
  StoreResult<T> await(std::function<void(Store&, StoreCallback<T>)> issue, Store* s = nullptr) {
    Store* target = s ? s : store_;
    auto p = std::make_shared<std::promise<StoreResult<T>>>();
    auto fut = p->get_future();
    loop_.loop().post([issue = std::move(issue), target, p] {
      issue(*target, [p](StoreResult<T> r) { p->set_value(std::move(r)); });
    });
    if (fut.wait_for(kReplyTimeout) != std::future_status::ready) {
      ADD_FAILURE() << "no callback within the timeout";
      StoreResult<T> r;
      r.error = "test: no callback";
      return r;
    }
    return fut.get();
  }

  StoreResult<OptStr> get(std::string k, Store* s = nullptr);
  StoreResult<int64_t> incr(std::string k, int64_t by, Store* s = nullptr);
  StoreResult<bool> exists(std::string k, Store* s = nullptr);
  StoreResult<OptStr> hget(std::string k, std::string f, Store* s = nullptr);
  StoreResult<StrMap> hgetall(std::string k, Store* s = nullptr);
  StoreResult<StrList> smembers(std::string k, Store* s = nullptr);
  StoreResult<int64_t> scard(std::string k, Store* s = nullptr);
  StoreResult<bool> sismember(std::string k, std::string m, Store* s = nullptr);
  StoreResult<StrList> lrange(std::string k, int64_t a, int64_t b, Store* s = nullptr);
  StoreResult<int64_t> llen(std::string k, Store* s = nullptr);
  void pushAll(const std::string& key, const StrList& values, Store* s = nullptr);

  LoopThread loop_;
  Store* store_ = nullptr;  // the default target of the helpers

 private:
  std::vector<std::shared_ptr<void>> owned_;  // destroyed on the loop, in TearDown
};

// One driver under the contract.
struct Driver {
  std::string name;
  std::function<void()> prepare;  // on the test's main thread, before make
  // Called on the loop thread.
  std::function<std::shared_ptr<Store>(LoopThread&, const std::string& prefix)> make;
  std::function<bool(Store&)> ready;  // any thread
};

void PrintTo(const Driver& d, std::ostream* os);

// The contract suite; a binary runs it with
// INSTANTIATE_TEST_SUITE_P(Name, StoreContract, Values(driver), driverName).
class StoreContract : public LoopFixture, public ::testing::WithParamInterface<Driver> {
 protected:
  void SetUp() override;
  Store* make(const std::string& prefix);
  // Keys "str", "hash", "set" and "list", one of each type.
  void writeOneOfEachType();

  std::string prefix_;
};

// The test-name suffix of an instantiation: the driver's name.
inline std::string driverName(const ::testing::TestParamInfo<Driver>& info) { return info.param.name; }

}  // namespace msw::test
