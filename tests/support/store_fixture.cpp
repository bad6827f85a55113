// tests/support/store_fixture.cpp: the loop thread and the store fixture of
// store_fixture.h (one fixture per test, on the test's main thread).
#include "tests/support/store_fixture.h"

#include <unistd.h>

namespace msw::test {

LoopThread::LoopThread() : thread_([this] { loop_.run(); }) {}

LoopThread::~LoopThread() {
  loop_.post([this] { loop_.stop(); });
  thread_.join();
}

bool LoopThread::sync(std::function<void()> f) {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  loop_.post([f = std::move(f), done] {
    f();
    done->set_value();
  });
  return fut.wait_for(kReplyTimeout) == std::future_status::ready;
}

void LoopFixture::TearDown() {
  EXPECT_TRUE(loop_.sync([this] { owned_.clear(); }));
}

void LoopFixture::destroy(void* p) {
  loop_.sync([&] {
    std::erase_if(owned_, [p](const std::shared_ptr<void>& o) { return o.get() == p; });
  });
}

void LoopFixture::apply(std::function<void(Store&)> f, Store* s) {
  Store* target = s ? s : store_;
  loop_.loop().post([f = std::move(f), target] { f(*target); });
}

StoreResult<OptStr> LoopFixture::get(std::string k, Store* s) {
  return await<OptStr>([k](Store& st, auto cb) { st.get(k, cb); }, s);
}
StoreResult<int64_t> LoopFixture::incr(std::string k, int64_t by, Store* s) {
  return await<int64_t>([k, by](Store& st, auto cb) { st.incr(k, by, cb); }, s);
}
StoreResult<bool> LoopFixture::exists(std::string k, Store* s) {
  return await<bool>([k](Store& st, auto cb) { st.exists(k, cb); }, s);
}
StoreResult<OptStr> LoopFixture::hget(std::string k, std::string f, Store* s) {
  return await<OptStr>([k, f](Store& st, auto cb) { st.hget(k, f, cb); }, s);
}
StoreResult<StrMap> LoopFixture::hgetall(std::string k, Store* s) {
  return await<StrMap>([k](Store& st, auto cb) { st.hgetall(k, cb); }, s);
}
StoreResult<StrList> LoopFixture::smembers(std::string k, Store* s) {
  return await<StrList>([k](Store& st, auto cb) { st.smembers(k, cb); }, s);
}
StoreResult<int64_t> LoopFixture::scard(std::string k, Store* s) {
  return await<int64_t>([k](Store& st, auto cb) { st.scard(k, cb); }, s);
}
StoreResult<bool> LoopFixture::sismember(std::string k, std::string m, Store* s) {
  return await<bool>([k, m](Store& st, auto cb) { st.sismember(k, m, cb); }, s);
}
StoreResult<StrList> LoopFixture::lrange(std::string k, int64_t a, int64_t b, Store* s) {
  return await<StrList>([k, a, b](Store& st, auto cb) { st.lrange(k, a, b, cb); }, s);
}
StoreResult<int64_t> LoopFixture::llen(std::string k, Store* s) {
  return await<int64_t>([k](Store& st, auto cb) { st.llen(k, cb); }, s);
}
void LoopFixture::pushAll(const std::string& key, const StrList& values, Store* s) {
  apply(
      [key, values](Store& st) {
        for (const std::string& v : values) st.rpush(key, v);
      },
      s);
}

void PrintTo(const Driver& d, std::ostream* os) { *os << d.name; }

void StoreContract::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  prefix_ = std::string("t") + std::to_string(getpid()) + ":" + info->name() + ":";
  GetParam().prepare();
  store_ = make(prefix_);
  ASSERT_NE(store_, nullptr);
}

Store* StoreContract::make(const std::string& prefix) {
  Store* s = own<Store>([&] { return GetParam().make(loop_, prefix); });
  EXPECT_TRUE(pollUntil([&] { return GetParam().ready(*s); }, 5000ms)) << "store not ready";
  return s;
}

void StoreContract::writeOneOfEachType() {
  apply([](Store& s) {
    s.set("str", "v");
    s.hset("hash", "f", "v");
    s.sadd("set", "m");
    s.rpush("list", "x");
  });
}

}  // namespace msw::test
