// framework/connection.h: one WebSocket client, as its worker sees it.
//
// Lifetime: created when lws accepts the upgrade (after the auth check),
// owned by its worker's table from ESTABLISHED, destroyed on lws's CLOSED
// (or WSI_DESTROY when the handshake never completed). Only the owning
// worker thread touches it. Kept small: 19,000 idle ones must fit in a few
// tens of MB (bench/), so rarely used parts live in `extras`.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "framework/timer_wheel.h"
#include "msw/app.h"

struct lws;

namespace msw {

// A FIFO of shared frames that allocates nothing while empty.
class PayloadQueue {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  const Payload& front() const { return items_[head_]; }
  const Payload& at(size_t i) const { return items_[head_ + i]; }
  void push(const Payload& p) { items_.push_back(p); }
  void pop(size_t n = 1) {
    for (size_t i = 0; i < n; ++i) items_[head_ + i] = Payload();
    head_ += n;
    if (head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ > 64 && head_ * 2 > items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<long>(head_));
      head_ = 0;
    }
  }
  void clear() {
    std::vector<Payload>().swap(items_);
    head_ = 0;
  }

 private:
  std::vector<Payload> items_;
  size_t head_ = 0;
};

// The decrypted token, in one allocation: the JSON text, then id, type,
// code and nickname. 24 bytes in the Connection (a std::string and five
// 32-bit lengths took 56): it is paid by every idle connection. Tokens come
// in a URL of at most max_http_header_data bytes, so 16-bit lengths suffice;
// a longer part is cut.
class AuthData {
 public:
  AuthData() = default;
  AuthData(std::string_view json, std::string_view id, std::string_view type, std::string_view code,
           std::string_view nickname);
  Auth view() const;
  std::string_view id() const { return part(1); }
  std::string_view code() const { return part(3); }

 private:
  std::string_view part(int i) const;
  std::unique_ptr<char[]> blob_;
  uint16_t len_[5] = {0, 0, 0, 0, 0};
};

// An Fd for printf's %llu: logs name a connection by it.
inline unsigned long long logFd(Fd fd) { return static_cast<unsigned long long>(fd); }

// A message of a connection the connect hook has not admitted yet (docs/backend.md#connect).
struct HeldMessage {
  std::string data;
  bool binary = false;
};

// Room messages not to send to a connection (App::skipRoomMessages).
struct RoomSkip {
  std::string room;
  std::string field;  // "\"FIELD\":", as it is looked for
  int64_t upTo = 0;
  double until = 0;  // ev_now() seconds
};

struct Connection {
  // Rare state: allocated on first use.
  struct Extras {
    std::vector<std::string> rooms;
    std::vector<std::string> closeKeys;
    std::vector<std::string> controllers;  // "module.controller", lower case
    std::string rx;                         // a message arriving in several chunks
    std::string closeReason;                // when not the code's usual text
    std::string hookBody;                   // the connect hook's request, from the handshake
    std::vector<HeldMessage> held;          // messages waiting for the connect hook's answer
    std::string address;                    // the client's, when a per-address limit counts it
    std::vector<std::pair<std::string, Payload>> heldRoom;  // room, message kept aside (App::holdRoomMessages)
    std::vector<RoomSkip> skips;                            // App::skipRoomMessages
    size_t heldBytes = 0;
    bool holdingRoom = false;
    bool keepLast = false;                                  // App::keepLastRoomMessages
    std::vector<std::pair<std::string, Payload>> lastRoom;  // room -> the last message of it written here
    std::deque<std::pair<const FrameBlock*, std::string>> unwrittenRoom;  // queued room messages, in order
  };

  lws* wsi = nullptr;
  Fd fd = 0;
  AuthData auth;
  PayloadQueue queue;
  size_t queuedBytes = 0;
  TimerNode idle;
  // Token bucket for rate_limit, and the rejections in the current second.
  double tokens = 0;
  double refillAt = 0;
  double abuseWindow = 0;
  uint32_t rejected = 0;
  uint32_t rxBytes = 0;        // bytes of the message being received
  uint32_t activeAt = 0;       // when the last whole frame came (the idle wheel's seconds)
  uint16_t closeCode = 0;      // close requested by us, sent after the queue drains
  uint16_t peerCloseCode = 0;  // from the client's close frame
  uint16_t endpoint = 0;       // index in Server::endpoints(), set at the handshake
  bool established = false;
  bool dirty = false;          // on the worker's flush list
  bool rxDiscard = false;      // rest of an oversized message is ignored
  bool rxBinary = false;       // the message being received is binary
  bool gone = false;           // closed or broken: nothing more is sent
  bool dropQueue = false;      // close without sending what is queued (4009)
  bool authPending = false;    // the connect hook has not answered: messages are held
  bool askedWritable = false;  // we asked lws for WRITEABLE (see Worker::controlFrameAnswered)
  std::unique_ptr<Extras> extras;

  Extras& ensureExtras() {
    if (!extras) extras = std::make_unique<Extras>();
    return *extras;
  }
  bool closing() const { return closeCode != 0; }
};

}  // namespace msw
