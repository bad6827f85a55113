// framework/manager_http.cpp: the manager's plumbing (docs/manager-api.md):
// its listening socket and HTTP connections (framework/manager_http_conn.h),
// routing their requests to the endpoints (framework/manager.cpp), and the
// lws context that takes the console's WebSocket upgrades. Manager thread only.
#include "framework/manager_http.h"

#include <libwebsockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "framework/app_impl.h"
#include "framework/cluster.h"
#include "framework/frame_builder.h"
#include "framework/http_response.h"
#include "framework/manager_http_conn.h"
#include "framework/module_loader.h"
#include "framework/server.h"
#include "framework/store_hub.h"
#include "library/log.h"

namespace msw {

std::string errorBody(std::string_view reason) {
  std::string s = "{\"error\":";
  appendJsonString(s, reason);
  return s + "}";
}

namespace {

// HTTP connections at once; more are closed at accept (logged).
constexpr size_t kMaxConns = 256;

int managerCallback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* m = static_cast<Manager*>(lws_context_user(lws_get_context(wsi)));
  return m->onLwsEvent(wsi, reason, user, in, len);
}

}  // namespace

bool Manager::setUp(std::string& error) {
  server_.stores().attach(*loop_);
  static lws_protocols protocols[2];
  protocols[0] = {};
  protocols[0].name = "msw-manager";
  protocols[0].callback = managerCallback;
  protocols[0].per_session_data_size = sizeof(void*);
  protocols[0].rx_buffer_size = 4096;
  protocols[1] = {};
  static const lws_retry_bo_t kNoKeepAlive = {};
  void* loops[1] = {loop_->loop()};
  lws_context_creation_info info = {};
  // lws listens nowhere: it gets the upgrades this thread accepted (adopt).
  info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_VALIDATE_UTF8;
  info.foreign_loops = loops;
  info.user = this;
  info.vhost_name = "manager";
  info.retry_and_idle_policy = &kNoKeepAlive;
  info.timeout_secs = 10;
  info.server_string = "msw";
  context_ = lws_create_context(&info);
  vhost_ = context_ ? lws_get_vhost_by_name(context_, "manager") : nullptr;
  if (!vhost_) {
    error = "cannot create the manager's lws context";
    return false;
  }
  if (!listen(error)) return false;
  server_.cluster().start(*loop_);
  return true;
}

bool Manager::listen(std::string& error) {
  const Config& cfg = server_.config();
  std::string port = std::to_string(cfg.managerPort);
  error = "cannot listen on manager port " + cfg.managerHost + ":" + port + " (in use, or not an address of this machine)";
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (getaddrinfo(cfg.managerHost.c_str(), port.c_str(), &hints, &res) != 0 || !res) return false;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            bind(fd, res->ai_addr, res->ai_addrlen) == 0 && ::listen(fd, 512) == 0;
  freeaddrinfo(res);
  if (!ok) {
    error += std::string(": ") + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  error.clear();
  listenFd_ = fd;
  ev_io_init(&accept_, &Manager::onAccept, fd, EV_READ);
  accept_.data = this;
  ev_io_start(loop_->loop(), &accept_);
  return true;
}

void Manager::onAccept(struct ev_loop*, ev_io* w, int) { static_cast<Manager*>(w->data)->acceptPending(); }

void Manager::acceptPending() {
  for (int i = 0; i < 64; ++i) {
    int fd = accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors: stop accepting until a connection closes (dropConn).
      if (errno == EMFILE || errno == ENFILE) ev_io_stop(loop_->loop(), &accept_);
      return;
    }
    if (conns_.size() >= kMaxConns) {
      LOG_INFO("manager conn %d refused: over %zu HTTP connections", fd, kMaxConns);
      ::close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint64_t id = nextId_++;
    auto conn = std::make_unique<HttpConn>(*this, fd, id);
    HttpConn* c = conn.get();
    conns_.emplace(id, std::move(conn));
    c->start();
  }
}

void Manager::dropConn(uint64_t conn) {
  // Called from inside the connection: it goes once its call returned.
  loop_->post([this, conn] { conns_.erase(conn); });
  if (listenFd_ >= 0 && !ev_is_active(&accept_)) ev_io_start(loop_->loop(), &accept_);
}

bool Manager::adopt(int fd, std::string_view readBytes) {
  // lws reads readBytes first, then the socket, as if it had accepted it.
  if (lws_adopt_socket_vhost_readbuf(vhost_, fd, readBytes.data(), readBytes.size())) return true;
  LOG_WARN("manager conn %d: lws did not take the WebSocket upgrade", fd);
  return false;
}

void Manager::tearDown() {
  loop_->close();
  conns_.clear();
  if (listenFd_ >= 0) {
    ev_io_stop(loop_->loop(), &accept_);
    ::close(listenFd_);
    listenFd_ = -1;
  }
  if (context_) lws_context_destroy(context_);
  context_ = nullptr;
  vhost_ = nullptr;
  pending_.clear();
  server_.stores().detach();
}

bool Manager::authorized(std::string_view bearer, std::string_view queryToken) const {
  const std::string& token = server_.config().managerToken;
  if (token.empty()) return true;
  return constantTimeEquals(bearer.empty() ? queryToken : bearer, token);
}

bool Manager::authorized(lws* wsi) const {
  char buf[512], q[512];
  int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION);
  std::string_view bearer =
      HttpExchange::bearerCredentials(n > 0 ? std::string_view(buf, static_cast<size_t>(n)) : std::string_view());
  const char* given = lws_get_urlarg_by_name(wsi, "token=", q, sizeof q);  // console WebSocket clients
  return authorized(bearer, given ? given : "");
}

int Manager::onLwsEvent(lws* wsi, int reason, void* user, void* in, size_t len) {
  auto** slot = static_cast<Session**>(user);
  Session* s = slot ? *slot : nullptr;
  switch (reason) {
    case LWS_CALLBACK_HTTP:
      return -1;  // only upgrades reach lws (HttpConn); one that lws saw as plain HTTP is closed
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      if (authorized(wsi)) return 0;
      writeHttpResponse(wsi, 401, "application/json", errorBody("missing or wrong bearer token"), "www-authenticate:",
                        "Bearer");
      return 1;
    case LWS_CALLBACK_ESTABLISHED:
      if (!s) {
        *slot = s = new Session();
        s->wsi = wsi;
      }
      return 0;
    case LWS_CALLBACK_RECEIVE:
      if (!s) return -1;
      s->body.append(static_cast<const char*>(in), len);
      if (s->body.size() > HttpExchange::kMaxBody) return -1;
      if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        std::string text;
        text.swap(s->body);
        consoleCommand(*s, text);
      }
      return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      if (s && !s->wsOut.empty()) {
        std::string frame(LWS_PRE, '\0');
        frame += s->wsOut.front();
        s->wsOut.pop_front();
        if (lws_write(wsi, reinterpret_cast<unsigned char*>(frame.data()) + LWS_PRE, frame.size() - LWS_PRE,
                      LWS_WRITE_TEXT) < 0)
          return -1;
        if (!s->wsOut.empty()) lws_callback_on_writable(wsi);
        else if (std::exchange(s->stopAfterAnswer, false)) server_.requestStop();
      }
      return 0;
    // lws frees the per-session slot when it unbinds the protocol (after a
    // keep-alive transaction, at context destroy) without a WSI_DESTROY for it.
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_WSI_DESTROY:
      if (s) {
        // A console may have several commands in flight.
        std::erase_if(pending_, [s](const auto& kv) { return kv.second == s; });
        if (s->stopAfterAnswer) server_.requestStop();  // the asker left before its answer
        delete s;
        *slot = nullptr;
      }
      return 0;
    default:
      return lws_callback_http_dummy(wsi, static_cast<lws_callback_reasons>(reason), user, in, len);
  }
}

Manager::Reply Manager::replyTo(Session& s) {
  s.id = nextId_++;
  pending_[s.id] = &s;
  uint64_t id = s.id;
  return [this, id](int status, std::string body) {
    // Workers answer on their threads: hop back to the manager's.
    loop_->post([this, id, status, body = std::move(body)]() mutable { complete(id, status, std::move(body)); });
  };
}

void Manager::complete(uint64_t id, int status, std::string body) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // the client went away meanwhile
  Session* s = it->second;
  pending_.erase(it);
  s->id = 0;
  (void)status;  // the console's wrap put it in the body
  s->wsOut.push_back(std::move(body));
  lws_callback_on_writable(s->wsi);
}

void Manager::connAnswered(uint64_t conn, uint64_t seq, int status, std::string body) {
  auto it = conns_.find(conn);
  if (it != conns_.end()) it->second->answer(seq, status, std::move(body));  // else: the client went away meanwhile
}

void Manager::route(uint64_t conn, uint64_t seq, HttpRequestParser& request, bool& stopAfterAnswer) {
  Reply reply = [this, conn, seq](int status, std::string body) {
    // Workers answer on their threads, and an endpoint may answer before it
    // returns: always through the inbox, so the connection sees it later.
    loop_->post([this, conn, seq, status, body = std::move(body)]() mutable {
      connAnswered(conn, seq, status, std::move(body));
    });
  };
  const HttpExchange& http = request.exchange();
  const std::string& path = http.path();
  bool post = http.post();
  Json body;
  if (post) body = Json::parse(http.body());
  if (!managerServes(path)) {
    if (moduleRoute(request, body, reply)) return;
    return reply(404, errorBody("no such endpoint " + path));
  }
  if (post && !body.isObject() && path != "/reload" && path != "/stop")
    return reply(400, errorBody("body is not a JSON object"));
  if (path == "/status" && !post) return status(reply);
  if (path == "/metrics" && !post) return metrics(reply);
  if (path == "/push" && post) return push(body, reply);
  if (path == "/kick" && post) return kick(body, reply);
  if (path == "/reload" && post) return reload(reply);
  if (path == "/stop" && post) return stopServer(stopAfterAnswer, reply);
  if (path == "/online" && !post) return online(HttpRequestParser::queryArg(request.query(), "room"), reply);
  if (path == "/online/user" && !post) return onlineUser(HttpRequestParser::queryArg(request.query(), "id"), reply);
  reply(405, errorBody("wrong method for " + path));
}

bool managerServes(std::string_view path) {
  static constexpr std::string_view kPaths[] = {"/status", "/metrics", "/push",   "/kick",
                                                "/reload", "/stop",    "/online", "/online/user"};
  return std::find(std::begin(kPaths), std::end(kPaths), path) != std::end(kPaths);
}

// The handler runs with its module's table pinned (StorePin): a reload meanwhile
// unloads that code only once the handler and its store callbacks are done.
bool Manager::moduleRoute(HttpRequestParser& request, const Json& body, const Reply& reply) {
  std::shared_ptr<const RouteTable> table = server_.routes();
  const HttpExchange& http = request.exchange();
  std::string_view method = http.post() ? "POST" : "GET";
  bool pathKnown = false;
  const ManagerRouteFn* fn = table ? table->findManagerRoute(method, http.path(), pathKnown) : nullptr;
  if (!fn) {
    if (!pathKnown) return false;
    reply(405, errorBody("wrong method for " + http.path()));
    return true;
  }
  ManagerRequest req{server_.app(), method, http.path(), HttpRequestParser::queryArgs(request.query()),
                     JsonRef(body), http.body()};
  StorePin pin(table);
  try {
    (*fn)(req, reply);
  } catch (const std::exception& e) {
    LOG_ERROR("manager route %s threw: %s", http.path().c_str(), e.what());
    reply(500, errorBody("the route's handler failed"));
  } catch (...) {
    LOG_ERROR("manager route %s threw", http.path().c_str());
    reply(500, errorBody("the route's handler failed"));
  }
  return true;
}

}  // namespace msw
