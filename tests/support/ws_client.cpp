#include "tests/support/ws_client.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <sys/socket.h>

#include <algorithm>
#include <utility>

namespace msw::test {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr uint64_t kMaxPayload = uint64_t{1} << 30;  // a corrupt length must not become a huge allocation
constexpr int kSendTimeoutMs = 5000;

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool isKnownOpcode(int opcode) {
  return opcode == kOpContinuation || opcode == kOpText || opcode == kOpBinary || opcode == kOpClose ||
         opcode == kOpPing || opcode == kOpPong;
}

uint64_t readBigEndian(std::string_view bytes) {
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

void appendBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

std::string lowerTrimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string headerName(std::string_view line) { return lowerTrimmed(line.substr(0, line.find(':'))); }

bool names(const std::vector<std::string>& lines, std::string_view name) {
  std::string lower = lowerTrimmed(name);
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return headerName(l) == lower; });
}

// "Name:" with nothing after the colon: leave the default header out.
bool isOmission(std::string_view line) {
  size_t colon = line.find(':');
  return colon != std::string_view::npos && lowerTrimmed(line.substr(colon + 1)).empty();
}

// Value of a header in a raw request (to check the accept of connectRaw).
std::string requestHeader(std::string_view request, std::string_view lowerName) {
  size_t start = request.find("\r\n");
  while (start != std::string_view::npos && start + 2 < request.size()) {
    start += 2;
    size_t end = request.find("\r\n", start);
    std::string_view line = request.substr(start, end == std::string_view::npos ? request.npos : end - start);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && headerName(line) == lowerName) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      return std::string(value);
    }
    start = end;
  }
  return {};
}

bool hasEvent(const std::string& json, std::string_view event) {
  cJSON* root = cJSON_ParseWithLength(json.data(), json.size());
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(root, "event");
  bool match = cJSON_IsString(item) && item->valuestring && event == item->valuestring;
  cJSON_Delete(root);
  return match;
}

}  // namespace

std::string encodeFrame(int opcode, std::string_view payload, bool fin, bool mask, uint32_t maskKey) {
  std::string out;
  out.reserve(14 + payload.size());
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | (opcode & 0x7F)));
  const int maskBit = mask ? 0x80 : 0;
  const uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(maskBit | static_cast<int>(n)));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(maskBit | 126));
    appendBigEndian(out, n, 2);
  } else {
    out.push_back(static_cast<char>(maskBit | 127));
    appendBigEndian(out, n, 8);
  }
  if (!mask) return out.append(payload);
  appendBigEndian(out, maskKey, 4);
  const size_t keyAt = out.size() - 4;
  const size_t start = out.size();
  out.append(payload);
  for (size_t i = 0; i < payload.size(); ++i) out[start + i] ^= out[keyAt + (i & 3)];
  return out;
}

long decodeFrame(std::string_view buf, WsFrame& out) {
  if (buf.size() < 2) return 0;
  const auto b0 = static_cast<unsigned char>(buf[0]);
  const auto b1 = static_cast<unsigned char>(buf[1]);
  const int opcode = b0 & 0x0F;
  const bool fin = (b0 & 0x80) != 0;
  const bool masked = (b1 & 0x80) != 0;
  uint64_t length = b1 & 0x7F;
  // No extension is ever negotiated, so any reserved bit is an error.
  if ((b0 & 0x70) != 0 || !isKnownOpcode(opcode)) return -1;
  const bool control = (opcode & 0x8) != 0;
  if (control && (!fin || length > 125)) return -1;
  size_t pos = 2;
  if (length == 126) {
    if (buf.size() < 4) return 0;
    length = readBigEndian(buf.substr(2, 2));
    if (length < 126) return -1;  // RFC 6455 §5.2: the minimal length encoding must be used
    pos = 4;
  } else if (length == 127) {
    if (buf.size() < 10) return 0;
    length = readBigEndian(buf.substr(2, 8));
    if (length <= 0xFFFF) return -1;
    pos = 10;
  }
  if (length > kMaxPayload) return -1;
  if (opcode == kOpClose && length == 1) return -1;  // a close payload starts with a 2-byte code
  const size_t keyAt = pos;
  if (masked) pos += 4;
  if (buf.size() < pos + length) return 0;
  out.opcode = opcode;
  out.fin = fin;
  out.masked = masked;
  out.payload.assign(buf.substr(pos, length));
  if (masked) {
    for (size_t i = 0; i < out.payload.size(); ++i) out.payload[i] ^= buf[keyAt + (i & 3)];
  }
  return static_cast<long>(pos + length);
}

std::string websocketAccept(std::string_view key) {
  std::string input = std::string(key) + std::string(kGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha1(), nullptr) != 1) return {};
  return base64(std::string_view(reinterpret_cast<const char*>(digest), size));
}

WsClient::WsClient() : rng_(std::random_device{}()) {}

WsClient::~WsClient() = default;

bool WsClient::connect(const std::string& host, int port, const std::string& path,
                       const std::vector<std::string>& extraHeaders, int timeoutMs) {
  std::string key(16, '\0');
  for (char& c : key) c = static_cast<char>(rng_() & 0xFF);
  std::string request = "GET " + path + " HTTP/1.1\r\n";
  auto addDefault = [&](std::string_view name, const std::string& value) {
    if (!names(extraHeaders, name)) request.append(name).append(": ").append(value).append("\r\n");
  };
  addDefault("Host", host + ":" + std::to_string(port));
  addDefault("Upgrade", "websocket");
  addDefault("Connection", "Upgrade");
  addDefault("Sec-WebSocket-Key", base64(key));
  addDefault("Sec-WebSocket-Version", "13");
  for (const std::string& line : extraHeaders) {
    if (!isOmission(line)) request += line + "\r\n";
  }
  request += "\r\n";
  return handshake(host, port, request, requestHeader(request, "sec-websocket-key"), timeoutMs);
}

bool WsClient::connectRaw(const std::string& host, int port, const std::string& rawRequest, int timeoutMs) {
  return handshake(host, port, rawRequest, requestHeader(rawRequest, "sec-websocket-key"), timeoutMs);
}

bool WsClient::handshake(const std::string& host, int port, const std::string& request, const std::string& key,
                         int timeoutMs) {
  *this = WsClient();  // a reused client starts clean: no old bytes, close code or fragments
  Deadline deadline = deadlineIn(timeoutMs);
  fd_ = connectTcp(host, port, deadline, &error_);
  if (!fd_) return false;
  // A server may answer (and close) before it has read all of a bad request:
  // a failed send is only an error when no answer can be read either.
  std::string sendError;
  bool sent = sendAll(fd_.get(), request, deadline, &sendError);
  if (!readHttpResponse(fd_.get(), rx_, deadline, response_, &error_)) {
    return fail(sent ? error_ : sendError);
  }
  if (response_.status != 101) return fail("HTTP " + std::to_string(response_.status) + " instead of 101");
  if (lowerTrimmed(headerValue(response_, "upgrade")) != "websocket") return fail("101 without Upgrade: websocket");
  if (lowerTrimmed(headerValue(response_, "connection")).find("upgrade") == std::string::npos) {
    return fail("101 without Connection: Upgrade");
  }
  if (key.empty()) return fail("101 to a request without Sec-WebSocket-Key");
  if (headerValue(response_, "sec-websocket-accept") != websocketAccept(key)) {
    return fail("wrong Sec-WebSocket-Accept");
  }
  return true;
}

bool WsClient::fail(std::string why) {
  error_ = std::move(why);
  fd_.reset();
  return false;
}

bool WsClient::sendClose(int code, std::string_view reason) {
  std::string payload;
  if (code != 1005) {
    appendBigEndian(payload, static_cast<uint64_t>(code) & 0xFFFF, 2);
    payload.append(reason);
  }
  bool ok = sendFrame(kOpClose, payload, true);
  closeSent_ = closeSent_ || ok;
  return ok;
}

bool WsClient::sendFrame(int opcode, std::string_view payload, bool fin, bool mask) {
  return sendRawBytes(encodeFrame(opcode, payload, fin, mask, randomMaskKey()));
}

bool WsClient::sendRawBytes(std::string_view bytes) {
  if (!fd_) {
    error_ = "not connected";
    return false;
  }
  return sendAll(fd_.get(), bytes, deadlineIn(kSendTimeoutMs), &error_);
}

std::optional<WsFrame> WsClient::recvFrame(int timeoutMs) {
  timedOut_ = false;
  Deadline deadline = deadlineIn(timeoutMs);
  for (;;) {
    WsFrame frame;
    long used = decodeFrame(rx_, frame);
    if (used > 0) {
      rx_.erase(0, static_cast<size_t>(used));
      if (frame.opcode == kOpClose) recordClose(frame);
      return frame;
    }
    if (used < 0) {
      error_ = "protocol error in a frame from the server";
      return std::nullopt;
    }
    if (!fd_ || eof_) {
      error_ = fd_ ? "connection closed by the server" : "not connected";
      return std::nullopt;
    }
    ReadResult r = readSome(fd_.get(), rx_, deadline, &error_);
    eof_ = r == ReadResult::kEof;
    timedOut_ = r == ReadResult::kTimeout;
    if (r == ReadResult::kTimeout || r == ReadResult::kError) return std::nullopt;
  }
}

std::optional<std::string> WsClient::recvMessage(int timeoutMs) {
  Deadline deadline = deadlineIn(timeoutMs);
  for (;;) {
    std::optional<WsFrame> frame = recvFrame(remainingMs(deadline));
    if (!frame) return std::nullopt;
    if (frame->masked) {
      error_ = "masked frame from the server";
      return std::nullopt;
    }
    switch (frame->opcode) {
      case kOpPing:
        sendPong(frame->payload);
        continue;
      case kOpClose:
        answerClose();
        return std::nullopt;
      case kOpText:
      case kOpBinary:
        if (partialOpcode_ >= 0) {
          error_ = "new message before the end of a fragmented one";
          return std::nullopt;
        }
        if (frame->fin) return std::move(frame->payload);
        partialOpcode_ = frame->opcode;
        partial_ = std::move(frame->payload);
        continue;
      case kOpContinuation:
        if (partialOpcode_ < 0) {
          error_ = "continuation frame without a message to continue";
          return std::nullopt;
        }
        partial_ += frame->payload;
        if (!frame->fin) continue;
        partialOpcode_ = -1;
        return std::exchange(partial_, std::string());
      default:  // pongs
        continue;
    }
  }
}

std::optional<std::string> WsClient::recvEvent(std::string_view event, int timeoutMs) {
  Deadline deadline = deadlineIn(timeoutMs);
  for (;;) {
    std::optional<std::string> message = recvMessage(remainingMs(deadline));
    if (!message || hasEvent(*message, event)) return message;
  }
}

int WsClient::waitClose(int timeoutMs) {
  Deadline deadline = deadlineIn(timeoutMs);
  while (closeCode_ == 0) {
    std::optional<WsFrame> frame = recvFrame(remainingMs(deadline));
    if (!frame) return timedOut_ ? 0 : -1;
    if (frame->opcode == kOpPing) sendPong(frame->payload);
  }
  answerClose();
  return closeCode_;
}

void WsClient::recordClose(const WsFrame& frame) {
  if (closeCode_ != 0) return;  // the first close frame is the one that counts
  closeCode_ = frame.payload.empty() ? 1005 : static_cast<int>(readBigEndian(frame.payload.substr(0, 2)));
  closeReason_ = frame.payload.size() > 2 ? frame.payload.substr(2) : std::string();
}

// RFC 6455 §5.5.1: an endpoint that receives a close frame sends one back
// (echoing the code) unless it already sent its own.
bool WsClient::answerClose() {
  if (closeSent_ || !fd_) return true;
  closeSent_ = true;
  return sendClose(closeCode_ == 1005 ? 1005 : closeCode_);
}

void WsClient::resetConnection() {
  if (!fd_) return;
  linger lingerOption{1, 0};
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &lingerOption, sizeof lingerOption);
  fd_.reset();
}

uint32_t WsClient::randomMaskKey() { return static_cast<uint32_t>(rng_()); }

}  // namespace msw::test
