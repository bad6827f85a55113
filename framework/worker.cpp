#include "framework/worker.h"

#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>

#include "framework/app_impl.h"
#include "framework/cluster.h"
#include "framework/store_hub.h"
#include "framework/token_probe.h"
#include "framework/frame_builder.h"
#include "framework/http_response.h"
#include "framework/server.h"
#include "library/log.h"

namespace msw {
namespace {

// Per-session data lws allocates (zeroed) for every wsi of the outside vhost.
struct Session {
  Connection* conn;  // from the handshake check until CLOSED / WSI_DESTROY
  char address[48];  // the client's, for the log line at ESTABLISHED (the headers are gone by then)
};

// All-zero: no lws keep-alive or validity timers (docs/design.md#idle-clients-and-timers: they share one
// sorted list, O(n) per insert); idle clients are the timer wheel's job.
const lws_retry_bo_t kNoKeepAlive = {};

constexpr size_t kCoalesceLimit = 64 * 1024;
constexpr int kUnansweredSlack = 256;

int outsideCallback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* w = static_cast<Worker*>(lws_context_user(lws_get_context(wsi)));
  return w->onLwsEvent(wsi, reason, user, in, len);
}

thread_local Worker* tCurrentWorker = nullptr;

const char* closeReasonText(int code) {
  switch (code) {
    case kCloseGoingAway: return "server stopping";
    case kCloseTooLarge: return "message too large";
    case kCloseIdle: return "idle timeout";
    case kCloseSlowConsumer: return "send queue overflow";
    case kCloseKicked: return "kicked";
    case kCloseRateAbuse: return "rate limit abuse";
    default: return "";
  }
}

}  // namespace

// The loop exists from construction to destruction, so that post() is
// always safe: before the thread runs, tasks wait; after it ended, they are refused.
Worker::Worker(Server& server, int index)
    : server_(server),
      index_(index),
      loop_(std::make_unique<EventLoop>()),
      listener_([this](int fd) { adopt(fd); }),
      endpoints_(server.endpoints()),
      endpointStats_(std::make_unique<EndpointStats[]>(server.endpoints().size())),
      gate_(stats_, [this](int fd, std::string_view head) { handOver(fd, head); }),
      handshake_(server, stats_, gate_),
      rooms_(server.cluster(), stats_.rooms, server.endpoints()),
      router_(*this, server),
      idle_(512) {}

Worker* Worker::current() { return tCurrentWorker; }

Worker::~Worker() {
  if (thread_.joinable()) thread_.join();
}

bool Worker::start(std::string& error) {
  std::promise<std::string> ready;
  auto result = ready.get_future();
  thread_ = std::thread([this, &ready] {
    char name[8];
    std::snprintf(name, sizeof name, "w%d", index_);
    log::setThreadName(name);
    std::string err;
    if (!setUp(err)) {
      tearDown();
      ready.set_value(err);
      return;
    }
    ready.set_value("");
    tCurrentWorker = this;
    loop_->run();
    tearDown();
    tCurrentWorker = nullptr;
  });
  error = result.get();
  if (!error.empty()) {
    thread_.join();
    return false;
  }
  return true;
}

void Worker::requestStop() {
  post([this] { beginStop(); });
}

void Worker::joinThread() {
  if (thread_.joinable()) thread_.join();
}

bool Worker::setUp(std::string& error) {
  const Config& cfg = server_.config();
  // Watchers first: tearDown stops them all, whatever step below failed.
  ev_timer_init(&tickTimer_, &Worker::onTick, 1., 1.);
  tickTimer_.data = this;
  ev_prepare_init(&flushWatcher_, &Worker::onFlush);
  flushWatcher_.data = this;
  settings_ = server_.liveSettings();
  routes_ = server_.routes();
  server_.stores().attach(*loop_);
  // A Redis that restarted has forgotten this worker's members: tell it again.
  server_.stores().onReconnect([this] { registerAll(); });
  startBackend();

  // lws keeps pointers to these for the context's life: they are members.
  protocols_[0] = {};
  protocols_[0].name = "msw";
  protocols_[0].callback = outsideCallback;
  protocols_[0].per_session_data_size = sizeof(Session);
  protocols_[0].rx_buffer_size = static_cast<size_t>(cfg.rxBufferSize);
  // One send() per coalesced batch, not 4 KB slices (docs/design.md#sending-and-the-send-queue).
  protocols_[0].tx_packet_size = kCoalesceLimit;
  protocols_[1] = {};
  mount_ = {};
  mount_.mountpoint = "/";
  mount_.mountpoint_len = 1;
  mount_.origin = cfg.staticDir.c_str();
  mount_.def = "index.html";
  mount_.origin_protocol = LWSMPRO_FILE;

  static const lws_extension kDeflate[] = {
      {"permessage-deflate", lws_extension_callback_pm_deflate, "permessage-deflate; client_max_window_bits"},
      {nullptr, nullptr, nullptr}};

  void* loops[1] = {loop_->loop()};
  lws_context_creation_info info = {};
  info.port = CONTEXT_PORT_NO_LISTEN_SERVER;  // we accept, lws adopts
  info.protocols = protocols_;
  info.mounts = cfg.staticDir.empty() ? nullptr : &mount_;
  info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_VALIDATE_UTF8;
  info.foreign_loops = loops;
  info.user = this;
  info.vhost_name = "outside";
  // Above RequestGate's 8 KB of request line and headers, which lws stores
  // with some overhead: whatever the gate lets through fits.
  info.max_http_header_data = 16384;
  info.retry_and_idle_policy = &kNoKeepAlive;
  info.timeout_secs = 10;  // handshakes and plain HTTP only
  info.server_string = "msw";
  if (cfg.permessageDeflate) info.extensions = kDeflate;
  if (!cfg.sslCert.empty()) {
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = cfg.sslCert.c_str();
    info.ssl_private_key_filepath = cfg.sslKey.c_str();
  }
  context_ = lws_create_context(&info);
  if (!context_) {
    error = "cannot create the lws context (see the log above)";
    return false;
  }
  // lws returns a context even when its vhost failed: check it (docs/design.md#threads-and-event-loops).
  vhost_ = lws_get_vhost_by_name(context_, "outside");
  if (!vhost_) {
    error = "cannot create the outside vhost (TLS certificate or key?)";
    return false;
  }
  if (!listener_.open(cfg, cfg.port, error)) return false;
  for (int port : server_.endpoints().extraPorts()) {
    endpointListeners_.push_back(std::make_unique<Listener>([this](int fd) { adopt(fd); }));
    if (!endpointListeners_.back()->open(cfg, port, error)) return false;
  }

  struct ev_loop* l = loop_->loop();
  listener_.start(l);
  for (auto& el : endpointListeners_) el->start(l);
  ev_timer_start(l, &tickTimer_);
  ev_prepare_start(l, &flushWatcher_);
  idle_.advance(static_cast<uint64_t>(ev_now(l)), [](TimerNode*) {});
  heartbeat_ = buildTextFrame("3");
  return true;
}

void Worker::tearDown() {
  backend_.reset();
  {
    struct ev_loop* l = loop_->loop();
    listener_.close(l);
    for (auto& el : endpointListeners_) el->close(l);
    gate_.closeAll(l);
    ev_timer_stop(l, &tickTimer_);
    ev_prepare_stop(l, &flushWatcher_);
    loop_->close();
  }
  // Drops whatever is still open (after stop_timeout): CLOSED runs for each,
  // so their rooms and close hooks are cleaned like any other close.
  if (context_) lws_context_destroy(context_);
  context_ = nullptr;
  vhost_ = nullptr;
  server_.stores().detach();
  routes_.reset();
}

// ---- accepting ----

// Past max_connections a client is answered 503 by the handshake; only far
// past it (descriptors for the answers themselves run short) is it closed unanswered.
void Worker::adopt(int fd) {
  if (server_.sockets.load(std::memory_order_relaxed) >= server_.maxConnections() + kUnansweredSlack) {
    ::close(fd);
    stats_.rejected[static_cast<int>(Reject::kCapacity)].add();
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (server_.config().sslCert.empty()) gate_.admit(loop_->loop(), fd);
  else handOver(fd, {});
}

void Worker::handOver(int fd, std::string_view head) {
  if (head.empty()) gate_.forget(fd);
  // On failure lws has already closed fd.
  lws* wsi = head.empty() ? lws_adopt_socket_vhost(vhost_, fd)
                          : lws_adopt_socket_vhost_readbuf(vhost_, fd, head.data(), head.size());
  if (!wsi) LOG_ERROR("lws could not adopt an accepted socket");
}

// ---- lws events ----

int Worker::onLwsEvent(lws* wsi, int reason, void* user, void* in, size_t len) {
  auto* s = static_cast<Session*>(user);
  Connection* c = s ? s->conn : nullptr;
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      return filterHandshake(wsi, s);
    case LWS_CALLBACK_ESTABLISHED:
      if (c) established(c);
      return 0;
    case LWS_CALLBACK_RECEIVE:
      if (c && c->established) receive(c, static_cast<const char*>(in), len);
      return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return c && c->established ? writeable(c) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (c && len >= 2) {
        auto* p = static_cast<const unsigned char*>(in);
        c->peerCloseCode = static_cast<uint16_t>((p[0] << 8) | p[1]);
      } else if (c) {
        c->peerCloseCode = 1005;
      }
      return 0;
    case LWS_CALLBACK_CLOSED:
      if (c && c->established) {
        s->conn = nullptr;
        closed(c);
      }
      return 0;
    case LWS_CALLBACK_WSI_DESTROY:
      // CLOSED never comes for a connection whose handshake did not finish.
      if (c) {
        s->conn = nullptr;
        if (c->established) {
          closed(c);
        } else {
          released(c);
          delete c;
        }
      }
      return 0;
    case LWS_CALLBACK_FILTER_HTTP_CONNECTION:  // plain HTTP, before the static_dir mount
      return answerTokenProbe(wsi, *server_.codec(), server_.config()) ? 1 : 0;
    case LWS_CALLBACK_HTTP:
      // Only reached when no static_dir mount answers.
      writeHttpResponse(wsi, 404, "application/json", "{\"status\":404,\"info\":\"not found\"}");
      return lws_http_transaction_completed(wsi) ? -1 : 0;
    default:
      return lws_callback_http_dummy(wsi, static_cast<lws_callback_reasons>(reason), user, in, len);
  }
}

int Worker::filterHandshake(lws* wsi, void* user) {
  uint16_t endpoint = 0;
  std::optional<Handshake::Admission> a = handshake_.check(wsi, stopping_, endpoint);
  gate_.forget(lws_get_socket_fd(wsi));
  if (!a) return 1;
  auto* s = static_cast<Session*>(user);
  if (!s) {
    handshake_.release(a->address, a->auth.id());
    return 1;
  }
  std::snprintf(s->address, sizeof s->address, "%s", a->address.c_str());
  auto* c = new Connection();
  c->wsi = wsi;
  c->auth = std::move(a->auth);
  c->endpoint = endpoint;
  if (a->pending) holdForConnectHook(c, wsi, a->address);
  // Kept only when a per-address limit needs it back at the close.
  if (server_.limits().active()) c->ensureExtras().address = std::move(a->address);
  s->conn = c;
  return 0;
}

// What the handshake took (a max_connections slot, the limits' counts) goes back.
void Worker::released(Connection* c) {
  handshake_.release(c->extras ? std::string_view(c->extras->address) : std::string_view(), c->auth.id());
}

void Worker::established(Connection* c) {
  c->fd = server_.newFd(index_, nextSeq_++);
  c->established = true;
  conns_.emplace(c->fd, c);
  stats_.connections.add();
  stats_.handshakes.add();
  if (c->endpoint) endpointStats_[c->endpoint].connections.add();
  const EndpointSettings& settings = settingsOf(c);
  double now = ev_now(loop_->loop());
  c->tokens = settings.rateBurst;
  c->refillAt = now;
  c->activeAt = activityStamp();
  scheduleIdle(c, static_cast<uint64_t>(now));
  if (c->authPending) askConnectHook(c);
  else rooms_.addUser(c);
  if (log::enabled(log::Level::kInfo)) {
    auto* s = static_cast<const Session*>(lws_wsi_user(c->wsi));
    Auth a = c->auth.view();
    LOG_INFO("conn %llu open from %s id=%.*s type=%.*s code=%.*s endpoint=%s", logFd(c->fd),
             s ? s->address : "?", static_cast<int>(a.id.size()), a.id.data(), static_cast<int>(a.type.size()),
             a.type.data(), static_cast<int>(a.code.size()), a.code.data(), endpointOf(c).name.c_str());
  }
  if (c->endpoint && !c->authPending) router_.openHook(c);  // else once the connect hook admitted it
}

// ---- receiving ----

void Worker::receive(Connection* c, const char* in, size_t len) {
  if (c->closing()) return;
  // Only a whole frame is activity: bytes of one that never ends are not.
  if (!lws_remaining_packet_payload(c->wsi)) c->activeAt = activityStamp();
  stats_.bytesIn.add(static_cast<int64_t>(len));
  bool first = lws_is_first_fragment(c->wsi);
  bool last = lws_is_final_fragment(c->wsi) && !lws_remaining_packet_payload(c->wsi);
  if (first && !c->rxDiscard && c->rxBytes == 0 && lws_frame_is_binary(c->wsi)) c->rxBinary = true;
  if (c->rxDiscard) {
    if (last) c->rxDiscard = false;
    return;
  }
  c->rxBytes += static_cast<uint32_t>(len);
  if (const int64_t limit = settingsOf(c).maxMessageSize; c->rxBytes > limit) {
    LOG_WARN("conn %llu: message over %lld bytes: closing 1009", logFd(c->fd), static_cast<long long>(limit));
    const Endpoint& ep = endpointOf(c);
    // A raw endpoint's client speaks no JSON: the close code says it all.
    if (ep.route != RouteMode::kRaw)
      send(c, buildReply(ep.flat(), 413, "messageTooLarge", "message over " + std::to_string(limit) + " bytes", {}));
    close(c, kCloseTooLarge, closeReasonText(kCloseTooLarge));
    if (c->extras) c->extras->rx.clear();
    c->rxBytes = 0;
    c->rxDiscard = !last;
    return;
  }
  if (last && c->rxBytes == len) {  // the whole message in one piece: no copy
    c->rxBytes = 0;
    finishMessage(c, std::string_view(in, len));
    return;
  }
  std::string& rx = c->ensureExtras().rx;
  rx.append(in, len);
  if (!last) return;
  std::string text;
  text.swap(rx);
  c->rxBytes = 0;
  finishMessage(c, text);
}

void Worker::finishMessage(Connection* c, std::string_view text) {
  bool binary = c->rxBinary;
  c->rxBinary = false;
  stats_.messagesIn.add();
  if (c->endpoint) endpointStats_[c->endpoint].messagesIn.add();
  if (c->authPending && holdMessage(c, text, binary)) return;
  router_.route(c, text, binary);
}

// ---- sending ----

Connection* Worker::find(Fd fd) const {
  auto it = conns_.find(fd);
  return it == conns_.end() ? nullptr : it->second;
}

void Worker::send(Connection* c, const Payload& p) {
  if (c->closing() || c->gone) return;
  size_t size = p.frameSize();
  c->queue.push(p);
  c->queuedBytes += size;
  stats_.queuedBytes.add(static_cast<int64_t>(size));
  stats_.messagesOut.add();
  if (static_cast<int64_t>(c->queuedBytes) > settings_[0].sendQueueLimit) {
    LOG_WARN("conn %llu: %zu bytes queued, over send_queue_limit: closing 4009", logFd(c->fd), c->queuedBytes);
    close(c, kCloseSlowConsumer, closeReasonText(kCloseSlowConsumer), true);
    return;
  }
  markDirty(c);
}

void Worker::markDirty(Connection* c) {
  if (c->dirty) return;
  c->dirty = true;
  dirty_.push_back(c->fd);
}

void Worker::onFlush(struct ev_loop*, ev_prepare* w, int) { static_cast<Worker*>(w->data)->flushDirty(); }

// End of a loop iteration: everything queued during it goes out now, one
// write per connection however many frames it got (docs/design.md#sending-and-the-send-queue).
void Worker::flushDirty() {
  if (dirty_.empty()) return;
  flushing_.swap(dirty_);
  for (Fd fd : flushing_) {
    Connection* c = find(fd);
    if (!c) continue;
    c->dirty = false;
    if (!c->queue.empty() && !lws_partial_buffered(c->wsi)) writeQueued(c);
    if (!c->queue.empty() || c->closing()) askWritable(c);
  }
  flushing_.clear();
}

void Worker::writeQueued(Connection* c) {
  size_t count = 0;
  size_t total = 0;
  while (count < c->queue.size()) {
    size_t sz = c->queue.at(count).frameSize();
    if (count > 0 && total + sz > kCoalesceLimit) break;
    total += sz;
    ++count;
  }
  unsigned char* data;
  if (count == 1) {
    // Raw bytes of a frame built once: lws does not touch a RAW write's buffer.
    data = const_cast<unsigned char*>(c->queue.front().frame());
  } else {
    writeScratch_.resize(LWS_PRE + total);
    data = reinterpret_cast<unsigned char*>(writeScratch_.data()) + LWS_PRE;
    size_t off = 0;
    for (size_t i = 0; i < count; ++i) {
      const Payload& p = c->queue.at(i);
      std::memcpy(data + off, p.frame(), p.frameSize());
      off += p.frameSize();
    }
  }
  // lws keeps any unsent tail itself and sends it before anything else.
  int n = lws_write(c->wsi, data, total, LWS_WRITE_RAW);
  if (n >= 0 && c->extras && c->extras->keepLast) noteWritten(c, count);
  c->queue.pop(count);
  c->queuedBytes -= total;
  stats_.queuedBytes.add(-static_cast<int64_t>(total));
  if (n < 0) {
    LOG_DEBUG("conn %llu: write failed: dropping", logFd(c->fd));
    dropQueue(c);
    c->gone = true;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    return;
  }
  // lws sends the tail itself and then reports WRITEABLE: not a pong's trace.
  if (lws_partial_buffered(c->wsi)) c->askedWritable = true;
  stats_.bytesOut.add(static_cast<int64_t>(total));
}

void Worker::dropQueue(Connection* c) {
  stats_.queuedBytes.add(-static_cast<int64_t>(c->queuedBytes));
  c->queuedBytes = 0;
  c->queue.clear();
  if (c->extras) c->extras->unwrittenRoom.clear();
}

// Rounded up: the idle wheel counts whole seconds, and a client must never be closed early.
uint32_t Worker::activityStamp() const { return static_cast<uint32_t>(std::ceil(ev_now(loop_->loop()))); }

void Worker::askWritable(Connection* c) {
  c->askedWritable = true;
  lws_callback_on_writable(c->wsi);
}

// lws answers a ping itself and tells us nothing, but it keeps POLLOUT on
// after writing the pong: a WRITEABLE we did not ask for is the trace of a
// whole control frame. It is activity, and it counts toward rate_limit.
void Worker::controlFrameAnswered(Connection* c) {
  c->activeAt = activityStamp();
  router_.rateLimited(c);
}

int Worker::writeable(Connection* c) {
  if (c->gone) return -1;
  if (!std::exchange(c->askedWritable, false)) {
    controlFrameAnswered(c);
    if (c->gone) return -1;
  }
  if (!c->queue.empty()) {
    if (!lws_partial_buffered(c->wsi)) writeQueued(c);
    if (c->gone) return -1;
    if (!c->queue.empty()) {
      askWritable(c);
      return 0;
    }
  }
  if (c->closing()) {
    if (lws_partial_buffered(c->wsi)) {
      askWritable(c);
      return 0;
    }
    std::string_view why = c->extras && !c->extras->closeReason.empty() ? std::string_view(c->extras->closeReason)
                                                                          : closeReasonText(c->closeCode);
    lws_close_reason(c->wsi, static_cast<lws_close_status>(c->closeCode),
                     reinterpret_cast<unsigned char*>(const_cast<char*>(why.data())), why.size());
    return -1;
  }
  return 0;
}

void Worker::close(Connection* c, int code, std::string_view reason, bool drop) {
  if (c->closing() || c->gone) return;
  c->closeCode = static_cast<uint16_t>(code);
  if (!reason.empty() && reason != closeReasonText(code)) c->ensureExtras().closeReason.assign(reason.substr(0, 120));
  if (drop) dropQueue(c);
  markDirty(c);
}

// ---- closing ----

void Worker::closed(Connection* c) {
  int code = c->closeCode ? c->closeCode : (c->peerCloseCode ? c->peerCloseCode : 1006);
  c->gone = true;
  stats_.closes[closeSlot(code)].add();
  idle_.cancel(&c->idle);
  dropQueue(c);
  rooms_.leaveAll(c);
  rooms_.removeUser(c);
  LOG_INFO("conn %llu closed %d", logFd(c->fd), code);
  if (c->endpoint) endpointStats_[c->endpoint].connections.add(-1);
  runCloseHooks(c, code);
  conns_.erase(c->fd);
  released(c);
  stats_.connections.add(-1);
  delete c;
  if (stopping_ && conns_.empty()) loop_->stop();
}

void Worker::runCloseHooks(Connection* c, int code) {
  if (!c->extras) return;
  AppImpl& app = server_.app();
  for (const std::string& key : c->extras->closeKeys) {
    server_.stores().internal().srem(key, app.member(c->fd));
    server_.cluster().closeKeyRemoved(c->fd, key);
  }
  router_.closeHooks(c, code);
}

// ---- rooms and users ----

void Worker::joinRoom(Connection* c, std::string_view room) {
  if (!c->gone) rooms_.join(c, room);
}

void Worker::leaveRoom(Connection* c, std::string_view room) { rooms_.leave(c, room); }

size_t Worker::sendToRoom(std::string_view room, const Payload& p, std::span<const Fd> exclude) {
  const RoomIndex::Room* r = rooms_.find(room);
  return r ? sendToMembers(*r, room, exclude, [&p](Connection*) -> const Payload& { return p; }) : 0;
}

size_t Worker::sendToUser(std::string_view id, const Payload& p) {
  const std::vector<Connection*>* conns = rooms_.user(id);
  if (!conns) return 0;
  for (Connection* c : *conns) send(c, p);
  return conns->size();
}

size_t Worker::sendToAll(const Payload& p, std::span<const Fd> exclude) {
  size_t n = 0;
  for (auto& [fd, c] : conns_) {
    if (!exclude.empty() && std::find(exclude.begin(), exclude.end(), fd) != exclude.end()) continue;
    if (c->authPending) continue;  // not admitted yet: not one of "all"
    send(c, p);
    ++n;
  }
  return n;
}

void Worker::setSettings(const std::vector<EndpointSettings>& s) {
  bool idleChanged = false;
  for (size_t i = 0; i < s.size() && i < settings_.size(); ++i) {
    idleChanged |= s[i].heartbeatIdleTime != settings_[i].heartbeatIdleTime;
    settings_[i] = s[i];
  }
  if (!idleChanged) return;
  // A reload changed the idle time: each open connection is checked at the next
  // tick (idleExpired closes it or schedules it again), or stops being timed.
  for (auto& [fd, c] : conns_) {
    if (c->gone || c->closing()) continue;
    if (idleRule(c).closeAfter > 0) idle_.schedule(&c->idle, idle_.now() + 1);
    else idle_.cancel(&c->idle);
  }
}

// ---- timers and stop ----

void Worker::onTick(struct ev_loop*, ev_timer* w, int) { static_cast<Worker*>(w->data)->tick(); }

void Worker::tick() {
  double now = ev_now(loop_->loop());
  idle_.advance(static_cast<uint64_t>(now), [this](TimerNode* n) {
    idleExpired(reinterpret_cast<Connection*>(reinterpret_cast<char*>(n) - offsetof(Connection, idle)));
  });
  runTimers(static_cast<uint64_t>(now));
  gate_.expire(loop_->loop(), now);
  if (stopping_ && now >= stopDeadline_) {
    LOG_WARN("stop_timeout reached with %zu connections open: dropping them", conns_.size());
    loop_->stop();
  }
}

void Worker::beginStop() {
  if (stopping_) return;
  stopping_ = true;
  stopDeadline_ = ev_now(loop_->loop()) + server_.config().stopTimeout;
  listener_.close(loop_->loop());
  for (auto& el : endpointListeners_) el->close(loop_->loop());
  gate_.closeAll(loop_->loop());
  LOG_INFO("stopping: closing %zu connections with 1001", conns_.size());
  for (auto& [fd, c] : conns_) close(c, kCloseGoingAway, closeReasonText(kCloseGoingAway));
  // After the 1001s: a connection still waiting for its connect hook gets 1001, not 4403.
  backend_->cancelAll();
  if (conns_.empty()) loop_->stop();
}

}  // namespace msw
