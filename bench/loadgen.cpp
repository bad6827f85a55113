// bench/loadgen.cpp: msw-loadgen, the WebSocket load generator of bench/.
//
// One thread, one epoll set (edge-triggered), non-blocking sockets. Each
// socket is bound to its own 127.0.y.z source address before connect, so the
// 4-tuples never run out on loopback. Modes (see bench/README.md):
//
//   connect  N open/handshake/close cycles, --inflight at once: handshakes/s
//   idle     hold N connections: server RSS per connection, server CPU% idle
//   echo     N connections × W requests in flight (or --rate R total): msgs/s, latency
//   fanout   S subscribers join a room, P publishers say: deliveries/s, latency
//   chat     N connections in N/2 sessions of the chat module (docs/chat.md), --rate R
//            messages/s in total: messages/s, deliveries/s, latency
//   reconnect  N rooms-module clients (docs/rooms.md) join rooms of --room-size,
//            all drop at once, a publisher per room sends --missed messages,
//            all reconnect at once: resumes/s, time until every one is live
//
// Client frames are masked with a fresh random key each; server frames are
// parsed incrementally (any split across reads, several per read, 16/64-bit
// lengths, fragments); pings get pongs; a close frame gets its echo.
//
// Latency: every request carries "t":<CLOCK_MONOTONIC ns at send>; the server
// carries it back (echo param, broadcast param) and the receive time minus t
// is recorded in a log-linear histogram (< 1% error).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

// ---------------------------------------------------------------- utilities

uint64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

constexpr uint64_t kSecond = 1000000000ull;

[[noreturn]] void die(const char* fmt, const char* arg = "") {
  std::fprintf(stderr, "msw-loadgen: ");
  std::fprintf(stderr, fmt, arg);
  std::fprintf(stderr, "\n");
  std::exit(2);
}

// xorshift64*: masks and handshake keys need to vary, not to be secret.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
};

// Log-linear histogram of nanosecond values: 64 sub-buckets per power of two.
class Histogram {
 public:
  Histogram() : buckets_(kSub * 2 + (64 - kBits) * kSub, 0) {}
  void add(uint64_t v) {
    ++buckets_[index(v)];
    ++count_;
    max_ = std::max(max_, v);
  }
  void clear() {
    std::fill(buckets_.begin(), buckets_.end(), 0);
    count_ = 0;
    max_ = 0;
  }
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  // The value below which a fraction q of the samples lie (bucket midpoint).
  double percentile(double q) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= rank) {
        double lo = static_cast<double>(lowerBound(i)), hi = static_cast<double>(lowerBound(i + 1));
        return std::min((lo + hi) / 2, static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr int kBits = 7;             // values below 2^7 are exact
  static constexpr size_t kSub = 1u << (kBits - 1);  // 64 sub-buckets per octave above
  static size_t index(uint64_t v) {
    if (v < (1u << kBits)) return static_cast<size_t>(v);
    int b = 63 - __builtin_clzll(v);  // >= kBits
    uint64_t mant = v >> (b - (kBits - 1));  // in [64, 128)
    return (1u << kBits) + static_cast<size_t>(b - kBits) * kSub + static_cast<size_t>(mant - kSub);
  }
  static uint64_t lowerBound(size_t i) {
    if (i < (1u << kBits)) return i;
    size_t j = i - (1u << kBits);
    int b = static_cast<int>(j / kSub) + kBits;
    uint64_t mant = kSub + j % kSub;
    return mant << (b - (kBits - 1));
  }
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

// CPU time and RSS of a process (the server), from /proc.
struct ProcSample {
  bool ok = false;
  uint64_t cpuTicks = 0;
  uint64_t rssBytes = 0;
  uint64_t wallNs = 0;
};

ProcSample sampleProc(int pid) {
  ProcSample s;
  s.wallNs = nowNs();
  if (pid <= 0) return s;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::ifstream stat(path);
  std::string line;
  if (!std::getline(stat, line)) return s;
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) return s;
  // Fields after "pid (comm) ": state is field 3, utime 14, stime 15.
  std::vector<std::string> f;
  size_t pos = paren + 2;
  while (pos < line.size() && f.size() < 13) {
    size_t sp = line.find(' ', pos);
    if (sp == std::string::npos) sp = line.size();
    f.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  if (f.size() < 13) return s;
  s.cpuTicks = std::strtoull(f[11].c_str(), nullptr, 10) + std::strtoull(f[12].c_str(), nullptr, 10);
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  std::ifstream status(path);
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) s.rssBytes = std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  s.ok = true;
  return s;
}

double cpuPct(const ProcSample& a, const ProcSample& b) {
  if (!a.ok || !b.ok || b.wallNs <= a.wallNs) return -1;
  double secs = static_cast<double>(b.cpuTicks - a.cpuTicks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return 100.0 * secs / (static_cast<double>(b.wallNs - a.wallNs) / 1e9);
}

uint64_t selfCpuNs() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * kSecond + static_cast<uint64_t>(tv.tv_usec) * 1000;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

std::string base64(const unsigned char* p, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

// Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2).
std::string acceptFor(const std::string& key) {
  std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdLen = 0;
  EVP_Digest(in.data(), in.size(), md, &mdLen, EVP_sha1(), nullptr);
  return base64(md, mdLen);
}

std::string urlEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// An msw auth token (docs/protocol.md#the-token, aes-256-gcm): base64url without padding of
// nonce(12) || ciphertext || tag(16), AES key = SHA-256 of the configured key.
std::string mintToken(const std::string& key, int user) {
  unsigned char aes[32];
  unsigned int aesLen = 0;
  EVP_Digest(key.data(), key.size(), aes, &aesLen, EVP_sha256(), nullptr);
  std::string plain = "{\"id\":\"" + std::to_string(user) + "\",\"type\":\"bench\",\"code\":\"bench\",\"nickname\":\"u" +
                      std::to_string(user) + "\",\"ctime\":" + std::to_string(time(nullptr)) + "}";
  std::string raw(12 + plain.size() + 16, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (RAND_bytes(out, 12) != 1) die("RAND_bytes failed");
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0, m = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, aes, out) == 1 &&
            EVP_EncryptUpdate(ctx, out + 12, &n, reinterpret_cast<const unsigned char*>(plain.data()),
                              static_cast<int>(plain.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx, out + 12 + n, &m) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + plain.size()) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) die("aes-256-gcm encryption failed");
  std::string b64 = base64(out, raw.size());
  for (char& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return b64;
}

// The integer after `"key":` in a JSON text, or false. Good enough for the
// server replies of bench/, whose only such keys are the ones we sent.
bool findInt(std::string_view text, std::string_view key, uint64_t& out) {
  size_t pos = text.find(key);
  if (pos == std::string_view::npos) return false;
  const char* p = text.data() + pos + key.size();
  const char* end = text.data() + text.size();
  while (p < end && *p == ' ') ++p;
  auto r = std::from_chars(p, end, out);
  return r.ec == std::errc();
}

// ---------------------------------------------------------------- frame codec

enum Opcode : uint8_t { kCont = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

// Appends one masked client frame (FIN set) to out.
void appendFrame(std::string& out, uint8_t opcode, const char* data, size_t len, Rng& rng) {
  unsigned char h[14];
  size_t n = 0;
  h[n++] = static_cast<unsigned char>(0x80 | opcode);
  if (len < 126) {
    h[n++] = static_cast<unsigned char>(0x80 | len);
  } else if (len < 65536) {
    h[n++] = 0x80 | 126;
    h[n++] = static_cast<unsigned char>(len >> 8);
    h[n++] = static_cast<unsigned char>(len);
  } else {
    h[n++] = 0x80 | 127;
    for (int i = 7; i >= 0; --i) h[n++] = static_cast<unsigned char>(static_cast<uint64_t>(len) >> (8 * i));
  }
  uint32_t mask32 = static_cast<uint32_t>(rng.next() >> 16);
  unsigned char mask[4];
  std::memcpy(mask, &mask32, 4);
  std::memcpy(h + n, mask, 4);
  n += 4;
  out.append(reinterpret_cast<char*>(h), n);
  size_t at = out.size();
  out.append(data, len);
  unsigned char* p = reinterpret_cast<unsigned char*>(out.data() + at);
  uint64_t mask64 = static_cast<uint64_t>(mask32) | (static_cast<uint64_t>(mask32) << 32);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    w ^= mask64;
    std::memcpy(p + i, &w, 8);
  }
  for (; i < len; ++i) p[i] ^= mask[i & 3];
}

// ---------------------------------------------------------------- options

enum class Mode { Connect, Idle, Echo, Fanout, Chat, Reconnect };

struct Options {
  std::string host = "127.0.0.1";
  int port = 20000;
  std::string path = "/bench";
  bool admitted = false;  // connect: a handshake counts once one frame came back (an msw connect hook admitted it)
  bool rawEcho = false;  // echo: the reply is the request itself (an msw raw endpoint with index.raw)
  std::vector<std::string> tokens;
  int conns = 100;
  Mode mode = Mode::Echo;
  double duration = 10;
  double warmup = 2;
  int inflight = 16;
  int payload = 32;
  double rate = 0;
  int publishers = 1;
  int subscribers = 1000;
  std::string joinMethod = R"({"method":"bench.room.join"})";
  std::string publishMethod = R"({"method":"bench.room.say","text":"..."})";
  std::string chatUser = "bench";  // chat: every connection's user_id (an agent: joins any session)
  int serverPid = 0;
  bool json = false;
  int openConcurrency = 256;
  double timeout = 10;  // handshake and join timeout, seconds
  int roomSize = 50;    // reconnect: clients per room (one publisher more)
  int missed = 5;       // reconnect: messages each room sends while its clients are away
};

const char* const kUsage =
    "usage: msw-loadgen --mode connect|idle|echo|fanout|chat|reconnect [options]\n"
    "  --host H --port P --path /bench     server (default 127.0.0.1:20000/bench)\n"
    "  --token T | --token-file F          ?auth= token, or one per line used round-robin\n"
    "  --mint-key KEY --users N            mint aes-256-gcm tokens for users 1..N (type and\n"
    "                                      code \"bench\"), used round-robin (msw's [auth] key)\n"
    "  --conns N                           connections (connect: handshakes in total)\n"
    "  --duration S --warmup S             measured window, after a warm-up (default 10, 2)\n"
    "  --inflight W                        echo: requests in flight per connection;\n"
    "                                      connect: connection cycles at once; fanout: per publisher\n"
    "  --payload BYTES                     payload size (default 32)\n"
    "  --rate R                            echo: R requests/s in total, open loop (0 = closed loop)\n"
    "  --admitted                          connect: send a frame after the 101 and count the handshake\n"
    "                                      when it comes back (msw auth = backend: admitted by the hook)\n"
    "  --raw-echo                          echo: replies are the requests sent back as they were\n"
    "                                      (msw's index.raw on a raw endpoint, with --path)\n"
    "  --subscribers S --publishers P      fanout sizes (default 1000, 1)\n"
    "  --join-method JSON                  fanout: what a subscriber sends to join\n"
    "  --publish-method JSON               fanout: what a publisher sends ('...' = the payload)\n"
    "  --chat-user ID                      chat: the user_id every connection authenticates as, one of\n"
    "                                      [chat] agents (default bench); connections 2k and 2k+1 join\n"
    "                                      session k+1; --rate R messages/s in total (at most 1/s each)\n"
    "  --room-size M --missed K            reconnect: clients per room (50), messages missed (5)\n"
    "  --open-concurrency N                handshakes in flight while opening (default 256)\n"
    "  --timeout S                         handshake / join timeout (default 10)\n"
    "  --server-pid PID                    sample that process's CPU and RSS\n"
    "  --json                              print one JSON object\n";

Options parseArgs(int argc, char** argv) {
  Options o;
  std::string tokenFile, mintKey;
  int users = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) die("%s needs a value", a.c_str());
      return argv[++i];
    };
    auto num = [&]() -> double {
      std::string v = val();
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end || d < 0) die("bad number for %s", a.c_str());
      return d;
    };
    if (a == "--host") o.host = val();
    else if (a == "--port") o.port = static_cast<int>(num());
    else if (a == "--path") o.path = val();
    else if (a == "--raw-echo") o.rawEcho = true;
    else if (a == "--admitted") o.admitted = true;
    else if (a == "--token") o.tokens = {val()};
    else if (a == "--token-file") tokenFile = val();
    else if (a == "--mint-key") mintKey = val();
    else if (a == "--users") users = static_cast<int>(num());
    else if (a == "--conns") o.conns = static_cast<int>(num());
    else if (a == "--mode") {
      std::string m = val();
      if (m == "connect") o.mode = Mode::Connect;
      else if (m == "idle") o.mode = Mode::Idle;
      else if (m == "echo") o.mode = Mode::Echo;
      else if (m == "fanout") o.mode = Mode::Fanout;
      else if (m == "chat") o.mode = Mode::Chat;
      else if (m == "reconnect") o.mode = Mode::Reconnect;
      else die("unknown mode %s", m.c_str());
    } else if (a == "--duration") o.duration = num();
    else if (a == "--warmup") o.warmup = num();
    else if (a == "--inflight") o.inflight = static_cast<int>(num());
    else if (a == "--payload") o.payload = static_cast<int>(num());
    else if (a == "--rate") o.rate = num();
    else if (a == "--publishers") o.publishers = static_cast<int>(num());
    else if (a == "--subscribers") o.subscribers = static_cast<int>(num());
    else if (a == "--join-method") o.joinMethod = val();
    else if (a == "--publish-method") o.publishMethod = val();
    else if (a == "--chat-user") o.chatUser = val();
    else if (a == "--server-pid") o.serverPid = static_cast<int>(num());
    else if (a == "--open-concurrency") o.openConcurrency = static_cast<int>(num());
    else if (a == "--timeout") o.timeout = num();
    else if (a == "--room-size") o.roomSize = std::max(1, static_cast<int>(num()));
    else if (a == "--missed") o.missed = static_cast<int>(num());
    else if (a == "--json") o.json = true;
    else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      std::fputs(kUsage, stderr);
      die("unknown argument %s", a.c_str());
    }
  }
  if (!mintKey.empty()) {
    if (users < 1) die("--mint-key needs --users N");
    o.tokens.reserve(static_cast<size_t>(users));
    for (int u = 1; u <= users; ++u) o.tokens.push_back(mintToken(mintKey, u));
  }
  if (!tokenFile.empty()) {
    std::ifstream f(tokenFile);
    if (!f) die("cannot read %s", tokenFile.c_str());
    std::string line;
    while (std::getline(f, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty()) o.tokens.push_back(line);
    }
    if (o.tokens.empty()) die("no token in %s", tokenFile.c_str());
  }
  if (o.conns < 1) die("--conns must be >= 1");
  if (o.inflight < 1) die("--inflight must be >= 1");
  if (o.openConcurrency < 1) o.openConcurrency = 1;
  // The chat module takes one message per connection and clock second.
  if (o.mode == Mode::Chat && (o.rate <= 0 || o.rate > 0.9 * o.conns || o.conns % 2))
    die("chat needs an even --conns N and --rate R with 0 < R <= 0.9 N");
  if (o.mode == Mode::Fanout && (o.subscribers < 1 || o.publishers < 1)) die("fanout needs subscribers and publishers");
  if (o.mode == Mode::Fanout) {
    size_t close = o.publishMethod.rfind('}');
    if (o.publishMethod.empty() || o.publishMethod[0] != '{' || close == std::string::npos)
      die("--publish-method must be a JSON object");
  }
  return o;
}

// ---------------------------------------------------------------- connections

enum class State : uint8_t { Free, Connecting, Handshake, Open, Closing };
enum class Role : uint8_t { Plain, Subscriber, Publisher };

// One client socket. Lives in a fixed pool (stable addresses, epoll data.ptr);
// a closed slot goes back to the pool after the epoll batch that closed it.
struct Conn {
  int fd = -1;
  State state = State::Free;
  Role role = Role::Plain;
  bool dirty = false;       // in the flush list
  bool closeSent = false;
  bool joined = false;      // fanout subscriber: its join was answered
  uint8_t msgOpcode = 0;    // first frame's opcode of a fragmented message
  int index = 0;            // subscriber / publisher number
  uint32_t inflight = 0;    // requests sent, replies not yet received
  uint64_t startNs = 0;     // connect start, or close start while Closing
  uint64_t progressNs = 0;  // fanout publisher: last delivery of its message
  std::string accept;       // expected Sec-WebSocket-Accept
  std::string in;           // partial HTTP response or partial frame
  std::string out;          // bytes not yet accepted by send()
  size_t outOff = 0;
  std::string msg;          // fragmented message being assembled
};

struct Counters {
  uint64_t connectFailures = 0;  // connect error, timeout, non-101, bad accept
  uint64_t protocolErrors = 0;   // malformed frames
  uint64_t badReplies = 0;       // replies whose status is not 200, or without "t"
  uint64_t serverCloses = 0;     // the server closed while we were running
  uint64_t stalls = 0;           // fanout: a publisher's messages never came back
  uint64_t joinFailures = 0;     // fanout: join refused or unanswered
  uint64_t total() const { return connectFailures + protocolErrors + badReplies + serverCloses + stalls + joinFailures; }
};

class Loadgen {
 public:
  explicit Loadgen(const Options& o) : o_(o), rng_{nowNs() ^ (static_cast<uint64_t>(getpid()) << 32)} {}
  int run();

 private:
  enum class Phase { Opening, Joining, OpeningPublishers, Running, Dropping, Publishing, Resuming, Draining, Done };

  // sockets
  bool resolve();
  Conn* openConn(Role role, int index);
  void onEvent(Conn* c, uint32_t events);
  void readAll(Conn* c);
  void feed(Conn* c, char* data, size_t n);
  size_t parseFrames(Conn* c, char* p, size_t n);
  void onFrame(Conn* c, bool fin, uint8_t opcode, char* data, size_t len);
  void queue(Conn* c, uint8_t opcode, const char* data, size_t len);
  void flush(Conn* c);
  void sendClose(Conn* c, uint16_t code);
  void countHandshake(Conn* c, uint64_t now);
  void finish(Conn* c);            // closes the socket, slot freed after the batch
  void fail(Conn* c);              // connect/handshake failure
  void flushDirty();
  void reap();
  void scanTimeouts(uint64_t now);

  // modes
  void onOpen(Conn* c, uint64_t now);
  void onMessage(Conn* c, char* data, size_t len, uint64_t now);
  void tick(uint64_t now);
  void pumpOpening(Role role, int target, int& started);
  void startRunning(uint64_t now);
  void startWindow(uint64_t now);
  void endWindow(uint64_t now);
  void startDraining(uint64_t now);
  void sendEcho(Conn* c, uint64_t stamp);
  void sendPublish(Conn* c, uint64_t stamp);
  void sendChat(Conn* c, uint64_t stamp);
  void onChatMessage(Conn* c, std::string_view text, uint64_t now);
  void chatJoined(uint64_t now);
  bool openLoop() const { return o_.rate > 0 && (o_.mode == Mode::Echo || o_.mode == Mode::Chat); }
  bool inWindow(uint64_t now) const { return windowStart_ && !windowEnd_ && now >= windowStart_; }
  // reconnect mode
  int rooms() const { return (o_.conns + o_.roomSize - 1) / o_.roomSize; }
  void joinRoom(Conn* c, int room);
  void reconnectOpen(Conn* c);
  void reconnectMessage(Conn* c, std::string_view text, uint64_t now);
  bool reconnectTick(uint64_t now);
  void report();

  const Options& o_;
  Rng rng_;
  int epfd_ = -1;
  sockaddr_in dest_{};
  bool spreadSources_ = false;
  uint32_t sourceCounter_ = 0;
  std::string requestHead_;  // "GET PATH" up to the query
  std::string requestTail_;  // the headers after Host, without the key
  size_t tokenCounter_ = 0;

  std::vector<Conn> pool_;
  std::vector<Conn*> free_;
  std::vector<Conn*> dirtyList_;
  std::vector<Conn*> closedList_;
  std::vector<Conn*> subs_, pubs_;
  int active_ = 0;       // slots in use
  int handshaking_ = 0;  // Connecting + Handshake
  int open_ = 0;         // Open
  int started_ = 0;      // connections started (this phase's role)
  int startedPubs_ = 0;
  int joined_ = 0;
  int joinRefused_ = 0;

  Phase phase_ = Phase::Opening;
  uint64_t phaseStart_ = 0;
  uint64_t runStart_ = 0, windowStart_ = 0, windowEnd_ = 0, drainDeadline_ = 0;
  uint64_t lastScan_ = 0;
  bool stopRequested_ = false;

  // echo / fanout message parts
  std::string echoHead_, echoTail_;       // {"method":...,"t":  and  ,"p":"xxx"}
  std::string publishHead_;               // template up to its closing brace
  std::string scratch_;
  uint64_t rateSent_ = 0;
  size_t rateNext_ = 0;
  std::vector<Conn*> openList_;

  // results
  Histogram hist_;
  Counters err_;
  uint64_t replies_ = 0;            // in the window
  uint64_t deliveries_ = 0;         // in the window
  uint64_t handshakes_ = 0;
  uint64_t otherMessages_ = 0;      // fanout: messages to publishers, unparsed deliveries
  uint64_t droppedSends_ = 0;       // rate mode: connection had too much in flight
  uint64_t lastHandshakeNs_ = 0;
  std::vector<std::string> resumeTokens_;  // reconnect: client i's reconnect_token
  int pubJoined_ = 0, acks_ = 0, resumeStarted_ = 0, resumed_ = 0, live_ = 0;
  uint64_t lastLiveNs_ = 0;
  ProcSample before_, windowA_, windowB_;
  uint64_t selfCpuA_ = 0, selfCpuB_ = 0;
};

bool Loadgen::resolve() {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(o_.host.c_str(), nullptr, &hints, &res) != 0 || !res) return false;
  std::memcpy(&dest_, res->ai_addr, sizeof dest_);
  freeaddrinfo(res);
  dest_.sin_port = htons(static_cast<uint16_t>(o_.port));
  spreadSources_ = (ntohl(dest_.sin_addr.s_addr) >> 24) == 127;
  return true;
}

Conn* Loadgen::openConn(Role role, int index) {
  if (free_.empty()) return nullptr;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ++err_.connectFailures;
    return nullptr;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (spreadSources_) {
    // 127.0.y.z, z in 1..254, rotating: the port is picked at connect() for
    // the whole 4-tuple (IP_BIND_ADDRESS_NO_PORT), so nothing runs out.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    uint32_t i = sourceCounter_++ % (256 * 254);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl((127u << 24) | ((i / 254) << 8) | (1 + i % 254));
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      close(fd);
      ++err_.connectFailures;
      return nullptr;
    }
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&dest_), sizeof dest_) != 0 && errno != EINPROGRESS) {
    close(fd);
    ++err_.connectFailures;
    return nullptr;
  }
  Conn* c = free_.back();
  free_.pop_back();
  c->fd = fd;
  c->state = State::Connecting;
  c->role = role;
  c->index = index;
  c->dirty = c->closeSent = c->joined = false;
  c->inflight = 0;
  c->startNs = nowNs();
  c->progressNs = 0;
  c->in.clear();
  c->out.clear();
  c->outOff = 0;
  c->msg.clear();
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = c;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  ++active_;
  ++handshaking_;
  return c;
}

void Loadgen::onEvent(Conn* c, uint32_t events) {
  if (c->fd < 0) return;  // closed earlier in this batch
  if (c->state == State::Connecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      fail(c);
      return;
    }
    unsigned char raw[16];
    uint64_t a = rng_.next(), b = rng_.next();
    std::memcpy(raw, &a, 8);
    std::memcpy(raw + 8, &b, 8);
    std::string key = base64(raw, 16);
    c->accept = acceptFor(key);
    std::string req = requestHead_;
    if (!o_.tokens.empty()) {
      req += "?auth=";
      req += urlEncode(o_.tokens[tokenCounter_++ % o_.tokens.size()]);
    }
    req += requestTail_;
    req += "Sec-WebSocket-Key: " + key + "\r\n\r\n";
    c->out.append(req);
    c->state = State::Handshake;
    flush(c);
    if (c->fd < 0) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readAll(c);
  if (c->fd >= 0 && (events & EPOLLOUT) && c->outOff < c->out.size()) flush(c);
}

// Shared by every socket: data is copied into a connection only when a frame
// is split across reads.
char g_readBuf[256 * 1024];

void Loadgen::readAll(Conn* c) {
  for (;;) {
    ssize_t n = recv(c->fd, g_readBuf, sizeof g_readBuf, 0);
    if (n > 0) {
      feed(c, g_readBuf, static_cast<size_t>(n));
      if (c->fd < 0) return;
      // A short read drained the socket: new data will raise a new edge.
      if (static_cast<size_t>(n) < sizeof g_readBuf) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    // EOF or error.
    if (c->state == State::Connecting || c->state == State::Handshake) {
      fail(c);
    } else {
      if (c->state == State::Open && phase_ != Phase::Draining && phase_ != Phase::Done && !stopRequested_)
        ++err_.serverCloses;
      finish(c);
    }
    return;
  }
}

void Loadgen::feed(Conn* c, char* data, size_t n) {
  if (c->state == State::Handshake) {
    c->in.append(data, n);
    size_t end = c->in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c->in.size() > 16384) fail(c);
      return;
    }
    std::string_view head(c->in.data(), end);
    bool ok = head.size() > 12 && head.substr(0, 9) == "HTTP/1.1 " && head.substr(9, 3) == "101";
    if (ok) {
      // Header names are case-insensitive; lws sends "Sec-WebSocket-Accept".
      std::string lower(head);
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      size_t at = lower.find("\r\nsec-websocket-accept:");
      ok = false;
      if (at != std::string::npos) {
        size_t v = at + 23;
        while (v < head.size() && head[v] == ' ') ++v;
        ok = head.substr(v, c->accept.size()) == c->accept;
      }
    }
    if (!ok) {
      if (err_.connectFailures == 0) {
        size_t eol = c->in.find("\r\n");
        std::fprintf(stderr, "msw-loadgen: handshake refused: %s\n", c->in.substr(0, eol).c_str());
      }
      fail(c);
      return;
    }
    std::string rest = c->in.substr(end + 4);
    c->in.clear();
    c->state = State::Open;
    --handshaking_;
    ++open_;
    onOpen(c, nowNs());
    if (c->fd < 0 || rest.empty()) return;
    feed(c, rest.data(), rest.size());
    return;
  }
  if (c->state != State::Open && c->state != State::Closing) return;
  if (c->in.empty()) {
    size_t used = parseFrames(c, data, n);
    if (c->fd >= 0 && used < n) c->in.assign(data + used, n - used);
  } else {
    c->in.append(data, n);
    size_t used = parseFrames(c, c->in.data(), c->in.size());
    if (c->fd >= 0) c->in.erase(0, used);
  }
}

size_t Loadgen::parseFrames(Conn* c, char* p, size_t n) {
  size_t off = 0;
  while (n - off >= 2 && c->fd >= 0) {
    auto* u = reinterpret_cast<unsigned char*>(p + off);
    bool fin = u[0] & 0x80;
    uint8_t opcode = u[0] & 0x0f;
    bool masked = u[1] & 0x80;
    uint64_t len = u[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
      if (n - off < 4) break;
      len = (static_cast<uint64_t>(u[2]) << 8) | u[3];
      h = 4;
    } else if (len == 127) {
      if (n - off < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | u[2 + i];
      h = 10;
    }
    if ((u[0] & 0x70) || len > (256ull << 20)) {
      ++err_.protocolErrors;
      finish(c);
      return off;
    }
    size_t maskAt = h;
    if (masked) h += 4;
    if (n - off < h + len) break;
    char* payload = p + off + h;
    if (masked)
      for (uint64_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ p[off + maskAt + (i & 3)]);
    off += h + static_cast<size_t>(len);
    onFrame(c, fin, opcode, payload, static_cast<size_t>(len));
  }
  return off;
}

void Loadgen::onFrame(Conn* c, bool fin, uint8_t opcode, char* data, size_t len) {
  uint64_t now = nowNs();
  switch (opcode) {
    case kText:
    case kBinary:
      if (fin) {
        onMessage(c, data, len, now);
      } else {
        c->msg.assign(data, len);
        c->msgOpcode = opcode;
      }
      return;
    case kCont:
      c->msg.append(data, len);
      if (fin) {
        std::string m;
        m.swap(c->msg);
        onMessage(c, m.data(), m.size(), now);
      }
      return;
    case kPing:
      queue(c, kPong, data, len);
      return;
    case kPong:
      return;
    case kClose:
      if (!c->closeSent) {
        if (c->state == State::Open && phase_ != Phase::Draining && phase_ != Phase::Done && !stopRequested_)
          ++err_.serverCloses;
        // Echo its status code, then leave the TCP close to the server.
        queue(c, kClose, data, std::min<size_t>(len, 2));
        c->closeSent = true;
        if (c->state == State::Open) --open_;
        c->state = State::Closing;
        c->startNs = now;
        flush(c);
      } else {
        finish(c);
      }
      return;
    default:
      ++err_.protocolErrors;
      finish(c);
  }
}

void Loadgen::queue(Conn* c, uint8_t opcode, const char* data, size_t len) {
  appendFrame(c->out, opcode, data, len, rng_);
  if (!c->dirty) {
    c->dirty = true;
    dirtyList_.push_back(c);
  }
}

void Loadgen::flush(Conn* c) {
  while (c->outOff < c->out.size()) {
    ssize_t n = send(c->fd, c->out.data() + c->outOff, c->out.size() - c->outOff, MSG_NOSIGNAL);
    if (n > 0) {
      c->outOff += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // EPOLLOUT will come
    if (c->state == State::Handshake) {
      fail(c);
    } else {
      if (c->state == State::Open && phase_ != Phase::Draining && phase_ != Phase::Done) ++err_.serverCloses;
      finish(c);
    }
    return;
  }
  c->out.clear();
  c->outOff = 0;
}

void Loadgen::sendClose(Conn* c, uint16_t code) {
  if (c->closeSent || c->fd < 0) return;
  char b[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  queue(c, kClose, b, 2);
  c->closeSent = true;
  if (c->state == State::Open) --open_;
  c->state = State::Closing;
  c->startNs = nowNs();
}

void Loadgen::finish(Conn* c) {
  if (c->fd < 0) return;
  close(c->fd);
  c->fd = -1;
  if (c->state == State::Connecting || c->state == State::Handshake) --handshaking_;
  if (c->state == State::Open) --open_;
  c->state = State::Free;
  closedList_.push_back(c);
}

void Loadgen::fail(Conn* c) {
  ++err_.connectFailures;
  finish(c);
}

void Loadgen::flushDirty() {
  for (Conn* c : dirtyList_) {
    c->dirty = false;
    if (c->fd >= 0) flush(c);
  }
  dirtyList_.clear();
}

void Loadgen::reap() {
  for (Conn* c : closedList_) {
    c->in = std::string();
    c->out = std::string();
    c->msg = std::string();
    c->outOff = 0;
    free_.push_back(c);
    --active_;
  }
  closedList_.clear();
}

void Loadgen::scanTimeouts(uint64_t now) {
  uint64_t limit = static_cast<uint64_t>(o_.timeout * 1e9);
  for (Conn& c : pool_) {
    if (c.fd < 0) continue;
    if ((c.state == State::Connecting || c.state == State::Handshake) && c.startNs + limit < now) fail(&c);
    else if (c.state == State::Closing && c.startNs + 2 * kSecond < now) finish(&c);
  }
}

// ---------------------------------------------------------------- modes

void Loadgen::sendEcho(Conn* c, uint64_t stamp) {
  scratch_.assign(echoHead_);
  char num[24];
  auto r = std::to_chars(num, num + sizeof num, stamp);
  scratch_.append(num, r.ptr);
  scratch_.append(echoTail_);
  queue(c, kText, scratch_.data(), scratch_.size());
  ++c->inflight;
}

void Loadgen::sendPublish(Conn* c, uint64_t stamp) {
  scratch_.assign(publishHead_);
  char num[24];
  scratch_.append(",\"t\":");
  auto r = std::to_chars(num, num + sizeof num, stamp);
  scratch_.append(num, r.ptr);
  scratch_.append(",\"pub\":");
  r = std::to_chars(num, num + sizeof num, c->index);
  scratch_.append(num, r.ptr);
  scratch_.append("}");
  queue(c, kText, scratch_.data(), scratch_.size());
  ++c->inflight;
}

// A chat message: the content carries the send time and the sender's number.
void Loadgen::sendChat(Conn* c, uint64_t stamp) {
  char text[160];
  int n = std::snprintf(text, sizeof text, R"({"type":"send_message","session_id":%d,"content":"t=%llu p=%d %.*s"})",
                        c->index / 2 + 1, static_cast<unsigned long long>(stamp), c->index,
                        std::min(o_.payload, 64), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  n = std::clamp(n, 0, static_cast<int>(sizeof text) - 1);
  queue(c, kText, text, static_cast<size_t>(n));
  ++c->inflight;
}

// Before the run, a connection's answers are connected, auth_success and
// joined_session (or an error); then each new_message counts as a delivery,
// and as a message when it is the sender's own copy.
void Loadgen::onChatMessage(Conn* c, std::string_view text, uint64_t now) {
  if (!c->joined) {
    if (text.find("\"joined_session\"") != std::string_view::npos) {
      c->joined = true;
      ++joined_;
    } else if (text.find("\"error\"") != std::string_view::npos && joinRefused_++ == 0) {
      std::fprintf(stderr, "msw-loadgen: chat join refused: %.*s\n", static_cast<int>(std::min<size_t>(text.size(), 300)),
                   text.data());
    }
    return;
  }
  uint64_t t = 0, from = 0;
  bool delivery = text.find("\"new_message\"") != std::string_view::npos && findInt(text, "t=", t) &&
                  findInt(text, "p=", from) && t <= now;
  if (!delivery) {
    if (inWindow(now)) ++err_.badReplies;
    if (inWindow(now) && err_.badReplies == 1)
      std::fprintf(stderr, "msw-loadgen: unexpected chat message: %.*s\n",
                   static_cast<int>(std::min<size_t>(text.size(), 300)), text.data());
    return;
  }
  if (from == static_cast<uint64_t>(c->index) && c->inflight > 0) --c->inflight;
  if (!inWindow(now)) return;
  ++deliveries_;
  hist_.add(now - t);
  if (from == static_cast<uint64_t>(c->index)) ++replies_;
}

void Loadgen::chatJoined(uint64_t now) {
  bool late = now - phaseStart_ > static_cast<uint64_t>(o_.timeout * 1e9);
  if (joined_ + joinRefused_ < static_cast<int>(openList_.size()) && !late) return;
  err_.joinFailures += openList_.size() - static_cast<size_t>(joined_);
  std::erase_if(openList_, [](Conn* c) { return !c->joined; });  // only members send
  if (openList_.empty()) return startDraining(now);
  startRunning(now);
}

void Loadgen::onOpen(Conn* c, uint64_t now) {
  switch (o_.mode) {
    case Mode::Chat: {
      // Numbered in order of opening: 2k and 2k+1 share session k+1.
      c->index = static_cast<int>(openList_.size());
      openList_.push_back(c);
      std::string hello = R"({"type":"auth","user_id":")" + o_.chatUser + R"("})";
      queue(c, kText, hello.data(), hello.size());
      hello = R"({"type":"join_session","session_id":)" + std::to_string(c->index / 2 + 1) + "}";
      queue(c, kText, hello.data(), hello.size());
      break;
    }
    case Mode::Connect:
      // Held by msw until the connect hook answered; a refusal closes with 4403 instead.
      if (o_.admitted) queue(c, kText, "a", 1);
      else countHandshake(c, now);
      break;
    case Mode::Idle:
    case Mode::Echo:
      openList_.push_back(c);
      break;
    case Mode::Reconnect:
      reconnectOpen(c);
      break;
    case Mode::Fanout:
      // Numbered in order of opening: "pub" is the publisher's number and
      // subscriber pub % S paces it.
      if (c->role == Role::Subscriber) {
        c->index = static_cast<int>(subs_.size());
        subs_.push_back(c);
        queue(c, kText, o_.joinMethod.data(), o_.joinMethod.size());
      } else {
        c->progressNs = now;
        c->index = static_cast<int>(pubs_.size());
        pubs_.push_back(c);
      }
      break;
  }
}

void Loadgen::countHandshake(Conn* c, uint64_t now) {
  hist_.add(now - c->startNs);
  ++handshakes_;
  lastHandshakeNs_ = now;
  sendClose(c, 1000);
}

void Loadgen::onMessage(Conn* c, char* data, size_t len, uint64_t now) {
  std::string_view text(data, len);
  if (o_.mode == Mode::Connect) {
    if (o_.admitted) countHandshake(c, now);
    return;
  }
  if (o_.mode == Mode::Echo) {
    if (c->inflight > 0) --c->inflight;
    uint64_t t = 0;
    bool ok = (o_.rawEcho || text.find("\"status\":200") != std::string_view::npos) && findInt(text, "\"t\":", t) &&
              t <= now;
    if (inWindow(now)) {
      if (ok) {
        ++replies_;
        hist_.add(now - t);
      } else {
        ++err_.badReplies;
      }
    }
    if (!ok && err_.badReplies == 1 && inWindow(now))
      std::fprintf(stderr, "msw-loadgen: unexpected reply: %.*s\n", static_cast<int>(std::min<size_t>(len, 300)), data);
    if (o_.rate == 0 && phase_ == Phase::Running && c->state == State::Open) sendEcho(c, nowNs());
    return;
  }
  if (o_.mode == Mode::Chat) return onChatMessage(c, text, now);
  if (o_.mode == Mode::Reconnect) return reconnectMessage(c, text, now);
  if (o_.mode != Mode::Fanout) return;
  if (c->role == Role::Publisher) {
    ++otherMessages_;  // a reply to its own say, if the server sends one
    return;
  }
  if (!c->joined) {
    // The first message after the join request is its answer.
    c->joined = true;
    if (text.find("\"status\":200") != std::string_view::npos) {
      ++joined_;
    } else {
      c->index = -1;  // refused: never designated, its deliveries (if any) still count
      if (joinRefused_++ == 0)
        std::fprintf(stderr, "msw-loadgen: join refused: %.*s\n", static_cast<int>(std::min<size_t>(len, 300)), data);
    }
    return;
  }
  uint64_t t = 0, pub = 0;
  if (!findInt(text, "\"t\":", t) || !findInt(text, "\"pub\":", pub) || t > now) {
    ++otherMessages_;
    return;
  }
  if (inWindow(now)) {
    ++deliveries_;
    hist_.add(now - t);
  }
  // Pacing: publisher p's message is done when joined subscriber p % J gets it.
  if (pub < pubs_.size() && joined_ > 0 && c->index == static_cast<int>(pub % static_cast<uint64_t>(joined_))) {
    Conn* p = pubs_[pub];
    if (p->inflight > 0) --p->inflight;
    p->progressNs = now;
    if (phase_ == Phase::Running && p->state == State::Open) sendPublish(p, nowNs());
  }
}

void Loadgen::pumpOpening(Role role, int target, int& started) {
  while (started < target && handshaking_ < o_.openConcurrency && !free_.empty()) {
    Conn* c = openConn(role, started);
    ++started;
    (void)c;
  }
}

void Loadgen::startWindow(uint64_t now) {
  windowStart_ = now;
  hist_.clear();
  replies_ = deliveries_ = 0;
  windowA_ = sampleProc(o_.serverPid);
  selfCpuA_ = selfCpuNs();
}

void Loadgen::endWindow(uint64_t now) {
  windowEnd_ = now;
  windowB_ = sampleProc(o_.serverPid);
  selfCpuB_ = selfCpuNs();
}

void Loadgen::startRunning(uint64_t now) {
  phase_ = Phase::Running;
  runStart_ = now;
  if (o_.mode == Mode::Echo && o_.rate == 0) {
    for (Conn* c : openList_)
      for (int i = 0; i < o_.inflight; ++i) sendEcho(c, now);
  }
  if (o_.mode == Mode::Fanout) {
    for (Conn* p : pubs_) {
      p->progressNs = now;
      for (int i = 0; i < o_.inflight; ++i) sendPublish(p, now);
    }
  }
  if (o_.warmup <= 0) startWindow(now);
}

void Loadgen::startDraining(uint64_t now) {
  phase_ = Phase::Draining;
  drainDeadline_ = now + 3 * kSecond;
  for (Conn& c : pool_)
    if (c.fd >= 0 && (c.state == State::Open)) sendClose(&c, 1000);
    else if (c.fd >= 0 && c.state != State::Closing) finish(&c);
}

void Loadgen::tick(uint64_t now) {
  if (stopRequested_ && phase_ != Phase::Draining && phase_ != Phase::Done) {
    if (windowStart_ && !windowEnd_) endWindow(now);
    startDraining(now);
  }
  uint64_t warm = static_cast<uint64_t>(o_.warmup * 1e9);
  uint64_t dur = static_cast<uint64_t>(o_.duration * 1e9);
  uint64_t timeout = static_cast<uint64_t>(o_.timeout * 1e9);
  if (o_.mode == Mode::Reconnect && reconnectTick(now)) return;
  switch (phase_) {
    case Phase::Opening: {
      if (o_.mode == Mode::Connect) {
        if (!windowStart_) startWindow(now);
        while (started_ < o_.conns && active_ < o_.inflight && !free_.empty()) {
          openConn(Role::Plain, started_);
          ++started_;
        }
        if (started_ >= o_.conns && active_ == 0) {
          endWindow(lastHandshakeNs_ ? std::max(lastHandshakeNs_, windowStart_ + 1) : now);
          phase_ = Phase::Done;
        }
        return;
      }
      Role role = o_.mode == Mode::Fanout ? Role::Subscriber : Role::Plain;
      int target = o_.mode == Mode::Fanout ? o_.subscribers : o_.conns;
      pumpOpening(role, target, started_);
      if (started_ >= target && handshaking_ == 0) {
        if (open_ == 0) {
          phase_ = Phase::Done;
          return;
        }
        if (o_.mode == Mode::Fanout || o_.mode == Mode::Chat) {
          phase_ = Phase::Joining;
          phaseStart_ = now;
        } else if (o_.mode == Mode::Idle) {
          phase_ = Phase::Running;  // holding
          runStart_ = now;
          if (warm == 0) startWindow(now);
        } else {
          startRunning(now);
        }
      }
      return;
    }
    case Phase::Joining: {
      if (o_.mode == Mode::Chat) return chatJoined(now);
      int answered = joined_ + joinRefused_;
      bool late = now - phaseStart_ > timeout;
      if (answered < static_cast<int>(subs_.size()) && !late) return;
      if (late) {
        err_.joinFailures += subs_.size() - static_cast<size_t>(answered);
        std::fprintf(stderr, "msw-loadgen: only %d of %zu subscribers got a join reply\n", answered, subs_.size());
      }
      err_.joinFailures += static_cast<uint64_t>(joinRefused_);
      // Number the joined subscribers 0..J-1 for pacing; the rest never pace.
      int k = 0;
      for (Conn* s : subs_) s->index = s->joined && s->index >= 0 && s->fd >= 0 ? k++ : -1;
      joined_ = k;
      if (joined_ == 0) {
        startDraining(now);
        return;
      }
      phase_ = Phase::OpeningPublishers;
      return;
    }
    case Phase::OpeningPublishers:
      pumpOpening(Role::Publisher, o_.publishers, startedPubs_);
      if (startedPubs_ >= o_.publishers && handshaking_ == 0) {
        if (pubs_.empty()) {
          startDraining(now);
          return;
        }
        startRunning(now);
      }
      return;
    case Phase::Running:
      if (!windowStart_ && now >= runStart_ + warm) startWindow(now);
      if (windowStart_ && now >= windowStart_ + dur) {
        endWindow(now);
        startDraining(now);
        return;
      }
      if (openLoop() && !openList_.empty()) {
        // Open loop: request k is due at runStart + k/R and carries that time,
        // so a late send shows as latency (no coordinated omission).
        for (;;) {
          uint64_t due = runStart_ + static_cast<uint64_t>(static_cast<double>(rateSent_) * 1e9 / o_.rate);
          if (due > now) break;
          ++rateSent_;
          Conn* c = nullptr;
          for (size_t tries = 0; tries < openList_.size(); ++tries) {
            Conn* cand = openList_[rateNext_++ % openList_.size()];
            if (cand->fd >= 0 && cand->state == State::Open) {
              c = cand;
              break;
            }
          }
          if (!c) break;
          if (c->inflight >= 100000) {
            ++droppedSends_;
            continue;
          }
          if (o_.mode == Mode::Chat) sendChat(c, due);
          else sendEcho(c, due);
        }
      }
      if (o_.mode == Mode::Fanout) {
        for (Conn* p : pubs_) {
          if (p->state != State::Open || p->inflight == 0 || p->progressNs + 2 * kSecond > now) continue;
          // Its messages never reached the designated subscriber: count and refill.
          ++err_.stalls;
          p->inflight = 0;
          p->progressNs = now;
          for (int i = 0; i < o_.inflight; ++i) sendPublish(p, now);
        }
      }
      return;
    case Phase::Draining:
      if (active_ == 0 || now > drainDeadline_) {
        for (Conn& c : pool_)
          if (c.fd >= 0) finish(&c);
        phase_ = Phase::Done;
      }
      return;
    case Phase::Dropping:
    case Phase::Publishing:
    case Phase::Resuming:  // the reconnect mode's (reconnectTick)
    case Phase::Done:
      return;
  }
}

// ---------------------------------------------------------------- reconnect mode

void Loadgen::joinRoom(Conn* c, int room) {
  scratch_ = R"({"type":"join","room":"b)" + std::to_string(room) + "\"}";
  queue(c, kText, scratch_.data(), scratch_.size());
}

// Subscribers join room index / room size (their token comes as
// reconnect_token), publishers the room of their index; the clients of the
// second wave present the token of the subscriber with their index.
void Loadgen::reconnectOpen(Conn* c) {
  if (c->role == Role::Subscriber) {
    subs_.push_back(c);
    joinRoom(c, c->index / o_.roomSize);
  } else if (c->role == Role::Publisher) {
    pubs_.push_back(c);
    joinRoom(c, c->index);
  } else {
    scratch_ = R"({"type":"reconnect","token":")" + resumeTokens_[static_cast<size_t>(c->index)] + "\"}";
    queue(c, kText, scratch_.data(), scratch_.size());
  }
}

void Loadgen::reconnectMessage(Conn* c, std::string_view text, uint64_t now) {
  auto is = [text](std::string_view type) {
    size_t at = text.find("\"type\":\"");
    return at != std::string_view::npos && text.substr(at + 8).starts_with(type) &&
           text.substr(at + 8 + type.size()).starts_with("\"");
  };
  if (c->role == Role::Subscriber) {
    size_t at = text.find("\"token\":\"");
    if (is("reconnect_token") && at != std::string_view::npos) {
      std::string_view rest = text.substr(at + 9);
      resumeTokens_[static_cast<size_t>(c->index)] = std::string(rest.substr(0, rest.find('"')));
    } else if (is("joined") && !c->joined) {
      c->joined = true;
      ++joined_;
    }
    return;
  }
  if (c->role == Role::Publisher) {
    if (is("joined") && !c->joined) {
      c->joined = true;
      ++pubJoined_;
    } else if (is("broadcast_sent")) {
      ++acks_;
    }
    return;
  }
  bool liveNow = false;
  if (is("reconnected")) {
    hist_.add(now - c->startNs);
    if (++resumed_ == o_.conns) endWindow(now);
    liveNow = o_.missed == 0;
  } else if (is("broadcast")) {
    liveNow = ++c->inflight == static_cast<uint32_t>(o_.missed);
  } else if (is("error") && err_.badReplies++ == 0) {
    std::fprintf(stderr, "msw-loadgen: %.*s\n", static_cast<int>(std::min<size_t>(text.size(), 300)), text.data());
  }
  if (liveNow) {
    ++live_;
    lastLiveNs_ = now;
  }
}

// The reconnect mode's phases: open and join, open the publishers, drop
// every client at once, publish what they miss, reconnect them all at once
// (the window: resumes/s, and the time until each got all it missed).
// False for the phases shared with the other modes.
bool Loadgen::reconnectTick(uint64_t now) {
  uint64_t timeout = static_cast<uint64_t>(o_.timeout * 1e9);
  bool late = now - phaseStart_ > timeout;
  switch (phase_) {
    case Phase::Opening:
      if (resumeTokens_.empty()) resumeTokens_.resize(static_cast<size_t>(o_.conns));
      pumpOpening(Role::Subscriber, o_.conns, started_);
      if (started_ >= o_.conns && handshaking_ == 0) {
        phase_ = Phase::Joining;
        phaseStart_ = now;
      }
      return true;
    case Phase::Joining:
      if (joined_ < static_cast<int>(subs_.size()) && !late) return true;
      err_.joinFailures += subs_.size() - static_cast<size_t>(joined_);
      phase_ = Phase::OpeningPublishers;
      phaseStart_ = now;
      return true;
    case Phase::OpeningPublishers:
      pumpOpening(Role::Publisher, rooms(), startedPubs_);
      if (startedPubs_ < rooms() || handshaking_ > 0 || (pubJoined_ < static_cast<int>(pubs_.size()) && !late))
        return true;
      for (Conn* sub : subs_) finish(sub);  // no close frame: they vanish, as in a tunnel
      phase_ = Phase::Dropping;
      phaseStart_ = now;
      return true;
    case Phase::Dropping:
      // The server notices each FIN at once and records the drop a few store round trips later.
      if (now - phaseStart_ < kSecond) return true;
      for (Conn* p : pubs_) {
        scratch_ = R"({"type":"broadcast","room":"b)" + std::to_string(p->index) + R"(","data":"missed"})";
        for (int i = 0; i < o_.missed; ++i) queue(p, kText, scratch_.data(), scratch_.size());
      }
      phase_ = Phase::Publishing;
      phaseStart_ = now;
      return true;
    case Phase::Publishing:
      if (acks_ < static_cast<int>(pubs_.size()) * o_.missed && !late) return true;
      phase_ = Phase::Resuming;
      phaseStart_ = now;
      startWindow(now);
      return true;
    case Phase::Resuming:
      pumpOpening(Role::Plain, o_.conns, resumeStarted_);
      if (live_ < o_.conns && now - phaseStart_ < 3 * timeout) return true;
      if (!windowEnd_) endWindow(now);
      startDraining(now);
      return true;
    default:
      return false;
  }
}

volatile sig_atomic_t g_stop = 0;

int Loadgen::run() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  int poolSize = o_.mode == Mode::Connect     ? std::min(o_.conns, o_.inflight)
                 : o_.mode == Mode::Fanout    ? o_.subscribers + o_.publishers
                 : o_.mode == Mode::Reconnect ? 2 * o_.conns + rooms()
                                              : o_.conns;
  if (static_cast<rlim_t>(poolSize) + 16 > rl.rlim_cur) {
    std::fprintf(stderr, "msw-loadgen: %d connections need more descriptors than ulimit -n %llu\n", poolSize,
                 static_cast<unsigned long long>(rl.rlim_cur));
    return 2;
  }
  if (!resolve()) die("cannot resolve %s", o_.host.c_str());
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) die("epoll_create1 failed");
  pool_.resize(static_cast<size_t>(poolSize));
  for (size_t i = pool_.size(); i-- > 0;) free_.push_back(&pool_[i]);

  requestHead_ = "GET " + o_.path;
  requestTail_ = " HTTP/1.1\r\nHost: " + o_.host + ":" + std::to_string(o_.port) +
                 "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
  echoHead_ = R"({"method":"index.index.echo","t":)";
  echoTail_ = R"(,"p":")" + std::string(static_cast<size_t>(o_.payload), 'x') + "\"}";
  publishHead_ = o_.publishMethod.substr(0, o_.publishMethod.rfind('}'));
  if (size_t dots = publishHead_.find("..."); dots != std::string::npos)
    publishHead_.replace(dots, 3, std::string(static_cast<size_t>(o_.payload), 'x'));
  // An empty object "{}" takes no leading comma before "t".
  if (publishHead_.find_last_not_of(" \t\r\n") == 0) publishHead_ += "\"_\":0";

  before_ = sampleProc(o_.serverPid);
  std::vector<epoll_event> events(4096);
  phaseStart_ = nowNs();
  while (phase_ != Phase::Done) {
    if (g_stop) stopRequested_ = true;
    uint64_t now = nowNs();
    tick(now);
    if (now - lastScan_ > 200 * 1000000ull) {
      scanTimeouts(now);
      lastScan_ = now;
    }
    flushDirty();
    reap();
    if (phase_ == Phase::Done) break;
    // Sleep until the next rate send is due (ns precision), else at most 5 ms.
    uint64_t waitNs = 5000000;
    if (phase_ == Phase::Running && openLoop()) {
      uint64_t due = runStart_ + static_cast<uint64_t>(static_cast<double>(rateSent_) * 1e9 / o_.rate);
      uint64_t t = nowNs();
      waitNs = due > t ? std::min<uint64_t>(due - t, waitNs) : 0;
    }
    timespec ts{static_cast<time_t>(waitNs / kSecond), static_cast<long>(waitNs % kSecond)};
    int n = epoll_pwait2(epfd_, events.data(), static_cast<int>(events.size()), &ts, nullptr);
    if (n < 0 && errno == ENOSYS) n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()),
                                                 static_cast<int>((waitNs + 999999) / 1000000));
    if (n < 0 && errno != EINTR) die("epoll_wait failed: %s", std::strerror(errno));
    for (int i = 0; i < n; ++i) onEvent(static_cast<Conn*>(events[static_cast<size_t>(i)].data.ptr),
                                        events[static_cast<size_t>(i)].events);
    // Replies queued while handling the batch go out in one send per socket.
    flushDirty();
    reap();
  }
  close(epfd_);
  report();
  bool nothing = o_.mode == Mode::Idle ? openList_.empty() : replies_ + deliveries_ + handshakes_ == 0;
  return nothing ? 1 : 0;
}

// ---------------------------------------------------------------- report

const char* modeName(Mode m) {
  switch (m) {
    case Mode::Connect: return "connect";
    case Mode::Idle: return "idle";
    case Mode::Echo: return "echo";
    case Mode::Fanout: return "fanout";
    case Mode::Chat: return "chat";
    case Mode::Reconnect: return "reconnect";
  }
  return "?";
}

void Loadgen::report() {
  double window = windowEnd_ > windowStart_ ? static_cast<double>(windowEnd_ - windowStart_) / 1e9 : 0;
  double rate = 0;
  const char* rateKey = "msgs_per_sec";
  switch (o_.mode) {
    case Mode::Connect:
      rate = window > 0 ? static_cast<double>(handshakes_) / window : 0;
      rateKey = "handshakes_per_sec";
      break;
    case Mode::Echo:
      rate = window > 0 ? static_cast<double>(replies_) / window : 0;
      break;
    case Mode::Fanout:
      rate = window > 0 ? static_cast<double>(deliveries_) / window : 0;
      rateKey = "deliveries_per_sec";
      break;
    case Mode::Chat:
      rate = window > 0 ? static_cast<double>(replies_) / window : 0;
      break;
    case Mode::Idle:
      rateKey = nullptr;
      break;
    case Mode::Reconnect:
      rate = window > 0 ? static_cast<double>(resumed_) / window : 0;
      rateKey = "resumes_per_sec";
      break;
  }
  int conns = o_.mode == Mode::Fanout ? o_.subscribers + o_.publishers : o_.conns;
  int opened = o_.mode == Mode::Connect ? static_cast<int>(handshakes_)
                                        : static_cast<int>(openList_.size() + subs_.size() + pubs_.size());
  double serverCpu = cpuPct(windowA_, windowB_);
  double clientCpu = window > 0 ? 100.0 * static_cast<double>(selfCpuB_ - selfCpuA_) / 1e9 / window : -1;
  // RSS: before any connection, and at the end of the window (idle: of the hold).
  uint64_t rssBefore = before_.ok ? before_.rssBytes : 0;
  uint64_t rssAfter = windowB_.ok ? windowB_.rssBytes : 0;
  double perConn = opened > 0 && before_.ok && windowB_.ok
                       ? (static_cast<double>(rssAfter) - static_cast<double>(rssBefore)) / opened
                       : -1;
  double p50 = hist_.percentile(0.5) / 1e3, p99 = hist_.percentile(0.99) / 1e3,
         p999 = hist_.percentile(0.999) / 1e3, pmax = static_cast<double>(hist_.max()) / 1e3;
  if (o_.json) {
    std::printf("{\"mode\":\"%s\",\"conns\":%d,\"opened\":%d,\"duration\":%.3f", modeName(o_.mode), conns, opened,
                window);
    if (rateKey) std::printf(",\"%s\":%.1f", rateKey, rate);
    if (o_.mode == Mode::Echo) std::printf(",\"inflight\":%d,\"rate\":%.0f,\"replies\":%llu", o_.inflight, o_.rate,
                                           static_cast<unsigned long long>(replies_));
    if (o_.mode == Mode::Fanout)
      std::printf(",\"subscribers\":%d,\"publishers\":%d,\"inflight\":%d,\"deliveries\":%llu", o_.subscribers,
                  o_.publishers, o_.inflight, static_cast<unsigned long long>(deliveries_));
    if (o_.mode == Mode::Connect) std::printf(",\"handshakes\":%llu", static_cast<unsigned long long>(handshakes_));
    if (o_.mode == Mode::Chat)
      std::printf(",\"rate\":%.0f,\"messages\":%llu,\"deliveries\":%llu,\"deliveries_per_sec\":%.1f", o_.rate,
                  static_cast<unsigned long long>(replies_), static_cast<unsigned long long>(deliveries_),
                  window > 0 ? static_cast<double>(deliveries_) / window : 0);
    if (o_.mode == Mode::Reconnect)
      std::printf(",\"rooms\":%d,\"missed\":%d,\"resumed\":%d,\"live\":%d,\"all_live_ms\":%.1f", rooms(), o_.missed,
                  resumed_, live_, live_ && lastLiveNs_ > windowStart_ ? (lastLiveNs_ - windowStart_) / 1e6 : -1.0);
    if (o_.mode != Mode::Idle)
      std::printf(",\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"samples\":%llu}", p50, p99,
                  p999, pmax, static_cast<unsigned long long>(hist_.count()));
    auto num = [](double v) {
      static char b[4][32];
      static int k = 0;
      char* s = b[k++ & 3];
      if (v < 0) std::snprintf(s, 32, "null");
      else std::snprintf(s, 32, "%.1f", v);
      return s;
    };
    std::printf(",\"server_cpu_pct\":%s,\"client_cpu_pct\":%s", num(serverCpu), num(clientCpu));
    if (o_.serverPid > 0)
      std::printf(",\"server_rss_before\":%llu,\"server_rss_after\":%llu,\"rss_per_conn_bytes\":%s",
                  static_cast<unsigned long long>(rssBefore), static_cast<unsigned long long>(rssAfter),
                  num(perConn));
    std::printf(",\"errors\":%llu,\"error_detail\":{\"connect\":%llu,\"protocol\":%llu,\"bad_reply\":%llu,"
                "\"server_close\":%llu,\"stall\":%llu,\"join\":%llu},\"other_messages\":%llu,\"dropped_sends\":%llu}\n",
                static_cast<unsigned long long>(err_.total()), static_cast<unsigned long long>(err_.connectFailures),
                static_cast<unsigned long long>(err_.protocolErrors), static_cast<unsigned long long>(err_.badReplies),
                static_cast<unsigned long long>(err_.serverCloses), static_cast<unsigned long long>(err_.stalls),
                static_cast<unsigned long long>(err_.joinFailures), static_cast<unsigned long long>(otherMessages_),
                static_cast<unsigned long long>(droppedSends_));
    return;
  }
  std::printf("mode %s: %d connections (%d opened), window %.2f s\n", modeName(o_.mode), conns, opened, window);
  if (o_.mode == Mode::Reconnect)
    std::printf("  %-20s %d of %d, all live after %.1f ms\n", "resumed", resumed_, o_.conns,
                live_ == o_.conns ? (lastLiveNs_ - windowStart_) / 1e6 : -1.0);
  if (rateKey) std::printf("  %-20s %.0f\n", rateKey, rate);
  if (o_.mode != Mode::Idle && hist_.count() > 0)
    std::printf("  %-20s p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (%llu samples)\n", "latency (us)", p50, p99, p999,
                pmax, static_cast<unsigned long long>(hist_.count()));
  if (serverCpu >= 0) std::printf("  %-20s %.1f%%\n", "server CPU", serverCpu);
  if (clientCpu >= 0) std::printf("  %-20s %.1f%%\n", "loadgen CPU", clientCpu);
  if (o_.serverPid > 0 && before_.ok)
    std::printf("  %-20s %.1f MiB -> %.1f MiB (%.0f bytes per connection)\n", "server RSS",
                static_cast<double>(rssBefore) / 1048576, static_cast<double>(rssAfter) / 1048576, perConn);
  std::printf("  %-20s %llu (connect %llu, protocol %llu, bad reply %llu, server close %llu, stall %llu, join %llu)\n",
              "errors",
              static_cast<unsigned long long>(err_.total()), static_cast<unsigned long long>(err_.connectFailures),
              static_cast<unsigned long long>(err_.protocolErrors), static_cast<unsigned long long>(err_.badReplies),
              static_cast<unsigned long long>(err_.serverCloses), static_cast<unsigned long long>(err_.stalls),
              static_cast<unsigned long long>(err_.joinFailures));
  if (otherMessages_ || droppedSends_)
    std::printf("  %-20s other messages %llu, dropped sends %llu\n", "notes",
                static_cast<unsigned long long>(otherMessages_), static_cast<unsigned long long>(droppedSends_));
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseArgs(argc, argv);
  struct sigaction sa{};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  Loadgen g(o);
  return g.run();
}
