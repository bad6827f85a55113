// framework/router.h: where a client's message becomes the call of an action.
//
// The one place where the worker calls into modules: a message (binary
// frames, the MSwoole heartbeat, the rate limit, the strict reading of
// framework/message.h, the route, the action and its failure) and a close
// (the controllers' onClose hooks). A routing mode (docs/endpoints.md) is a
// resolve step: "method" (docs/protocol.md) and "type" read the parsed object
// and name the controller and action, or answer an error; "raw" hands the
// frame as it came to the endpoint controller's frame handler.
// Lifetime: a member of its Worker; used on that worker's thread only.
#pragma once

#include <memory>
#include <vector>
#include <string>
#include <string_view>

#include "framework/module_loader.h"
#include "msw/json.h"

namespace msw {

class Server;
class Worker;
struct Connection;
struct Endpoint;

class Router {
 public:
  Router(Worker& worker, Server& server) : worker_(worker), server_(server) {}

  // A complete message from c.
  void route(Connection* c, std::string_view text, bool binary);
  // Counts a message (or a control frame) against rate_limit: true, and
  // answered 429 or closed 4029 on abuse, when over it.
  bool rateLimited(Connection* c);
  // The onOpen hook of c's endpoint controller (and its onClose, registered).
  void openHook(Connection* c);
  // The onClose hooks of the controllers c registered with (docs/controllers.md).
  void closeHooks(Connection* c, int code);
  // The controller a type or raw endpoint names, in the route table in force (cached per table).
  const Controller* controllerOf(const Endpoint& ep);

 private:
  // What a routing mode made of a message: the action to run, or an answer.
  struct Target {
    const ActionFn* action = nullptr;
    std::string full;  // "module.controller.action"
    int status = 0;    // when no action: the error answered
    std::string event;
    std::string info;
  };

  Target resolveByMethod(Json& root) const;
  Target resolveByType(const Endpoint& ep, Json& root);
  void routeRaw(Connection* c, const Endpoint& ep, std::string_view data, bool binary);
  // Answers the framework's own error in the endpoint's envelope, with a log line.
  void refuse(Connection* c, const Endpoint& ep, int status, const std::string& event, const std::string& info,
              JsonRef rid);
  void invoke(Connection* c, const Endpoint& ep, const Target& t, Json& root, JsonRef rid);
  void actionFailed(Fd fd, const Endpoint& ep, const std::string& method, const char* what, JsonRef rid);

  Worker& worker_;
  Server& server_;
  // controllerOf's cache: valid for the table cachedFor_ watches (a weak
  // reference, so that a new table never reuses the old one's address).
  std::weak_ptr<const RouteTable> cachedFor_;
  std::vector<const Controller*> controllers_;
};

}  // namespace msw
