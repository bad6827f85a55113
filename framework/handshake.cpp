#include "framework/handshake.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <ctime>
#include <string>

#include "framework/auth.h"
#include "framework/frame_builder.h"
#include "framework/http_response.h"
#include "framework/server.h"
#include "library/log.h"

namespace msw {

const Endpoint* Handshake::resolveEndpoint(lws* wsi) {
  const EndpointTable& table = server_.endpoints();
  if (table.onlyDefault()) return &table.at(0);
  int port = server_.config().port;
  if (!table.extraPorts().empty()) {
    sockaddr_storage local = {};
    socklen_t len = sizeof local;
    if (getsockname(lws_get_socket_fd(wsi), reinterpret_cast<sockaddr*>(&local), &len) == 0)
      port = ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  }
  char path[4096];
  int n = lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
  return table.resolve(port, n > 0 ? std::string_view(path, static_cast<size_t>(n)) : std::string_view("/"));
}

std::optional<AuthData> Handshake::check(lws* wsi, bool stopping, uint16_t& endpoint) {
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
  const Endpoint* ep = resolveEndpoint(wsi);
  if (!ep) {
    reject(wsi, 404, "no endpoint at this path", Reject::kEndpoint);
    return std::nullopt;
  }
  endpoint = ep->index;
  const Config& cfg = server_.config();
  AuthData auth;
  if (ep->auth == AuthMode::kNone) return auth;
  // Whole header budget: a shorter buffer makes a long token read as absent.
  static thread_local char token[8192];
  const char* t = lws_get_urlarg_by_name(wsi, ep->authArg.c_str(), token, sizeof token);
  std::string_view tok = t ? std::string_view(t) : std::string_view();
  if (!tok.empty() || ep->auth == AuthMode::kToken) {
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
