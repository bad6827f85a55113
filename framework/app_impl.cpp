#include "framework/app_impl.h"

#include <algorithm>

#include "framework/cluster.h"
#include "framework/frame_builder.h"
#include "framework/server.h"
#include "framework/store_hub.h"
#include "framework/user_registry.h"
#include "library/log.h"

namespace msw {
namespace {

// Adds `item` to `list` unless there (close keys and controllers are sets).
void addOnce(std::vector<std::string>& list, std::string item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(std::move(item));
}

void removeFrom(std::vector<std::string>& list, std::string_view item) {
  list.erase(std::remove(list.begin(), list.end(), item), list.end());
}

}  // namespace

Payload AppImpl::message(int status, std::string_view event, std::string_view info, JsonRef param, JsonRef rid) {
  return buildMessage(status, event, info, param, rid);
}

Payload AppImpl::frame(std::string_view bytes, bool binary) { return buildFrame(bytes, binary); }

Payload AppImpl::flatMessage(int status, std::string_view event, std::string_view info, JsonRef param) {
  return buildFlatMessage(status, event, info, param);
}

void AppImpl::sendToFd(Fd fd, const Payload& p) {
  server_.onOwner(fd, [fd, p](Worker& w) {
    if (Connection* c = w.find(fd)) w.send(c, p);
  });
}

void AppImpl::sendToMember(std::string_view member, const Payload& p) {
  std::string_view node;
  Fd fd;
  if (!Cluster::splitMember(member, node, fd)) return;
  if (node == server_.config().nodeId) sendToFd(fd, p);
  else server_.cluster().publishToMember(node, fd, p);
}

bool AppImpl::closeMember(std::string_view member, int code, std::string_view reason) {
  std::string_view node;
  Fd fd;
  if (!Cluster::splitMember(member, node, fd)) return false;
  if (node == server_.config().nodeId) close(fd, code, reason);
  else server_.cluster().publishKick(node, fd, code, reason);
  return true;
}

void AppImpl::sendToFds(std::span<const Fd> fds, const Payload& p) {
  for (Fd fd : fds) sendToFd(fd, p);
}

void AppImpl::sendToUser(std::string_view userId, const Payload& p) {
  server_.onEach([id = std::string(userId), p](Worker& w) { w.sendToUser(id, p); });
  server_.cluster().publishUser(userId, p);
}

void AppImpl::sendToRoom(std::string_view room, const Payload& p, std::span<const Fd> exclude) {
  server_.onEach([room = std::string(room), p, ex = std::vector<Fd>(exclude.begin(), exclude.end())](Worker& w) {
    w.sendToRoom(room, p, ex);
  });
  server_.cluster().publishRoom(room, p);
}

void AppImpl::sendToRoomByFlavor(std::string_view room, const FlavoredPayload& p, std::span<const Fd> exclude) {
  // The builder's code is the calling module's: a reload must not unload it under a worker still sending.
  if (Worker* w = Worker::current()) p.keepAlive(w->routes());
  server_.onEach([room = std::string(room), p, ex = std::vector<Fd>(exclude.begin(), exclude.end())](Worker& w) {
    w.sendToRoom(room, p, ex);
  });
  server_.cluster().publishRoom(room, p);
}

void AppImpl::sendToAll(const Payload& p, std::span<const Fd> exclude) {
  server_.onEach([p, ex = std::vector<Fd>(exclude.begin(), exclude.end())](Worker& w) { w.sendToAll(p, ex); });
  server_.cluster().publishAll(p);
}

void AppImpl::sendToAllExceptUser(const Payload& p, std::string_view userId) {
  server_.onEach([p, id = std::string(userId)](Worker& w) { w.sendToAll(p, w.userFds(id)); });
  server_.cluster().publishAllExceptUser(userId, p);
}

void AppImpl::join(Fd fd, std::string_view room) {
  server_.onOwner(fd, [fd, room = std::string(room)](Worker& w) {
    if (Connection* c = w.find(fd)) w.joinRoom(c, room);
  });
}

void AppImpl::leave(Fd fd, std::string_view room) {
  server_.onOwner(fd, [fd, room = std::string(room)](Worker& w) {
    if (Connection* c = w.find(fd)) w.leaveRoom(c, room);
  });
}

void AppImpl::fdAddCloseKey(Fd fd, std::string_view key) {
  server_.onOwner(fd, [this, fd, key = std::string(key)](Worker& w) {
    Connection* c = w.find(fd);
    if (!c || c->gone) return;
    std::vector<std::string>& keys = c->ensureExtras().closeKeys;
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return;
    keys.push_back(key);
    server_.cluster().closeKeyAdded(fd, key);
  });
}

void AppImpl::fdRemoveCloseKey(Fd fd, std::string_view key) {
  server_.onOwner(fd, [this, fd, key = std::string(key)](Worker& w) {
    Connection* c = w.find(fd);
    if (!c || !c->extras) return;
    std::vector<std::string>& keys = c->extras->closeKeys;
    auto it = std::find(keys.begin(), keys.end(), key);
    if (it == keys.end()) return;
    keys.erase(it);
    server_.cluster().closeKeyRemoved(fd, key);
  });
}

void AppImpl::fdAddController(Fd fd, std::string_view controller) {
  server_.onOwner(fd, [fd, name = Controller::lower(controller)](Worker& w) {
    if (Connection* c = w.find(fd); c && !c->gone) addOnce(c->ensureExtras().controllers, name);
  });
}

void AppImpl::fdRemoveController(Fd fd, std::string_view controller) {
  server_.onOwner(fd, [fd, name = Controller::lower(controller)](Worker& w) {
    if (Connection* c = w.find(fd); c && c->extras) removeFrom(c->extras->controllers, name);
  });
}

void AppImpl::callHook(Fd fd, std::string_view hook, std::string jsonBody, HookCallback done) {
  auto run = [fd, hook = std::string(hook), body = std::move(jsonBody), done = std::move(done)](Worker& w) mutable {
    w.callHook(fd, hook, std::move(body), std::move(done));
  };
  if (server_.workerFor(fd)) return server_.onOwner(fd, std::move(run));
  // No connection (fd 0): the caller's own worker asks.
  if (Worker* w = Worker::current()) return run(*w);
  LOG_ERROR("hook %.*s called off the worker threads for fd %llu: dropped", static_cast<int>(hook.size()),
            hook.data(), logFd(fd));
}

void AppImpl::close(Fd fd, int code, std::string_view reason) {
  server_.onOwner(fd, [fd, code, reason = std::string(reason)](Worker& w) {
    if (Connection* c = w.find(fd)) w.close(c, code, reason);
  });
}

void AppImpl::closeUser(std::string_view userId, int code, std::string_view reason) {
  server_.onEach([id = std::string(userId), code, reason = std::string(reason)](Worker& w) {
    w.closeUser(id, code, reason);
  });
  server_.cluster().publishKickUser(userId, code, reason);
}

void AppImpl::onlineUsers(StoreCallback<StrList> done) {
  UserRegistry(server_).onlineUsers(pinnedCallback(std::move(done)));
}

void AppImpl::userMembers(std::string_view userId, StoreCallback<StrList> done) {
  UserRegistry(server_).userMembers(std::string(userId), pinnedCallback(std::move(done)));
}

Store& AppImpl::store() { return server_.stores().current(); }

std::string AppImpl::member(Fd fd) const { return server_.config().nodeId + ":" + std::to_string(fd); }

std::string_view AppImpl::nodeId() const { return server_.config().nodeId; }

std::string AppImpl::setting(std::string_view section, std::string_view name) const {
  return server_.setting(section, name);
}

void AppImpl::after(Fd fd, int seconds, std::string_view controller, std::string arg) {
  auto run = [seconds, name = std::string(controller), arg = std::move(arg)](Worker& w) mutable {
    w.addTimer(seconds, std::move(name), std::move(arg));
  };
  if (server_.workerFor(fd)) return server_.onOwner(fd, std::move(run));
  if (Worker* w = Worker::current()) return run(*w);
  LOG_ERROR("timer for %.*s set off the worker threads for fd %llu: dropped", static_cast<int>(controller.size()),
            controller.data(), logFd(fd));
}

void AppImpl::holdRoomMessages(Fd fd) {
  server_.onOwner(fd, [fd](Worker& w) {
    if (Connection* c = w.find(fd)) w.holdRoomMessages(c);
  });
}

void AppImpl::keepLastRoomMessages(Fd fd) {
  server_.onOwner(fd, [fd](Worker& w) {
    if (Connection* c = w.find(fd); c && !c->gone) c->ensureExtras().keepLast = true;
  });
}

void AppImpl::releaseRoomMessages(Fd fd) {
  server_.onOwner(fd, [fd](Worker& w) {
    if (Connection* c = w.find(fd)) w.releaseRoomMessages(c);
  });
}

void AppImpl::skipRoomMessages(Fd fd, std::string_view room, std::string_view field, int64_t upTo, int seconds) {
  server_.onOwner(fd, [fd, room = std::string(room), field = std::string(field), upTo, seconds](Worker& w) {
    if (Connection* c = w.find(fd)) w.skipRoomMessages(c, room, field, upTo, seconds);
  });
}

void AppImpl::log(LogLevel level, std::string_view text) {
  int n = static_cast<int>(text.size());
  switch (level) {
    case LogLevel::kDebug: LOG_DEBUG("%.*s", n, text.data()); break;
    case LogLevel::kInfo: LOG_INFO("%.*s", n, text.data()); break;
    case LogLevel::kWarn: LOG_WARN("%.*s", n, text.data()); break;
    case LogLevel::kError: LOG_ERROR("%.*s", n, text.data()); break;
  }
}

}  // namespace msw
