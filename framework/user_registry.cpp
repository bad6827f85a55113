#include "framework/user_registry.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "framework/cluster.h"
#include "framework/gather.h"
#include "framework/server.h"
#include "framework/store_hub.h"

namespace msw {
namespace {

void sortUnique(StrList& list) {
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
}

// The ids of _msw:users being checked: done runs when the last one is.
struct Tally {
  Store* store;
  StoreResult<StrList> out;
  size_t left;
  StoreCallback<StrList> done;

  void settle(const std::string& id, bool online, const std::string& error) {
    if (online) out.value.push_back(id);
    if (!error.empty()) out.error = error;
    if (--left > 0) return;
    sortUnique(out.value);
    if (!out.ok()) out.value.clear();
    done(std::move(out));
  }
};

// An id whose set is empty leaves _msw:users; its set is then read again, and
// the id goes back if a member came meanwhile: a node adds the member before
// the id on one connection, so a member this second read misses came after
// the removal and added the id itself.
void recheck(const std::shared_ptr<Tally>& t, const std::string& id) {
  t->store->srem(Cluster::kUsersKey, id);
  t->store->scard(Cluster::userKey(id), [t, id](StoreResult<int64_t> n) {
    if (n.ok() && n.value > 0) t->store->sadd(Cluster::kUsersKey, id);
    t->settle(id, n.ok() && n.value > 0, n.error);
  });
}

void check(const std::shared_ptr<Tally>& t, const std::string& id) {
  t->store->scard(Cluster::userKey(id), [t, id](StoreResult<int64_t> n) {
    if (n.ok() && n.value == 0) return recheck(t, id);
    t->settle(id, n.ok(), n.error);
  });
}

}  // namespace

void UserRegistry::onlineUsers(StoreCallback<StrList> done) {
  if (!server_.cluster().enabled()) {
    return gather<StrList>(
        server_, [](Worker& w) { return w.userIds(); },
        [done](std::vector<StrList>& parts) {
          StoreResult<StrList> r;
          for (StrList& p : parts) r.value.insert(r.value.end(), p.begin(), p.end());
          sortUnique(r.value);
          done(std::move(r));
        });
  }
  Store* st = &server_.stores().internal();
  st->smembers(Cluster::kUsersKey, [st, done](StoreResult<StrList> ids) {
    if (!ids.ok() || ids.value.empty()) return done(std::move(ids));
    auto t = std::make_shared<Tally>(Tally{st, {}, ids.value.size(), done});
    for (const std::string& id : ids.value) check(t, id);
  });
}

void UserRegistry::userMembers(const std::string& id, StoreCallback<StrList> done) {
  if (!server_.cluster().enabled()) {
    std::string self = server_.config().nodeId;
    return gather<std::vector<Fd>>(
        server_, [id](Worker& w) { return w.userFds(id); },
        [done, self](std::vector<std::vector<Fd>>& parts) {
          StoreResult<StrList> r;
          for (auto& p : parts)
            for (Fd fd : p) r.value.push_back(self + ":" + std::to_string(fd));
          sortUnique(r.value);
          done(std::move(r));
        });
  }
  server_.stores().internal().smembers(Cluster::userKey(id), [done](StoreResult<StrList> r) {
    sortUnique(r.value);
    done(std::move(r));
  });
}

}  // namespace msw
