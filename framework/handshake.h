// framework/handshake.h: the outside door: whether an upgrade request becomes a connection.
//
// Checks an upgrade request as docs/protocol.md says (WebSocket version and
// key, capacity, the auth token) and answers a refusal itself, with its
// status and a JSON body. Lifetime: a member of its Worker; used on that
// worker's thread only, from lws's FILTER_PROTOCOL_CONNECTION.
#pragma once

#include <optional>
#include <string_view>

#include "framework/connection.h"
#include "framework/stats.h"

struct lws;

namespace msw {

class Server;

class Handshake {
 public:
  Handshake(Server& server, WorkerStats& stats) : server_(server), stats_(stats) {}

  // The auth of the connection to open, or nullopt once the refusal is answered.
  // backendAuth: the connect hook admits it later (docs/backend.md#connect), no token is checked.
  std::optional<AuthData> check(lws* wsi, bool stopping, bool backendAuth);

 private:
  void reject(lws* wsi, int status, std::string_view info, Reject why, const char* extraName = nullptr,
              const char* extraValue = nullptr);

  Server& server_;
  WorkerStats& stats_;
};

}  // namespace msw
