// framework/user_registry.h: who is online, read for the whole cluster.
//
// The reads behind App::onlineUsers, App::userMembers and the manager's
// GET /online/user. On one node the workers' user indexes are the registry
// (each is asked on its thread); with Redis the store's _msw:user:ID sets
// and _msw:users are (framework/cluster.h). Stateless: made for each read,
// on a thread with a store (a worker's or the manager's); `done` runs once,
// later, on a worker's thread (one node) or on the calling thread (Redis).
#pragma once

#include <string>

#include "msw/store.h"

namespace msw {

class Server;

class UserRegistry {
 public:
  explicit UserRegistry(Server& server) : server_(server) {}

  // The ids of the users with a connection, sorted, each once.
  void onlineUsers(StoreCallback<StrList> done);
  // The connections of user `id` as "node_id:fd", sorted.
  void userMembers(const std::string& id, StoreCallback<StrList> done);

 private:
  Server& server_;
};

}  // namespace msw
