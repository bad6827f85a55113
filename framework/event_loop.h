// framework/event_loop.h: a thread's libev loop and its inbox.
//
// Every thread that runs lws (each worker, the manager) owns one EventLoop.
// Other threads hand it work with post(): the task is queued under a mutex
// and the loop is woken through an ev_async (one eventfd write at most per
// wake-up, however many tasks were queued meanwhile). Tasks run on the
// loop's thread, in the order they were posted by each thread.
#pragma once

#include <ev.h>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace msw {

class EventLoop {
 public:
  using Task = std::function<void()>;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  struct ev_loop* loop() const { return loop_; }

  // From any thread. False (and the task dropped) once the loop is closed.
  bool post(Task task);

  // Runs the loop on the calling thread until stop(); marks the thread's
  // current loop for current().
  void run();
  // On the loop's thread: leave run() at the end of this iteration.
  void stop();
  // Refuses further posts; call before the loop's owner is destroyed.
  void close();

  // The loop running on this thread, or nullptr.
  static EventLoop* current();

  double now() const { return ev_now(loop_); }

 private:
  static void onWake(struct ev_loop* loop, ev_async* w, int revents);
  void drain();

  struct ev_loop* loop_;
  ev_async wake_;
  std::mutex mutex_;
  std::vector<Task> inbox_;  // guarded by mutex_
  std::vector<Task> running_;  // the batch being run (loop thread only)
  bool closed_ = false;      // guarded by mutex_
};

}  // namespace msw
