#include "framework/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string_view>

#include "framework/app_impl.h"
#include "framework/cluster.h"
#include "framework/frame_builder.h"
#include "framework/auth_key.h"
#include "framework/manager.h"
#include "framework/store_hub.h"
#include "library/log.h"

namespace msw {
namespace {

const std::string kVersion = "0.1.0";

// Descriptors kept back from max_connections: listeners, loops and their
// wake pipes, log, store connections, plugin files, the manager's clients.
int fdReserve(int workers) { return 64 + 8 * workers; }
// With max_connections set, the limit also leaves room for this many more:
// backends' connections to the manager port, store and plugin files. A
// thousand slots cost ~0.5 us per connection (see setFdLimit).
constexpr int kFdHeadroom = 1024;
constexpr int kLargeFdLimit = 65536;  // above this, with max_connections 0, the start warns

// lws warnings that restate what msw has just logged with more context (the
// handshake refusal with its peer and reason): every bad token would log two
// lines. Kept at debug; every other lws warning and error stays as it is.
constexpr std::string_view kRestatedByMsw[] = {"User code denied connection"};

// Runs one hook (onReload or onShutdown) of every controller of the modules
// `names` of `table`, or of all of them; one that throws is logged.
void runHooks(const RouteTable& table, const HookFn& (Controller::*hook)() const, const char* what, App& app,
              const std::vector<std::string>* names = nullptr) {
  for (auto& [name, m] : table.modules) {
    if (names && std::find(names->begin(), names->end(), name) == names->end()) continue;
    for (auto& [cname, ctl] : m->controllers()) {
      if (!(ctl.*hook)()) continue;
      try {
        (ctl.*hook)()(app);
      } catch (const std::exception& e) {
        LOG_ERROR("%s.%s %s threw: %s", name.c_str(), cname.c_str(), what, e.what());
      }
    }
  }
}

void lwsLog(int level, const char* line) {
  std::string_view l(line);
  while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.remove_suffix(1);
  // lws 4.1 reports every adoption with read-ahead bytes (RequestGate's) at error level.
  if (l.find("adopt_socket_readbuf: calling service") != std::string_view::npos) return;
  const auto restated = [l](std::string_view known) { return l.find(known) != std::string_view::npos; };
  if (level & LLL_ERR) LOG_ERROR("lws: %.*s", static_cast<int>(l.size()), l.data());
  else if (std::any_of(std::begin(kRestatedByMsw), std::end(kRestatedByMsw), restated))
    LOG_DEBUG("lws: %.*s", static_cast<int>(l.size()), l.data());
  else LOG_WARN("lws: %.*s", static_cast<int>(l.size()), l.data());
}

log::Level toLogLevel(LogLevelSetting l) {
  switch (l) {
    case LogLevelSetting::kDebug: return log::Level::kDebug;
    case LogLevelSetting::kInfo: return log::Level::kInfo;
    case LogLevelSetting::kWarn: return log::Level::kWarn;
    case LogLevelSetting::kError: return log::Level::kError;
  }
  return log::Level::kInfo;
}

// Sets the soft descriptor limit (each client is one fd) and returns it:
// max_connections + the reserve + kFdHeadroom when max_connections is set,
// else the hard limit. Never more than needed: libwebsockets 4.1 keeps one
// table slot per allowed descriptor and scans the whole table at every
// connection's open and close (bench: 23 us a handshake at a 1,024 limit,
// 33 us at 20,000).
int setFdLimit(int maxConnections, int reserve) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  rlim_t want = rl.rlim_max;
  if (maxConnections > 0)
    want = std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(maxConnections + reserve + kFdHeadroom));
  if (rl.rlim_cur != want) {
    rl.rlim_cur = want;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur > 1 << 30 ? 1 << 30 : static_cast<int>(rl.rlim_cur);
}

// wss: the certificate and key are loaded here first, as lws will, so that a
// wrong file stops the start with a clear reason (lws only says "problem
// getting cert" from each worker, and leaks what it had allocated).
bool checkTlsFiles(const Config& c, std::string& error) {
  if (c.sslCert.empty()) return true;
  auto fail = [&](const char* key, const std::string& path, const std::string& what) {
    unsigned long e = ERR_peek_error();  // the first error: the root cause
    const char* reason = e ? ERR_reason_error_string(e) : nullptr;
    ERR_clear_error();
    error = c.file + ": [outside] " + key + " = " + path + ": " + what + (reason ? std::string(" (") + reason + ")" : "");
    return false;
  };
  for (auto [key, path] : {std::pair{"ssl_cert", &c.sslCert}, std::pair{"ssl_key", &c.sslKey}})
    if (::access(path->c_str(), R_OK) != 0) return fail(key, *path, std::strerror(errno));
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (!ctx) return fail("ssl_cert", c.sslCert, "cannot make a TLS context");
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), c.sslCert.c_str()) != 1)
    return fail("ssl_cert", c.sslCert, "not a usable PEM certificate");
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), c.sslKey.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      return fail("ssl_key", c.sslKey, "not the key of the certificate " + c.sslCert);
    return fail("ssl_key", c.sslKey, "not a usable PEM private key (without a passphrase)");
  }
  return true;
}

EndpointSettings settingsFor(const EndpointLive& l, int64_t sendQueueLimit) {
  EndpointSettings s;
  s.maxMessageSize = l.maxMessageSize;
  s.sendQueueLimit = sendQueueLimit;
  s.heartbeatIdleTime = l.heartbeatIdleTime;
  s.rateLimit = l.rateLimit;
  s.rateBurst = l.rateBurst;
  s.escapeHtml = l.escapeHtml != 0;
  // The ack is a docs/protocol.md message whatever the envelope: it is MSwoole's.
  if (!l.ack.empty()) s.ack = buildMessage(200, l.ack, "", {}, {});
  return s;
}

void logEndpoints(const Config& c) {
  for (const EndpointConfig& e : c.endpoints) {
    LOG_INFO("endpoint %s: %s", e.name.c_str(), describeEndpoint(e, c.port).c_str());
    if (e.auth == AuthMode::kNone)
      LOG_WARN("endpoint %s has auth = none: its clients connect without a token, identity comes from their "
               "own messages", e.name.c_str());
  }
}

}  // namespace

Server::Server(Config config) : config_(std::move(config)), endpoints_(config_) {}

Server::~Server() = default;

const std::string& Server::version() const { return kVersion; }

std::shared_ptr<const RouteTable> Server::routes() const {
  std::lock_guard<std::mutex> lock(routesMutex_);
  return routes_;
}

std::vector<EndpointSettings> Server::liveSettings() const {
  const Config& c = config_;
  const LiveSettings& o = c.live;
  EndpointLive outside{o.ack, o.maxMessageSize, o.rateLimit, o.rateBurst, o.heartbeatIdleTime, o.escapeHtml ? 1 : 0};
  std::vector<EndpointSettings> all = {settingsFor(outside, o.sendQueueLimit)};
  for (const EndpointConfig& e : c.endpoints) all.push_back(settingsFor(e.live, o.sendQueueLimit));
  return all;
}

std::string Server::setting(std::string_view section, std::string_view name) const {
  std::lock_guard<std::mutex> lock(settingMutex_);
  return configValue(config_, section, name);
}

// Workers bind with SO_REUSEPORT, which would quietly share the port with
// another msw of the same user. A plain bind first tells us it is taken.
bool Server::checkPortsFree(std::string& error) {
  if (!checkPortFree(config_.port, error)) return false;
  for (int port : endpoints_.extraPorts())
    if (!checkPortFree(port, error)) return false;
  return true;
}

bool Server::checkPortFree(int portNumber, std::string& error) {
  addrinfo* res = Listener::resolve(config_.host, portNumber, error);
  if (!res) return false;
  std::string port = std::to_string(portNumber);
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool ok = fd >= 0 && bind(fd, res->ai_addr, res->ai_addrlen) == 0;
  int err = errno;
  if (fd >= 0) ::close(fd);
  freeaddrinfo(res);
  if (!ok) error = "cannot listen on " + config_.host + ":" + port + ": " + std::strerror(err);
  return ok;
}

void Server::writePidFile() {
  std::filesystem::create_directories(std::filesystem::path(config_.pidFile).parent_path());
  std::ofstream out(config_.pidFile, std::ios::trunc);
  out << getpid() << "\n";
  pidWritten_ = static_cast<bool>(out);
}

bool Server::startAll(std::string& error) {
  log::setLevel(toLogLevel(config_.live.logLevel));
  lws_set_log_level(LLL_ERR | LLL_WARN, lwsLog);
  const int reserve = fdReserve(config_.workerNum);
  int fdLimit = setFdLimit(config_.maxConnections, reserve);
  maxConnections_ = config_.maxConnections > 0 ? config_.maxConnections : std::max(16, fdLimit - reserve);
  if (maxConnections_ > fdLimit - 16)
    LOG_WARN("max_connections %d is near the descriptor limit %d: raise ulimit -n", maxConnections_, fdLimit);
  else if (config_.maxConnections == 0 && fdLimit > kLargeFdLimit)
    LOG_WARN("descriptor limit %d: every connection's open and close scans that many slots in libwebsockets "
             "(~0.5 ns each); set [outside] max_connections to what you need and the limit follows it",
             fdLimit);
  std::string key;
  if (!loadOrCreateAuthKey(config_, key, error)) return false;
  codec_ = TokenCodec::create(config_.cipher, key, &error);
  if (!codec_) return false;
  if (!checkTlsFiles(config_, error)) return false;
  if (!checkPortsFree(error)) return false;
  stores_ = StoreHub::create(config_, error);
  if (!stores_) return false;
  cluster_ = std::make_unique<Cluster>(*this);
  limits_ = std::make_unique<ConnectionLimits>(config_.maxConnectionsPerIp, config_.maxConnectionsPerUser);
  // Rounded down to a multiple of worker_num, so that fd % workers still names the owning worker.
  fdBase_ = cluster_->fdFloor() / static_cast<Fd>(config_.workerNum) * static_cast<Fd>(config_.workerNum);
  app_ = std::make_unique<AppImpl>(*this);
  std::string pluginDir = config_.pluginDir;
  if (pluginDir.empty()) {  // plugins/ beside the binary, where the build puts them
    std::error_code ec;
    pluginDir = (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "plugins").string();
  }
  loader_ = std::make_unique<ModuleLoader>(pluginDir, config_.root + "/runtime/plugins", *app_);
  std::vector<std::string> errors;
  routes_ = loader_->load(config_.modules, nullptr, errors);
  // Every Worker object exists before the manager thread can look at
  // workers_ (it never changes size afterwards); a task posted to a worker
  // whose thread has not started yet waits in its inbox.
  for (int i = 0; i < config_.workerNum; ++i) workers_.push_back(std::make_unique<Worker>(*this, i));
  manager_ = std::make_unique<Manager>(*this);
  if (!manager_->start(error)) return false;
  for (auto& w : workers_) {
    if (!w->start(error)) return false;
    w->post([w = w.get(), s = liveSettings()] { w->setSettings(s); });
  }
  logEndpoints(config_);
  writePidFile();
  startTime_ = time(nullptr);
  LOG_INFO("msw %s node %s: %d workers on %s:%d, manager on %s:%d, store %s, modules loaded: %zu of %zu",
           kVersion.c_str(), config_.nodeId.c_str(), config_.workerNum, config_.host.c_str(), config_.port,
           config_.managerHost.c_str(), config_.managerPort, stores_->driver(), routes_->modules.size(),
           config_.modules.size());
  return true;
}

int Server::run(const std::function<void(const std::string&)>& ready) {
  startTime_ = time(nullptr);
  std::string error;
  if (!startAll(error)) {
    LOG_ERROR("start failed: %s", error.c_str());
    ready(error);
    stopAll();
    return 1;
  }
  ready("");
  waitForSignals();
  stopAll();
  LOG_INFO("stopped");
  return 0;
}

void Server::waitForSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) sigaddset(&set, s);
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGUSR1 || sig == SIGHUP) {
      LOG_INFO("signal %d: reloading", sig);
      reload();
      continue;
    }
    LOG_INFO("signal %d: stopping (up to %d s for clients to close)", sig, config_.stopTimeout);
    return;
  }
}

void Server::requestStop() { kill(getpid(), SIGTERM); }

void Server::stopAll() {
  for (auto& w : workers_) w->requestStop();
  for (auto& w : workers_) w->joinThread();
  if (manager_) manager_->stop();
  std::shared_ptr<const RouteTable> routes;
  {
    std::lock_guard<std::mutex> lock(routesMutex_);
    routes.swap(routes_);
  }
  if (routes && app_) runHooks(*routes, &Controller::shutdownHook, "onShutdown", *app_);
  routes.reset();  // unloads the modules
  workers_.clear();
  if (pidWritten_) ::unlink(config_.pidFile.c_str());
}

ReloadResult Server::reload() {
  std::lock_guard<std::mutex> lock(reloadMutex_);
  ReloadResult r;
  Config fresh;
  ConfigLoad load = loadConfig(config_.file, config_.root, fresh);
  for (const std::string& w : load.warnings) LOG_WARN("%s", w.c_str());
  if (!load.ok) {
    for (const std::string& e : load.errors) LOG_ERROR("reload: %s", e.c_str());
    r.errors = load.errors;
    r.configRejected = true;
    if (std::shared_ptr<const RouteTable> t = routes())
      for (auto& [name, m] : t->modules) r.modules.push_back(name);
    LOG_ERROR("reload refused: the config file has errors; the configuration and the %zu modules in force stay",
              r.modules.size());
    return r;
  }
  std::shared_ptr<const RouteTable> old = routes();
  // The old code hears of the reload while it is still the code in force.
  if (old) runHooks(*old, &Controller::reloadHook, "onReload", *app_);
  // [app] modules is reloadable (docs/configuration.md): a module new to the
  // list is loaded, one gone from it is dropped from the routes and then
  // told onShutdown; its library is unloaded when the last table holding it goes.
  std::vector<std::string> removed;
  if (old)
    for (auto& [name, m] : old->modules)
      if (std::find(fresh.modules.begin(), fresh.modules.end(), name) == fresh.modules.end()) removed.push_back(name);
  std::shared_ptr<const RouteTable> table = loader_->load(fresh.modules, old.get(), r.errors);
  {
    std::lock_guard<std::mutex> l(settingMutex_);
    config_.modules = fresh.modules;
    applyReloadable(fresh, config_);
    std::vector<std::string> notes;
    reloadEndpoints(fresh, config_, notes);
    for (const std::string& n : notes) LOG_WARN("reload: %s", n.c_str());
  }
  log::setLevel(toLogLevel(config_.live.logLevel));
  {
    std::lock_guard<std::mutex> l(routesMutex_);
    routes_ = table;
  }
  std::vector<EndpointSettings> s = liveSettings();
  for (auto& w : workers_) w->post([w = w.get(), table, s] {
      w->setRoutes(table);
      w->setSettings(s);
    });
  if (!removed.empty()) runHooks(*old, &Controller::shutdownHook, "onShutdown", *app_, &removed);
  for (const std::string& name : removed) LOG_INFO("reload: module %s removed", name.c_str());
  for (auto& [name, m] : table->modules) r.modules.push_back(name);
  r.ok = r.errors.empty();
  LOG_INFO("reload: %zu modules in force%s", r.modules.size(), r.ok ? "" : ", with errors");
  return r;
}

}  // namespace msw
