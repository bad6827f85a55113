#include "framework/event_loop.h"

#include <stdexcept>

#include "library/log.h"

namespace msw {
namespace {
thread_local EventLoop* tCurrent = nullptr;
}

EventLoop::EventLoop() {
  // NOSIGMASK: libev must not touch signal masks; signals are blocked in
  // every thread and taken by the main thread's sigwait (docs/design.md#threads-and-event-loops).
  loop_ = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
  if (!loop_) throw std::runtime_error("ev_loop_new failed");
  ev_async_init(&wake_, &EventLoop::onWake);
  wake_.data = this;
  ev_async_start(loop_, &wake_);
}

EventLoop::~EventLoop() {
  if (tCurrent == this) tCurrent = nullptr;
  close();
  ev_async_stop(loop_, &wake_);
  ev_loop_destroy(loop_);
}

bool EventLoop::post(Task task) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) return false;
  inbox_.push_back(std::move(task));
  // Under the lock, so close() cannot let the loop be destroyed in between.
  ev_async_send(loop_, &wake_);
  return true;
}

void EventLoop::run() {
  tCurrent = this;
  ev_run(loop_, 0);
  // tCurrent stays set: the owner's teardown may still post (and drop) work.
}

void EventLoop::stop() { ev_break(loop_, EVBREAK_ALL); }

void EventLoop::close() {
  std::lock_guard<std::mutex> lock(mutex_);
  closed_ = true;
}

EventLoop* EventLoop::current() { return tCurrent; }

void EventLoop::onWake(struct ev_loop*, ev_async* w, int) {
  static_cast<EventLoop*>(w->data)->drain();
}

void EventLoop::drain() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_.swap(inbox_);
  }
  for (Task& t : running_) {
    try {
      t();
    } catch (const std::exception& e) {
      LOG_ERROR("task failed: %s", e.what());
    }
  }
  running_.clear();
}

}  // namespace msw
