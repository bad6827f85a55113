// framework/manager.h: the manager port (SPEC §6) on its own thread.
//
// HTTP/1.1 + JSON for the console and other backends, and MSwoole's console
// WebSocket commands, on a loopback vhost of its own lws context, so that
// status and pushes answer even when the workers are saturated. Questions
// about connections are posted to every worker and answered when the last
// one replies (Gather); the reply comes back through the manager's inbox.
// Lifetime: started after the modules are loaded, stopped after the workers.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "framework/event_loop.h"
#include "framework/http_exchange.h"
#include "msw/json.h"

struct lws;
struct lws_context;

namespace msw {

class Server;

class Manager {
 public:
  explicit Manager(Server& server);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  bool start(std::string& error);
  void stop();  // from the main thread, after the workers stopped

  int onLwsEvent(lws* wsi, int reason, void* user, void* in, size_t len);

  // One HTTP exchange or one console WebSocket, in lws's per-session data.
  struct Session;

 private:
  using Reply = std::function<void(int status, std::string body)>;

  bool setUp(std::string& error);
  void tearDown();
  int httpStart(lws* wsi, Session& s, const char* path);
  int httpStep(lws* wsi, Session& s, HttpExchange::Step step, bool bodyDone);
  std::pair<int, std::string> answerNow(Session& s);
  void route(Session& s, const Reply& reply);
  int httpWriteable(lws* wsi, Session& s);
  bool authorized(lws* wsi) const;
  Reply replyTo(Session& s);
  void complete(uint64_t id, int status, std::string body);

  // Endpoints; each calls reply exactly once, maybe later.
  void status(const Reply& reply);
  void status(const Reply& reply, Json cluster);  // cluster: Cluster::describe's answer, or null (none)
  void metrics(const Reply& reply);
  void push(JsonRef body, const Reply& reply);
  void online(const std::string& room, const Reply& reply);
  void onlineUser(const std::string& id, const Reply& reply);
  void kick(JsonRef body, const Reply& reply);
  void reload(const Reply& reply);
  void stopServer(Session& s, const Reply& reply);
  void consoleCommand(Session& s, std::string_view text);

  Server& server_;
  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;
  lws_context* context_ = nullptr;
  uint64_t nextId_ = 1;
  std::unordered_map<uint64_t, Session*> pending_;  // awaiting an answer, by id
};

}  // namespace msw
