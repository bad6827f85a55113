// framework/connect_hook.h: the `connect` backend hook (docs/backend.md#connect).
//
// lws 4.1 decides an upgrade synchronously in LWS_CALLBACK_FILTER_PROTOCOL_
// CONNECTION (its return value accepts or refuses, there is no way to park
// the handshake), so a connection of an `auth = backend` endpoint is
// admitted first, holds its messages until the hook answers, and is closed
// with 4403 when the backend refuses it or cannot be asked.
// Free functions, called on the worker's thread.
#pragma once

#include <string>
#include <string_view>

#include "framework/connection.h"
#include "msw/app.h"

struct lws;

namespace msw {

// Messages a connection may send before the hook answers; one more closes it with 4403.
inline constexpr size_t kMaxHeldMessages = 32;

// {"endpoint","path","query":{...},"ip"} (+ "real_ip" from X-Real-IP) of
// the handshake being filtered: call in the filter, the headers go after it.
// `ip` is the client's address (Handshake::clientAddress: trusted proxies applied).
std::string connectHookBody(lws* wsi, std::string_view endpoint, std::string_view ip);

struct ConnectVerdict {
  bool admit = false;
  AuthData auth;       // when admit: the answer's fields, as a token's
  std::string reason;  // when !admit: the close reason the client sees
};

// 2xx with a JSON object admits; anything else refuses (docs/backend.md#connect).
ConnectVerdict connectVerdict(const HookAnswer& answer);

}  // namespace msw
