// framework/server.h: one msw node: workers, manager, modules, store.
//
// Built from a validated Config by the console's start verb. run() starts
// the manager and the workers, then the calling (main) thread waits for
// signals: SIGTERM/SIGINT stop gracefully, SIGUSR1/SIGHUP reload. Every
// other thread's view of the node goes through this object, which outlives
// them all.
#pragma once

#include <atomic>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "framework/connection_limits.h"
#include "framework/endpoint.h"
#include "framework/module_loader.h"
#include "framework/worker.h"
#include "library/config.h"
#include "library/token_codec.h"

namespace msw {

class AppImpl;
class Cluster;
class Manager;
class StoreHub;

struct ReloadResult {
  bool ok = false;
  bool configRejected = false;  // the file had errors: nothing changed
  std::vector<std::string> modules;  // in force after the reload (the old ones when nothing changed)
  std::vector<std::string> errors;
};

class Server {
 public:
  explicit Server(Config config);
  ~Server();

  // Starts everything; calls ready("") once serving, or ready(error) and
  // returns 1 if the start failed. Then blocks until stopped; returns the
  // exit code.
  int run(const std::function<void(const std::string& error)>& ready);

  const Config& config() const { return config_; }
  const EndpointTable& endpoints() const { return endpoints_; }
  // One key of the configuration as text (App::setting), from any thread.
  std::string setting(std::string_view section, std::string_view name) const;
  const TokenCodec* codec() const { return codec_.get(); }
  const std::string& version() const;
  time_t startTime() const { return startTime_; }

  int workerCount() const { return static_cast<int>(workers_.size()); }
  Worker& worker(int i) { return *workers_[static_cast<size_t>(i)]; }

  // ---- which worker runs a connection: decided here and nowhere else ----
  // The fd of `worker`'s seq-th connection (seq from 1): fd % workers names the worker.
  Fd newFd(int worker, uint64_t seq) const {
    return fdBase_ + seq * static_cast<Fd>(workers_.size()) + static_cast<Fd>(worker);
  }
  Worker* workerFor(Fd fd) {
    if (fd == 0) return nullptr;
    return workers_[fd % workers_.size()].get();
  }
  // Runs task(worker) on the worker that owns fd: now if that is this thread.
  template <class F>
  void onOwner(Fd fd, F&& task);
  // Runs task(worker) on every worker (this thread's own last, now).
  template <class F>
  void onEach(F&& task);

  AppImpl& app() { return *app_; }
  StoreHub& stores() { return *stores_; }
  Cluster& cluster() { return *cluster_; }
  Manager& manager() { return *manager_; }
  ConnectionLimits& limits() { return *limits_; }

  // Reloads modules and reloadable settings; safe from any thread but a worker's.
  ReloadResult reload();
  // From any thread: begins a graceful stop.
  void requestStop();
  // The route table now in force (workers may briefly hold the previous one).
  std::shared_ptr<const RouteTable> routes() const;

  // Connections holding a max_connections slot: taken by the handshake check
  // (Handshake::check), given back when the connection ends.
  std::atomic<int> sockets{0};
  int maxConnections() const { return maxConnections_; }
  // The reloadable settings of each endpoint, by index (0: the default one).
  std::vector<EndpointSettings> liveSettings() const;

 private:
  bool startAll(std::string& error);
  void stopAll();
  void waitForSignals();
  bool checkPortsFree(std::string& error);
  bool checkPortFree(int port, std::string& error);
  void writePidFile();

  Config config_;
  const EndpointTable endpoints_;
  mutable std::mutex settingMutex_;  // reload's writes to config_ against setting()
  std::unique_ptr<TokenCodec> codec_;
  std::unique_ptr<AppImpl> app_;
  std::unique_ptr<StoreHub> stores_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<ModuleLoader> loader_;
  std::unique_ptr<Manager> manager_;
  std::unique_ptr<ConnectionLimits> limits_;
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable std::mutex routesMutex_;
  std::shared_ptr<const RouteTable> routes_;  // guarded by routesMutex_
  std::mutex reloadMutex_;
  time_t startTime_ = 0;
  int maxConnections_ = 0;
  Fd fdBase_ = 0;
  bool pidWritten_ = false;
};

template <class F>
void Server::onOwner(Fd fd, F&& task) {
  Worker* w = workerFor(fd);
  if (!w) return;
  if (Worker::current() == w) {
    task(*w);
    return;
  }
  w->post([w, task = std::forward<F>(task)]() mutable { task(*w); });
}

template <class F>
void Server::onEach(F&& task) {
  Worker* self = Worker::current();
  for (auto& w : workers_) {
    if (w.get() == self) continue;
    w->post([w = w.get(), task]() mutable { task(*w); });
  }
  // Own worker last: the others are already on their way.
  if (self) task(*self);
}

}  // namespace msw
