// tests/integration/tls_test.cpp: wss straight from msw (docs/configuration.md#keys: ssl_cert
// and ssl_key both set). A certificate made here, the real server, and a
// real TLS client (OpenSSL) that upgrades, talks JSON and is refused with a
// bad token; a wrong certificate or key stops the start with the key named.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

#include "tests/integration/it_support.h"

namespace msw::it {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using CtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL, SSL_free>>;

// A self-signed certificate for CN=localhost, valid for a day.
struct SelfSigned {
  PKeyPtr key{EVP_EC_gen("P-256")};
  X509Ptr cert{X509_new()};
  SelfSigned() {
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), name);
    X509_sign(cert.get(), key.get(), EVP_sha256());
  }
  void write(const std::string& certPath, const std::string& keyPath) const {
    FILE* f = std::fopen(certPath.c_str(), "w");
    PEM_write_X509(f, cert.get());
    std::fclose(f);
    f = std::fopen(keyPath.c_str(), "w");
    PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  }
};

// A blocking TLS WebSocket client, enough for a handshake and a few frames.
class TlsClient {
 public:
  ~TlsClient() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
  }
  bool connect(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_);
    SSL_set_tlsext_host_name(ssl_.get(), "localhost");
    return SSL_connect(ssl_.get()) == 1;
  }
  X509Ptr peerCertificate() const { return X509Ptr(SSL_get1_peer_certificate(ssl_.get())); }
  bool write(const std::string& bytes) {
    return SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size());
  }
  // The response head, up to the blank line.
  std::string readHead() {
    std::string head;
    char c;
    while (head.size() < 8192 && SSL_read(ssl_.get(), &c, 1) == 1) {
      head += c;
      if (head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0) break;
    }
    return head;
  }
  bool upgrade(const std::string& token) {
    return write("GET /live?auth=" + token +
                 " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  }
  // One masked text frame (payload under 126 bytes).
  bool sendText(const std::string& text) {
    std::string f = {'\x81', static_cast<char>(0x80 | text.size())};
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(mask, 4);
    for (size_t i = 0; i < text.size(); ++i) f += static_cast<char>(text[i] ^ mask[i % 4]);
    return write(f);
  }
  // The payload of the next frame from the server (unmasked, under 64 KiB).
  std::string readFrame() {
    unsigned char h[4];
    if (!readExact(h, 2)) return {};
    size_t len = h[1] & 0x7f;
    if (len == 126) {
      if (!readExact(h + 2, 2)) return {};
      len = static_cast<size_t>(h[2]) << 8 | h[3];
    }
    std::string payload(len, '\0');
    if (len && !readExact(reinterpret_cast<unsigned char*>(payload.data()), len)) return {};
    return payload;
  }

 private:
  bool readExact(unsigned char* p, size_t n) {
    while (n) {
      int r = SSL_read(ssl_.get(), p, static_cast<int>(n));
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  int fd_ = -1;
  CtxPtr ctx_;
  SslPtr ssl_;
};

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = msw::test::makeTempDir("msw-tls");
    ASSERT_FALSE(dir_.empty());
    cert_ = dir_ + "/cert.pem";
    key_ = dir_ + "/key.pem";
    ca_.write(cert_, key_);
    server_.ini.set("outside", "ssl_cert", cert_).set("outside", "ssl_key", key_);
  }
  void TearDown() override {
    if (server_.proc.running()) {
      EXPECT_EQ(server_.proc.stop(), 0);
    }
    EXPECT_EQ(sanitizerReport(server_.proc.log()), "");
    if (HasFailure()) std::cerr << "---- server log ----\n" << server_.proc.log() << "\n";
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // `-s start` in the foreground with the ini as it is now: the start must fail.
  ConsoleResult failedStart() {
    std::string root = dir_ + "/root";
    std::filesystem::create_directories(root + "/config");
    std::filesystem::create_directories(root + "/public");
    std::ofstream(root + "/config/app.ini", std::ios::trunc) << server_.ini.str();
    return runConsole({"-s", "start", "--root", root, "-c", root + "/config/app.ini"});
  }

  std::string dir_, cert_, key_;
  SelfSigned ca_;
  TestServer server_;
};

TEST_F(Tls, AWssClientUpgradesWithItsTokenAndTalksJson) {
  ASSERT_TRUE(server_.start()) << server_.error();
  TlsClient c;
  ASSERT_TRUE(c.connect(server_.port)) << "TLS handshake failed";
  X509Ptr peer = c.peerCertificate();
  ASSERT_TRUE(peer);
  EXPECT_EQ(X509_cmp(peer.get(), ca_.cert.get()), 0) << "the server presents the configured certificate";
  ASSERT_TRUE(c.upgrade(server_.userToken("tls-user")));
  std::string head = c.readHead();
  EXPECT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
  ASSERT_TRUE(c.sendText(R"({"method":"ping","rid":7})"));
  Msg m = parseMsg(c.readFrame());
  EXPECT_EQ(m.event(), "pong") << m;
  EXPECT_EQ(m.rid().i64(), 7) << m;
  ASSERT_TRUE(c.sendText("2"));
  EXPECT_EQ(c.readFrame(), "3");
}

TEST_F(Tls, ABadTokenOverTlsGets403) {
  ASSERT_TRUE(server_.start()) << server_.error();
  TlsClient c;
  ASSERT_TRUE(c.connect(server_.port));
  ASSERT_TRUE(c.upgrade("not-a-token"));
  std::string head = c.readHead();
  EXPECT_EQ(head.rfind("HTTP/1.", 0), 0u) << head;
  EXPECT_EQ(head.find(" 403 "), 8u) << head;
}

TEST_F(Tls, APlainWebSocketClientIsNotServedOnAWssPort) {
  ASSERT_TRUE(server_.start()) << server_.error();
  WsClient plain;
  EXPECT_FALSE(server_.connect(plain, server_.userToken())) << "upgraded without TLS";
  // And the server still serves TLS clients afterwards.
  TlsClient c;
  ASSERT_TRUE(c.connect(server_.port));
  ASSERT_TRUE(c.upgrade(server_.userToken()));
  EXPECT_EQ(c.readHead().rfind("HTTP/1.1 101", 0), 0u);
}

TEST_F(Tls, ACertificateThatIsNotOneStopsTheStartNamingTheKey) {
  std::ofstream(cert_, std::ios::trunc) << "not a certificate\n";
  ConsoleResult r = failedStart();
  EXPECT_EQ(r.exitCode, 1) << r;
  EXPECT_NE(r.err.find("[outside] ssl_cert = " + cert_ + ": not a usable PEM certificate"), std::string::npos) << r;
  EXPECT_EQ(sanitizerReport(r.err), "") << r;
}

TEST_F(Tls, AMissingKeyFileStopsTheStartNamingTheKey) {
  std::filesystem::remove(key_);
  ConsoleResult r = failedStart();
  EXPECT_EQ(r.exitCode, 1) << r;
  EXPECT_NE(r.err.find("[outside] ssl_key = " + key_ + ": No such file"), std::string::npos) << r;
}

TEST_F(Tls, AKeyOfAnotherCertificateStopsTheStart) {
  SelfSigned other;
  other.write(dir_ + "/other-cert.pem", key_);  // the key no longer matches cert_
  ConsoleResult r = failedStart();
  EXPECT_EQ(r.exitCode, 1) << r;
  EXPECT_NE(r.err.find("[outside] ssl_key = " + key_ + ": not the key of the certificate " + cert_), std::string::npos)
      << r;
}

}  // namespace
}  // namespace msw::it
