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
  std::vector<std::string> modules;  // loaded now
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
  // One key of the configuration as text (App::setting), from any thread.
  std::string setting(std::string_view section, std::string_view name) const;
  const TokenCodec* codec() const { return codec_.get(); }
  const std::string& version() const;
  time_t startTime() const { return startTime_; }

  int workerCount() const { return static_cast<int>(workers_.size()); }
  Worker& worker(int i) { return *workers_[static_cast<size_t>(i)]; }
  Worker* workerFor(Fd fd) {
    if (fd == 0) return nullptr;
    return workers_[fd % workers_.size()].get();
  }
  AppImpl& app() { return *app_; }
  StoreHub& stores() { return *stores_; }
  Cluster& cluster() { return *cluster_; }
  Manager& manager() { return *manager_; }

  // Reloads modules and reloadable settings; safe from any thread but a worker's.
  ReloadResult reload();
  // From any thread: begins a graceful stop.
  void requestStop();
  // The route table now in force (workers may briefly hold the previous one).
  std::shared_ptr<const RouteTable> routes() const;

  // Open outside sockets (accepted, any state) against max_connections.
  std::atomic<int> sockets{0};
  int maxConnections() const { return maxConnections_; }

 private:
  bool startAll(std::string& error);
  void stopAll();
  void waitForSignals();
  LiveSettings liveSettings() const;
  bool checkPortsFree(std::string& error);
  void writePidFile();

  Config config_;
  mutable std::mutex settingMutex_;  // reload's writes to config_ against setting()
  std::unique_ptr<TokenCodec> codec_;
  std::unique_ptr<AppImpl> app_;
  std::unique_ptr<StoreHub> stores_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<ModuleLoader> loader_;
  std::unique_ptr<Manager> manager_;
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable std::mutex routesMutex_;
  std::shared_ptr<const RouteTable> routes_;  // guarded by routesMutex_
  std::mutex reloadMutex_;
  time_t startTime_ = 0;
  int maxConnections_ = 0;
  bool pidWritten_ = false;
};

}  // namespace msw
