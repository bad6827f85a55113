// framework/auth.h: checking the auth token of a handshake (docs/protocol.md#the-token).
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "framework/connection.h"
#include "framework/stats.h"
#include "library/token_codec.h"

namespace msw {

struct AuthCheck {
  bool ok = false;
  Reject reason = Reject::kInvalid;  // when !ok
  std::string info;                  // the 403 body's "info" when !ok
  AuthData auth;                     // when ok
};

// Decrypts and validates `token`: a JSON object whose ctime is within
// `ttl` seconds of `now` (ttl 0: no expiry) and not more than 300 s ahead.
AuthCheck checkToken(const TokenCodec& codec, std::string_view token, int64_t ttl, time_t now);

// The fields of a token's plaintext, as the auth of a connection.
AuthData authFromJson(std::string_view json, const void* parsedObject);

// Sec-WebSocket-Key: base64 of exactly 16 bytes (RFC 6455 §4.2.1).
bool validWebSocketKey(std::string_view key);

}  // namespace msw
