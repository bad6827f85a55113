// msw/payload.h: a message serialised once, shared by every recipient.
//
// A Payload is an immutable WebSocket text frame (header included), kept in
// one reference-counted block with room in front for libwebsockets' LWS_PRE.
// Copying a Payload shares the block; the last copy frees it. Safe to copy
// and drop from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>

namespace msw {

// Layout of the shared block; only the framework writes one.
struct FrameBlock {
  std::atomic<uint32_t> refs;
  uint32_t frameLen;   // header + payload bytes
  uint32_t frameOff;   // offset of the frame's first byte from bytes()
  uint32_t textLen;    // payload bytes (the JSON text)
  unsigned char* bytes() { return reinterpret_cast<unsigned char*>(this + 1); }
  const unsigned char* bytes() const { return reinterpret_cast<const unsigned char*>(this + 1); }
};

class Payload {
 public:
  Payload() = default;
  explicit Payload(FrameBlock* adopt) : b_(adopt) {}
  Payload(const Payload& o) : b_(o.b_) { if (b_) b_->refs.fetch_add(1, std::memory_order_relaxed); }
  Payload(Payload&& o) noexcept : b_(std::exchange(o.b_, nullptr)) {}
  Payload& operator=(Payload o) noexcept { std::swap(b_, o.b_); return *this; }
  ~Payload() {
    if (b_ && b_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) std::free(b_);
  }

  explicit operator bool() const { return b_ != nullptr; }
  // The whole frame as it goes on the wire.
  const unsigned char* frame() const { return b_->bytes() + b_->frameOff; }
  size_t frameSize() const { return b_->frameLen; }
  // The JSON text inside the frame.
  std::string_view text() const {
    return {reinterpret_cast<const char*>(frame() + (b_->frameLen - b_->textLen)), b_->textLen};
  }
  FrameBlock* block() const { return b_; }

 private:
  FrameBlock* b_ = nullptr;
};

}  // namespace msw
