// framework/store_hub.h: which Store each thread talks to.
//
// The memory driver is one data set for the process; read callbacks are
// posted back to the caller's EventLoop, pinned to the route table that was
// current (so a reload cannot unload the module whose code the callback is).
#pragma once

#include <memory>
#include <string>

#include "library/config.h"
#include "msw/store.h"

namespace msw {

class StoreHub {
 public:
  virtual ~StoreHub() = default;
  static std::unique_ptr<StoreHub> create(const Config& config, std::string& error);

  // The store for the calling thread (a worker's or the manager's loop).
  virtual Store& current() = 0;
  virtual const char* driver() const = 0;
  // "ok", or what is wrong (Redis unreachable...).
  virtual std::string health() const = 0;
  virtual size_t keyCount() { return 0; }
};

}  // namespace msw
