// tests/support/ws_client.h: a blocking RFC 6455 client for integration tests,
// and the frame codec it shares with the load generator.
//
// One WsClient is one connection, used from one thread. Every wait has a
// timeout (poll() against a deadline); nothing here throws.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/http_client.h"

namespace msw::test {

// Opcodes of RFC 6455 §5.2.
inline constexpr int kOpContinuation = 0x0;
inline constexpr int kOpText = 0x1;
inline constexpr int kOpBinary = 0x2;
inline constexpr int kOpClose = 0x8;
inline constexpr int kOpPing = 0x9;
inline constexpr int kOpPong = 0xA;

struct WsFrame {
  int opcode = 0;
  bool fin = true;
  std::string payload;  // unmasked
  bool masked = false;  // as it was on the wire: a server must never mask (RFC 6455 §5.1)
};

// One frame. Bits 4-6 of opcode land in RSV3..RSV1, so protocol-violation
// tests can set reserved bits; normal callers pass a plain opcode.
std::string encodeFrame(int opcode, std::string_view payload, bool fin, bool mask, uint32_t maskKey);
// Parses one frame from the front of buf: bytes consumed, 0 when more bytes
// are needed, -1 on a protocol error (reserved bits or opcode, fragmented or
// long control frame, non-minimal or oversized length). Unmasks if masked.
long decodeFrame(std::string_view buf, WsFrame& out);
// base64(SHA-1(key + the RFC 6455 GUID)).
std::string websocketAccept(std::string_view key);

class WsClient {
 public:
  WsClient();
  ~WsClient();  // closes the socket (no close frame: say sendClose first for a clean end)
  WsClient(WsClient&&) noexcept = default;
  WsClient& operator=(WsClient&&) noexcept = default;

  // Connects to host:port and upgrades `path` (query included). Sends
  // Sec-WebSocket-Version 13 and a random key; a line of extraHeaders
  // ("Name: value") with the same name replaces the default, and "Name:" with
  // nothing after the colon leaves it out. True on a 101 with the right
  // Sec-WebSocket-Accept; otherwise false, response() holds the answer and
  // error() says why.
  bool connect(const std::string& host, int port, const std::string& path,
               const std::vector<std::string>& extraHeaders = {}, int timeoutMs = 5000);
  // Sends rawRequest as the whole handshake (malformed-handshake tests), then
  // reads the answer like connect; the accept is checked against the
  // Sec-WebSocket-Key found in rawRequest.
  bool connectRaw(const std::string& host, int port, const std::string& rawRequest, int timeoutMs = 5000);
  const HttpResponse& response() const { return response_; }
  const std::string& error() const { return error_; }

  bool sendText(std::string_view text) { return sendFrame(kOpText, text, true); }
  bool sendBinary(std::string_view data) { return sendFrame(kOpBinary, data, true); }
  bool sendPing(std::string_view data = {}) { return sendFrame(kOpPing, data, true); }
  bool sendPong(std::string_view data = {}) { return sendFrame(kOpPong, data, true); }
  // code 1005 ("no status") sends a close frame with an empty payload.
  bool sendClose(int code = 1000, std::string_view reason = {});
  // Masked with a fresh random key unless mask is false (a protocol violation).
  bool sendFrame(int opcode, std::string_view payload, bool fin, bool mask = true);
  bool sendRawBytes(std::string_view bytes);

  // The next frame as it arrives, control frames included (a close frame is
  // also recorded, see closeCode()); nullopt on timeout, EOF or error.
  std::optional<WsFrame> recvFrame(int timeoutMs = 5000);
  // The next whole text or binary message, fragments reassembled. Pings are
  // answered, pongs skipped; a close frame is recorded and answered, then
  // nullopt. nullopt on timeout too (timedOut() tells which).
  std::optional<std::string> recvMessage(int timeoutMs = 5000);
  // Skips messages until one whose JSON object has "event" equal to `event`.
  std::optional<std::string> recvEvent(std::string_view event, int timeoutMs = 5000);
  // Waits for the server to close: the code of its close frame (1005 when it
  // had none; at once if one was already received), -1 when TCP ended without
  // one (or on a protocol error), 0 on timeout. Answers the close frame.
  int waitClose(int timeoutMs = 5000);

  int closeCode() const { return closeCode_; }  // 0 until a close frame arrives
  std::string closeReason() const { return closeReason_; }
  bool timedOut() const { return timedOut_; }

  void resetConnection();  // abrupt: SO_LINGER 0 then close, so the server sees a TCP RST
  int fd() const { return fd_.get(); }

 private:
  bool handshake(const std::string& host, int port, const std::string& request, const std::string& key,
                 int timeoutMs);
  bool fail(std::string why);
  void recordClose(const WsFrame& frame);
  bool answerClose();
  uint32_t randomMaskKey();

  UniqueFd fd_;
  std::string rx_;  // received bytes not yet decoded into frames
  HttpResponse response_;
  std::string error_;
  std::mt19937 rng_;
  int closeCode_ = 0;
  std::string closeReason_;
  bool closeSent_ = false;
  bool eof_ = false;
  bool timedOut_ = false;
  int partialOpcode_ = -1;  // opcode of a fragmented message in progress, -1 when none
  std::string partial_;     // its payload so far (kept across a timeout)
};

}  // namespace msw::test
