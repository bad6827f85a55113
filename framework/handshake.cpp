#include "framework/handshake.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <string>

#include "framework/auth.h"
#include "framework/frame_builder.h"
#include "framework/http_response.h"
#include "framework/request_gate.h"
#include "framework/server.h"
#include "library/ip_address.h"
#include "library/log.h"

namespace msw {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
std::string_view unmapped(std::string_view a) {
  return a.rfind("::ffff:", 0) == 0 && a.find('.') != a.npos ? a.substr(7) : a;
}

bool isAddress(std::string_view a) { return !checkIpAddress(a); }

}  // namespace

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

std::optional<Handshake::Admission> Handshake::check(lws* wsi, bool stopping, uint16_t& endpoint) {
  // A request with upgrade headers reaches here whatever its method (over TLS,
  // RequestGate could not look): RFC 6455 upgrades GET only.
  if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
    reject(wsi, 405, "only GET upgrades to WebSocket", Reject::kRequest, "allow:", "GET");
    return std::nullopt;
  }
  int url = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) + lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
  if (static_cast<size_t>(url) > RequestGate::kMaxUrl) {
    reject(wsi, 414, "URL over " + std::to_string(RequestGate::kMaxUrl) + " bytes", Reject::kRequest);
    return std::nullopt;
  }
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
  const Endpoint* ep = resolveEndpoint(wsi);
  if (!ep) {
    reject(wsi, 404, "no endpoint at this path", Reject::kEndpoint);
    return std::nullopt;
  }
  endpoint = ep->index;
  bool backend = ep->auth == AuthMode::kBackend;
  std::optional<AuthData> auth = backend ? AuthData() : readToken(wsi, *ep);
  if (!auth) return std::nullopt;
  Admission a{std::move(*auth), clientAddress(wsi), backend};
  if (const char* over = server_.limits().acquire(a.address, a.auth.id())) {
    reject(wsi, 429, over, Reject::kLimit);
    return std::nullopt;
  }
  // Reserved here, not counted at ESTABLISHED: workers admitting at the same
  // moment cannot all see the last free slot.
  if (server_.sockets.fetch_add(1, std::memory_order_relaxed) >= server_.maxConnections()) {
    release(a.address, a.auth.id());
    reject(wsi, 503, "server full", Reject::kCapacity);
    return std::nullopt;
  }
  return a;
}

void Handshake::release(std::string_view address, std::string_view user) {
  server_.sockets.fetch_sub(1, std::memory_order_relaxed);
  server_.limits().release(address, user);
}

std::optional<AuthData> Handshake::readToken(lws* wsi, const Endpoint& ep) {
  const Config& cfg = server_.config();
  AuthData auth;
  if (ep.auth == AuthMode::kNone) return auth;
  // Whole header budget: a shorter buffer makes a long token read as absent.
  static thread_local char token[8192];
  const char* t = lws_get_urlarg_by_name(wsi, ep.authArg.c_str(), token, sizeof token);
  std::string_view tok = t ? std::string_view(t) : std::string_view();
  if (!tok.empty() || ep.auth == AuthMode::kToken) {
    AuthCheck result = checkToken(*server_.codec(), tok, cfg.authTtl, time(nullptr));
    if (!result.ok) {
      reject(wsi, 403, result.info, result.reason);
      return std::nullopt;
    }
    auth = std::move(result.auth);
  }
  return auth;
}

bool Handshake::trusted(std::string_view address) const {
  const std::vector<std::string>& proxies = server_.config().trustedProxies;
  return std::find(proxies.begin(), proxies.end(), address) != proxies.end();
}

std::string Handshake::clientAddress(lws* wsi) const {
  char peerBuf[INET6_ADDRSTRLEN + 8] = "";
  lws_get_peer_simple(wsi, peerBuf, sizeof peerBuf);
  std::string_view peer = unmapped(peerBuf);
  if (!trusted(peer)) return std::string(peer);
  std::string_view real = gate_.realIp(lws_get_socket_fd(wsi));
  if (isAddress(real)) return std::string(real);
  char header[512];
  // X-Forwarded-For: "client, proxy1, proxy2": the last address that is not a trusted proxy.
  if (lws_hdr_copy(wsi, header, sizeof header, WSI_TOKEN_X_FORWARDED_FOR) > 0) {
    std::string_view list = header;
    std::string_view found;
    while (!list.empty()) {
      size_t comma = list.rfind(',');
      std::string_view item = trim(comma == list.npos ? list : list.substr(comma + 1));
      list = comma == list.npos ? std::string_view() : list.substr(0, comma);
      if (!isAddress(item)) break;
      found = item;
      if (!trusted(item)) break;
    }
    if (!found.empty()) return std::string(found);
  }
  return std::string(peer);
}

void Handshake::reject(lws* wsi, int status, std::string_view info, Reject why, const char* extraName,
                       const char* extraValue) {
  stats_.rejected[static_cast<int>(why)].add();
  std::string body = "{\"status\":" + std::to_string(status) + ",\"info\":";
  appendJsonString(body, info);
  body += "}";
  std::string from = clientAddress(wsi);
  LOG_INFO("handshake from %s refused: %d %.*s", from.c_str(), status, static_cast<int>(info.size()), info.data());
  writeHttpResponse(wsi, status, "application/json", body, extraName, extraValue);
}

}  // namespace msw
