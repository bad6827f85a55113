// framework/store_hub.h: which store each thread talks to.
//
// Every thread that runs an event loop (each worker, the manager) attaches
// to the hub when its loop starts and detaches before it ends. With the
// memory driver they share one data set; with Redis each gets its own
// connection on its own loop (docs/design.md#the-store), so nothing ever waits for another
// thread. current() is the store modules see: each read callback it takes
// holds the route table that was in force when the read was issued, so a
// reload cannot unload the code a pending callback belongs to.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "library/config.h"
#include "library/redis_subscriber.h"
#include "msw/store.h"

namespace msw {

class EventLoop;
struct RouteTable;

// Pins `table` on this thread while it lives: store callbacks taken meanwhile
// hold it, and so does any callback they take in turn. The manager pins the
// table of a module route's handler (workers pin their own table anyway).
class StorePin {
 public:
  // `table` must outlive the pin (no copy: this runs around every store callback).
  explicit StorePin(const std::shared_ptr<const RouteTable>& table);
  ~StorePin();
  StorePin(const StorePin&) = delete;
  StorePin& operator=(const StorePin&) = delete;
  // The innermost pin of this thread, or nullptr.
  static const std::shared_ptr<const RouteTable>* current();

 private:
  const std::shared_ptr<const RouteTable>& table_;
  const StorePin* outer_;
};

// `cb`, holding the route table pinned on this thread (or this worker's),
// for framework reads that hand a module's callback back later (App::onlineUsers).
StoreCallback<StrList> pinnedCallback(StoreCallback<StrList> cb);

class StoreHub {
 public:
  virtual ~StoreHub() = default;
  static std::unique_ptr<StoreHub> create(const Config& config, std::string& error);

  // On a loop's thread, at its start / before it ends.
  virtual void attach(EventLoop& loop) = 0;
  virtual void detach() = 0;

  // The calling thread's store, for modules (read callbacks pinned).
  Store& current();
  // The calling thread's store, for the framework itself.
  Store& internal();

  // PUBLISH on the calling thread's connection (Redis only; else nothing).
  virtual void publish(std::string_view channel, std::string_view message) {
    (void)channel;
    (void)message;
  }
  // Runs on the calling thread's loop after each (re)connect of its store
  // (Redis only): the place to write again what a restarted Redis forgot.
  virtual void onReconnect(std::function<void()> hook) { (void)hook; }
  // A pub/sub receiver on `loop` (Redis only; else nullptr).
  virtual std::unique_ptr<RedisSubscriber> subscriber(
      struct ev_loop* loop, std::function<void(std::string_view, std::string_view)> onMessage) {
    (void)loop;
    (void)onMessage;
    return nullptr;
  }

  virtual bool shared() const = 0;  // true when several nodes can share it (Redis)
  virtual const char* driver() const = 0;
  // "ok", or what is wrong (Redis unreachable...). Any thread.
  virtual std::string health() const = 0;
  virtual size_t keyCount() { return 0; }  // memory driver only

 protected:
  // Set by attach() for the calling thread.
  struct ThreadStores {
    Store* driver = nullptr;
    Store* pinned = nullptr;
  };
  static ThreadStores& thread();
};

}  // namespace msw
