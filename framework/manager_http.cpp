// framework/manager_http.cpp: the manager's HTTP plumbing (docs/manager-api.md):
// its lws context, sessions, reading requests, routing them to the endpoints
// (framework/manager.cpp) and writing the answers. Manager thread only.
#include "framework/manager_http.h"

#include <libwebsockets.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>

#include "framework/cluster.h"
#include "framework/frame_builder.h"
#include "framework/http_response.h"
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

// How long a POST waits for the workers before it is answered 503.
constexpr auto kAnswerTimeout = std::chrono::seconds(5);

int managerCallback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* m = static_cast<Manager*>(lws_context_user(lws_get_context(wsi)));
  return m->onLwsEvent(wsi, reason, user, in, len);
}

// A query argument, URL-decoded by lws; empty when absent.
std::string queryArg(lws* wsi, const char* nameEq) {
  char buf[1024];
  const char* v = lws_get_urlarg_by_name(wsi, nameEq, buf, sizeof buf);
  return v ? std::string(v) : std::string();
}

}  // namespace

bool Manager::setUp(std::string& error) {
  const Config& cfg = server_.config();
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
  info.port = cfg.managerPort;
  info.iface = cfg.managerHost.c_str();
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_VALIDATE_UTF8;
  // iface=127.0.0.1 alone still listens on [::], every interface (DESIGN §2).
  if (cfg.managerHost.find(':') == std::string::npos) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.foreign_loops = loops;
  info.user = this;
  info.vhost_name = "manager";
  info.retry_and_idle_policy = &kNoKeepAlive;
  info.timeout_secs = 10;
  info.server_string = "msw";
  context_ = lws_create_context(&info);
  if (!context_ || !lws_get_vhost_by_name(context_, "manager")) {
    error = "cannot listen on manager port " + cfg.managerHost + ":" + std::to_string(cfg.managerPort) +
            " (in use, or not an address of this machine)";
    return false;
  }
  server_.cluster().start(*loop_);
  return true;
}

void Manager::tearDown() {
  loop_->close();
  if (context_) lws_context_destroy(context_);
  context_ = nullptr;
  pending_.clear();
  server_.stores().detach();
}

bool Manager::authorized(lws* wsi) const {
  const std::string& token = server_.config().managerToken;
  if (token.empty()) return true;
  char buf[512];
  int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION);
  std::string_view given =
      HttpExchange::bearerCredentials(n > 0 ? std::string_view(buf, static_cast<size_t>(n)) : std::string_view());
  if (given.empty()) {
    const char* q = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof buf);  // console WebSocket clients
    given = q ? q : "";
  }
  return constantTimeEquals(given, token);
}

int Manager::onLwsEvent(lws* wsi, int reason, void* user, void* in, size_t len) {
  auto** slot = static_cast<Session**>(user);
  Session* s = slot ? *slot : nullptr;
  auto session = [&] {
    if (!s) {
      *slot = s = new Session();
      s->wsi = wsi;
    }
    return s;
  };
  switch (reason) {
    case LWS_CALLBACK_HTTP:
      return httpStart(wsi, *session(), static_cast<const char*>(in));
    case LWS_CALLBACK_HTTP_BODY:
      return s ? httpStep(wsi, *s, s->http.body(std::string_view(static_cast<const char*>(in), len)), false) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      return s ? httpStep(wsi, *s, s->http.bodyComplete(), true) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
      return s ? httpWriteable(wsi, *s) : 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      if (authorized(wsi)) return 0;
      writeHttpResponse(wsi, 401, "application/json", errorBody("missing or wrong bearer token"), "www-authenticate:",
                        "Bearer");
      return 1;
    case LWS_CALLBACK_ESTABLISHED:
      session()->console = true;
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

int Manager::httpStart(lws* wsi, Session& s, const char* path) {
  if (!s.http.awaitingAnswer()) {
    pending_.erase(s.id);
    s.id = 0;
    s.status = 0;
    s.answer.clear();
  }
  HttpHead head;
  head.method = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0  ? "POST"
                : lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 ? "GET"
                                                                    : "";
  // lws hands the path without the query; the query is read by name later.
  head.path = path ? path : "/";
  char length[32];
  head.hasContentLength = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
  int n = lws_hdr_copy(wsi, length, sizeof length, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  head.contentLength = n > 0 ? std::string_view(length, static_cast<size_t>(n)) : std::string_view("?");
  // lws would take a chunked body for 100 MB and wait for it: refused.
  head.hasTransferEncoding = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
  head.authorized = authorized(wsi);
  return httpStep(wsi, s, s.http.begin(head), false);
}

int Manager::httpStep(lws* wsi, Session& s, HttpExchange::Step step, bool bodyDone) {
  if (step == HttpExchange::Step::kWait) return 0;
  if (step == HttpExchange::Step::kRefuse)
    LOG_INFO("manager conn %d refused: %d %s", static_cast<int>(lws_get_socket_fd(wsi)), s.http.status(),
             s.http.errorReason().c_str());
  // After a body lws 4.1 stays in its body state until the transaction is
  // completed, and while a pipelined request waits in its buffer it reports
  // this body's end again and again, at full speed: such a request is
  // answered before this callback returns (docs/manager-api.md). Only
  // POSTs: GET endpoints may wait on this thread's loop (the store, Redis).
  if (bodyDone && (s.http.post() || step == HttpExchange::Step::kRefuse)) {
    auto [status, body] = step == HttpExchange::Step::kRoute ? answerNow(s)
                                                              : std::pair(s.http.status(), errorBody(s.http.errorReason()));
    s.status = status;
    s.answer = std::move(body);
    return httpWriteable(wsi, s);
  }
  if (step == HttpExchange::Step::kRoute) {
    route(s, replyTo(s));
    return 0;
  }
  s.status = s.http.status();
  s.answer = errorBody(s.http.errorReason());
  lws_callback_on_writable(wsi);
  return 0;
}

std::pair<int, std::string> Manager::answerNow(Session& s) {
  // The POST endpoints answer on this thread or on a worker's (gather),
  // never through this loop, so waiting here cannot deadlock.
  struct Answer {
    std::mutex mutex;
    std::condition_variable ready;
    bool done = false;
    int status = 0;
    std::string body;
  };
  auto a = std::make_shared<Answer>();
  route(s, [a](int status, std::string body) {
    std::lock_guard<std::mutex> lock(a->mutex);
    if (a->done) return;  // too late: 503 was answered
    a->done = true;
    a->status = status;
    a->body = std::move(body);
    a->ready.notify_all();
  });
  std::unique_lock<std::mutex> lock(a->mutex);
  if (!a->ready.wait_for(lock, kAnswerTimeout, [&] { return a->done; })) {
    a->done = true;
    return {503, errorBody("the workers did not answer in time")};
  }
  return {a->status, std::move(a->body)};
}

int Manager::httpWriteable(lws* wsi, Session& s) {
  if (!s.status) return 0;
  bool text = s.http.path() == "/metrics" && s.status == 200;
  const char* type = text ? "text/plain; version=0.0.4" : "application/json";
  bool ok = writeHttpResponse(wsi, s.status, type, s.answer, s.status == 401 ? "www-authenticate:" : nullptr, "Bearer");
  s.status = 0;
  s.answer.clear();
  if (std::exchange(s.stopAfterAnswer, false)) server_.requestStop();  // the answer is out: now stop
  if (!ok || !s.http.answered()) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
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
  if (s->console) {
    s->wsOut.push_back(std::move(body));
  } else {
    s->status = status;
    s->answer = std::move(body);
  }
  lws_callback_on_writable(s->wsi);
}

void Manager::route(Session& s, const Reply& reply) {
  const std::string& path = s.http.path();
  bool post = s.http.post();
  Json body;
  if (post) {
    body = Json::parse(s.http.body());
    if (!body.isObject() && path != "/reload" && path != "/stop") {
      reply(400, errorBody("body is not a JSON object"));
      return;
    }
  }
  if (path == "/status" && !post) return status(reply);
  if (path == "/metrics" && !post) return metrics(reply);
  if (path == "/push" && post) return push(body, reply);
  if (path == "/kick" && post) return kick(body, reply);
  if (path == "/reload" && post) return reload(reply);
  if (path == "/stop" && post) return stopServer(s, reply);
  if (path == "/online" && !post) return online(queryArg(s.wsi, "room="), reply);
  if (path == "/online/user" && !post) return onlineUser(queryArg(s.wsi, "id="), reply);
  bool known = path == "/status" || path == "/metrics" || path == "/push" || path == "/kick" || path == "/reload" ||
               path == "/stop" || path == "/online" || path == "/online/user";
  reply(known ? 405 : 404, errorBody(known ? "wrong method for " + path : "no such endpoint " + path));
}

}  // namespace msw
