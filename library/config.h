// library/config.h: msw's configuration (docs/configuration.md#keys), read from an ini file.
//
// Every key is declared once, in the table in config.cpp (section, name,
// type, default, check, reloadable); this struct is where the values land.
// Relative paths are made absolute against the application root.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "library/endpoint_config.h"

namespace msw {

enum class CipherKind { kAes256Gcm, kDesEde3Ecb };
enum class StoreDriver { kMemory, kRedis };
enum class LogLevelSetting { kDebug, kInfo, kWarn, kError };

// The keys a reload may change (marked kReloadable in the table): one
// struct, so that a reload copies it whole, into Config and into each worker.
// No initialisers here or in Config: every default is in the table, and the
// constructor of Config writes them.
struct LiveSettings {
  LogLevelSetting logLevel;   // [server] log_level
  int64_t maxMessageSize;     // [outside] max_message_size
  int heartbeatIdleTime;      // [outside] heartbeat_idle_time
  int64_t sendQueueLimit;     // [outside] send_queue_limit
  int rateLimit;              // [outside] rate_limit
  int rateBurst;              // [outside] rate_burst
  bool escapeHtml;            // [outside] escape_html
  std::string ack;            // [outside] ack (docs/endpoints.md)
  int maxPending;             // [live] max_pending
  std::string chatAgents;     // [chat] agents (docs/chat.md)
  int chatHistory;            // [chat] history
  int maxChannels;            // [channels] max_channels
  bool clientBroadcast;       // [channels] client_broadcast
  // [rooms] (docs/rooms.md): heartbeat_interval, heartbeat_timeout, reconnection_ttl,
  // reconnection_max_attempts, max_connections_per_room, max_rooms_per_connection,
  // history_size, history_ttl
  int roomsHeartbeatInterval, roomsHeartbeatTimeout, roomsReconnectionTtl, roomsReconnectionMaxAttempts;
  int roomsMaxConnectionsPerRoom, roomsMaxRoomsPerConnection, roomsHistorySize, roomsHistoryTtl;

  bool operator==(const LiveSettings&) const = default;
};

// The values land here; what each key means, allows and defaults to is in
// docs/configuration.md and the table in config.cpp.
struct Config {
  Config();  // every key at its table default; paths relative, computed keys (worker_num, node_id) 0 and empty

  std::string file;  // the ini file read (absolute)
  std::string root;  // the application root (absolute)

  LiveSettings live;

  // [server]
  int workerNum;
  bool daemonize;
  std::string pidFile;
  std::string logFile;
  int stopTimeout;
  std::string nodeId;

  // [outside]
  std::string host;
  int port;
  std::string sslCert;
  std::string sslKey;  // both set = wss, one alone is an error
  int maxConnections;
  std::string staticDir;
  int rxBufferSize;
  bool permessageDeflate;
  int maxConnectionsPerIp;
  int maxConnectionsPerUser;
  std::vector<std::string> trustedProxies;  // addresses whose X-Real-IP / X-Forwarded-For count
  std::string flavor;     // the default endpoint's (docs/endpoints.md); its ack is LiveSettings::ack
  std::string heartbeat;

  // [manager]
  std::string managerHost;
  int managerPort;
  std::string managerToken;

  // [auth]
  CipherKind cipher;
  std::string authKey;
  int64_t authTtl;
  bool authRequired;

  // [cache]
  StoreDriver driver;
  std::string cacheHost;
  int cachePort;
  std::string cacheSocket;  // a unix socket instead of host:port
  std::string cachePassword;
  int cacheDb;
  std::string cachePrefix;
  int cacheConnectTimeout;

  // [app]
  std::vector<std::string> modules;
  std::string pluginDir;

  // [backend] (docs/backend.md)
  std::string backendUrl;
  int backendTimeout;
  std::string backendSecret;
  int backendMaxInFlight;
  int64_t backendMaxAnswer;

  // [endpoint.NAME] sections, in file order (library/endpoint_config.h)
  std::vector<EndpointConfig> endpoints;
};

struct ConfigLoad {
  bool ok = false;
  std::vector<std::string> errors;    // "FILE:LINE: [section] key: what is allowed"
  std::vector<std::string> warnings;  // unknown keys and sections, same form
  std::map<std::string, int> setAt;   // "[section] key" -> the line of the file that set it last
};

// Reads `file` into `out` (defaults first, then the file). `root` is the
// application root that relative paths resolve against. Never throws.
ConfigLoad loadConfig(const std::string& file, const std::string& root, Config& out);

// Copies the keys marked reloadable from `fresh` into `live` (used by reload).
inline void applyReloadable(const Config& fresh, Config& live) { live.live = fresh.live; }

// One line per key: "[section] name = value" with defaults, secrets
// "(hidden)". Given the load that filled `c`, each line also says where the
// value came from ("  ; FILE:LINE" or "  ; default"): `--print-config`.
std::string dumpConfig(const Config& c, const ConfigLoad* origin = nullptr);

// The value of one key as dumpConfig writes it ("" for an unknown or secret key).
std::string configValue(const Config& c, std::string_view section, std::string_view name);

}  // namespace msw
