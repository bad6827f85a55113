#include "framework/store_hub.h"

#include "framework/event_loop.h"
#include "framework/worker.h"
#include "library/log.h"
#include "library/memory_store.h"

namespace msw {
namespace {

// A callback and the route table it was made under. `pin` is declared
// first so that it is destroyed last: fn's code may live in a module that
// only the pin keeps loaded.
struct PinnedCallback {
  std::shared_ptr<const RouteTable> pin;
  std::function<void()> fn;
  void operator()() { fn(); }
};

// Runs `fn` later on the calling thread's loop.
void deferOnCurrentLoop(std::function<void()> fn) {
  EventLoop* loop = EventLoop::current();
  if (!loop) {
    LOG_ERROR("store read from a thread without an event loop: callback dropped");
    return;
  }
  Worker* w = Worker::current();
  loop->post(PinnedCallback{w ? w->routes() : nullptr, std::move(fn)});
}

class MemoryHub : public StoreHub {
 public:
  explicit MemoryHub(const Config& c) : store_(c.cachePrefix, deferOnCurrentLoop) {}
  Store& current() override { return store_; }
  const char* driver() const override { return "memory"; }
  std::string health() const override { return "ok"; }
  size_t keyCount() override { return store_.keyCount(); }

 private:
  MemoryStore store_;
};

}  // namespace

std::unique_ptr<StoreHub> StoreHub::create(const Config& config, std::string& error) {
  if (config.driver == StoreDriver::kMemory) return std::make_unique<MemoryHub>(config);
  error = "[cache] driver = redis is not available in this build yet";
  return nullptr;
}

}  // namespace msw
