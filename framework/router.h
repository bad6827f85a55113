// framework/router.h: where a text message becomes the call of an action.
//
// The one place that reads a client's message: binary frames, the MSwoole
// heartbeat, the rate limit, the JSON object, the route (today by "method", docs/protocol.md),
// the action and its failure. A routing mode is a resolve step: it reads the
// parsed object and names the controller and action, or answers an error.
// Lifetime: a member of its Worker; used on that worker's thread only.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "framework/module_loader.h"
#include "msw/json.h"

namespace msw {

class Server;
class Worker;
struct Connection;

class Router {
 public:
  Router(Worker& worker, Server& server) : worker_(worker), server_(server) {}

  // A complete message from c.
  void route(Connection* c, std::string_view text, bool binary);

 private:
  // What a routing mode made of a message: the action to run, or an answer.
  struct Target {
    const ActionFn* action = nullptr;
    std::string full;  // "module.controller.action"
    int status = 0;    // when no action: the error answered
    std::string event;
    std::string info;
  };

  // Counts a message against rate_limit: true (and answered 429, or closed
  // 4029 on abuse) when over it.
  bool rateLimited(Connection* c);
  Target resolveByMethod(Json& root) const;
  void invoke(Connection* c, const Target& t, Json& root, JsonRef rid);
  void actionFailed(Fd fd, const std::string& method, const char* what, JsonRef rid);

  Worker& worker_;
  Server& server_;
};

}  // namespace msw
