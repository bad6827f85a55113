#include "framework/handshake.h"

#include <libwebsockets.h>

#include <cstring>
#include <ctime>
#include <string>

#include "framework/auth.h"
#include "framework/frame_builder.h"
#include "framework/http_response.h"
#include "framework/server.h"
#include "library/log.h"

namespace msw {

std::optional<AuthData> Handshake::check(lws* wsi, bool stopping, bool backendAuth) {
  char buf[64];
  // lws answers 101 to other versions and to a bad key: RFC 6455 is enforced here.
  int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_VERSION);
  if (n <= 0 || std::strcmp(buf, "13") != 0) {
    reject(wsi, 426, "unsupported WebSocket version (13 required)", Reject::kVersion, "sec-websocket-version:", "13");
    return std::nullopt;
  }
  n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_KEY);
  if (n <= 0 || !validWebSocketKey(std::string_view(buf, static_cast<size_t>(n)))) {
    reject(wsi, 400, "bad Sec-WebSocket-Key", Reject::kKey);
    return std::nullopt;
  }
  if (stopping) {
    reject(wsi, 503, "server stopping", Reject::kCapacity);
    return std::nullopt;
  }
  if (server_.sockets.load(std::memory_order_relaxed) >= server_.maxConnections()) {
    reject(wsi, 503, "server full", Reject::kCapacity);
    return std::nullopt;
  }
  const Config& cfg = server_.config();
  // Whole header budget: a shorter buffer makes a long token read as absent.
  static thread_local char token[8192];
  const char* t = lws_get_urlarg_by_name(wsi, "auth=", token, sizeof token);
  std::string_view tok = t ? std::string_view(t) : std::string_view();
  AuthData auth;
  if (!backendAuth && (!tok.empty() || cfg.authRequired)) {
    AuthCheck result = checkToken(*server_.codec(), tok, cfg.authTtl, time(nullptr));
    if (!result.ok) {
      reject(wsi, 403, result.info, result.reason);
      return std::nullopt;
    }
    auth = std::move(result.auth);
  }
  return auth;
}

void Handshake::reject(lws* wsi, int status, std::string_view info, Reject why, const char* extraName,
                       const char* extraValue) {
  stats_.rejected[static_cast<int>(why)].add();
  std::string body = "{\"status\":" + std::to_string(status) + ",\"info\":";
  appendJsonString(body, info);
  body += "}";
  char peer[64] = "";
  lws_get_peer_simple(wsi, peer, sizeof peer);
  LOG_INFO("handshake from %s refused: %d %.*s", peer, status, static_cast<int>(info.size()), info.data());
  writeHttpResponse(wsi, status, "application/json", body, extraName, extraValue);
}

}  // namespace msw
