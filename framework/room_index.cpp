#include "framework/room_index.h"

#include <algorithm>

#include "framework/cluster.h"
#include "framework/connection.h"
#include "framework/endpoint.h"
#include "framework/stats.h"

namespace msw {

void RoomIndex::join(Connection* c, std::string_view room) {
  std::vector<std::string>& mine = c->ensureExtras().rooms;
  if (std::find(mine.begin(), mine.end(), room) != mine.end()) return;
  mine.emplace_back(room);
  auto [it, fresh] = rooms_.try_emplace(std::string(room));
  if (fresh) {
    roomsGauge_.add();
    cluster_.roomActive(room);
  }
  it->second.members.push_back(c);
  if (flavorOf(c)) ++it->second.flavored;
  cluster_.joined(c->fd, room, c->auth.view());
}

void RoomIndex::leave(Connection* c, std::string_view room) {
  if (!c->extras) return;
  std::vector<std::string>& mine = c->extras->rooms;
  auto it = std::find(mine.begin(), mine.end(), room);
  if (it == mine.end()) return;
  mine.erase(it);
  leaveLocal(c, room);
}

void RoomIndex::leaveAll(Connection* c) {
  if (!c->extras) return;
  std::vector<std::string> rooms = std::move(c->extras->rooms);
  for (const std::string& r : rooms) leaveLocal(c, r);
}

void RoomIndex::leaveLocal(Connection* c, std::string_view room) {
  auto it = rooms_.find(std::string(room));
  if (it == rooms_.end()) return;
  cluster_.left(c->fd, room);
  auto& m = it->second.members;
  auto pos = std::find(m.begin(), m.end(), c);
  if (pos != m.end()) {
    *pos = m.back();
    m.pop_back();
    if (flavorOf(c)) --it->second.flavored;
  }
  if (m.empty()) {
    rooms_.erase(it);
    roomsGauge_.add(-1);
    cluster_.roomInactive(room);
  }
}

void RoomIndex::addUser(Connection* c) {
  std::string_view id = c->auth.id();
  if (id.empty()) return;
  users_[std::string(id)].push_back(c);
  cluster_.userOnline(c->fd, id);
}

void RoomIndex::removeUser(Connection* c) {
  std::string_view id = c->auth.id();
  if (id.empty()) return;
  cluster_.userOffline(c->fd, id);
  auto it = users_.find(std::string(id));
  if (it == users_.end()) return;
  auto& v = it->second;
  v.erase(std::remove(v.begin(), v.end(), c), v.end());
  if (v.empty()) users_.erase(it);
}

const RoomIndex::Room* RoomIndex::find(std::string_view name) const {
  auto it = rooms_.find(std::string(name));
  return it == rooms_.end() ? nullptr : &it->second;
}

uint16_t RoomIndex::flavorOf(const Connection* c) const { return endpoints_.at(c->endpoint).flavorId; }

const std::vector<Connection*>* RoomIndex::user(std::string_view id) const {
  auto it = users_.find(std::string(id));
  return it == users_.end() ? nullptr : &it->second;
}

std::vector<MemberInfo> RoomIndex::roomMembers(std::string_view name) const {
  std::vector<MemberInfo> out;
  if (const Room* r = find(name))
    for (Connection* c : r->members) {
      Auth a = c->auth.view();
      out.push_back({c->fd, std::string(a.id), std::string(a.nickname), std::string(a.type)});
    }
  return out;
}

std::vector<Fd> RoomIndex::userFds(std::string_view id) const {
  std::vector<Fd> out;
  if (const auto* conns = user(id))
    for (Connection* c : *conns) out.push_back(c->fd);
  return out;
}

std::vector<std::string> RoomIndex::userIds() const {
  std::vector<std::string> out;
  out.reserve(users_.size());
  for (auto& [id, conns] : users_) out.push_back(id);
  return out;
}

std::vector<std::string> RoomIndex::roomNames() const {
  std::vector<std::string> out;
  out.reserve(rooms_.size());
  for (auto& [name, r] : rooms_) out.push_back(name);
  return out;
}

}  // namespace msw
