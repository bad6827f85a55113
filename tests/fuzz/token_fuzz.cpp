// tests/fuzz/token_fuzz.cpp: the handshake's token decoder (library/token_codec,
// framework/auth): the input as a token of either cipher, and as the
// plaintext of a genuine token, so that the JSON checks after decryption
// (ctime, numeric ids as written) are reached too.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "framework/auth.h"
#include "library/json_text.h"
#include "library/token_codec.h"

namespace {

constexpr time_t kNow = 1700000000;  // the ctime the seed corpus uses

const msw::TokenCodec& codec(msw::CipherKind kind) {
  static const auto aes = msw::TokenCodec::create(msw::CipherKind::kAes256Gcm, "fuzz-key", nullptr);
  static const auto des = msw::TokenCodec::create(msw::CipherKind::kDesEde3Ecb, "fuzz-key", nullptr);
  return kind == msw::CipherKind::kAes256Gcm ? *aes : *des;
}

void check(bool ok) {
  if (!ok) std::abort();
}

void asToken(std::string_view in) {
  for (auto kind : {msw::CipherKind::kAes256Gcm, msw::CipherKind::kDesEde3Ecb}) {
    codec(kind).decrypt(in);
    msw::checkToken(codec(kind), in, 3600, kNow);
  }
  // Decoding is canonical: what decodes encodes back to the same text.
  if (auto raw = msw::base64UrlDecode(in); raw && !in.ends_with('=')) check(msw::base64UrlEncode(*raw) == in);
  if (auto raw = msw::base64Decode(in)) check(msw::base64Encode(*raw) == in);
}

void asPlaintext(std::string_view in) {
  const msw::TokenCodec& aes = codec(msw::CipherKind::kAes256Gcm);
  msw::AuthCheck r = msw::checkToken(aes, aes.encrypt(in), 3600, kNow);
  if (!r.ok) return;
  msw::Auth a = r.auth.view();
  check(a.json == in.substr(0, a.json.size()));
  // A numeric id is exactly the digits the token wrote.
  msw::Json obj = msw::Json::parse(in);
  if (obj["id"].isNumber()) check(msw::isSafeInteger(a.id) && in.find(a.id) != std::string_view::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  asToken(in);
  asPlaintext(in);
  for (size_t i = 0; i < 4; ++i) msw::memberText(in, i);
  return 0;
}
