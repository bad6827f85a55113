// library/token_codec.h: the auth token ciphers of docs/protocol.md#the-token.
//
// aes-256-gcm: key = SHA-256(configured key); token = base64url, no padding,
//   of nonce(12) || ciphertext || tag(16); no associated data.
// des-ede3-ecb (MSwoole legacy): key = configured key right-padded with '0'
//   to 24 bytes (cut at 24); PKCS#5 padding; token = standard base64 with
//   '+'->'*', '/'->':', '='->'_'.
// A codec is immutable after create() and safe to use from many threads at
// once. It uses its own OSSL_LIB_CTX with only the default provider.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "library/config.h"

namespace msw {

class TokenCodec {
 public:
  virtual ~TokenCodec() = default;
  // nullptr (and *error set) when the cipher cannot be set up.
  static std::unique_ptr<TokenCodec> create(CipherKind kind, std::string_view key, std::string* error);

  virtual std::string encrypt(std::string_view plaintext) const = 0;
  // nullopt when the token is not well-formed or does not decrypt (bad tag, bad padding).
  virtual std::optional<std::string> decrypt(std::string_view token) const = 0;
};

// Encodings used by the codecs, exposed for tests and the console.
std::string base64Encode(std::string_view bytes);                  // standard, padded
std::optional<std::string> base64Decode(std::string_view text);    // standard, padding required
std::string base64UrlEncode(std::string_view bytes);               // url-safe, no padding
std::optional<std::string> base64UrlDecode(std::string_view text); // url-safe, padding optional

std::string sha256(std::string_view bytes);                // 32 raw bytes
std::string randomBytes(size_t n);                         // from the OS CSPRNG; throws on failure
bool constantTimeEquals(std::string_view a, std::string_view b);  // length leaks, content does not

}  // namespace msw
