// library/config.h: msw's configuration (docs/configuration.md#keys), read from an ini file.
//
// Every key is declared once, in the table in config.cpp (section, name,
// type, default, check, reloadable); this struct is where the values land.
// Relative paths are made absolute against the application root.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace msw {

enum class CipherKind { kAes256Gcm, kDesEde3Ecb };
enum class StoreDriver { kMemory, kRedis };
enum class LogLevelSetting { kDebug, kInfo, kWarn, kError };

struct Config {
  std::string file;  // the ini file read (absolute)
  std::string root;  // the application root (absolute)

  // [server]
  int workerNum = 0;                  // worker_num [number of cores], 1..256
  bool daemonize = false;             // daemonize [false]
  std::string pidFile;                // pid_file [runtime/msw.pid]
  std::string logFile;                // log_file [runtime/log/msw.log]
  LogLevelSetting logLevel = LogLevelSetting::kInfo;  // log_level [info]: debug|info|warn|error
  int stopTimeout = 10;               // stop_timeout [10] seconds, 0..3600
  std::string nodeId;                 // node_id [host name + ":" + outside port]

  // [outside]
  std::string host = "0.0.0.0";       // host
  int port = 20000;                   // port, 1..65535
  std::string sslCert;                // ssl_cert [empty]
  std::string sslKey;                 // ssl_key [empty]: both set = wss, one alone is an error
  int maxConnections = 0;             // max_connections [0 = the fd limit less a margin]
  int64_t maxMessageSize = 65536;     // max_message_size [65536] bytes, 16..64 MiB
  int heartbeatIdleTime = 60;         // heartbeat_idle_time [60] s, 0 = never close idle clients
  int64_t sendQueueLimit = 1 << 20;   // send_queue_limit [1 MiB] bytes per connection, >= 4096
  int rateLimit = 100;                // rate_limit [100] messages/s per connection, 0 = off
  int rateBurst = 200;                // rate_burst [200] messages, >= 1
  std::string staticDir;              // static_dir [public]: empty = no static files
  bool escapeHtml = true;             // escape_html [true]
  int rxBufferSize = 1024;            // rx_buffer_size [1024] bytes, 128..65536
  bool permessageDeflate = false;     // permessage_deflate [false]

  // [manager]
  std::string managerHost = "127.0.0.1";  // host
  int managerPort = 20001;                 // port
  std::string managerToken;                // token [empty]

  // [auth]
  CipherKind cipher = CipherKind::kAes256Gcm;  // cipher [aes-256-gcm] | des-ede3-ecb
  std::string authKey;                          // key [empty: runtime/auth.key]
  int64_t authTtl = 86400;                      // ttl [86400] s, 0 = no expiry
  bool authRequired = true;                     // required [true]

  // [cache]
  StoreDriver driver = StoreDriver::kMemory;  // driver [memory] | redis
  std::string cacheHost = "127.0.0.1";        // host
  int cachePort = 6379;                        // port
  std::string cacheSocket;                     // socket [empty]: a unix socket instead of host:port
  std::string cachePassword;                   // password
  int cacheDb = 0;                             // db, 0..15
  std::string cachePrefix = "msw:";            // prefix
  int cacheConnectTimeout = 2000;              // connect_timeout [2000] ms

  // [app]
  std::vector<std::string> modules = {"index", "live"};  // modules [index, live]
  std::string pluginDir;                                  // plugin_dir [empty: plugins/ beside the binary]

  // [backend] (docs/backend.md)
  std::string backendUrl;             // url [empty: no hooks]
  int backendTimeout = 3;             // timeout [3] s per hook (queue wait included), 1..300
  std::string backendSecret;          // secret [empty: requests are not signed]
  int backendMaxInFlight = 64;        // max_in_flight [64] hooks per worker; more wait in a queue
  int64_t backendMaxAnswer = 1 << 20; // max_answer_size [1m] bytes
};

struct ConfigLoad {
  bool ok = false;
  std::vector<std::string> errors;    // "FILE:LINE: [section] key: what is allowed"
  std::vector<std::string> warnings;  // unknown keys and sections, same form
};

// Reads `file` into `out` (defaults first, then the file). `root` is the
// application root that relative paths resolve against. Never throws.
ConfigLoad loadConfig(const std::string& file, const std::string& root, Config& out);

// Copies the keys marked reloadable from `fresh` into `live` (used by reload).
void applyReloadable(const Config& fresh, Config& live);

// One line per key: "[section] name = value" with defaults, for `--print-config`.
std::string dumpConfig(const Config& c);

}  // namespace msw
