// framework/timer_wheel.h: many coarse timers for one thread, O(1) each.
//
// Each worker keeps one wheel of one-second slots for its connections' idle
// deadlines and ticks it from one libev timer, instead of one lws timer per
// connection (lws keeps those in one sorted list: O(n) per insert,
// docs/design.md#idle-clients-and-timers). A node lives inside the object it times (intrusive), so scheduling
// never allocates. Not thread-safe: one owner thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace msw {

struct TimerNode {
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  uint64_t deadline = 0;  // in wheel ticks (seconds)
  bool linked() const { return next != nullptr; }
};

class TimerWheel {
 public:
  explicit TimerWheel(size_t slots = 512, uint64_t now = 0) : slots_(slots), current_(now) {
    for (TimerNode& h : slots_) h.prev = h.next = &h;
    due_.prev = due_.next = &due_;
  }
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  uint64_t now() const { return current_; }
  size_t size() const { return size_; }

  // (Re)schedules `n` to expire at `deadline`; a deadline already past
  // expires at the next advance.
  void schedule(TimerNode* n, uint64_t deadline) {
    cancel(n);
    n->deadline = deadline;
    uint64_t at = deadline > current_ ? deadline : current_ + 1;
    TimerNode& head = slots_[at % slots_.size()];
    n->prev = head.prev;
    n->next = &head;
    head.prev->next = n;
    head.prev = n;
    ++size_;
  }

  void cancel(TimerNode* n) {
    if (!n->linked()) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = nullptr;
    --size_;
  }

  // Moves time to `now` and calls fire(node) for every node whose deadline
  // is <= now, each unlinked first. fire may schedule or cancel any node,
  // the one it was given or another that is due in this same advance.
  template <class F>
  void advance(uint64_t now, F&& fire) {
    if (now <= current_) return;
    uint64_t from = current_ + 1;
    uint64_t steps = now - current_;
    current_ = now;
    if (steps > slots_.size()) steps = slots_.size();  // every slot once is enough
    // Due nodes move to the `due_` list, still linked, so that a callback
    // cancelling or rescheduling one of them takes it out of there too.
    for (uint64_t t = from; t < from + steps; ++t) collect(slots_[t % slots_.size()]);
    while (due_.next != &due_) {
      TimerNode* n = due_.next;
      cancel(n);
      fire(n);
    }
  }

 private:
  void collect(TimerNode& head) {
    for (TimerNode* n = head.next; n != &head;) {
      TimerNode* next = n->next;
      if (n->deadline <= current_) {
        n->prev->next = n->next;
        n->next->prev = n->prev;
        n->prev = due_.prev;
        n->next = &due_;
        due_.prev->next = n;
        due_.prev = n;
      }
      n = next;
    }
  }

  std::vector<TimerNode> slots_;  // list heads (sentinels)
  TimerNode due_;  // list head of the nodes firing in this advance
  uint64_t current_;
  size_t size_ = 0;
};

}  // namespace msw
