// framework/backend_client.cpp: libcurl multi-socket on libev, for backend hooks.
#include "framework/backend_client.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <mutex>

#include "library/log.h"

namespace msw {

struct BackendClient::Transfer {
  Fd fd = 0;
  std::string hook;
  std::string body;
  std::string answer;
  HookCallback done;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  double started = 0;   // ev_now of the call
  double deadline = 0;  // started + timeout
  bool tooLarge = false;
  int64_t maxAnswer = 0;
  // The outcome, once ended.
  HookResult result = HookResult::kFailed;
  int status = 0;
  Json json;
  std::string error;

  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
};

struct BackendClient::Socket {
  ev_io io;
  BackendClient* owner;
};

namespace {

unsigned long long ull(Fd fd) { return static_cast<unsigned long long>(fd); }

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// A body is JSON when cJSON reads all of it (trailing bytes would be silently ignored otherwise).
Json parseWhole(const std::string& text) {
  return Json(cJSON_ParseWithLengthOpts(text.c_str(), text.size() + 1, nullptr, 1));
}

}  // namespace

std::string hookSignature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), mac, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

bool validHookName(std::string_view hook) {
  return !hook.empty() && hook.size() <= 100 && std::all_of(hook.begin(), hook.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

BackendClient::BackendClient(struct ev_loop* loop, BackendSettings settings, HookStats& stats)
    : loop_(loop), settings_(std::move(settings)), stats_(stats) {
  globalInit();
  ev_timer_init(&timer_, &BackendClient::onTimer, 0., 0.);
  timer_.data = this;
  ev_timer_init(&soon_, &BackendClient::onSoon, 0., 0.);
  soon_.data = this;
  multi_ = curl_multi_init();
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &BackendClient::onSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &BackendClient::onTimerChange);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  // Idle connections kept for reuse: as many as may run at once.
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(settings_.maxInFlight));
}

BackendClient::~BackendClient() {
  for (auto& [easy, t] : running_) curl_multi_remove_handle(multi_, easy);
  running_.clear();
  waiting_.clear();
  ended_.clear();
  curl_multi_cleanup(multi_);
  for (Socket* s : sockets_) {
    ev_io_stop(loop_, &s->io);
    delete s;
  }
  ev_timer_stop(loop_, &timer_);
  ev_timer_stop(loop_, &soon_);
}

void BackendClient::call(Fd fd, std::string_view hook, std::string body, HookCallback done) {
  auto t = std::make_unique<Transfer>();
  t->fd = fd;
  t->hook = hook;
  t->body = std::move(body);
  t->done = std::move(done);
  t->started = ev_now(loop_);
  t->deadline = t->started + settings_.timeoutSeconds;
  t->maxAnswer = settings_.maxAnswer;
  if (settings_.url.empty()) return end(std::move(t), HookResult::kDisabled, "no [backend] url");
  if (!validHookName(hook)) return end(std::move(t), HookResult::kDisabled, "bad hook name");
  if (cancelled_) return end(std::move(t), HookResult::kCancelled, "server stopping");
  if (running_.size() < static_cast<size_t>(settings_.maxInFlight)) return start(std::move(t));
  if (waiting_.size() >= static_cast<size_t>(settings_.maxInFlight) * kQueueFactor)
    return end(std::move(t), HookResult::kBusy, "too many hooks waiting");
  waiting_.push_back(std::move(t));
}

void BackendClient::start(TransferPtr t) {
  double now = ev_now(loop_);
  if (now >= t->deadline) return end(std::move(t), HookResult::kTimeout, "timed out in the queue");
  if (!configure(*t, now)) return end(std::move(t), HookResult::kFailed, "cannot set up the transfer");
  CURL* easy = t->easy;
  if (curl_multi_add_handle(multi_, easy) != CURLM_OK)
    return end(std::move(t), HookResult::kFailed, "curl_multi_add_handle failed");
  running_.emplace(easy, std::move(t));
  peak_ = std::max(peak_, running_.size());
}

bool BackendClient::configure(Transfer& t, double now) {
  t.easy = curl_easy_init();
  if (!t.easy) return false;
  std::string url = settings_.url + "/" + t.hook;
  t.headers = curl_slist_append(t.headers, "Content-Type: application/json");
  t.headers = curl_slist_append(t.headers, "Expect:");  // no 100-continue round trip
  t.headers = curl_slist_append(t.headers, ("X-Msw-Hook: " + t.hook).c_str());
  if (!settings_.secret.empty())
    t.headers = curl_slist_append(t.headers, ("X-Msw-Signature: " + hookSignature(settings_.secret, t.body)).c_str());
  long ms = std::max(1L, static_cast<long>((t.deadline - now) * 1000));
  CURL* e = t.easy;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.body.c_str());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.body.size()));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "msw");
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t.maxAnswer));
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &BackendClient::onData);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
  return true;
}

size_t BackendClient::onData(char* data, size_t size, size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  size_t bytes = size * n;
  if (static_cast<int64_t>(t->answer.size() + bytes) > t->maxAnswer) {
    t->tooLarge = true;
    return 0;  // ends the transfer with CURLE_WRITE_ERROR
  }
  t->answer.append(data, bytes);
  return bytes;
}

// ---- libcurl <-> libev ----

int BackendClient::onSocket(CURL*, curl_socket_t s, int what, void* userp, void* socketp) {
  auto* self = static_cast<BackendClient*>(userp);
  auto* sock = static_cast<Socket*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    if (sock) {
      ev_io_stop(self->loop_, &sock->io);
      self->sockets_.erase(sock);
      delete sock;
    }
    return 0;
  }
  if (!sock) {
    sock = new Socket{{}, self};
    ev_init(&sock->io, &BackendClient::onIo);
    sock->io.data = sock;
    self->sockets_.insert(sock);
    curl_multi_assign(self->multi_, s, sock);
  } else {
    ev_io_stop(self->loop_, &sock->io);
  }
  int events = ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
  ev_io_set(&sock->io, s, events);
  ev_io_start(self->loop_, &sock->io);
  return 0;
}

int BackendClient::onTimerChange(CURLM*, long ms, void* userp) {
  auto* self = static_cast<BackendClient*>(userp);
  ev_timer_stop(self->loop_, &self->timer_);
  if (ms >= 0) {
    ev_timer_set(&self->timer_, static_cast<double>(ms) / 1000., 0.);
    ev_timer_start(self->loop_, &self->timer_);
  }
  return 0;
}

void BackendClient::onIo(struct ev_loop*, ev_io* w, int revents) {
  auto* sock = static_cast<Socket*>(w->data);
  int flags = ((revents & EV_READ) ? CURL_CSELECT_IN : 0) | ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0);
  sock->owner->act(w->fd, flags);
}

void BackendClient::onTimer(struct ev_loop*, ev_timer* w, int) {
  static_cast<BackendClient*>(w->data)->act(CURL_SOCKET_TIMEOUT, 0);
}

void BackendClient::onSoon(struct ev_loop*, ev_timer* w, int) { static_cast<BackendClient*>(w->data)->deliverEnded(); }

// Callbacks run last, outside every libcurl call: they may call() again.
void BackendClient::act(curl_socket_t s, int flags) {
  int still = 0;
  curl_multi_socket_action(multi_, s, flags, &still);
  collectDone();
  startWaiting();
  deliverEnded();
}

void BackendClient::collectDone() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    auto it = running_.find(msg->easy_handle);
    if (it == running_.end()) continue;
    TransferPtr t = std::move(it->second);
    running_.erase(it);
    curl_multi_remove_handle(multi_, t->easy);
    judge(*t, msg->data.result);
    HookResult r = t->result;
    std::string error = std::move(t->error);
    end(std::move(t), r, std::move(error));
  }
}

void BackendClient::judge(Transfer& t, CURLcode code) {
  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  t.status = static_cast<int>(status);
  switch (code) {
    case CURLE_OK: break;
    case CURLE_OPERATION_TIMEDOUT: t.result = HookResult::kTimeout; t.error = "no answer in time"; return;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      t.result = HookResult::kUnreachable;
      t.error = curl_easy_strerror(code);
      return;
    case CURLE_FILESIZE_EXCEEDED: t.tooLarge = true; [[fallthrough]];
    default:
      t.result = t.tooLarge ? HookResult::kTooLarge : HookResult::kFailed;
      t.error = t.tooLarge ? "answer over max_answer_size" : curl_easy_strerror(code);
      return;
  }
  bool empty = t.answer.find_first_not_of(" \t\r\n") == std::string::npos;
  if (!empty) t.json = parseWhole(t.answer);
  if (status < 200 || status > 299) {
    t.result = HookResult::kStatus;
    t.error = "HTTP " + std::to_string(status);
  } else if (!empty && !t.json) {
    t.result = HookResult::kBadJson;
    t.error = "the answer is not JSON";
  } else {
    t.result = HookResult::kOk;
  }
}

void BackendClient::startWaiting() {
  while (!waiting_.empty() && running_.size() < static_cast<size_t>(settings_.maxInFlight)) {
    TransferPtr t = std::move(waiting_.front());
    waiting_.pop_front();
    start(std::move(t));
  }
}

// Records the outcome and queues the callback; decided outside act() (in
// call()), the callback waits for a zero timer so it never runs inside call().
void BackendClient::end(TransferPtr t, HookResult result, std::string error) {
  t->result = result;
  t->error = std::move(error);
  ended_.push_back(std::move(t));
  if (!ev_is_active(&soon_)) ev_timer_start(loop_, &soon_);
}

void BackendClient::deliverEnded() {
  ev_timer_stop(loop_, &soon_);
  std::vector<TransferPtr> batch;
  batch.swap(ended_);
  double now = ev_now(loop_);
  for (TransferPtr& t : batch) {
    stats_.record(t->hook, t->result, now - t->started);
    if (t->result != HookResult::kOk) {
      bool answered = t->result == HookResult::kStatus;
      MSW_LOG(answered ? log::Level::kInfo : log::Level::kWarn, "conn %llu: hook %s: %s: %s after %.0f ms",
              ull(t->fd), t->hook.c_str(), hookResultName(t->result), t->error.c_str(), (now - t->started) * 1000);
    }
    HookAnswer a;
    a.fd = t->fd;
    a.result = t->result;
    a.httpStatus = t->status;
    a.json = t->json;
    a.body = t->answer;
    a.error = t->error;
    try {
      if (t->done) t->done(a);
    } catch (const std::exception& e) {
      LOG_ERROR("conn %llu: hook %s: callback threw: %s", ull(t->fd), t->hook.c_str(), e.what());
    } catch (...) {
      LOG_ERROR("conn %llu: hook %s: callback threw", ull(t->fd), t->hook.c_str());
    }
  }
  // A callback may have called again with nothing running: its start is due.
  startWaiting();
}

void BackendClient::cancelAll() {
  cancelled_ = true;
  for (auto& [easy, t] : running_) {
    curl_multi_remove_handle(multi_, easy);
    end(std::move(t), HookResult::kCancelled, "server stopping");
  }
  running_.clear();
  while (!waiting_.empty()) {
    end(std::move(waiting_.front()), HookResult::kCancelled, "server stopping");
    waiting_.pop_front();
  }
  deliverEnded();
}

}  // namespace msw
