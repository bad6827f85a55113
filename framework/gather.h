// framework/gather.h: ask every worker, continue when the last one answered.
//
// ask(worker) runs on each worker's thread; done(parts) runs once, on the
// thread of the worker that answered last (or the caller's, when every
// worker is already gone), with one part per worker in no set order.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "framework/server.h"

namespace msw {

template <class T>
void gather(Server& server, std::function<T(Worker&)> ask, std::function<void(std::vector<T>&)> done) {
  struct State {
    std::mutex mutex;
    std::vector<T> parts;
    int left;
    std::function<void(std::vector<T>&)> done;
  };
  auto st = std::make_shared<State>();
  st->left = server.workerCount();
  st->done = std::move(done);
  if (st->left == 0) {  // nobody to ask: answer at once
    st->done(st->parts);
    return;
  }
  auto finish = [st](T part) {
    std::unique_lock<std::mutex> lock(st->mutex);
    st->parts.push_back(std::move(part));
    if (--st->left > 0) return;
    lock.unlock();
    st->done(st->parts);
  };
  for (int i = 0; i < server.workerCount(); ++i) {
    Worker* w = &server.worker(i);
    if (!w->post([w, ask, finish] { finish(ask(*w)); })) finish(T{});
  }
}

}  // namespace msw
