// framework/app_impl.h: the App that modules see (msw/app.h), backed by the
// workers. Calls for a connection owned by the calling worker act at once;
// others are posted to the owning worker, so per-thread ordering holds.
#pragma once

#include <string>

#include "msw/app.h"

namespace msw {

class Server;
class Worker;

class AppImpl : public App {
 public:
  explicit AppImpl(Server& server) : server_(server) {}

  Payload message(int status, std::string_view event, std::string_view info, JsonRef param = JsonRef(),
                  JsonRef rid = JsonRef()) override;
  void sendToFd(Fd fd, const Payload& p) override;
  void sendToMember(std::string_view member, const Payload& p) override;
  void sendToFds(std::span<const Fd> fds, const Payload& p) override;
  // Closes a connection of any node by member name; false if the name is not one.
  bool closeMember(std::string_view member, int code = kCloseKicked, std::string_view reason = {}) override;
  void sendToUser(std::string_view userId, const Payload& p) override;
  void sendToRoom(std::string_view room, const Payload& p, std::span<const Fd> exclude = {}) override;
  void sendToAll(const Payload& p, std::span<const Fd> exclude = {}) override;
  void sendToRoomByFlavor(std::string_view room, const FlavoredPayload& p, std::span<const Fd> exclude = {}) override;
  void sendToAllExceptUser(const Payload& p, std::string_view userId) override;
  void join(Fd fd, std::string_view room) override;
  void leave(Fd fd, std::string_view room) override;
  void fdAddCloseKey(Fd fd, std::string_view key) override;
  void fdRemoveCloseKey(Fd fd, std::string_view key) override;
  void fdAddController(Fd fd, std::string_view controller) override;
  void fdRemoveController(Fd fd, std::string_view controller) override;
  void close(Fd fd, int code = kCloseKicked, std::string_view reason = {}) override;
  void closeUser(std::string_view userId, int code = kCloseKicked, std::string_view reason = {}) override;
  void onlineUsers(StoreCallback<StrList> done) override;
  void userMembers(std::string_view userId, StoreCallback<StrList> done) override;
  Store& store() override;
  std::string member(Fd fd) const override;
  std::string_view nodeId() const override;
  void log(LogLevel level, std::string_view text) override;
  void callHook(Fd fd, std::string_view hook, std::string jsonBody, HookCallback done) override;
  Payload frame(std::string_view bytes, bool binary = false) override;
  Payload flatMessage(int status, std::string_view event, std::string_view info, JsonRef param = JsonRef()) override;
  std::string setting(std::string_view section, std::string_view name) const override;
  void after(Fd fd, int seconds, std::string_view controller, std::string arg) override;
  void holdRoomMessages(Fd fd) override;
  void keepLastRoomMessages(Fd fd) override;
  void releaseRoomMessages(Fd fd) override;
  void skipRoomMessages(Fd fd, std::string_view room, std::string_view field, int64_t upTo, int seconds) override;

 private:
  Server& server_;
};

}  // namespace msw
