// framework/room_index.h: one worker's rooms and users, and their mirror in the cluster registry.
//
// Which of the worker's connections are in which room, and which belong to
// which user id. Every change is told to Cluster as it happens (the store's
// registry, framework/cluster.h), so the two stay one picture. Lifetime: a
// member of its Worker; its worker's thread only. It holds pointers to the
// worker's connections: a connection leaves everything (leaveAll, removeUser)
// before the worker deletes it. Each room also counts its members of a
// flavored endpoint, so that a broadcast to a room of msw's own names only
// (the common case) never looks at a member's flavor.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "msw/app.h"

namespace msw {

class Cluster;
class Counter;
class EndpointTable;
struct Connection;

struct MemberInfo {
  Fd fd;
  std::string id;
  std::string nickname;
  std::string type;
};

class RoomIndex {
 public:
  struct Room {
    std::vector<Connection*> members;
    size_t flavored = 0;  // members whose endpoint has a flavor
  };

  // roomsGauge counts the rooms with a member here (the worker's stats).
  RoomIndex(Cluster& cluster, Counter& roomsGauge, const EndpointTable& endpoints)
      : cluster_(cluster), roomsGauge_(roomsGauge), endpoints_(endpoints) {}

  void join(Connection* c, std::string_view room);
  void leave(Connection* c, std::string_view room);
  // Every room of c, as it closes.
  void leaveAll(Connection* c);
  // c's user id (from its token), if any, as it opens and closes.
  void addUser(Connection* c);
  void removeUser(Connection* c);

  // The members of a room / the connections of a user here, or nullptr.
  const Room* find(std::string_view name) const;
  // The index of c's flavor in EndpointTable::flavors() (0: none).
  uint16_t flavorOf(const Connection* c) const;
  const std::vector<Connection*>* user(std::string_view id) const;
  std::vector<MemberInfo> roomMembers(std::string_view room) const;
  std::vector<Fd> userFds(std::string_view id) const;
  std::vector<std::string> userIds() const;  // the users with a connection here
  std::vector<std::string> roomNames() const;

 private:
  void leaveLocal(Connection* c, std::string_view room);

  Cluster& cluster_;
  Counter& roomsGauge_;
  const EndpointTable& endpoints_;  // Server's, immutable
  std::unordered_map<std::string, Room> rooms_;
  std::unordered_map<std::string, std::vector<Connection*>> users_;
};

}  // namespace msw
