// msw/flavored_payload.h: one broadcast, in the names of each flavor its recipients speak.
//
// A room can hold connections of endpoints of different flavors
// (docs/endpoints.md#ack-flavor-heartbeat), and each should get a message in
// its own names. A FlavoredPayload holds the payload in msw's own names
// (base) and a builder for the other flavors; the framework asks for a
// flavor's payload only when it meets a recipient of that flavor, and keeps
// the first answer, so each flavor's text is serialised at most once per
// broadcast, however many rooms, workers and recipients it reaches
// (docs/controllers.md#one-room-several-flavors). Copies share that state;
// any thread may use one.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "msw/payload.h"

namespace msw {

class FlavoredPayload {
 public:
  // The payload for members of `flavor` (never empty: msw's own get base),
  // or an empty Payload for "as base". Called at most once per flavor, on
  // any worker thread, never twice at once for one FlavoredPayload; it runs
  // after the action returned, so it captures copies, never a Request.
  using Builder = std::function<Payload(std::string_view flavor)>;

  FlavoredPayload(Payload base, Builder build) : s_(std::make_shared<State>(std::move(base), std::move(build))) {}

  const Payload& base() const { return s_->base; }

  // The payload for a member of `flavor`, built on first use. `built`, when
  // given, is set to whether this call serialised a new payload.
  Payload forFlavor(std::string_view flavor, bool* built = nullptr) const {
    if (built) *built = false;
    if (flavor.empty() || !s_->build) return s_->base;
    std::lock_guard<std::mutex> lock(s_->mutex);
    for (const auto& [name, p] : s_->made)
      if (name == flavor) return p ? p : s_->base;
    Payload p = s_->build(flavor);
    if (built) *built = static_cast<bool>(p);
    s_->made.emplace_back(std::string(flavor), p);
    return p ? p : s_->base;
  }

  // For the framework: keeps `owner` (the module code the builder lives in)
  // alive as long as any copy of this payload.
  void keepAlive(std::shared_ptr<const void> owner) const {
    std::lock_guard<std::mutex> lock(s_->mutex);
    if (!s_->owner) s_->owner = std::move(owner);
  }

 private:
  struct State {
    State(Payload b, Builder f) : base(std::move(b)), build(std::move(f)) {}
    std::shared_ptr<const void> owner;  // declared first, destroyed last: build's code may live there
    std::mutex mutex;
    Payload base;
    Builder build;
    std::vector<std::pair<std::string, Payload>> made;  // guarded by mutex
  };
  std::shared_ptr<State> s_;
};

}  // namespace msw
