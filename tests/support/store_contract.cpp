// tests/support/store_contract.cpp: the Store contract (msw/store.h), stated
// once as a parameterised suite; unit/store_contract_test.cpp runs it on the
// memory driver, integration/redis_store_test.cpp on the Redis driver.
// Each binary that links this file and instantiates StoreContract runs it.
#include <unistd.h>

#include <atomic>
#include <climits>
#include <mutex>

#include "tests/support/store_fixture.h"

namespace msw::test {
namespace {

TEST_P(StoreContract, SetGetOverwriteAndMissing) {
  apply([](Store& s) { s.set("k", "v1"); });
  auto r = get("k");
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value, "v1");
  apply([](Store& s) { s.set("k", "v2"); });
  EXPECT_EQ(get("k").value, "v2");

  auto missing = get("nope");
  EXPECT_TRUE(missing.ok()) << missing.error;
  EXPECT_EQ(missing.value, std::nullopt);

  // SET replaces a key of any type.
  apply([](Store& s) {
    s.rpush("list", "x");
    s.set("list", "now a string");
  });
  EXPECT_EQ(get("list").value, "now a string");
}

TEST_P(StoreContract, ValuesAndKeysAreBinarySafe) {
  const std::string key("key with spaces\r\n\0and nul", 26);
  const std::string value("\0\x01\xff\r\n*3\r\n$3", 12);
  apply([&](Store& s) {
    s.set(key, value);
    s.set("empty", "");
    s.hset("h", key, value);
    s.rpush("l", value);
  });
  EXPECT_EQ(get(key).value, value);
  auto empty = get("empty");
  ASSERT_TRUE(empty.value.has_value()) << "an empty value is a value, not a missing key";
  EXPECT_EQ(*empty.value, "");
  EXPECT_EQ(hget("h", key).value, value);
  EXPECT_EQ(lrange("l", 0, -1).value, StrList{value});
}

// ttl 1 s: awaited by polling exists(), so the test takes as long as the expiry.
TEST_P(StoreContract, TtlExpiresAndPlainSetClearsIt) {
  auto t0 = Clock::now();
  apply([](Store& s) {
    s.set("ttl", "v", 1);
    s.set("kept", "v", 1);
    s.set("kept", "v2");  // no ttl: the earlier one is gone
    s.set("expired", "v");
    s.expire("expired", 1);
    s.hset("hash", "f", "v");
    s.expire("hash", 1);
  });
  EXPECT_TRUE(exists("ttl").value);
  EXPECT_EQ(get("ttl").value, "v");
  ASSERT_TRUE(pollUntil([&] { return !exists("ttl").value; }, 3000ms, 20ms)) << "ttl 1 s never expired";
  EXPECT_GE(Clock::now() - t0, 900ms) << "expired too early";
  EXPECT_EQ(get("ttl").value, std::nullopt);
  EXPECT_TRUE(pollUntil([&] { return !exists("expired").value && !exists("hash").value; }, 1000ms, 20ms));
  EXPECT_TRUE(exists("kept").value);
  EXPECT_EQ(get("kept").value, "v2");
}

TEST_P(StoreContract, IncrCountsFromZero) {
  auto r = incr("n", 5);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value, 5);
  EXPECT_EQ(incr("n", -7).value, -2);
  EXPECT_EQ(incr("n", 0).value, -2);
  apply([](Store& s) {
    s.incr("n", 10);           // the callback is optional
    s.incr("n", 1, nullptr);
  });
  EXPECT_EQ(get("n").value, "9");
  apply([](Store& s) { s.set("s", "41"); });
  EXPECT_EQ(incr("s", 1).value, 42);
  EXPECT_EQ(incr("neg", -3).value, -3);
}

TEST_P(StoreContract, IncrRejectsNonIntegersAndOverflow) {
  apply([](Store& s) {
    s.set("word", "abc");
    s.set("float", "1.5");
    s.set("big", std::to_string(INT64_MAX));
    s.set("small", std::to_string(INT64_MIN));
  });
  for (const char* key : {"word", "float"}) {
    auto r = incr(key, 1);
    EXPECT_FALSE(r.ok()) << key;
    EXPECT_TRUE(startsWith(r.error, "ERR")) << r.error;
  }
  auto over = incr("big", 1);
  EXPECT_FALSE(over.ok());
  EXPECT_TRUE(startsWith(over.error, "ERR")) << over.error;
  auto under = incr("small", -1);
  EXPECT_FALSE(under.ok());
  // A failed incr changes nothing.
  EXPECT_EQ(get("word").value, "abc");
  EXPECT_EQ(get("big").value, std::to_string(INT64_MAX));
  EXPECT_EQ(get("small").value, std::to_string(INT64_MIN));
  EXPECT_EQ(incr("big", -1).value, INT64_MAX - 1);
}

// Redis counts only canonical integers: no empty string, sign, space or
// leading zero ("007" and "-0" are not integers to INCR).
TEST_P(StoreContract, IncrAcceptsOnlyCanonicalIntegers) {
  const char* const bad[] = {"", "007", "-0", "+5", " 5", "5 "};
  for (const char* v : bad) {
    std::string key = std::string("k[") + v + "]";
    apply([key, v](Store& s) { s.set(key, v); });
    auto r = incr(key, 1);
    EXPECT_FALSE(r.ok()) << "'" << v << "' counted as " << r.value;
    EXPECT_EQ(get(key).value, v) << "a failed incr changes nothing";
  }
}

TEST_P(StoreContract, DelAndExists) {
  apply([](Store& s) {
    s.set("a", "1");
    s.hset("h", "f", "v");
  });
  EXPECT_TRUE(exists("a").value);
  EXPECT_TRUE(exists("h").value);
  auto none = exists("none");
  EXPECT_TRUE(none.ok());
  EXPECT_FALSE(none.value);
  apply([](Store& s) {
    s.del("a");
    s.del("h");
    s.del("none");  // deleting a missing key is fine
  });
  EXPECT_FALSE(exists("a").value);
  EXPECT_FALSE(exists("h").value);
  EXPECT_EQ(get("a").value, std::nullopt);
}

TEST_P(StoreContract, ExpireWithNonPositiveTtlDeletes) {
  apply([](Store& s) {
    s.set("zero", "v");
    s.set("negative", "v");
    s.sadd("set", "m");
    s.expire("zero", 0);
    s.expire("negative", -5);
    s.expire("set", 0);
    s.expire("missing", 10);  // does not create it
  });
  EXPECT_FALSE(exists("zero").value);
  EXPECT_FALSE(exists("negative").value);
  EXPECT_FALSE(exists("set").value);
  EXPECT_FALSE(exists("missing").value);
}

TEST_P(StoreContract, Hashes) {
  apply([](Store& s) {
    s.hset("h", "f1", "v1");
    s.hset("h", "f2", "v2");
    s.hset("h", "f1", "v1b");  // overwrite
  });
  EXPECT_EQ(hget("h", "f1").value, "v1b");
  EXPECT_EQ(hget("h", "f2").value, "v2");
  auto nofield = hget("h", "nope");
  EXPECT_TRUE(nofield.ok());
  EXPECT_EQ(nofield.value, std::nullopt);
  EXPECT_EQ(hget("nokey", "f").value, std::nullopt);
  EXPECT_EQ(hgetall("h").value, (StrMap{{"f1", "v1b"}, {"f2", "v2"}}));
  auto none = hgetall("nokey");
  EXPECT_TRUE(none.ok());
  EXPECT_TRUE(none.value.empty());

  apply([](Store& s) {
    s.hdel("h", "f1");
    s.hdel("h", "nope");
    s.hdel("nokey", "f");
  });
  EXPECT_EQ(hgetall("h").value, (StrMap{{"f2", "v2"}}));
  EXPECT_FALSE(exists("nokey").value);
}

TEST_P(StoreContract, EmptyHashVanishes) {
  apply([](Store& s) {
    s.hset("h", "f", "v");
    s.hdel("h", "f");
  });
  EXPECT_FALSE(exists("h").value);
  EXPECT_TRUE(hgetall("h").value.empty());
}

TEST_P(StoreContract, Sets) {
  apply([](Store& s) {
    s.sadd("s", "a");
    s.sadd("s", "a");  // twice = once
    s.sadd("s", "b");
    s.sadd("s", "c");
  });
  EXPECT_EQ(scard("s").value, 3);
  EXPECT_EQ(sorted(smembers("s").value), (StrList{"a", "b", "c"}));
  EXPECT_TRUE(sismember("s", "a").value);
  auto no = sismember("s", "z");
  EXPECT_TRUE(no.ok());
  EXPECT_FALSE(no.value);
  apply([](Store& s) {
    s.srem("s", "a");
    s.srem("s", "z");
  });
  EXPECT_EQ(scard("s").value, 2);
  EXPECT_EQ(sorted(smembers("s").value), (StrList{"b", "c"}));
  EXPECT_FALSE(sismember("s", "a").value);

  EXPECT_EQ(scard("none").value, 0);
  EXPECT_TRUE(smembers("none").value.empty());
  EXPECT_FALSE(sismember("none", "a").value);
}

TEST_P(StoreContract, EmptySetVanishes) {
  apply([](Store& s) {
    for (const char* m : {"a", "b"}) s.sadd("s", m);
    for (const char* m : {"a", "b"}) s.srem("s", m);
  });
  EXPECT_FALSE(exists("s").value);
  EXPECT_EQ(scard("s").value, 0);
}

TEST_P(StoreContract, ListPushOrder) {
  apply([](Store& s) {
    s.rpush("l", "a");
    s.rpush("l", "b");
    s.lpush("l", "z");
    s.lpush("l", "y");
  });
  EXPECT_EQ(lrange("l", 0, -1).value, (StrList{"y", "z", "a", "b"}));
  EXPECT_EQ(llen("l").value, 4);
  auto none = llen("none");
  EXPECT_TRUE(none.ok());
  EXPECT_EQ(none.value, 0);
  EXPECT_TRUE(lrange("none", 0, -1).value.empty());
}

TEST_P(StoreContract, LrangeIndexesAsRedis) {
  pushAll("l", {"a", "b", "c", "d", "e"});
  struct Case {
    int64_t start, stop;
    StrList want;
  };
  const Case cases[] = {
      {0, -1, {"a", "b", "c", "d", "e"}},
      {0, 0, {"a"}},
      {1, 2, {"b", "c"}},
      {-2, -1, {"d", "e"}},
      {4, -1, {"e"}},
      {-100, 1, {"a", "b"}},       // start before the head: clamped
      {2, 100, {"c", "d", "e"}},   // stop past the tail: clamped
      {-100, 100, {"a", "b", "c", "d", "e"}},
      {5, 10, {}},                 // start past the tail
      {3, 1, {}},                  // start after stop
      {-1, -2, {}},
      {-100, -50, {}},             // both before the head
      {INT64_MIN / 2, INT64_MAX / 2, {"a", "b", "c", "d", "e"}},
  };
  for (const Case& c : cases) {
    auto r = lrange("l", c.start, c.stop);
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.value, c.want) << "lrange " << c.start << " " << c.stop;
  }
}

TEST_P(StoreContract, LtrimKeepsTheRangeAndEmptyResultDeletesTheKey) {
  const StrList abcde = {"a", "b", "c", "d", "e"};
  for (const char* k : {"l1", "l2", "l3", "l4", "l5", "l6"}) pushAll(k, abcde);
  apply([](Store& s) {
    s.ltrim("l1", 1, -2);
    s.ltrim("l2", -2, 100);
    s.ltrim("l3", 0, -1);
    s.ltrim("l4", 3, 1);    // start after stop: empty
    s.ltrim("l5", 10, 20);  // past the tail: empty
    s.ltrim("l6", -100, -50);
    s.ltrim("none", 0, 1);
  });
  EXPECT_EQ(lrange("l1", 0, -1).value, (StrList{"b", "c", "d"}));
  EXPECT_EQ(lrange("l2", 0, -1).value, (StrList{"d", "e"}));
  EXPECT_EQ(lrange("l3", 0, -1).value, abcde);
  for (const char* k : {"l4", "l5", "l6", "none"}) EXPECT_FALSE(exists(k).value) << k;
}

TEST_P(StoreContract, LremCounts) {
  pushAll("l", {"x", "a", "x", "b", "x", "c", "x"});
  apply([](Store& s) { s.lrem("l", 2, "x"); });  // the first two from the head
  EXPECT_EQ(lrange("l", 0, -1).value, (StrList{"a", "b", "x", "c", "x"}));
  apply([](Store& s) { s.lrem("l", -1, "x"); });  // one from the tail
  EXPECT_EQ(lrange("l", 0, -1).value, (StrList{"a", "b", "x", "c"}));
  apply([](Store& s) {
    s.lrem("l", 0, "nope");
    s.lrem("l", 0, "x");  // all
  });
  EXPECT_EQ(lrange("l", 0, -1).value, (StrList{"a", "b", "c"}));
  EXPECT_EQ(llen("l").value, 3);

  pushAll("l2", {"x", "y", "x", "y", "x"});
  apply([](Store& s) { s.lrem("l2", -2, "x"); });
  EXPECT_EQ(lrange("l2", 0, -1).value, (StrList{"x", "y", "y"}));
  apply([](Store& s) { s.lrem("l2", 10, "y"); });  // more than there are
  EXPECT_EQ(lrange("l2", 0, -1).value, (StrList{"x"}));

  pushAll("xs", {"x", "x"});
  apply([](Store& s) { s.lrem("xs", 0, "x"); });
  EXPECT_FALSE(exists("xs").value) << "an emptied list vanishes";
}

TEST_P(StoreContract, ReadsOnAKeyOfAnotherTypeFailWithWrongType) {
  writeOneOfEachType();
  auto expectWrongType = [](const std::string& what, const std::string& error) {
    EXPECT_TRUE(startsWith(error, "WRONGTYPE")) << what << ": '" << error << "'";
  };
  expectWrongType("get hash", get("hash").error);
  expectWrongType("hget str", hget("str", "f").error);
  expectWrongType("hgetall list", hgetall("list").error);
  expectWrongType("smembers str", smembers("str").error);
  expectWrongType("scard hash", scard("hash").error);
  expectWrongType("sismember list", sismember("list", "x").error);
  expectWrongType("lrange set", lrange("set", 0, -1).error);
  expectWrongType("llen str", llen("str").error);
  expectWrongType("incr hash", incr("hash", 1).error);
  auto r = get("list");
  EXPECT_EQ(r.value, std::nullopt) << "the value stays at its default on error";
  EXPECT_TRUE(exists("set").value) << "exists works on every type";
}

TEST_P(StoreContract, WritesOnAKeyOfAnotherTypeChangeNothing) {
  writeOneOfEachType();
  apply([](Store& s) {
    s.hset("str", "f", "v");
    s.lpush("str", "x");
    s.rpush("str", "x");
    s.sadd("str", "x");
    s.sadd("hash", "x");
    s.hdel("set", "m");
    s.rpush("set", "x");
    s.ltrim("set", 1, 0);
    s.srem("list", "x");
    s.hset("list", "f", "v");
    s.lrem("hash", 0, "v");
    s.incr("list", 1);
  });
  EXPECT_EQ(get("str").value, "v");
  EXPECT_EQ(hgetall("hash").value, (StrMap{{"f", "v"}}));
  EXPECT_EQ(smembers("set").value, StrList{"m"});
  EXPECT_EQ(lrange("list", 0, -1).value, StrList{"x"});
}

TEST_P(StoreContract, PrefixesIsolateStores) {
  Store* other = make("other" + prefix_);
  apply([](Store& s) {
    s.set("k", "mine");
    s.sadd("s", "m");
  });
  apply([](Store& s) { s.set("k", "theirs"); }, other);
  EXPECT_EQ(get("k").value, "mine");
  EXPECT_EQ(get("k", other).value, "theirs");
  EXPECT_FALSE(exists("s", other).value);
  apply([](Store& s) { s.del("k"); }, other);
  EXPECT_EQ(get("k", other).value, std::nullopt);
  EXPECT_EQ(get("k").value, "mine");
}

// Every read's callback runs on the calling loop's thread and never inside
// the call: a flag set right after the calls return must already be seen.
TEST_P(StoreContract, CallbacksRunLaterOnTheCallingLoop) {
  apply([](Store& s) {
    s.set("k", "v");
    s.hset("h", "f", "v");
    s.sadd("s", "m");
    s.rpush("l", "x");
  });
  struct Probe {
    std::atomic<int> calls{0};
    std::atomic<int> early{0};
    std::atomic<int> wrongThread{0};
  };
  auto probe = std::make_shared<Probe>();
  const std::thread::id loopId = loop_.id();
  const int issued = 14;
  Store* s = store_;
  ASSERT_TRUE(loop_.sync([&] {
    auto returned = std::make_shared<bool>(false);  // loop thread only
    auto check = [probe, returned, loopId](auto&&) {
      if (!*returned) probe->early++;
      if (std::this_thread::get_id() != loopId) probe->wrongThread++;
      probe->calls++;
    };
    s->get("k", check);
    s->get("missing", check);
    s->get("h", check);  // an error reply
    s->incr("n", 1, check);
    s->exists("k", check);
    s->hget("h", "f", check);
    s->hgetall("h", check);
    s->smembers("s", check);
    s->scard("s", check);
    s->sismember("s", "m", check);
    s->lrange("l", 0, -1, check);
    s->llen("l", check);
    s->llen("k", check);  // another error reply
    s->hget("none", "f", check);
    *returned = true;
  }));
  EXPECT_TRUE(pollUntil([&] { return probe->calls.load() == issued; }, 5000ms)) << probe->calls.load();
  EXPECT_EQ(probe->early.load(), 0) << "a callback ran inside the call";
  EXPECT_EQ(probe->wrongThread.load(), 0);
}

// Writes and reads issued by one thread are applied in that order, and the
// read callbacks complete in the order the reads were issued.
TEST_P(StoreContract, OneThreadsWritesAndReadsKeepTheirOrder) {
  struct Seen {
    std::mutex mutex;
    std::vector<std::string> log;
  };
  auto seen = std::make_shared<Seen>();
  auto record = [seen](std::string what) {
    std::lock_guard<std::mutex> lock(seen->mutex);
    seen->log.push_back(std::move(what));
  };
  Store* s = store_;
  ASSERT_TRUE(loop_.sync([&] {
    for (int i = 0; i < 200; ++i) {
      s->set("k", std::to_string(i));
      s->rpush("l", std::to_string(i));
      s->incr("n", 1);
    }
    s->get("k", [record](StoreResult<OptStr> r) { record("k=" + r.value.value_or("nil")); });
    s->llen("l", [record](StoreResult<int64_t> r) { record("llen=" + std::to_string(r.value)); });
    s->set("k", "after");
    s->get("k", [record](StoreResult<OptStr> r) { record("k=" + r.value.value_or("nil")); });
    s->del("k");
    s->get("k", [record](StoreResult<OptStr> r) { record("k=" + r.value.value_or("nil")); });
    s->get("n", [record](StoreResult<OptStr> r) { record("n=" + r.value.value_or("nil")); });
  }));
  ASSERT_TRUE(pollUntil(
      [&] {
        std::lock_guard<std::mutex> lock(seen->mutex);
        return seen->log.size() == 5;
      },
      5000ms));
  EXPECT_EQ(seen->log, (std::vector<std::string>{"k=199", "llen=200", "k=after", "k=nil", "n=200"}));
  EXPECT_EQ(lrange("l", -1, -1).value, StrList{"199"});
  EXPECT_EQ(lrange("l", 0, 0).value, StrList{"0"});
}

}  // namespace
}  // namespace msw::test
