// Tests of the test-support clients without the server: the frame codec as
// pure functions, and WsClient / httpRequest against a scripted peer on a
// loopback socket (so splits, bundles and close handshakes are real reads).
#include "tests/support/ws_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <thread>

namespace msw::test {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::string patterned(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 131 + 7) & 0xFF);
  return out;
}

// ---------------------------------------------------------------- codec

TEST(FrameCodec, AcceptMatchesTheRfcExample) {
  EXPECT_EQ(websocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(FrameCodec, EncodesTheRfcExamples) {
  // RFC 6455 §5.7: a single-frame unmasked and masked "Hello".
  EXPECT_EQ(encodeFrame(kOpText, "Hello", true, false, 0), bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  EXPECT_EQ(encodeFrame(kOpText, "Hello", true, true, 0x37fa213d),
            bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  EXPECT_EQ(encodeFrame(kOpText, "Hel", false, false, 0), bytes({0x01, 0x03, 0x48, 0x65, 0x6c}));
  EXPECT_EQ(encodeFrame(kOpContinuation, "lo", true, false, 0), bytes({0x80, 0x02, 0x6c, 0x6f}));
}

TEST(FrameCodec, PicksTheSmallestLengthEncoding) {
  struct Case {
    size_t size;
    size_t header;
  };
  for (Case c : {Case{0, 2}, Case{125, 2}, Case{126, 4}, Case{65535, 4}, Case{65536, 10}, Case{70000, 10}}) {
    std::string plain = encodeFrame(kOpBinary, patterned(c.size), true, false, 0);
    std::string masked = encodeFrame(kOpBinary, patterned(c.size), true, true, 0x01020304);
    EXPECT_EQ(plain.size(), c.header + c.size) << c.size;
    EXPECT_EQ(masked.size(), c.header + 4 + c.size) << c.size;
    EXPECT_EQ(static_cast<unsigned char>(masked[1]) & 0x80, 0x80) << c.size;
    EXPECT_EQ(static_cast<unsigned char>(plain[1]) & 0x80, 0) << c.size;
  }
  EXPECT_EQ(encodeFrame(kOpBinary, patterned(126), true, false, 0).substr(0, 4), bytes({0x82, 0x7e, 0x00, 0x7e}));
  EXPECT_EQ(encodeFrame(kOpBinary, patterned(65536), true, false, 0).substr(0, 10),
            bytes({0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
}

TEST(FrameCodec, RoundTripsEveryLengthClassMaskedAndNot) {
  for (size_t size : {0, 1, 125, 126, 127, 65535, 65536, 70001}) {
    for (bool mask : {false, true}) {
      for (int opcode : {kOpText, kOpBinary, kOpContinuation}) {
        const std::string payload = patterned(size);
        const std::string wire = encodeFrame(opcode, payload, opcode != kOpContinuation, mask, 0xdeadbeef);
        WsFrame frame;
        ASSERT_EQ(decodeFrame(wire, frame), static_cast<long>(wire.size())) << size << " " << mask;
        EXPECT_EQ(frame.opcode, opcode);
        EXPECT_EQ(frame.fin, opcode != kOpContinuation);
        EXPECT_EQ(frame.masked, mask);
        EXPECT_EQ(frame.payload, payload) << size << " " << mask;
      }
    }
  }
}

TEST(FrameCodec, MaskingChangesTheBytesOnTheWire) {
  const std::string payload = "a payload long enough to show the key";
  const std::string wire = encodeFrame(kOpText, payload, true, true, 0xa5a5a5a5);
  EXPECT_EQ(wire.find("payload"), std::string::npos);
  EXPECT_EQ(wire.substr(2, 4), bytes({0xa5, 0xa5, 0xa5, 0xa5}));
  EXPECT_EQ(static_cast<unsigned char>(wire[6]), static_cast<unsigned char>('a' ^ 0xa5));
}

TEST(FrameCodec, AsksForMoreBytesOnEveryPrefix) {
  for (size_t size : {5, 300, 70000}) {
    const std::string wire = encodeFrame(kOpBinary, patterned(size), true, true, 0x11223344);
    for (size_t cut = 0; cut < wire.size(); cut += (cut < 20 ? 1 : 997)) {
      WsFrame frame;
      EXPECT_EQ(decodeFrame(std::string_view(wire).substr(0, cut), frame), 0) << size << " cut at " << cut;
    }
    WsFrame frame;
    EXPECT_EQ(decodeFrame(std::string_view(wire).substr(0, wire.size() - 1), frame), 0);
  }
}

TEST(FrameCodec, DecodesSeveralFramesFromOneBuffer) {
  const std::string wire = encodeFrame(kOpText, "one", true, false, 0) + encodeFrame(kOpPing, "p", true, true, 7) +
                           encodeFrame(kOpBinary, patterned(300), true, false, 0) + "\x81";  // start of a fourth
  std::string_view rest = wire;
  std::vector<WsFrame> frames;
  for (;;) {
    WsFrame frame;
    long used = decodeFrame(rest, frame);
    ASSERT_GE(used, 0);
    if (used == 0) break;
    frames.push_back(frame);
    rest.remove_prefix(static_cast<size_t>(used));
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].payload, "one");
  EXPECT_EQ(frames[1].opcode, kOpPing);
  EXPECT_EQ(frames[1].payload, "p");
  EXPECT_EQ(frames[2].payload, patterned(300));
  EXPECT_EQ(rest, "\x81");
}

TEST(FrameCodec, RoundTripsControlFrames) {
  const std::string closePayload = bytes({0x0f, 0xa2}) + "kicked";  // 4002
  for (int opcode : {kOpPing, kOpPong, kOpClose}) {
    for (std::string payload : {std::string(), std::string(125, 'x'), closePayload}) {
      WsFrame frame;
      const std::string wire = encodeFrame(opcode, payload, true, true, 0x0badf00d);
      ASSERT_EQ(decodeFrame(wire, frame), static_cast<long>(wire.size()));
      EXPECT_EQ(frame.opcode, opcode);
      EXPECT_EQ(frame.payload, payload);
    }
  }
}

TEST(FrameCodec, RejectsProtocolErrors) {
  WsFrame frame;
  const std::string bad[] = {
      encodeFrame(0x40 | kOpText, "rsv1", true, false, 0),     // reserved bit without an extension
      encodeFrame(0x10 | kOpBinary, "rsv3", true, false, 0),   // another reserved bit
      encodeFrame(0x3, "", true, false, 0),                    // reserved data opcode
      encodeFrame(0xB, "", true, false, 0),                    // reserved control opcode
      encodeFrame(kOpPing, "p", false, false, 0),              // fragmented control frame
      encodeFrame(kOpPong, std::string(126, 'x'), true, false, 0),  // control payload over 125
      bytes({0x81, 0x7e, 0x00, 0x05}) + "hello",               // 16-bit length that fits in 7 bits
      bytes({0x81, 0x7f, 0, 0, 0, 0, 0, 0, 0x01, 0x00}),      // 64-bit length that fits in 16 bits
      bytes({0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}),         // 64-bit length with the top bit set
      bytes({0x88, 0x01, 0x03}),                               // close payload of one byte
  };
  for (const std::string& wire : bad) EXPECT_EQ(decodeFrame(wire, frame), -1) << testing::PrintToString(wire);
}

// ---------------------------------------------------------------- scripted peer

// The accepted side of a FakePeer connection: blocking, with a 5 s receive
// timeout so a broken client fails the test instead of hanging it.
struct PeerConnection {
  int fd;
  std::string buf;

  void write(std::string_view data) const {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  bool readMore() {
    char chunk[65536];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    return true;
  }
  std::string readHead() {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!readMore()) return {};
    }
    std::string head = buf.substr(0, end + 4);
    buf.erase(0, end + 4);
    return head;
  }
  std::string readBytes(size_t n) {
    while (buf.size() < n && readMore()) {
    }
    std::string out = buf.substr(0, n);
    buf.erase(0, out.size());
    return out;
  }
  std::optional<WsFrame> readFrame() {
    for (;;) {
      WsFrame frame;
      long used = decodeFrame(buf, frame);
      if (used < 0) return std::nullopt;
      if (used > 0) {
        buf.erase(0, static_cast<size_t>(used));
        return frame;
      }
      if (!readMore()) return std::nullopt;
    }
  }
  bool readUntilEof() {
    while (readMore()) {
    }
    return true;
  }
};

std::string keyOf(const std::string& head) {
  const std::string name = "Sec-WebSocket-Key: ";
  size_t at = head.find(name);
  if (at == std::string::npos) return {};
  at += name.size();
  return head.substr(at, head.find("\r\n", at) - at);
}

std::string upgradeReply(const std::string& head) {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " + websocketAccept(keyOf(head)) + "\r\n\r\n";
}

std::string serverFrame(int opcode, std::string_view payload, bool fin = true) {
  return encodeFrame(opcode, payload, fin, false, 0);
}

std::string closePayload(int code, std::string_view reason) {
  return bytes({(code >> 8) & 0xFF, code & 0xFF}) + std::string(reason);
}

// A one-connection server on 127.0.0.1 that runs `script` on its own thread.
class FakePeer {
 public:
  explicit FakePeer(std::function<void(PeerConnection&)> script) {
    listen_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_.get(), 4) != 0 ||
        ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, script = std::move(script)] { serve(script); });
  }
  ~FakePeer() { join(); }
  int port() const { return port_; }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void serve(const std::function<void(PeerConnection&)>& script) {
    pollfd p{listen_.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return;
    UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    timeval timeout{5, 0};
    ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    PeerConnection peer{conn.get(), {}};
    script(peer);
  }

  UniqueFd listen_;
  int port_ = 0;
  std::thread thread_;
};

// ---------------------------------------------------------------- WsClient

TEST(WsClient, UpgradesAndKeepsFramesSentWithThe101) {
  std::string head;
  FakePeer peer([&](PeerConnection& c) {
    head = c.readHead();
    c.write(upgradeReply(head) + serverFrame(kOpText, "hello"));
    c.readUntilEof();
  });
  WsClient client;
  ASSERT_TRUE(client.connect("127.0.0.1", peer.port(), "/live?auth=abc")) << client.error();
  EXPECT_EQ(client.response().status, 101);
  EXPECT_EQ(client.recvMessage(), "hello");
  client = WsClient();
  peer.join();
  EXPECT_EQ(head.rfind("GET /live?auth=abc HTTP/1.1\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nUpgrade: websocket\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nConnection: Upgrade\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos);
  EXPECT_EQ(keyOf(head).size(), 24u);  // base64 of 16 bytes
}

TEST(WsClient, ExtraHeadersReplaceOrLeaveOutTheDefaults) {
  std::string head;
  FakePeer peer([&](PeerConnection& c) {
    head = c.readHead();
    c.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  });
  WsClient client;
  EXPECT_FALSE(client.connect("127.0.0.1", peer.port(), "/", {"Sec-WebSocket-Version: 8", "Sec-WebSocket-Key:",
                                                             "X-Test: yes"}));
  EXPECT_EQ(client.response().status, 400);
  peer.join();
  EXPECT_NE(head.find("\r\nSec-WebSocket-Version: 8\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("Version: 13"), std::string::npos) << head;
  EXPECT_EQ(head.find("Sec-WebSocket-Key"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nX-Test: yes\r\n"), std::string::npos) << head;
}

TEST(WsClient, ReportsAnAnswerOtherThan101) {
  const std::string body = R"({"status":403,"info":"bad token"})";
  FakePeer peer([&](PeerConnection& c) {
    c.readHead();
    c.write("HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body);
    c.readUntilEof();
  });
  WsClient client;
  EXPECT_FALSE(client.connect("127.0.0.1", peer.port(), "/live?auth=bad"));
  EXPECT_EQ(client.response().status, 403);
  EXPECT_EQ(client.response().headers.at("content-type"), "application/json");
  EXPECT_EQ(client.response().body, body);
  EXPECT_FALSE(client.error().empty());
  EXPECT_LT(client.fd(), 0);
}

TEST(WsClient, RejectsAWrongAccept) {
  FakePeer peer([&](PeerConnection& c) {
    c.readHead();
    c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  });
  WsClient client;
  EXPECT_FALSE(client.connect("127.0.0.1", peer.port(), "/"));
  EXPECT_EQ(client.response().status, 101);
  EXPECT_NE(client.error().find("Accept"), std::string::npos) << client.error();
}

TEST(WsClient, ConnectRawSendsTheRequestAsIs) {
  const std::string raw = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  std::string head;
  FakePeer peer([&](PeerConnection& c) {
    head = c.readHead();
    c.write(upgradeReply(head));
    c.readUntilEof();
  });
  WsClient client;
  EXPECT_TRUE(client.connectRaw("127.0.0.1", peer.port(), raw)) << client.error();
  client = WsClient();
  peer.join();
  EXPECT_EQ(head, raw);
}

TEST(WsClient, ReassemblesFragmentsAndAnswersPingsBetweenThem) {
  std::optional<WsFrame> pong;
  FakePeer peer([&](PeerConnection& c) {
    c.write(upgradeReply(c.readHead()) + serverFrame(kOpText, "Hel", false) + serverFrame(kOpPing, "p") +
            serverFrame(kOpContinuation, "lo ", false) + serverFrame(kOpContinuation, "world"));
    pong = c.readFrame();
    c.readUntilEof();
  });
  WsClient client;
  ASSERT_TRUE(client.connect("127.0.0.1", peer.port(), "/")) << client.error();
  EXPECT_EQ(client.recvMessage(), "Hello world");
  client = WsClient();
  peer.join();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->opcode, kOpPong);
  EXPECT_EQ(pong->payload, "p");
  EXPECT_TRUE(pong->masked);
}

TEST(WsClient, ReadsFramesSplitAcrossReads) {
  const std::string big = patterned(70000);
  FakePeer peer([&](PeerConnection& c) {
    c.write(upgradeReply(c.readHead()));
    const std::string wire = serverFrame(kOpText, "split") + serverFrame(kOpBinary, big);
    // Pieces with pauses between them, so the client sees partial headers and payloads.
    for (size_t at = 0, piece = 1; at < wire.size(); at += piece, piece *= 3) {
      c.write(std::string_view(wire).substr(at, piece));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    c.readUntilEof();
  });
  WsClient client;
  ASSERT_TRUE(client.connect("127.0.0.1", peer.port(), "/")) << client.error();
  EXPECT_EQ(client.recvMessage(), "split");
  EXPECT_EQ(client.recvMessage(), big);
}

TEST(WsClient, ReturnsEachFrameOfOneRead) {
  FakePeer peer([&](PeerConnection& c) {
    c.write(upgradeReply(c.readHead()));
    c.write(serverFrame(kOpText, "a") + serverFrame(kOpPong, "b") + serverFrame(kOpBinary, "c"));
    c.readUntilEof();
  });
  WsClient client;
  ASSERT_TRUE(client.connect("127.0.0.1", peer.port(), "/")) << client.error();
  auto a = client.recvFrame();
  auto b = client.recvFrame();
  auto c = client.recvFrame();
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->opcode, kOpText);
  EXPECT_EQ(a->payload, "a");
  EXPECT_FALSE(a->masked);
  EXPECT_EQ(b->opcode, kOpPong);
  EXPECT_EQ(c->opcode, kOpBinary);
  EXPECT_EQ(c->payload, "c");
}

TEST(WsClient, SendsMaskedFrames) {
  std::vector<WsFrame> got;
  FakePeer peer([&](PeerConnection& c) {
    c.write(upgradeReply(c.readHead()));
    while (auto frame = c.readFrame()) got.push_back(*frame);
  });
  WsClient client;
  ASSERT_TRUE(client.connect("127.0.0.1", peer.port(), "/")) << client.error();
  EXPECT_TRUE(client.sendText("hi"));
  EXPECT_TRUE(client.sendBinary(patterned(70000)));
  EXPECT_TRUE(client.sendFrame(kOpText, "a", false));
  EXPECT_TRUE(client.sendFrame(kOpContinuation, "b", true, false));
  EXPECT_TRUE(client.sendPing("x"));
  EXPECT_TRUE(client.sendClose(1000, "bye"));
  client = WsClient();
  peer.join();
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0].payload, "hi");
  EXPECT_EQ(got[1].payload, patterned(70000));
  EXPECT_FALSE(got[2].fin);
  EXPECT_FALSE(got[3].masked);
  EXPECT_EQ(got[3].opcode, kOpContinuation);
  EXPECT_EQ(got[4].opcode, kOpPing);
  EXPECT_EQ(got[5].opcode, kOpClose);
  EXPECT_EQ(got[5].payload, closePayload(1000, "bye"));
  for (size_t i : {0, 1, 2, 4, 5}) EXPECT_TRUE(got[i].masked) << i;
}

TEST(WsClient, WaitCloseReturnsTheCodeAndAnswersIt) {
  std::optional<WsFrame> answer;
  FakePeer peer([&](PeerConnection& c) {
    c.write(upgradeReply(c.readHead()) + serverFrame(kOpText, "skipped") +
            serverFrame(kOpClose, closePayload(4010, "kicked")));
    answer = c.readFrame();
  });
  WsClient client;
  ASSERT_TRUE(client.connect("127.0.0.1", peer.port(), "/")) << client.error();
  EXPECT_EQ(client.waitClose(), 4010);
  EXPECT_EQ(client.closeCode(), 4010);
  EXPECT_EQ(client.closeReason(), "kicked");
  peer.join();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->opcode, kOpClose);
  EXPECT_EQ(answer->payload, closePayload(4010, ""));
  EXPECT_TRUE(answer->masked);
}

TEST(WsClient, WaitCloseWithoutAPayloadIs1005) {
  std::optional<WsFrame> answer;
  FakePeer peer([&](PeerConnection& c) {
    c.write(upgradeReply(c.readHead()) + serverFrame(kOpClose, ""));
    answer = c.readFrame();
  });
  WsClient client;
  ASSERT_TRUE(client.connect("127.0.0.1", peer.port(), "/")) << client.error();
  EXPECT_EQ(client.waitClose(), 1005);
  peer.join();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->payload, "");  // 1005 is never sent on the wire
}

TEST(WsClient, WaitCloseSeesTcpEndWithoutACloseFrame) {
  FakePeer peer([&](PeerConnection& c) { c.write(upgradeReply(c.readHead())); });
  WsClient client;
  ASSERT_TRUE(client.connect("127.0.0.1", peer.port(), "/")) << client.error();
  EXPECT_EQ(client.waitClose(), -1);
  EXPECT_FALSE(client.timedOut());
}

TEST(WsClient, RecvMessageReportsACloseFrameAndTimeouts) {
  std::optional<WsFrame> answer;
  FakePeer peer([&](PeerConnection& c) {
    c.write(upgradeReply(c.readHead()));
    c.readFrame();  // the client's "go": the close must not arrive before the timeout is seen
    c.write(serverFrame(kOpClose, closePayload(1001, "going away")));
    answer = c.readFrame();
  });
  WsClient client;
  ASSERT_TRUE(client.connect("127.0.0.1", peer.port(), "/")) << client.error();
  EXPECT_EQ(client.recvMessage(30), std::nullopt);
  EXPECT_TRUE(client.timedOut());
  EXPECT_EQ(client.closeCode(), 0);
  ASSERT_TRUE(client.sendText("go"));
  EXPECT_EQ(client.recvMessage(), std::nullopt);
  EXPECT_FALSE(client.timedOut());
  EXPECT_EQ(client.closeCode(), 1001);
  EXPECT_EQ(client.closeReason(), "going away");
  EXPECT_EQ(client.waitClose(), 1001);  // already received: answers at once
  peer.join();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->payload, closePayload(1001, ""));
}

TEST(WsClient, RecvEventSkipsOtherMessages) {
  FakePeer peer([&](PeerConnection& c) {
    c.write(upgradeReply(c.readHead()) + serverFrame(kOpText, R"({"status":200,"event":"a"})") +
            serverFrame(kOpText, "3") + serverFrame(kOpText, R"({"status":200,"event":"b","info":"x"})"));
    c.readUntilEof();
  });
  WsClient client;
  ASSERT_TRUE(client.connect("127.0.0.1", peer.port(), "/")) << client.error();
  EXPECT_EQ(client.recvEvent("b"), R"({"status":200,"event":"b","info":"x"})");
  EXPECT_EQ(client.recvEvent("b", 30), std::nullopt);
  EXPECT_TRUE(client.timedOut());
}

TEST(WsClient, ResetConnectionSendsAnRst) {
  int readErrno = 0;
  FakePeer peer([&](PeerConnection& c) {
    c.write(upgradeReply(c.readHead()));
    char byte;
    if (::recv(c.fd, &byte, 1, 0) < 0) readErrno = errno;
  });
  WsClient client;
  ASSERT_TRUE(client.connect("127.0.0.1", peer.port(), "/")) << client.error();
  client.resetConnection();
  EXPECT_LT(client.fd(), 0);
  peer.join();
  EXPECT_EQ(readErrno, ECONNRESET);
}

// ---------------------------------------------------------------- httpRequest

TEST(HttpClient, SendsTheBodyWithItsLengthAndReadsTheAnswer) {
  std::string head, body;
  FakePeer peer([&](PeerConnection& c) {
    head = c.readHead();
    body = c.readBytes(9);
    c.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"delivered\":1}");
  });
  HttpResponse r = httpRequest("127.0.0.1", peer.port(), "POST", "/push", R"({"all":1})",
                               {"Authorization: Bearer t"});
  peer.join();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"delivered":1})");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(head.rfind("POST /push HTTP/1.1\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nContent-Length: 9\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nConnection: close\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nAuthorization: Bearer t\r\n"), std::string::npos) << head;
  EXPECT_EQ(body, R"({"all":1})");
}

TEST(HttpClient, ReadsAChunkedAnswer) {
  FakePeer peer([&](PeerConnection& c) {
    c.readHead();
    c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a second read for the client
    c.write("5;ext=1\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n");
    c.readUntilEof();
  });
  HttpResponse r = httpRequest("127.0.0.1", peer.port(), "GET", "/metrics");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "Wikipedia");
}

TEST(HttpClient, ReadsUntilEofWithoutALength) {
  FakePeer peer([&](PeerConnection& c) {
    c.readHead();
    c.write("HTTP/1.0 404 Not Found\r\nX-A: 1\r\nx-a: 2\r\n\r\nnot here");
  });
  HttpResponse r = httpRequest("127.0.0.1", peer.port(), "GET", "/nope");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.body, "not here");
  EXPECT_EQ(r.headers["x-a"], "1, 2");
}

TEST(HttpClient, ReportsAFailedConnectionAsStatusZero) {
  HttpResponse r = httpRequest("127.0.0.1", freePort(), "GET", "/status", {}, {}, 1000);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.body.find("connect"), std::string::npos) << r.body;
}

TEST(HttpClient, TimesOutOnASilentServer) {
  FakePeer peer([&](PeerConnection& c) { c.readUntilEof(); });
  auto start = Clock::now();
  HttpResponse r = httpRequest("127.0.0.1", peer.port(), "GET", "/status", {}, {}, 50);
  EXPECT_EQ(r.status, 0);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST(FreePort, GivesAPortThatCanBeBound) {
  int port = freePort();
  ASSERT_GT(port, 0);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
}

}  // namespace
}  // namespace msw::test
