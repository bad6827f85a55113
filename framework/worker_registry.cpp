// framework/worker_registry.cpp: the Worker's answers to the cluster
// registry (docs/design.md): writing its members into the store again after
// a Redis restart, and whether a store entry is still one of its own. Part
// of class Worker (worker.h), kept apart so that worker.cpp stays about
// connections; runs on the worker's thread only.
#include <algorithm>

#include "framework/app_impl.h"
#include "framework/cluster.h"
#include "framework/server.h"
#include "framework/store_hub.h"
#include "framework/worker.h"
#include "library/log.h"

namespace msw {

// Writes every member of this worker into the store again (after a Redis
// restart lost them): users, room memberships, and close-key sets.
void Worker::registerAll() {
  Cluster& cluster = server_.cluster();
  Store& store = server_.stores().internal();
  size_t n = 0;
  for (auto& [fd, c] : conns_) {
    if (c->gone) continue;
    ++n;
    if (!c->auth.id().empty()) cluster.userOnline(fd, c->auth.id());
    if (!c->extras) continue;
    for (const std::string& room : c->extras->rooms) cluster.joined(fd, room, c->auth.view());
    for (const std::string& key : c->extras->closeKeys) {
      store.sadd(key, server_.app().member(fd));
      cluster.closeKeyAdded(fd, key);
    }
  }
  if (n) LOG_INFO("registered %zu connections in the store again", n);
  cluster.reconcile(index_, [this](Fd fd, RegistryKind kind, std::string_view what) { return holds(fd, kind, what); });
}

// A connection already gone (closed or broken) holds nothing: its own
// cleanup removes the same entries, and removing twice is harmless. A close
// key given up (fdRemoveCloseKey) no longer holds either: the module took
// the member out of that set with it (docs/controllers.md).
bool Worker::holds(Fd fd, RegistryKind kind, std::string_view what) const {
  auto it = conns_.find(fd);
  if (it == conns_.end() || it->second->gone) return false;
  const Connection& c = *it->second;
  const Connection::Extras* extras = c.extras.get();
  auto has = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), what) != v.end(); };
  switch (kind) {
    case RegistryKind::kRoom: return extras && has(extras->rooms);
    case RegistryKind::kUser: return c.auth.id() == what;
    case RegistryKind::kCloseKey: return extras && has(extras->closeKeys);
  }
  return true;  // not ours to judge
}

}  // namespace msw
