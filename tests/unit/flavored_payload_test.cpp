// tests/unit/flavored_payload_test.cpp: include/msw/flavored_payload.h, the
// per-flavor payloads of one broadcast (docs/controllers.md#one-room-several-flavors):
// msw's own members never call the builder, each other flavor calls it once
// however many threads ask at once, and copies share what was built.
#include "msw/flavored_payload.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "framework/frame_builder.h"

namespace msw {
namespace {

struct Counted {
  std::atomic<int> calls{0};
  FlavoredPayload make() {
    return FlavoredPayload(buildTextFrame("ours"), [this](std::string_view flavor) {
      calls.fetch_add(1);
      return flavor == "mswoole" ? buildTextFrame("theirs") : Payload();
    });
  }
};

TEST(FlavoredPayload, MswsOwnMembersGetTheBaseAndBuildNothing) {
  Counted c;
  FlavoredPayload p = c.make();
  bool built = true;
  EXPECT_EQ(p.forFlavor("", &built).text(), "ours");
  EXPECT_FALSE(built);
  EXPECT_EQ(c.calls.load(), 0);
}

TEST(FlavoredPayload, EachFlavorIsBuiltOnceAndSharedByCopies) {
  Counted c;
  FlavoredPayload p = c.make();
  FlavoredPayload copy = p;
  bool built = false;
  EXPECT_EQ(p.forFlavor("mswoole", &built).text(), "theirs");
  EXPECT_TRUE(built);
  EXPECT_EQ(copy.forFlavor("mswoole", &built).text(), "theirs");
  EXPECT_FALSE(built) << "the copy takes what was built";
  // A flavor the builder does not know gets the base, and is asked once too.
  EXPECT_EQ(copy.forFlavor("other", &built).text(), "ours");
  EXPECT_FALSE(built);
  EXPECT_EQ(p.forFlavor("other").text(), "ours");
  EXPECT_EQ(c.calls.load(), 2);
}

TEST(FlavoredPayload, ThreadsAskingAtOnceBuildOnce) {
  Counted c;
  FlavoredPayload p = c.make();
  std::atomic<int> builtCount{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&p, &builtCount] {
      bool built = false;
      EXPECT_EQ(p.forFlavor("mswoole", &built).text(), "theirs");
      if (built) builtCount.fetch_add(1);
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(c.calls.load(), 1);
  EXPECT_EQ(builtCount.load(), 1);
}

}  // namespace
}  // namespace msw
