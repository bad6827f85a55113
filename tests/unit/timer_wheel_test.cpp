// tests/unit/timer_wheel_test.cpp: framework/timer_wheel.h, the idle-timer wheel.
#include "framework/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace msw {
namespace {

struct Item {
  TimerNode node;
  int id = 0;
};

Item* owner(TimerNode* n) { return reinterpret_cast<Item*>(reinterpret_cast<char*>(n) - offsetof(Item, node)); }

// Advances `w` to `now` and returns the ids fired, sorted.
std::vector<int> advance(TimerWheel& w, uint64_t now) {
  std::vector<int> fired;
  w.advance(now, [&](TimerNode* n) {
    EXPECT_FALSE(n->linked()) << "a node is unlinked before its callback";
    fired.push_back(owner(n)->id);
  });
  std::sort(fired.begin(), fired.end());
  return fired;
}

using Ids = std::vector<int>;

TEST(TimerWheel, FiresAtItsDeadlineAndNotBefore) {
  TimerWheel w(8, 100);
  Item a{{}, 1};
  w.schedule(&a.node, 103);
  EXPECT_TRUE(a.node.linked());
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(advance(w, 101), Ids{});
  EXPECT_EQ(advance(w, 102), Ids{});
  EXPECT_EQ(advance(w, 103), Ids{1});
  EXPECT_FALSE(a.node.linked());
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(advance(w, 120), Ids{});
  EXPECT_EQ(w.now(), 120u);
}

TEST(TimerWheel, SeveralInOneSlotAndAcrossSlots) {
  TimerWheel w(8, 0);
  Item items[6];
  for (int i = 0; i < 6; ++i) {
    items[i].id = i;
    w.schedule(&items[i].node, static_cast<uint64_t>(1 + i / 2));  // 1,1,2,2,3,3
  }
  EXPECT_EQ(w.size(), 6u);
  EXPECT_EQ(advance(w, 1), (Ids{0, 1}));
  EXPECT_EQ(advance(w, 3), (Ids{2, 3, 4, 5}));
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, CancelPreventsTheCallback) {
  TimerWheel w(8, 0);
  Item a{{}, 1}, b{{}, 2};
  w.schedule(&a.node, 2);
  w.schedule(&b.node, 2);
  w.cancel(&a.node);
  EXPECT_FALSE(a.node.linked());
  EXPECT_EQ(w.size(), 1u);
  w.cancel(&a.node);  // twice is harmless
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(advance(w, 5), Ids{2});
  w.cancel(&b.node);  // after it fired: harmless
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, RescheduleMovesTheDeadline) {
  TimerWheel w(8, 0);
  Item a{{}, 1};
  w.schedule(&a.node, 2);
  w.schedule(&a.node, 5);
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(advance(w, 4), Ids{});
  EXPECT_EQ(advance(w, 5), Ids{1});
  w.schedule(&a.node, 9);
  w.schedule(&a.node, 7);  // earlier again
  EXPECT_EQ(advance(w, 7), Ids{1});
  EXPECT_EQ(advance(w, 9), Ids{});
}

TEST(TimerWheel, PastDeadlinesFireAtTheNextAdvance) {
  TimerWheel w(8, 50);
  Item a{{}, 1}, b{{}, 2};
  w.schedule(&a.node, 10);  // long past
  w.schedule(&b.node, 50);  // now
  EXPECT_TRUE(a.node.linked());
  EXPECT_EQ(advance(w, 50), Ids{}) << "advancing to the same time does nothing";
  EXPECT_EQ(advance(w, 51), (Ids{1, 2}));
}

TEST(TimerWheel, GoingBackInTimeDoesNothing) {
  TimerWheel w(8, 50);
  Item a{{}, 1};
  w.schedule(&a.node, 52);
  EXPECT_EQ(advance(w, 40), Ids{});
  EXPECT_EQ(w.now(), 50u);
  EXPECT_EQ(advance(w, 52), Ids{1});
}

TEST(TimerWheel, DeadlinesBeyondOneTurnWaitForTheirTurn) {
  TimerWheel w(8, 0);
  Item a{{}, 1}, b{{}, 2};
  w.schedule(&a.node, 3 + 8 * 2);  // same slot as 3, two turns later
  w.schedule(&b.node, 3);
  EXPECT_EQ(advance(w, 3), Ids{2});
  EXPECT_EQ(advance(w, 11), Ids{});
  EXPECT_EQ(advance(w, 18), Ids{});
  EXPECT_TRUE(a.node.linked());
  EXPECT_EQ(advance(w, 19), Ids{1});
}

TEST(TimerWheel, BigJumpFiresEverythingDueAndNothingElse) {
  TimerWheel w(16, 1000);
  std::vector<Item> items(100);
  for (int i = 0; i < 100; ++i) {
    items[static_cast<size_t>(i)].id = i;
    w.schedule(&items[static_cast<size_t>(i)].node, 1000 + static_cast<uint64_t>(i) * 7);  // up to 1693
  }
  // Jump far more than one turn (16 slots) in one step.
  Ids fired = advance(w, 1400);
  Ids expected;
  for (int i = 0; i < 100; ++i)
    if (1000 + i * 7 <= 1400) expected.push_back(i);
  EXPECT_EQ(fired, expected);
  EXPECT_EQ(w.size(), 100 - expected.size());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(items[static_cast<size_t>(i)].node.linked(), 1000 + i * 7 > 1400) << i;
  // The rest fire on time afterwards.
  EXPECT_EQ(advance(w, 1406), Ids{58});  // 1000 + 58 * 7 = 1406
  EXPECT_EQ(advance(w, 1000000).size(), 100 - expected.size() - 1);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, RescheduleInsideTheCallback) {
  TimerWheel w(8, 0);
  Item a{{}, 1};
  w.schedule(&a.node, 1);
  int calls = 0;
  auto again = [&](TimerNode* n) {
    ++calls;
    w.schedule(n, w.now() + 2);
  };
  w.advance(1, again);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(a.node.linked());
  EXPECT_EQ(w.size(), 1u);
  w.advance(2, again);
  EXPECT_EQ(calls, 1);
  w.advance(3, again);
  EXPECT_EQ(calls, 2);
  // A callback that reschedules into the past fires once per advance, not in a loop.
  w.advance(10, [&](TimerNode* n) {
    ++calls;
    w.schedule(n, 0);
  });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(advance(w, 11), Ids{1});
}

TEST(TimerWheel, CancelInsideTheCallbackOfAnother) {
  TimerWheel w(8, 0);
  Item a{{}, 1}, b{{}, 2}, c{{}, 3};
  w.schedule(&a.node, 1);
  w.schedule(&b.node, 2);
  w.schedule(&c.node, 4);
  // a's callback cancels c (not yet due) and reschedules b (not yet due).
  Ids fired;
  w.advance(1, [&](TimerNode* n) {
    fired.push_back(owner(n)->id);
    w.cancel(&c.node);
    w.schedule(&b.node, 6);
  });
  EXPECT_EQ(fired, Ids{1});
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(advance(w, 5), Ids{});
  EXPECT_EQ(advance(w, 6), Ids{2});
}

TEST(TimerWheel, ANodeRescheduledByAnotherCallbackOfTheSameAdvanceWaits) {
  // a and b are both due at 3; a's callback pushes b to 10. b must then not
  // fire at 3: it is linked again with a future deadline.
  TimerWheel w(8, 0);
  Item a{{}, 1}, b{{}, 2};
  w.schedule(&a.node, 3);
  w.schedule(&b.node, 3);
  Ids fired;
  bool rescheduled = false;
  w.advance(3, [&](TimerNode* n) {
    fired.push_back(owner(n)->id);
    if (!rescheduled) {
      rescheduled = true;
      Item& other = owner(n) == &a ? b : a;
      w.schedule(&other.node, 10);
    }
  });
  EXPECT_EQ(fired.size(), 1u) << "the other node was rescheduled to 10 but fired at 3 anyway";
  EXPECT_EQ(w.size(), 1u);
}

TEST(TimerWheel, ANodeCancelledByAnotherCallbackOfTheSameAdvanceDoesNotFire) {
  TimerWheel w(8, 0);
  Item a{{}, 1}, b{{}, 2};
  w.schedule(&a.node, 3);
  w.schedule(&b.node, 3);
  Ids fired;
  bool cancelled = false;
  w.advance(3, [&](TimerNode* n) {
    fired.push_back(owner(n)->id);
    if (!cancelled) {
      cancelled = true;
      w.cancel(owner(n) == &a ? &b.node : &a.node);  // e.g. one connection's expiry closes another
    }
  });
  EXPECT_EQ(fired.size(), 1u) << "a node cancelled before its turn in this advance still fired";
}

TEST(TimerWheel, ManyNodesManyTicks) {
  TimerWheel w(512, 0);
  std::vector<Item> items(2000);
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].id = static_cast<int>(i);
    w.schedule(&items[i].node, 1 + (i * 37) % 1500);
  }
  size_t total = 0;
  for (uint64_t t = 1; t <= 1500; ++t) {
    w.advance(t, [&](TimerNode* n) {
      EXPECT_EQ(n->deadline, t);
      ++total;
    });
  }
  EXPECT_EQ(total, items.size());
  EXPECT_EQ(w.size(), 0u);
}

}  // namespace
}  // namespace msw
