#include "framework/auth.h"

#include <cmath>
#include <optional>

#include "library/json_text.h"
#include "msw/json.h"

namespace msw {
namespace {

constexpr int64_t kClockSkew = 300;

// The text of a numeric `id` as the token wrote it: cJSON's double would
// merge 2^53 + 1 with 2^53 and -0 with 0 (docs/protocol.md, "The token").
// nullopt when it is not a plain integer of at most 2^53 in magnitude.
std::optional<std::string> numericId(std::string_view json, JsonRef o) {
  JsonRef id = o["id"];
  size_t index = 0;
  for (JsonRef member : o) {
    if (member.raw() == id.raw()) break;
    ++index;
  }
  std::optional<std::string_view> text = memberText(json, index);
  if (!text || !isSafeInteger(*text)) return std::nullopt;
  return std::string(*text);
}

}  // namespace

AuthData authFromJson(std::string_view json, const void* parsedObject) {
  JsonRef o(static_cast<cJSON*>(const_cast<void*>(parsedObject)));
  std::string id = o["id"].isNumber() ? numericId(json, o).value_or("") : o["id"].text();
  std::string type = o["type"].text();
  std::string code = o["code"].text();
  std::string nickname = o["nickname"].text();
  return AuthData(json, id, type, code, nickname);
}

AuthCheck checkToken(const TokenCodec& codec, std::string_view token, int64_t ttl, time_t now) {
  AuthCheck r;
  if (token.empty()) {
    r.reason = Reject::kMissing;
    r.info = "missing auth";
    return r;
  }
  std::optional<std::string> plain = codec.decrypt(token);
  if (!plain) {
    r.info = "invalid auth";
    return r;
  }
  Json obj = Json::parse(*plain);
  // 3DES padding passes by chance once in ~256 wrong keys: the JSON check is what rejects those.
  if (!obj.isObject()) {
    r.info = "invalid auth";
    return r;
  }
  JsonRef ctime = obj["ctime"];
  if (ttl > 0 || ctime) {
    if (!ctime.isNumber() && !(ctime.isString() && !ctime.str().empty())) {
      r.info = "auth has no ctime";
      return r;
    }
    double t = ctime.isNumber() ? ctime.num() : std::strtod(std::string(ctime.str()).c_str(), nullptr);
    if (!std::isfinite(t)) {
      r.info = "auth has no ctime";
      return r;
    }
    if (t > static_cast<double>(now + kClockSkew)) {
      r.reason = Reject::kFuture;
      r.info = "auth ctime is in the future";
      return r;
    }
    if (ttl > 0 && static_cast<double>(now) - t > static_cast<double>(ttl)) {
      r.reason = Reject::kExpired;
      r.info = "auth expired";
      return r;
    }
  }
  if (obj["id"].isNumber() && !numericId(*plain, obj)) {
    r.info = "auth id is not an integer of at most 2^53";
    return r;
  }
  r.ok = true;
  r.auth = authFromJson(*plain, obj.raw());
  return r;
}

bool validWebSocketKey(std::string_view key) {
  // 16 bytes in base64: 22 significant characters then "==".
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (size_t i = 0; i < 22; ++i) {
    char c = key[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return false;
  }
  // The last significant character carries 2 bits: its low 4 bits must be zero.
  static const std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  return (kAlphabet.find(key[21]) & 0x0f) == 0;
}

}  // namespace msw
