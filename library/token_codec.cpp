// library/token_codec.cpp: the auth token ciphers of docs/protocol.md#the-token and their encodings.
#include "library/token_codec.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <utility>

namespace msw {
namespace {

// ---------------------------------------------------------------- base64

constexpr std::string_view kStandardChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using DecodeTable = std::array<int8_t, 256>;

constexpr DecodeTable makeDecodeTable(std::string_view chars) {
  DecodeTable table{};
  table.fill(-1);
  for (size_t i = 0; i < chars.size(); ++i) table[static_cast<unsigned char>(chars[i])] = static_cast<int8_t>(i);
  return table;
}

constexpr DecodeTable kStandardTable = makeDecodeTable(kStandardChars);
constexpr DecodeTable kUrlTable = makeDecodeTable(kUrlChars);

std::string encodeWith(std::string_view bytes, std::string_view chars, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8 |
                 static_cast<uint8_t>(bytes[i + 2]);
    out += chars[n >> 18 & 63];
    out += chars[n >> 12 & 63];
    out += chars[n >> 6 & 63];
    out += chars[n & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
  if (rest == 2) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
  out += chars[n >> 18 & 63];
  out += chars[n >> 12 & 63];
  if (rest == 2) out += chars[n >> 6 & 63];
  if (pad) out.append(3 - rest, '=');
  return out;
}

// Decodes text that carries no padding. The unused low bits of a final
// partial group must be zero: otherwise several spellings would decode to the
// same bytes, and a flipped bit in a token could go unnoticed.
std::optional<std::string> decodeUnpadded(std::string_view text, const DecodeTable& table) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int8_t v = table[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6 | static_cast<uint32_t>(v)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>(acc >> bits & 0xff);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

// Strips the padding of a padded text: its length must be a multiple of 4,
// and a final group never needs more than two '='. Any further '=' is left
// for the decoder to reject as a foreign character.
std::optional<std::string_view> stripPadding(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (int i = 0; i < 2 && text.ends_with('='); ++i) text.remove_suffix(1);
  return text;
}

// ---------------------------------------------------------------- OpenSSL handles

struct OsslFree {
  void operator()(OSSL_LIB_CTX* p) const { OSSL_LIB_CTX_free(p); }
  void operator()(OSSL_PROVIDER* p) const { OSSL_PROVIDER_unload(p); }
  void operator()(EVP_CIPHER* p) const { EVP_CIPHER_free(p); }
  void operator()(EVP_MD* p) const { EVP_MD_free(p); }
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
template <class T>
using OsslPtr = std::unique_ptr<T, OsslFree>;

// OpenSSL takes int lengths; anything near that is not a token anyway.
constexpr size_t kMaxInput = std::numeric_limits<int>::max() / 2;

std::string opensslError(std::string_view what) {
  std::string text(what);
  if (unsigned long code = ERR_get_error(); code != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    text += ": ";
    text += buf.data();
  }
  ERR_clear_error();
  return text;
}

const unsigned char* bytesOf(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytesOf(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

std::optional<std::string> digestWith(const EVP_MD* md, std::string_view bytes) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), bytesOf(out), &len, md, nullptr) != 1) return std::nullopt;
  out.resize(len);
  return out;
}

// PHP's strtr with two equal-length character lists.
void translate(std::string& text, std::string_view from, std::string_view to) {
  for (char& c : text)
    if (size_t i = from.find(c); i != std::string_view::npos) c = to[i];
}

// The library context, its provider and the cipher fetched from it. Members
// are destroyed in reverse order: the cipher before the provider and the
// context it came from.
struct CipherHandle {
  OsslPtr<OSSL_LIB_CTX> libCtx;
  OsslPtr<OSSL_PROVIDER> provider;
  OsslPtr<EVP_CIPHER> cipher;
};

// A private context keeps the token ciphers apart from whatever providers the
// TLS side loads into the default one (docs/design.md#auth-tokens).
std::optional<CipherHandle> openCipher(const char* name, std::string* error) {
  CipherHandle h;
  h.libCtx.reset(OSSL_LIB_CTX_new());
  if (h.libCtx) h.provider.reset(OSSL_PROVIDER_load(h.libCtx.get(), "default"));
  if (h.provider) h.cipher.reset(EVP_CIPHER_fetch(h.libCtx.get(), name, nullptr));
  if (h.cipher) return h;
  if (error) *error = opensslError(std::string("cannot set up ") + name);
  return std::nullopt;
}

// Runs one whole encryption or decryption on `ctx`: keyed here when cipher
// is given, else keyed already (only the iv is set). `tag` is read
// (decrypt) or written (encrypt) when the cipher is an AEAD. Returns nullopt
// on failure and leaves the thread's error queue empty: a stale entry there
// would be misread by the next SSL_get_error on this thread.
std::optional<std::string> runCipherOn(EVP_CIPHER_CTX* ctx, const EVP_CIPHER* cipher, bool encrypt,
                                       std::string_view key, std::string_view iv, std::string_view input,
                                       std::string* tag) {
  std::string out(input.size() + EVP_MAX_BLOCK_LENGTH, '\0');
  int len = 0, finalLen = 0;
  bool ok = ctx && EVP_CipherInit_ex2(ctx, cipher, cipher ? bytesOf(key) : nullptr,
                                      iv.empty() ? nullptr : bytesOf(iv), encrypt ? 1 : 0, nullptr) == 1;
  ok = ok && (input.empty() ||
              EVP_CipherUpdate(ctx, bytesOf(out), &len, bytesOf(input), static_cast<int>(input.size())) == 1);
  if (ok && tag && !encrypt)
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag->size()), tag->data()) == 1;
  ok = ok && EVP_CipherFinal_ex(ctx, bytesOf(out) + len, &finalLen) == 1;
  if (ok && tag && encrypt)
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag->size()), tag->data()) == 1;
  if (!ok) {
    ERR_clear_error();
    return std::nullopt;
  }
  out.resize(static_cast<size_t>(len + finalLen));
  return out;
}

// The same with a fresh EVP_CIPHER_CTX, so that concurrent calls on one
// codec share nothing mutable.
std::optional<std::string> runCipher(const EVP_CIPHER* cipher, bool encrypt, std::string_view key,
                                     std::string_view iv, std::string_view input, std::string* tag) {
  OsslPtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  return runCipherOn(ctx.get(), cipher, encrypt, key, iv, input, tag);
}

// ---------------------------------------------------------------- codecs

class CipherCodec : public TokenCodec {
 public:
  CipherCodec(CipherHandle handle, std::string key)
      : handle_(std::make_shared<const CipherHandle>(std::move(handle))), key_(std::move(key)) {}
  ~CipherCodec() override { OPENSSL_cleanse(key_.data(), key_.size()); }
  CipherCodec(const CipherCodec&) = delete;
  CipherCodec& operator=(const CipherCodec&) = delete;

 protected:
  const EVP_CIPHER* cipher() const { return handle_->cipher.get(); }
  const std::string& key() const { return key_; }
  // Shared with contexts that may outlive the codec (they hold the cipher).
  const std::shared_ptr<const CipherHandle>& handle() const { return handle_; }

 private:
  std::shared_ptr<const CipherHandle> handle_;
  std::string key_;  // raw cipher key, wiped on destruction
};

class AesGcmCodec final : public CipherCodec {
 public:
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;

  using CipherCodec::CipherCodec;

  std::string encrypt(std::string_view plaintext) const override {
    if (plaintext.size() > kMaxInput) throw std::length_error("token plaintext too long");
    std::string nonce = randomBytes(kNonceSize);
    std::string tag(kTagSize, '\0');
    auto ciphertext = runCipher(cipher(), true, key(), nonce, plaintext, &tag);
    if (!ciphertext) throw std::runtime_error("aes-256-gcm encryption failed");
    return base64UrlEncode(nonce + *ciphertext + tag);
  }

  // Padding is tolerated because some base64url encoders add it by default;
  // the tag still covers every byte, and decoding is canonical otherwise.
  std::optional<std::string> decrypt(std::string_view token) const override {
    if (token.size() > kMaxInput) return std::nullopt;
    auto raw = base64UrlDecode(token);
    if (!raw || raw->size() < kNonceSize + kTagSize) return std::nullopt;
    std::string_view bytes(*raw);
    std::string tag(bytes.substr(bytes.size() - kTagSize));
    std::string_view ciphertext = bytes.substr(kNonceSize, bytes.size() - kNonceSize - kTagSize);
    return runCipherOn(keyedDecryptor(), nullptr, false, {}, bytes.substr(0, kNonceSize), ciphertext, &tag);
  }

 private:
  // Setting up AES-256 and GCM for a key is a third of what decrypting a
  // token costs (every handshake decrypts one), so each thread
  // keeps a context keyed for this codec and a token only sets its nonce.
  // The slot is per thread, so concurrent handshakes share nothing mutable;
  // the codec's id, never reused, tells a context keyed for another codec.
  // The slot keeps the cipher's library context alive until the thread ends
  // or keys it for another codec (then the context is freed and cleansed).
  EVP_CIPHER_CTX* keyedDecryptor() const {
    struct Slot {
      uint64_t codec = 0;
      std::shared_ptr<const CipherHandle> handle;  // declared first: outlives ctx
      OsslPtr<EVP_CIPHER_CTX> ctx;
    };
    thread_local Slot slot;
    if (slot.codec == id_) return slot.ctx.get();
    slot.codec = 0;
    slot.ctx.reset();
    slot.handle = handle();
    slot.ctx.reset(EVP_CIPHER_CTX_new());
    if (!slot.ctx || EVP_DecryptInit_ex2(slot.ctx.get(), cipher(), bytesOf(key()), nullptr, nullptr) != 1) {
      ERR_clear_error();
      slot.ctx.reset();
      return nullptr;
    }
    slot.codec = id_;
    return slot.ctx.get();
  }

  static inline std::atomic<uint64_t> nextId_{0};
  const uint64_t id_ = ++nextId_;
};

// MSwoole's legacy tokens. The PHP issuer writes standard base64 through
// strtr('+/=', '*:_'), so only that alphabet is accepted: a token holding
// '+', '/' or '=' did not come from it. Padding ('_') is required, as PHP
// always emits it.
class DesEde3Codec final : public CipherCodec {
 public:
  static constexpr size_t kKeySize = 24;

  using CipherCodec::CipherCodec;

  static std::string deriveKey(std::string_view configured) {
    std::string key(configured.substr(0, kKeySize));
    key.resize(kKeySize, '0');
    return key;
  }

  std::string encrypt(std::string_view plaintext) const override {
    if (plaintext.size() > kMaxInput) throw std::length_error("token plaintext too long");
    auto ciphertext = runCipher(cipher(), true, key(), {}, plaintext, nullptr);
    if (!ciphertext) throw std::runtime_error("des-ede3-ecb encryption failed");
    std::string token = base64Encode(*ciphertext);
    translate(token, "+/=", "*:_");
    return token;
  }

  std::optional<std::string> decrypt(std::string_view token) const override {
    if (token.size() > kMaxInput) return std::nullopt;
    if (token.find_first_of("+/=") != std::string_view::npos) return std::nullopt;
    std::string text(token);
    translate(text, "*:_", "+/=");
    auto raw = base64Decode(text);
    if (!raw || raw->empty()) return std::nullopt;
    return runCipher(cipher(), false, key(), {}, *raw, nullptr);
  }
};

std::unique_ptr<TokenCodec> createAesGcm(std::string_view key, std::string* error) {
  auto handle = openCipher("AES-256-GCM", error);
  if (!handle) return nullptr;
  OsslPtr<EVP_MD> md(EVP_MD_fetch(handle->libCtx.get(), "SHA2-256", nullptr));
  if (!md) {
    if (error) *error = opensslError("cannot set up SHA2-256");
    return nullptr;
  }
  auto rawKey = digestWith(md.get(), key);
  if (!rawKey) {
    if (error) *error = opensslError("cannot derive the aes-256-gcm key");
    return nullptr;
  }
  return std::make_unique<AesGcmCodec>(std::move(*handle), std::move(*rawKey));
}

std::unique_ptr<TokenCodec> createDesEde3(std::string_view key, std::string* error) {
  auto handle = openCipher("DES-EDE3-ECB", error);
  if (!handle) return nullptr;
  return std::make_unique<DesEde3Codec>(std::move(*handle), DesEde3Codec::deriveKey(key));
}

}  // namespace

std::unique_ptr<TokenCodec> TokenCodec::create(CipherKind kind, std::string_view key, std::string* error) {
  switch (kind) {
    case CipherKind::kAes256Gcm: return createAesGcm(key, error);
    case CipherKind::kDesEde3Ecb: return createDesEde3(key, error);
  }
  if (error) *error = "unknown cipher";
  return nullptr;
}

std::string base64Encode(std::string_view bytes) { return encodeWith(bytes, kStandardChars, true); }

std::optional<std::string> base64Decode(std::string_view text) {
  auto body = stripPadding(text);
  if (!body) return std::nullopt;
  return decodeUnpadded(*body, kStandardTable);
}

std::string base64UrlEncode(std::string_view bytes) { return encodeWith(bytes, kUrlChars, false); }

std::optional<std::string> base64UrlDecode(std::string_view text) {
  if (text.ends_with('=')) {
    auto body = stripPadding(text);
    if (!body) return std::nullopt;
    text = *body;
  }
  return decodeUnpadded(text, kUrlTable);
}

std::string sha256(std::string_view bytes) {
  auto digest = digestWith(EVP_sha256(), bytes);
  if (!digest) throw std::runtime_error(opensslError("sha256 failed"));
  return *digest;
}

std::string randomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > kMaxInput || (n > 0 && RAND_bytes(bytesOf(out), static_cast<int>(n)) != 1))
    throw std::runtime_error(opensslError("RAND_bytes failed"));
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace msw
