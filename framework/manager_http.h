// framework/manager_http.h: what the manager's plumbing
// (framework/manager_http.cpp, framework/manager_http_conn.cpp) and its
// endpoints (framework/manager.cpp) share: the per-session state lws keeps
// for each console WebSocket, and the JSON error body. Manager thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "framework/http_exchange.h"
#include "framework/manager.h"

namespace msw {

// A WebSocket of the MSwoole console: since the manager reads its own HTTP
// (manager_http_conn), lws carries nothing else on this port.
struct Manager::Session {
  lws* wsi = nullptr;
  uint64_t id = 0;  // key in pending_ while an answer is awaited
  bool stopAfterAnswer = false;  // a stop request: the server stops once its answer is written
  std::string body;  // the WebSocket message being received
  std::deque<std::string> wsOut;  // WebSocket replies
};

// {"error": reason}: the body of every refusal (docs/manager-api.md).
std::string errorBody(std::string_view reason);

}  // namespace msw
