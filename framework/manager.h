// framework/manager.h: the manager port (docs/manager-api.md) on its own thread.
//
// HTTP/1.1 + JSON for the console and other backends (read and parsed here:
// framework/manager_http_conn.h), and MSwoole's console WebSocket commands
// (handed to a vhost of its own lws context), so that
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
#include "framework/http_request_parser.h"
#include "msw/json.h"

struct lws;
struct lws_context;
struct lws_vhost;

namespace msw {

class Server;

// Whether the manager itself serves `path` (module routes may not take it).
bool managerServes(std::string_view path);

class Manager {
 public:
  explicit Manager(Server& server);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  bool start(std::string& error);
  void stop();  // from the main thread, after the workers stopped

  int onLwsEvent(lws* wsi, int reason, void* user, void* in, size_t len);

  // One console WebSocket, in lws's per-session data.
  struct Session;
  // One HTTP connection (framework/manager_http_conn.h).
  class HttpConn;

 private:
  using Reply = std::function<void(int status, std::string body)>;

  bool setUp(std::string& error);
  bool listen(std::string& error);
  void tearDown();
  static void onAccept(struct ev_loop* loop, ev_io* w, int revents);
  void acceptPending();
  // HttpConn's calls: a request to answer (reply: connAnswered), a socket
  // for lws (false: lws refused it and closed it), a connection closed.
  void route(uint64_t conn, uint64_t seq, HttpRequestParser& request, bool& stopAfterAnswer);
  bool adopt(int fd, std::string_view readBytes);
  void dropConn(uint64_t conn);
  void connAnswered(uint64_t conn, uint64_t seq, int status, std::string body);
  bool authorized(std::string_view authorization, std::string_view queryToken) const;
  bool authorized(lws* wsi) const;
  Reply replyTo(Session& s);
  void complete(uint64_t id, int status, std::string body);

  // Endpoints; each calls reply exactly once, maybe later.
  void status(const Reply& reply);
  void status(const Reply& reply, Json cluster);  // cluster: Cluster::describe's answer, or null (none)
  void metrics(const Reply& reply);
  static void addEndpoints(Server& srv, JsonRef list, int64_t conns, int64_t in);
  void push(JsonRef body, const Reply& reply);
  void online(const std::string& room, const Reply& reply);
  void onlineUser(const std::string& id, const Reply& reply);
  void kick(JsonRef body, const Reply& reply);
  void reload(const Reply& reply);
  void stopServer(bool& stopAfterAnswer, const Reply& reply);
  void consoleCommand(Session& s, std::string_view text);
  // A module's route for the request, if one serves its path (true: answered).
  bool moduleRoute(HttpRequestParser& request, const Json& body, const Reply& reply);

  Server& server_;
  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;
  lws_context* context_ = nullptr;
  lws_vhost* vhost_ = nullptr;  // where upgraded sockets go
  int listenFd_ = -1;
  ev_io accept_;
  uint64_t nextId_ = 1;
  std::unordered_map<uint64_t, Session*> pending_;  // awaiting an answer, by id
  std::unordered_map<uint64_t, std::unique_ptr<HttpConn>> conns_;  // by id (from nextId_)
};

}  // namespace msw
