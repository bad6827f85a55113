// msw/module.h: how a module plugin declares its controllers.
//
// A module is a shared library under app/ that exports one descriptor made
// with MSW_MODULE. At load (start and every reload) the framework calls its
// init with a Module, where the plugin registers each controller and its
// actions; no static initialisers are needed or run for it. Controllers keep
// no per-connection state in their own memory: a reload replaces their code.
//
//   static void hello(msw::Request& r) { r.success("hello", "hi " + std::string(r.auth.nickname)); }
//   static int init(msw::Module& m) {
//     m.controller("index").action("hello", hello);
//     return 0;
//   }
//   MSW_MODULE("greet", init, nullptr)
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "msw/app.h"

// Bumped whenever a type in msw/*.h changes layout or a virtual is added:
// the loader refuses a module built against another version.
#define MSW_API_VERSION 7u

namespace msw {

using ActionFn = std::function<void(Request&)>;
using CloseFn = std::function<void(App&, const CloseInfo&)>;
using HookFn = std::function<void(App&)>;
using FrameFn = std::function<void(Frame&)>;
using OpenFn = std::function<void(App&, const OpenInfo&)>;
using TimerFn = std::function<void(App&, std::string_view arg)>;

// A server-side heartbeat for the connections of an endpoint naming a
// controller (docs/endpoints.md#server-heartbeat): `text` is sent after
// `pingAfter` seconds without a whole frame from the client, and the
// connection is closed 4008 after `closeAfter` seconds of it, in place of
// the endpoint's heartbeat_idle_time. Zero seconds: not set.
struct IdlePing {
  int pingAfter = 0;
  int closeAfter = 0;
  std::string text;
};

// A controller: a name, its actions (names are case-insensitive), and the
// optional hooks. Built by the plugin, then read-only.
class Controller {
 public:
  Controller& action(std::string_view name, ActionFn fn) {
    actions_[lower(name)] = std::move(fn);
    return *this;
  }
  // Runs for any action this controller does not have (else 405 methodNotFound).
  Controller& onMessage(ActionFn fn) { onMessage_ = std::move(fn); return *this; }
  // Runs when a connection this controller was attached to (fdAddController) closes.
  Controller& onClose(CloseFn fn) { onClose_ = std::move(fn); return *this; }
  // A `route = raw` endpoint's handler: every frame of its connections, untouched.
  Controller& onFrame(FrameFn fn) { onFrame_ = std::move(fn); return *this; }
  // Runs when a connection of an endpoint naming this controller opens,
  // before any of its messages (greetings go out first).
  Controller& onOpen(OpenFn fn) { onOpen_ = std::move(fn); return *this; }
  // The server heartbeat of this controller's endpoint connections (see IdlePing).
  Controller& idlePing(int pingAfter, int closeAfter, std::string text) {
    idlePing_ = IdlePing{pingAfter, closeAfter, std::move(text)};
    return *this;
  }
  // Runs when a timer set with App::after for this controller is due.
  Controller& onTimer(TimerFn fn) { onTimer_ = std::move(fn); return *this; }
  // Runs on the old code just before a reload replaces it.
  Controller& onReload(HookFn fn) { onReload_ = std::move(fn); return *this; }
  // Runs once when the server stops, after every connection is closed.
  Controller& onShutdown(HookFn fn) { onShutdown_ = std::move(fn); return *this; }

  const ActionFn* find(std::string_view name) const {
    auto it = actions_.find(std::string(name));
    if (it != actions_.end()) return &it->second;
    return onMessage_ ? &onMessage_ : nullptr;
  }
  const std::unordered_map<std::string, ActionFn>& actions() const { return actions_; }
  const CloseFn& closeHook() const { return onClose_; }
  const HookFn& reloadHook() const { return onReload_; }
  const FrameFn& frameHook() const { return onFrame_; }
  const OpenFn& openHook() const { return onOpen_; }
  const HookFn& shutdownHook() const { return onShutdown_; }
  const IdlePing& idlePingOf() const { return idlePing_; }
  const TimerFn& timerHook() const { return onTimer_; }

  static std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
  }

 private:
  std::unordered_map<std::string, ActionFn> actions_;
  ActionFn onMessage_;
  CloseFn onClose_;
  HookFn onReload_;
  HookFn onShutdown_;
  FrameFn onFrame_;
  OpenFn onOpen_;
  TimerFn onTimer_;
  IdlePing idlePing_;
};

// A request to one of a module's manager routes (docs/manager-api.md#module-routes).
// Valid for the duration of the call only: copy what a later answer needs.
struct ManagerRequest {
  App& app;
  std::string_view method;  // "GET" or "POST"
  std::string_view path;    // exactly as registered
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  JsonRef body;             // a POST's body when it is JSON (null otherwise: see rawBody)
  std::string_view rawBody;

  // The first query parameter of that name, decoded ("" when absent).
  std::string_view arg(std::string_view name) const {
    for (const auto& [k, v] : query)
      if (k == name) return v;
    return {};
  }
};
// The answer to a manager request: call it exactly once, from any thread,
// now or later (after a store round trip, say). `body` is sent as
// application/json.
using ManagerReply = std::function<void(int status, std::string body)>;
using ManagerRouteFn = std::function<void(const ManagerRequest&, ManagerReply)>;

// What init is given.
class Module {
 public:
  virtual ~Module() = default;
  // The controller of that name in this module, created on first use.
  virtual Controller& controller(std::string_view name) = 0;
  virtual App& app() = 0;
  // Serves `method` ("GET" or "POST") `path` on the manager port, behind its
  // token, on the manager's thread (docs/manager-api.md#module-routes). A path
  // the manager already serves, or one another module took first, is refused
  // at load with a log line; the module loads without that route.
  virtual void managerRoute(std::string_view method, std::string_view path, ManagerRouteFn fn) = 0;
};

}  // namespace msw

extern "C" {
struct msw_module_descriptor {
  uint32_t api_version;  // MSW_API_VERSION at build time
  const char* name;      // the module's name: the first segment of a method
  // Registers the controllers; nonzero (or an exception) = the module is not loaded.
  int (*init)(msw::Module& module);
  // Optional: runs when this copy of the module is unloaded (reload or stop).
  void (*shutdown)();
};
}

#define MSW_MODULE(NAME, INIT, SHUTDOWN)                                              \
  extern "C" __attribute__((visibility("default"))) const msw_module_descriptor     \
      msw_module = {MSW_API_VERSION, NAME, INIT, SHUTDOWN}
