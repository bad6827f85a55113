// msw/app.h: what a controller can do (docs/controllers.md), and what it is handed.
//
// App is the framework seen from a module: every method may be called from
// any worker thread, for any connection of this node or (with the Redis
// driver) of the cluster; work for a connection owned by another thread is
// handed to that thread. An Fd names one connection for the node's lifetime.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "msw/flavored_payload.h"
#include "msw/json.h"
#include "msw/payload.h"
#include "msw/store.h"

namespace msw {

using Fd = uint64_t;

// Close codes of docs/protocol.md#limits-and-close-codes.
enum CloseCode : int {
  kCloseNormal = 1000,
  kCloseGoingAway = 1001,
  kCloseTooLarge = 1009,
  kCloseInternalError = 1011,
  kCloseIdle = 4008,
  kCloseSlowConsumer = 4009,
  kCloseKicked = 4010,
  kCloseRateAbuse = 4029,
  kCloseAuthRefused = 4403,  // the connect hook did not admit it (docs/backend.md#connect)
};

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// The decrypted auth token of a connection. The views stay valid while the
// connection lives; json() has every field of the token, the others are the
// common ones already picked out (ids given as numbers appear as text).
struct Auth {
  std::string_view id;
  std::string_view type;
  std::string_view code;
  std::string_view nickname;
  std::string_view json;  // the token's plaintext JSON object
};

// How a backend hook ended (docs/backend.md#failures).
enum class HookResult {
  kOk,           // a 2xx answer whose body is JSON (or empty: json is null)
  kStatus,       // a non-2xx answer: httpStatus says which; json is set when the body is JSON
  kTimeout,      // no answer within [backend] timeout, queue wait included
  kUnreachable,  // connection refused, host not found, connection reset
  kBadJson,      // a 2xx answer whose body is not JSON
  kTooLarge,     // an answer over [backend] max_answer_size
  kBusy,         // too many hooks waiting on this worker: not sent
  kCancelled,    // the server is stopping: not sent, or its answer no longer awaited
  kDisabled,     // no [backend] url, or a hook name that is not [A-Za-z0-9_.-]+
  kFailed,       // any other transport error (error says which)
};
inline const char* hookResultName(HookResult r) {
  static const char* const names[] = {"ok",        "status",    "timeout",  "unreachable", "bad_json",
                                      "too_large", "busy",      "cancelled", "disabled",   "failed"};
  return names[static_cast<int>(r)];
}
inline constexpr int kHookResults = 10;

// A hook's answer, handed to the callback on the worker of the connection
// that asked. Valid for the duration of the callback only. The connection
// may have closed meanwhile: sends to a gone fd are skipped.
struct HookAnswer {
  Fd fd = 0;
  HookResult result = HookResult::kFailed;
  int httpStatus = 0;        // 0 when no HTTP answer came
  JsonRef json;              // the parsed body, when it is JSON
  std::string_view body;     // the raw body
  std::string_view error;    // what went wrong, for a log line (empty when kOk)
  bool ok() const { return result == HookResult::kOk; }
};
using HookCallback = std::function<void(const HookAnswer&)>;

class App {
 public:
  virtual ~App() = default;

  // A message, serialised once: {"status","event","info","param","rid"}
  // with `param` and `rid` left out when they are null views.
  virtual Payload message(int status, std::string_view event, std::string_view info,
                          JsonRef param = JsonRef(), JsonRef rid = JsonRef()) = 0;

  // Sending. Each queues the same payload on every recipient; a recipient
  // that is gone is skipped. Users, rooms and "all" span every node of a
  // cluster; an Fd names a connection of this node.
  virtual void sendToFd(Fd fd, const Payload& p) = 0;
  // A connection of any node, by its member name "node_id:fd" (see member()).
  virtual void sendToMember(std::string_view member, const Payload& p) = 0;
  virtual void sendToFds(std::span<const Fd> fds, const Payload& p) = 0;
  virtual void sendToUser(std::string_view userId, const Payload& p) = 0;
  virtual void sendToRoom(std::string_view room, const Payload& p, std::span<const Fd> exclude = {}) = 0;
  virtual void sendToAll(const Payload& p, std::span<const Fd> exclude = {}) = 0;
  // A room send in each member's own names: a member of an endpoint with no
  // flavor gets p.base(), the others p.forFlavor(their endpoint's flavor),
  // built only if such a member is found (msw/flavored_payload.h). Pass the
  // same p to several rooms and each flavor is still serialised once.
  virtual void sendToRoomByFlavor(std::string_view room, const FlavoredPayload& p,
                                  std::span<const Fd> exclude = {}) = 0;
  // Every connection of every node but those of user `userId`.
  virtual void sendToAllExceptUser(const Payload& p, std::string_view userId) = 0;

  // MSwoole's helpers: one message to one connection.
  void sendSuccessMessage(Fd fd, std::string_view event, std::string_view info, JsonRef param = JsonRef()) {
    sendToFd(fd, message(200, event, info, param));
  }
  void sendErrorMessage(Fd fd, int status, std::string_view event, std::string_view info,
                        JsonRef param = JsonRef()) {
    sendToFd(fd, message(status, event, info, param));
  }

  // Rooms. Membership ends by itself when the connection closes, however it closes.
  virtual void join(Fd fd, std::string_view room) = 0;
  virtual void leave(Fd fd, std::string_view room) = 0;

  // Close hooks, with MSwoole's names. On close, the connection's member
  // name (see member()) is removed from the store set at each close key, and
  // the onClose of each controller ("Module.Controller") runs once.
  virtual void fdAddCloseKey(Fd fd, std::string_view key) = 0;
  virtual void fdRemoveCloseKey(Fd fd, std::string_view key) = 0;
  virtual void fdAddController(Fd fd, std::string_view controller) = 0;
  virtual void fdRemoveController(Fd fd, std::string_view controller) = 0;

  // Closes a connection with a close code (4010 for a kick) after what is
  // already queued for it.
  virtual void close(Fd fd, int code = kCloseKicked, std::string_view reason = {}) = 0;
  // Closes every connection of user `userId`, on every node.
  virtual void closeUser(std::string_view userId, int code = kCloseKicked, std::string_view reason = {}) = 0;

  // Who is online, on every node (the user ids of the connections' auth).
  // `done` runs once, later, on some worker's or the calling thread (call
  // these from a worker or a manager route), with an error when the store
  // could not be read. The ids of users online, sorted, each once:
  virtual void onlineUsers(StoreCallback<StrList> done) = 0;
  // The connections of user `userId` as member names ("node_id:fd"), sorted:
  virtual void userMembers(std::string_view userId, StoreCallback<StrList> done) = 0;

  // The store of this node (memory or Redis, per [cache] driver).
  virtual Store& store() = 0;

  // "node_id:fd": how a connection is named in the store, unique in the cluster.
  virtual std::string member(Fd fd) const = 0;
  virtual std::string_view nodeId() const = 0;

  virtual void log(LogLevel level, std::string_view text) = 0;

  // Backend hooks (docs/backend.md): POSTs `jsonBody` to [backend] url/HOOK
  // without blocking, and calls `done` once, on fd's worker, with the answer
  // or the failure. `hook` is "module.name" (a module calls its own hooks:
  // Request::hook adds the module's name). With no [backend] url, `done`
  // gets kDisabled.
  virtual void callHook(Fd fd, std::string_view hook, std::string jsonBody, HookCallback done) = 0;

  // Endpoints (docs/endpoints.md). A frame carrying `bytes` as they are,
  // text or binary: no JSON, no escaping (raw endpoints' replies).
  virtual Payload frame(std::string_view bytes, bool binary = false) = 0;
  // What a `flat` endpoint's client gets for reply(): {"type":EVENT, ...param's
  // fields} on success, {"type":"error","error":INFO,"status":N} otherwise.
  virtual Payload flatMessage(int status, std::string_view event, std::string_view info,
                              JsonRef param = JsonRef()) = 0;

  // A configuration value as `--print-config` shows it, sizes in bytes
  // ("" for an unknown or secret key), as of the latest reload: e.g.
  // setting("outside", "send_queue_limit"), which no single message may
  // exceed (docs/controllers.md), or a module's own section.
  virtual std::string setting(std::string_view section, std::string_view name) const = 0;
  // setting() read as a whole number (sizes in bytes, booleans no): the
  // key's value, or `fallback` for an unknown or secret key.
  int64_t settingInt(std::string_view section, std::string_view name, int64_t fallback) const {
    std::string text = setting(section, name);
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 10);
    return !text.empty() && *end == '\0' ? v : fallback;
  }

  // Timers (docs/controllers.md#timers): after `seconds` (whole seconds,
  // at least 1), the onTimer of `controller` ("module.controller") runs
  // with `arg` on fd's worker, whether or not fd is still open, with the
  // module code in force then (a reload in between is fine). A timer lives
  // in this process: it is lost if the node stops first.
  virtual void after(Fd fd, int seconds, std::string_view controller, std::string arg) = 0;

  // Holding a connection's room messages (docs/controllers.md#replaying-a-room):
  // from hold on, what rooms send to fd is kept aside, in order, instead of
  // sent (direct sends to fd still go out); release sends what was kept,
  // less what skipRoomMessages rules out, and room messages flow again.
  // More than send_queue_limit bytes kept closes fd 4009.
  virtual void holdRoomMessages(Fd fd) = 0;
  virtual void releaseRoomMessages(Fd fd) = 0;
  // For `seconds` from now, messages of `room` to fd whose text has a number
  // at or below `upTo` as its last "FIELD": member are not sent (a replay
  // already sent them; their live copies may still be on the way).
  virtual void skipRoomMessages(Fd fd, std::string_view room, std::string_view field, int64_t upTo,
                                int seconds) = 0;
  // From now on, the last message of each room written to fd's socket is
  // kept and handed to onClose (CloseInfo::lastRoomMessages): where the
  // connection was in each room's stream when it went (what was still
  // queued, unwritten, does not count).
  virtual void keepLastRoomMessages(Fd fd) = 0;

  // Closes a connection of any node by its member name (see member());
  // false when `member` is not one.
  virtual bool closeMember(std::string_view member, int code = kCloseKicked, std::string_view reason = {}) = 0;
};

// Which endpoint a connection came in by (docs/endpoints.md): its name
// ("default" for the default one) and flavor, and whether its envelope is flat.
struct EndpointInfo {
  std::string_view name = "default";
  std::string_view flavor;
  bool flat = false;
};

// A reply that outlives its Request (see Request::later()): copy it into a
// store callback, and answer once the result is in. It holds what a reply
// needs: the App, the connection, a copy of the request's rid and whether
// the endpoint's envelope is flat (then it answers as Request::reply does
// there). A connection gone by then is skipped, as by every send.
class Reply {
 public:
  Reply(App& app, Fd fd, JsonRef rid, bool flat = false)
      : app_(&app), fd_(fd), rid_(Json::copy(rid)), flat_(flat) {}

  App& app() const { return *app_; }
  Fd fd() const { return fd_; }
  JsonRef rid() const { return rid_; }

  void reply(int status, std::string_view event, std::string_view info, JsonRef param = JsonRef()) const {
    app_->sendToFd(fd_, flat_ ? app_->flatMessage(status, event, info, param)
                              : app_->message(status, event, info, param, rid_));
  }
  void success(std::string_view event, std::string_view info = "", JsonRef param = JsonRef()) const {
    reply(200, event, info, param);
  }
  void error(int status, std::string_view event, std::string_view info, JsonRef param = JsonRef()) const {
    reply(status, event, info, param);
  }
  // For a store callback: true when the call succeeded; otherwise false,
  // and the requester has had 503 storeError with the store's reason.
  template <class T>
  bool ok(const StoreResult<T>& result) const {
    if (!result.ok()) error(503, "storeError", result.error);
    return result.ok();
  }

 private:
  App* app_;  // a pointer, so that a Reply can be assigned
  Fd fd_;
  Json rid_;
  bool flat_;
};

// One message routed to an action. Valid for the duration of the call only:
// copy what a callback needs (later() for the reply).
class Request {
 public:
  Request(App& app, Fd fd, const Auth& auth, JsonRef data, std::string_view method, JsonRef rid,
          EndpointInfo endpoint = {})
      : app(app), fd(fd), auth(auth), code(auth.code), data(data), method(method), endpoint(endpoint), rid_(rid) {}

  App& app;
  const Fd fd;
  const Auth& auth;
  const std::string_view code;     // auth.code: the room named by the token
  const JsonRef data;              // the message's fields but method and rid, HTML-escaped
  const std::string_view method;   // normalised "module.controller.action"
  const EndpointInfo endpoint;     // name, flavor (an older system's names to speak), envelope

  // The direct reply: carries the request's rid when it had one.
  void reply(int status, std::string_view event, std::string_view info, JsonRef param = JsonRef()) {
    replied_ = true;
    app.sendToFd(fd, replyPayload(status, event, info, param));
  }
  void success(std::string_view event, std::string_view info = "", JsonRef param = JsonRef()) {
    reply(200, event, info, param);
  }
  void error(int status, std::string_view event, std::string_view info, JsonRef param = JsonRef()) {
    reply(status, event, info, param);
  }
  bool replied() const { return replied_; }
  // The reply, to give later: after a store round trip, when the Request is gone.
  Reply later() const { return Reply(app, fd, rid_, endpoint.flat); }
  JsonRef rid() const { return rid_; }

  // Calls this module's hook `name` ("join" from module chat: chat.join),
  // see App::callHook. Copy into the callback what it needs of this request
  // (later() for the reply; never the Request): it runs after the action returned.
  void hook(std::string_view name, std::string jsonBody, HookCallback done) {
    std::string_view module = method.substr(0, method.find('.'));
    app.callHook(fd, std::string(module) + "." + std::string(name), std::move(jsonBody), std::move(done));
  }

  // Sends a frame as it is (a flat endpoint's own JSON object, say).
  void send(const Payload& p) {
    replied_ = true;
    app.sendToFd(fd, p);
  }

  // The payload reply() would send, for a caller that sends it itself.
  Payload replyPayload(int status, std::string_view event, std::string_view info, JsonRef param) {
    if (endpoint.flat) return app.flatMessage(status, event, info, param);
    return app.message(status, event, info, param, rid_);
  }

 private:
  JsonRef rid_;
  bool replied_ = false;
};

// One frame of a `route = raw` endpoint, untouched. Valid for the call only.
struct Frame {
  App& app;
  Fd fd;
  const Auth& auth;
  std::string_view data;  // the frame's bytes as they came
  bool binary;            // a binary frame (else text, UTF-8 checked by the framework)
  EndpointInfo endpoint;

  // Sends bytes to this connection as a frame of their own, text or binary.
  void send(std::string_view bytes, bool asBinary) { app.sendToFd(fd, app.frame(bytes, asBinary)); }
};

// What a controller's onOpen is told: a connection of its endpoint just
// opened; nothing of that connection has been handled yet.
struct OpenInfo {
  Fd fd;
  const Auth& auth;  // empty views on an `auth = none` endpoint
  EndpointInfo endpoint;
};

// The last message of a room written to a connection (App::keepLastRoomMessages).
struct LastRoomMessage {
  std::string_view room;
  std::string_view text;
};

// What a controller's onClose is told.
struct CloseInfo {
  Fd fd;
  const Auth& auth;
  std::string_view code;  // auth.code
  int closeCode;          // the WebSocket close code (1006 when the peer vanished)
  std::span<const LastRoomMessage> lastRoomMessages = {};  // when kept: one per room that sent any
};

}  // namespace msw
