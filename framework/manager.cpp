// framework/manager.cpp: the manager's lifetime (its thread and loop) and its
// endpoints (docs/manager-api.md): status, metrics, push, kick, online,
// reload, stop and the MSwoole console's commands. The HTTP plumbing that
// calls them is framework/manager_http.cpp. Manager thread, except start/stop.
#include "framework/manager.h"

#include <libwebsockets.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <algorithm>

#include "framework/app_impl.h"
#include "framework/cluster.h"
#include "framework/frame_builder.h"
#include "framework/gather.h"
#include "framework/hook_stats.h"
#include "framework/http_response.h"
#include "framework/manager_http.h"
#include "framework/manager_http_conn.h"
#include "framework/server.h"
#include "framework/store_hub.h"
#include "framework/user_registry.h"
#include "library/log.h"

namespace msw {

namespace {

// Resident and peak memory of this process, from /proc.
void readMemory(int64_t& rss, int64_t& peak) {
  rss = peak = 0;
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    long long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %lld kB", &kb) == 1) rss = kb * 1024;
    if (std::sscanf(line.c_str(), "VmHWM: %lld kB", &kb) == 1) peak = kb * 1024;
  }
}

// A positive integer fd from a JSON number or a numeric string.
bool fdFrom(JsonRef v, Fd& out) {
  if (v.isNumber() && v.num() >= 1 && v.num() == static_cast<double>(static_cast<Fd>(v.num()))) {
    out = static_cast<Fd>(v.num());
    return true;
  }
  if (v.isString()) {
    std::string s(v.str());
    char* end = nullptr;
    unsigned long long n = std::strtoull(s.c_str(), &end, 10);
    if (!s.empty() && *end == 0 && n > 0) {
      out = n;
      return true;
    }
  }
  return false;
}

}  // namespace

Manager::Manager(Server& server) : server_(server), loop_(std::make_unique<EventLoop>()) {}

Manager::~Manager() { stop(); }

bool Manager::start(std::string& error) {
  std::promise<std::string> ready;
  auto result = ready.get_future();
  thread_ = std::thread([this, &ready] {
    log::setThreadName("mgr");
    std::string err;
    if (!setUp(err)) {
      tearDown();
      ready.set_value(err);
      return;
    }
    ready.set_value("");
    loop_->run();
    tearDown();
  });
  error = result.get();
  if (!error.empty()) {
    thread_.join();
    return false;
  }
  return true;
}

void Manager::stop() {
  if (!thread_.joinable()) return;
  // The cluster removes this run's members from Redis before the loop ends.
  loop_->post([this] {
    server_.cluster().stop([this] {
      server_.cluster().release();
      loop_->stop();
    });
  });
  thread_.join();
}

// ---- endpoints ----

void Manager::status(const Reply& reply) {
  // With Redis, the cluster first (Cluster::describe answers within a second
  // whatever Redis does), then this node's workers.
  if (server_.cluster().enabled())
    return server_.cluster().describe([this, reply](Json cluster) { status(reply, std::move(cluster)); });
  status(reply, Json());
}

void Manager::status(const Reply& reply, Json cluster) {
  Server& srv = server_;
  gather<std::vector<std::string>>(
      srv, [](Worker& w) { return w.roomNames(); },
      [&srv, reply, cluster = std::move(cluster)](std::vector<std::vector<std::string>>& parts) {
        std::set<std::string> rooms;
        for (auto& p : parts) rooms.insert(p.begin(), p.end());
        Json j = Json::object();
        const Config& cfg = srv.config();
        time_t now = time(nullptr);
        j.set("version", srv.version());
        j.set("node_id", cfg.nodeId);
        j.set("pid", static_cast<int64_t>(getpid()));
        j.set("start_time", static_cast<int64_t>(srv.startTime()));
        j.set("uptime", static_cast<int64_t>(now - srv.startTime()));
        double load[3] = {0, 0, 0};
        if (getloadavg(load, 3) == 3) {
          JsonRef l = j.addArray("load");
          for (double d : load) l.push(d);
        }
        JsonRef workers = j.addArray("workers");
        int64_t conns = 0, in = 0, out = 0;
        for (int i = 0; i < srv.workerCount(); ++i) {
          WorkerStats& st = srv.worker(i).stats();
          JsonRef w = workers.pushObject();
          w.set("id", i);
          w.set("connections", st.connections.get());
          w.set("messages_in", st.messagesIn.get());
          w.set("messages_out", st.messagesOut.get());
          w.set("queued_bytes", st.queuedBytes.get());
          conns += st.connections.get();
          in += st.messagesIn.get();
          out += st.messagesOut.get();
        }
        j.set("connections", conns);
        j.set("max_connections", srv.maxConnections());
        j.set("rooms", static_cast<int64_t>(rooms.size()));
        j.set("messages_in", in);
        j.set("messages_out", out);
        addEndpoints(srv, j.addArray("endpoints"), conns, in);
        int64_t rss, peak;
        readMemory(rss, peak);
        JsonRef mem = j.addObject("memory");
        mem.set("rss_bytes", rss);
        mem.set("peak_rss_bytes", peak);
        JsonRef store = j.addObject("store");
        store.set("driver", srv.stores().driver());
        store.set("health", srv.stores().health());
        store.set("keys", static_cast<int64_t>(srv.stores().keyCount()));
        JsonRef mods = j.addArray("modules");
        if (auto routes = srv.routes())
          for (auto& [name, m] : routes->modules) mods.push(name);
        if (cluster) j.set("cluster", cluster);
        reply(200, j.dump());
      });
}

// Connections and messages per endpoint (docs/endpoints.md): the default
// endpoint's are the totals less the others'.
void Manager::addEndpoints(Server& srv, JsonRef list, int64_t conns, int64_t in) {
  const EndpointTable& eps = srv.endpoints();
  std::vector<int64_t> c(eps.size(), 0), m(eps.size(), 0);
  for (size_t e = 1; e < eps.size(); ++e)
    for (int i = 0; i < srv.workerCount(); ++i) {
      c[e] += srv.worker(i).endpointStats(e).connections.get();
      m[e] += srv.worker(i).endpointStats(e).messagesIn.get();
    }
  for (size_t e = 1; e < eps.size(); ++e) {
    conns -= c[e];
    in -= m[e];
  }
  c[0] = conns;
  m[0] = in;
  static const char* const kRoutes[] = {"method", "type", "raw"};
  for (size_t e = 0; e < eps.size(); ++e) {
    const Endpoint& ep = eps.at(static_cast<uint16_t>(e));
    JsonRef o = list.pushObject();
    o.set("name", ep.name);
    o.set("port", ep.port);
    o.set("path", ep.path.empty() ? std::string("*") : ep.path);
    o.set("route", kRoutes[static_cast<int>(ep.route)]);
    o.set("connections", c[e]);
    o.set("messages_in", m[e]);
  }
}

void Manager::metrics(const Reply& reply) {
  Server& srv = server_;
  std::string out;
  auto family = [&out](const char* name, const char* type, const char* help) {
    out += "# HELP msw_";
    out += name;
    out += " ";
    out += help;
    out += "\n# TYPE msw_";
    out += name;
    out += " ";
    out += type;
    out += "\n";
  };
  auto sample = [&out](const char* name, const std::string& labels, int64_t v) {
    out += "msw_";
    out += name;
    if (!labels.empty()) {
      out += '{';
      out += labels;
      out += '}';
    }
    out += ' ';
    out += std::to_string(v);
    out += '\n';
  };
  auto perWorker = [&](const char* name, const char* type, const char* help, Counter WorkerStats::*field) {
    family(name, type, help);
    for (int i = 0; i < srv.workerCount(); ++i)
      sample(name, "worker=\"" + std::to_string(i) + "\"", (srv.worker(i).stats().*field).get());
  };
  perWorker("connections", "gauge", "Open WebSocket connections.", &WorkerStats::connections);
  perWorker("handshakes_accepted_total", "counter", "WebSocket upgrades accepted.", &WorkerStats::handshakes);
  family("handshakes_rejected_total", "counter", "Upgrades refused, by reason.");
  for (int i = 0; i < srv.workerCount(); ++i)
    for (int r = 0; r < static_cast<int>(Reject::kCount); ++r)
      sample("handshakes_rejected_total",
             "worker=\"" + std::to_string(i) + "\",reason=\"" + rejectName(static_cast<Reject>(r)) + "\"",
             srv.worker(i).stats().rejected[r].get());
  perWorker("messages_in_total", "counter", "Messages received from clients.", &WorkerStats::messagesIn);
  perWorker("messages_out_total", "counter", "Messages queued to clients.", &WorkerStats::messagesOut);
  perWorker("bytes_in_total", "counter", "Payload bytes received from clients.", &WorkerStats::bytesIn);
  perWorker("bytes_out_total", "counter", "Bytes written to client sockets.", &WorkerStats::bytesOut);
  perWorker("queued_bytes", "gauge", "Bytes waiting in send queues.", &WorkerStats::queuedBytes);
  perWorker("rooms", "gauge", "Rooms with a member on this worker.", &WorkerStats::rooms);
  perWorker("rate_limited_total", "counter", "Messages refused with 429.", &WorkerStats::rateLimited);
  perWorker("action_errors_total", "counter", "Actions that threw (500).", &WorkerStats::actionErrors);
  perWorker("flavor_payloads_built_total", "counter", "Broadcast payloads built for a member's flavor.",
            &WorkerStats::flavorPayloads);
  {
    Json eps = Json::array();
    int64_t conns = 0, in = 0;
    for (int i = 0; i < srv.workerCount(); ++i) {
      conns += srv.worker(i).stats().connections.get();
      in += srv.worker(i).stats().messagesIn.get();
    }
    addEndpoints(srv, eps, conns, in);
    family("endpoint_connections", "gauge", "Open WebSocket connections, by endpoint.");
    for (JsonRef e : eps) sample("endpoint_connections", "endpoint=\"" + std::string(e["name"].str()) + "\"", e["connections"].i64());
    family("endpoint_messages_in_total", "counter", "Messages received from clients, by endpoint.");
    for (JsonRef e : eps) sample("endpoint_messages_in_total", "endpoint=\"" + std::string(e["name"].str()) + "\"", e["messages_in"].i64());
  }
  family("closes_total", "counter", "Connections closed, by close code.");
  for (int i = 0; i < srv.workerCount(); ++i)
    for (int k = 0; k < kCloseSlots; ++k) {
      std::string code = k < kCloseSlots - 1 ? std::to_string(kCountedCloseCodes[k]) : "other";
      sample("closes_total", "worker=\"" + std::to_string(i) + "\",code=\"" + code + "\"",
             srv.worker(i).stats().closes[k].get());
    }
  int64_t rss, peak;
  readMemory(rss, peak);
  family("resident_memory_bytes", "gauge", "Resident memory of the process.");
  sample("resident_memory_bytes", "", rss);
  family("uptime_seconds", "gauge", "Seconds since start.");
  sample("uptime_seconds", "", static_cast<int64_t>(time(nullptr) - srv.startTime()));
  family("store_up", "gauge", "1 when the store answers.");
  sample("store_up", "driver=\"" + std::string(srv.stores().driver()) + "\"", srv.stores().health() == "ok");
  appendHookMetrics(srv, out);
  reply(200, std::move(out));
}

namespace {

// What /push and /kick are aimed at.
struct Target {
  enum Kind { kFds, kUsers, kRoom, kAll } kind = kAll;
  std::vector<Fd> fds;              // of this node
  std::vector<std::string> members; // "node:fd" of other nodes
  std::vector<std::string> users;
  std::string room;
  std::vector<Fd> exclude;
};

// A connection: an fd of this node (a number), or "node_id:fd" of any node.
bool addConnection(JsonRef v, const std::string& self, Target& t) {
  Fd fd;
  if (fdFrom(v, fd)) {
    t.fds.push_back(fd);
    return true;
  }
  std::string s = v.text();
  size_t colon = s.rfind(':');
  if (!v.isString() || colon == std::string::npos || colon == 0) return false;
  if (!fdFrom(Json::string(s.substr(colon + 1)), fd)) return false;
  if (s.compare(0, colon, self) == 0 && colon == self.size()) t.fds.push_back(fd);
  else t.members.push_back(s);
  return true;
}

bool parseTarget(JsonRef to, JsonRef exclude, const std::string& self, Target& t, std::string& error) {
  if (!to.isObject() || to.size() != 1) {
    error = "\"to\" must be an object with one of fd, fds, user, users, room, all";
    return false;
  }
  JsonRef v = *to.begin();
  std::string_view key = v.key();
  Fd fd;
  if (key == "fd" || key == "fds") {
    t.kind = Target::kFds;
    if (key == "fd") {
      if (!addConnection(v, self, t)) return error = "\"fd\" must be a positive integer or \"node_id:fd\"", false;
    } else {
      if (!v.isArray()) return error = "\"fds\" must be an array", false;
      for (JsonRef e : v)
        if (!addConnection(e, self, t))
          return error = "\"fds\" must hold positive integers or \"node_id:fd\" strings", false;
    }
  } else if (key == "user" || key == "users") {
    t.kind = Target::kUsers;
    if (key == "user") {
      if (v.text().empty()) return error = "\"user\" must be a string or number", false;
      t.users.push_back(v.text());
    } else {
      if (!v.isArray()) return error = "\"users\" must be an array", false;
      for (JsonRef e : v) {
        if (e.text().empty()) return error = "\"users\" must hold strings or numbers", false;
        t.users.push_back(e.text());
      }
    }
  } else if (key == "room") {
    t.kind = Target::kRoom;
    t.room = v.text();
    if (t.room.empty()) return error = "\"room\" must be a non-empty string", false;
  } else if (key == "all") {
    if (!v.boolean()) return error = "\"all\" must be true", false;
    t.kind = Target::kAll;
  } else {
    error = "unknown target \"" + std::string(key) + "\"";
    return false;
  }
  if (exclude) {
    if (!exclude.isArray()) return error = "\"exclude\" must be an array of fds", false;
    for (JsonRef e : exclude) {
      if (!fdFrom(e, fd)) return error = "\"exclude\" must hold positive integers", false;
      t.exclude.push_back(fd);
    }
  }
  return true;
}

// Runs `each` on every connection of this worker that the target names
// (less the excluded ones); returns how many.
size_t forTarget(Worker& w, const Target& t, const std::function<void(Connection*)>& each,
                 const std::function<size_t(Worker&)>& bulk) {
  if (t.kind != Target::kFds && t.kind != Target::kUsers) return bulk(w);
  std::vector<Fd> fds = t.fds;
  for (const std::string& id : t.users) {
    std::vector<Fd> mine = w.userFds(id);
    fds.insert(fds.end(), mine.begin(), mine.end());
  }
  size_t n = 0;
  for (Fd fd : fds) {
    if (std::find(t.exclude.begin(), t.exclude.end(), fd) != t.exclude.end()) continue;
    if (Connection* c = w.find(fd); c && !c->gone) {
      each(c);
      ++n;
    }
  }
  return n;
}

}  // namespace

void Manager::push(JsonRef body, const Reply& reply) {
  auto t = std::make_shared<Target>();
  std::string error;
  if (!parseTarget(body["to"], body["exclude"], server_.config().nodeId, *t, error)) return reply(400, errorBody(error));
  JsonRef event = body["event"];
  if (!event.isString() || event.str().empty()) return reply(400, errorBody("\"event\" must be a non-empty string"));
  JsonRef info = body["info"];
  if (info && !info.isString()) return reply(400, errorBody("\"info\" must be a string"));
  JsonRef status = body["status"];
  if (status && !(status.isNumber() && status.num() >= 100 && status.num() < 1000))
    return reply(400, errorBody("\"status\" must be a number from 100 to 999"));
  Payload p = buildMessage(static_cast<int>(status.num(200)), event.str(), info.str(), body["param"], {});
  // Other nodes get it through the bus; "delivered" counts this node's connections.
  Cluster& cluster = server_.cluster();
  for (const std::string& m : t->members) server_.app().sendToMember(m, p);
  if (t->kind == Target::kUsers)
    for (const std::string& id : t->users) cluster.publishUser(id, p);
  if (t->kind == Target::kRoom) cluster.publishRoom(t->room, p);
  if (t->kind == Target::kAll) cluster.publishAll(p);
  gather<size_t>(
      server_,
      [t, p](Worker& w) {
        return forTarget(w, *t, [&w, &p](Connection* c) { w.send(c, p); },
                         [&](Worker& wk) {
                           return t->kind == Target::kRoom ? wk.sendToRoom(t->room, p, t->exclude)
                                                           : wk.sendToAll(p, t->exclude);
                         });
      },
      [reply](std::vector<size_t>& parts) {
        size_t n = 0;
        for (size_t k : parts) n += k;
        reply(200, "{\"delivered\":" + std::to_string(n) + "}");
      });
}

void Manager::kick(JsonRef body, const Reply& reply) {
  auto t = std::make_shared<Target>();
  if (JsonRef f = body["fd"]) {
    if (!addConnection(f, server_.config().nodeId, *t))
      return reply(400, errorBody("\"fd\" must be a positive integer or \"node_id:fd\""));
    t->kind = Target::kFds;
  } else if (JsonRef u = body["user"]; u && !u.text().empty()) {
    t->kind = Target::kUsers;
    t->users.push_back(u.text());
  } else {
    return reply(400, errorBody("give \"fd\" or \"user\""));
  }
  std::string reason(body["reason"].str("kicked"));
  for (const std::string& m : t->members) server_.app().closeMember(m, kCloseKicked, reason);
  for (const std::string& id : t->users) server_.cluster().publishKickUser(id, kCloseKicked, reason);
  gather<size_t>(
      server_,
      [t, reason](Worker& w) {
        return forTarget(w, *t, [&](Connection* c) { w.close(c, kCloseKicked, reason); },
                         [](Worker&) { return size_t{0}; });
      },
      [reply](std::vector<size_t>& parts) {
        size_t n = 0;
        for (size_t k : parts) n += k;
        reply(200, "{\"kicked\":" + std::to_string(n) + "}");
      });
}

namespace {

void addRoomMember(JsonRef members, std::string_view node, uint64_t fd, std::string_view id,
                   std::string_view nickname, std::string_view type) {
  JsonRef o = members.pushObject();
  o.set("fd", fd);
  o.set("node", node);
  o.set("id", id);
  o.set("nickname", nickname);
  o.set("type", type);
}

// {"online", "fds" (this node's), "members" ("node:fd", the cluster's)}, members sorted.
std::string onlineUserBody(std::vector<std::string>& members, const std::string& self) {
  std::sort(members.begin(), members.end());
  Json j = Json::object();
  j.set("online", !members.empty());
  JsonRef fds = j.addArray("fds");
  JsonRef list = j.addArray("members");
  for (const std::string& m : members) {
    list.push(m);
    size_t colon = m.rfind(':');
    if (m.compare(0, colon, self) == 0 && colon == self.size())
      fds.push(static_cast<uint64_t>(std::strtoull(m.c_str() + colon + 1, nullptr, 10)));
  }
  return j.dump();
}

}  // namespace

// With Redis both read the registry in the store (framework/cluster.h): the
// whole cluster. On one node they ask the workers, which are the registry.
void Manager::online(const std::string& room, const Reply& reply) {
  if (room.empty()) return reply(400, errorBody("give ?room=CODE"));
  std::string self = server_.config().nodeId;
  if (!server_.cluster().enabled()) {
    return gather<std::vector<MemberInfo>>(
        server_, [room](Worker& w) { return w.roomMembers(room); },
        [reply, self](std::vector<std::vector<MemberInfo>>& parts) {
          std::vector<MemberInfo> all;
          for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
          std::sort(all.begin(), all.end(), [](const MemberInfo& a, const MemberInfo& b) { return a.fd < b.fd; });
          Json j = Json::object();
          j.set("count", static_cast<int64_t>(all.size()));
          JsonRef members = j.addArray("members");
          for (const MemberInfo& m : all) addRoomMember(members, self, m.fd, m.id, m.nickname, m.type);
          reply(200, j.dump());
        });
  }
  server_.stores().internal().hgetall("_msw:room:" + room, [reply](StoreResult<StrMap> r) {
    if (!r.ok()) return reply(503, errorBody(r.error));
    Json j = Json::object();
    j.set("count", static_cast<int64_t>(r.value.size()));
    JsonRef members = j.addArray("members");
    for (auto& [member, infoText] : r.value) {
      size_t colon = member.rfind(':');
      Json info = Json::parse(infoText);
      addRoomMember(members, std::string_view(member).substr(0, colon),
                    std::strtoull(member.c_str() + colon + 1, nullptr, 10), info["id"].str(),
                    info["nickname"].str(), info["type"].str());
    }
    reply(200, j.dump());
  });
}

void Manager::onlineUser(const std::string& id, const Reply& reply) {
  if (id.empty()) return reply(400, errorBody("give ?id=USER"));
  UserRegistry(server_).userMembers(id, [reply, self = server_.config().nodeId](StoreResult<StrList> r) {
    if (!r.ok()) return reply(503, errorBody(r.error));
    reply(200, onlineUserBody(r.value, self));
  });
}

void Manager::reload(const Reply& reply) {
  // Loading modules takes file I/O and dlopen: fine here, never on a worker.
  ReloadResult r = server_.reload();
  Json j = Json::object();
  j.set("reloaded", r.ok);
  // A config with errors changes nothing: say so, not just "no modules".
  if (r.configRejected) j.set("unchanged", true);
  JsonRef mods = j.addArray("modules");
  for (auto& m : r.modules) mods.push(m);
  JsonRef errs = j.addArray("errors");
  for (auto& e : r.errors) errs.push(e);
  reply(r.ok ? 200 : 500, j.dump());
}

void Manager::stopServer(bool& stopAfterAnswer, const Reply& reply) {
  stopAfterAnswer = true;
  reply(200, "{\"stopping\":true}");
}

// MSwoole's console speaks WebSocket: {"method": "reload"|"stop"|"status"|"say", "say": TEXT}.
void Manager::consoleCommand(Session& s, std::string_view text) {
  Json cmd = Json::parse(text);
  std::string method(cmd["method"].str());
  Reply inner = replyTo(s);
  auto wrap = [inner, method](int status, std::string body) {
    std::string out = "{\"status\":" + std::to_string(status) + ",\"event\":";
    appendJsonString(out, method.empty() ? "error" : method);
    out += ",\"info\":";
    appendJsonString(out, status == 200 ? "done" : "failed");
    out += ",\"param\":" + (body.empty() ? std::string("null") : body) + "}";
    inner(status, std::move(out));
  };
  if (method == "status") return status(wrap);
  if (method == "reload") return reload(wrap);
  if (method == "stop") return stopServer(s.stopAfterAnswer, wrap);
  if (method == "say") {
    Json body = Json::object();
    body.addObject("to").set("all", true);
    body.set("event", "serverBroadcast");
    // MSwoole's pages read the text from param; msw's from info.
    body.set("info", cmd["say"].text()).set("param", cmd["say"].text());
    return push(body, wrap);
  }
  wrap(400, errorBody("method must be reload, stop, status or say"));
}

}  // namespace msw
