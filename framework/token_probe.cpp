// framework/token_probe.cpp: see token_probe.h.
#include "framework/token_probe.h"

#include <libwebsockets.h>

#include <ctime>
#include <string_view>

#include "framework/auth.h"
#include "framework/http_response.h"
#include "library/config.h"
#include "library/log.h"

namespace msw {

bool answerTokenProbe(lws* wsi, const TokenCodec& codec, const Config& cfg) {
  // The handshake's header budget, so that a long token reads the same here.
  static thread_local char token[8192];
  const char* t = lws_get_urlarg_by_name(wsi, "auth=", token, sizeof token);
  if (!t) return false;
  std::string_view tok(t);
  if (tok.empty() && !cfg.authRequired) return false;
  AuthCheck check = checkToken(codec, tok, cfg.authTtl, time(nullptr));
  if (check.ok) return false;
  char peer[64] = "";
  lws_get_peer_simple(wsi, peer, sizeof peer);
  LOG_INFO("token probe from %s refused: 403 %s", peer, check.info.c_str());
  writeHttpResponse(wsi, 403, "application/json", statusBody(403, check.info));
  return true;
}

}  // namespace msw
