// framework/handshake.h: the outside door: whether an upgrade request becomes a connection.
//
// Checks an upgrade request as docs/protocol.md says (method, WebSocket
// version and key, the auth token, the per-address and per-user limits,
// capacity) and answers a refusal itself, with its status and a JSON body.
// An admitted request holds a slot of max_connections (Server::sockets) and
// its count in ConnectionLimits until the worker releases them. The request
// line and header sizes of plain sockets are checked before (RequestGate).
// Lifetime: a member of its Worker; used on that worker's thread only, from
// lws's FILTER_PROTOCOL_CONNECTION.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "framework/connection.h"
#include "framework/endpoint.h"
#include "framework/stats.h"

struct lws;

namespace msw {

class RequestGate;
class Server;

class Handshake {
 public:
  Handshake(Server& server, WorkerStats& stats, const RequestGate& gate)
      : server_(server), stats_(stats), gate_(gate) {}

  struct Admission {
    AuthData auth;
    std::string address;  // the client's (see clientAddress)
    // auth = backend: no token was read, the connect hook admits it later (docs/backend.md#connect).
    bool pending = false;
  };
  // What the connection to open is (and `endpoint`, its endpoint's index), or nullopt once the refusal is answered.
  std::optional<Admission> check(lws* wsi, bool stopping, uint16_t& endpoint);
  // Gives back what check took for a connection that ends.
  void release(std::string_view address, std::string_view user);

  // The socket's peer, or the X-Real-IP / X-Forwarded-For address when the
  // peer is one of [outside] trusted_proxies (and the header holds an address).
  std::string clientAddress(lws* wsi) const;

 private:
  bool trusted(std::string_view address) const;
  // The endpoint this request is for (docs/endpoints.md), or nullptr when none serves its port and path.
  const Endpoint* resolveEndpoint(lws* wsi);
  std::optional<AuthData> readToken(lws* wsi, const Endpoint& ep);
  void reject(lws* wsi, int status, std::string_view info, Reject why, const char* extraName = nullptr,
              const char* extraValue = nullptr);

  Server& server_;
  WorkerStats& stats_;
  const RequestGate& gate_;  // the X-Real-IP of plain sockets
};

}  // namespace msw
