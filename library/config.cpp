// library/config.cpp: the key table of docs/configuration.md#keys and the reader around inih.
//
// Every key is one row of kKeys. Parsing, defaults, reload and the dump all
// walk that table, so a row added there is complete everywhere at once.
#include "library/config.h"
#include "library/config_text.h"
#include "library/ip_address.h"

#include <arpa/inet.h>
#include <ini.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <variant>

namespace msw {
namespace {

namespace fs = std::filesystem;
using namespace config_text;

enum class KeyType { kInt, kSize, kBool, kString, kPath, kEnum, kList };
using enum KeyType;

template <class T>
using Member = T Config::*;
template <class T>
using LiveMember = T LiveSettings::*;  // a reloadable key: it lives in Config::live
using Field =
    std::variant<Member<int>, Member<int64_t>, Member<bool>, Member<std::string>, Member<std::vector<std::string>>,
                 Member<LogLevelSetting>, Member<CipherKind>, Member<StoreDriver>, LiveMember<int>,
                 LiveMember<int64_t>, LiveMember<bool>, LiveMember<LogLevelSetting>, LiveMember<std::string>>;

// The value type a Field points at, and the value itself in a Config.
template <class M>
struct FieldOf;
template <class T> struct FieldOf<T Config::*> { using type = T; static constexpr bool live = false; };
template <class T> struct FieldOf<T LiveSettings::*> { using type = T; static constexpr bool live = true; };
template <class T> T& at(Config& c, T Config::*m) { return c.*m; }
template <class T> const T& at(const Config& c, T Config::*m) { return c.*m; }
template <class T> T& at(Config& c, T LiveSettings::*m) { return c.live.*m; }
template <class T> const T& at(const Config& c, T LiveSettings::*m) { return c.live.*m; }

// A check beyond the type: nullptr when `value` is fine, else what is allowed.
using Check = const char* (*)(std::string_view value);

struct Key {
  const char* section;
  const char* name;
  KeyType type;
  Field field;
  const char* def;  // as written in the file; nullptr = computed, not read from the table
  int64_t min = 0;  // kInt and kSize
  int64_t max = 0;
  std::span<const char* const> spellings = {};  // kEnum, in the order of the enum's values
  Check check = nullptr;                        // kString, kPath (before resolving), each kList item
  bool reloadable = false;                      // a LiveSettings member, copied whole by a reload
  bool secret = false;                          // hidden by dumpConfig: dumps end up in logs and bug reports
};

enum Flag : unsigned { kFixed = 0, kReloadable = 1, kSecret = 2 };

// Row builders, so that each row of the table fits on one line.
constexpr Key row(const char* s, const char* n, KeyType type, Field f, const char* def, unsigned flags) {
  Key k{.section = s, .name = n, .type = type, .field = f, .def = def};
  k.reloadable = (flags & kReloadable) != 0;
  k.secret = (flags & kSecret) != 0;
  return k;
}
constexpr Key intKey(const char* s, const char* n, Field f, const char* def, int64_t min, int64_t max,
                     unsigned flags = kFixed) {
  Key k = row(s, n, kInt, f, def, flags);
  k.min = min;
  k.max = max;
  return k;
}
constexpr Key sizeKey(const char* s, const char* n, Field f, const char* def, int64_t min, int64_t max,
                      unsigned flags = kFixed) {
  Key k = intKey(s, n, f, def, min, max, flags);
  k.type = kSize;
  return k;
}
constexpr Key boolKey(const char* s, const char* n, Field f, const char* def, unsigned flags = kFixed) {
  return row(s, n, kBool, f, def, flags);
}
constexpr Key enumKey(const char* s, const char* n, Field f, const char* def, std::span<const char* const> spellings,
                      unsigned flags = kFixed) {
  Key k = row(s, n, kEnum, f, def, flags);
  k.spellings = spellings;
  return k;
}
constexpr Key textKey(KeyType type, const char* s, const char* n, Field f, const char* def, Check check,
                      unsigned flags) {
  Key k = row(s, n, type, f, def, flags);
  k.check = check;
  return k;
}
constexpr Key stringKey(const char* s, const char* n, Field f, const char* def, Check check, unsigned flags = kFixed) {
  return textKey(kString, s, n, f, def, check, flags);
}
constexpr Key pathKey(const char* s, const char* n, Field f, const char* def, Check check = nullptr) {
  return textKey(kPath, s, n, f, def, check, kFixed);
}
constexpr Key listKey(const char* s, const char* n, Field f, const char* def, Check check) {
  return textKey(kList, s, n, f, def, check, kFixed);
}

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

constexpr const char* kLogLevels[] = {"debug", "info", "warn", "error"};
constexpr const char* kCiphers[] = {"aes-256-gcm", "des-ede3-ecb"};
constexpr const char* kDrivers[] = {"memory", "redis"};
constexpr const char* kNodeIdRule = "may hold only A-Z a-z 0-9 _ . : - (it is part of store keys)";
constexpr const char* kListRule = "must be a comma-separated list of distinct names made of A-Z a-z 0-9 _ -";

bool allOf(std::string_view text, std::string_view extra) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [extra](char ch) {
    bool alnum = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
    return alnum || extra.find(ch) != std::string_view::npos;
  });
}

const char* notEmpty(std::string_view v) { return v.empty() ? "must not be empty" : nullptr; }
const char* nodeIdChars(std::string_view v) { return allOf(v, "_.:-") ? nullptr : kNodeIdRule; }
// Module names become file names under plugin_dir: no '/' or "..".
const char* moduleName(std::string_view v) { return allOf(v, "_-") ? nullptr : kListRule; }
// Hooks are POSTed to URL/HOOK (docs/backend.md): a plain http(s) base, or none.
const char* httpBase(std::string_view v) {
  bool scheme = v.starts_with("http://") || v.starts_with("https://");
  return v.empty() || (scheme && v.find_first_of(" ?#") == std::string_view::npos && !v.ends_with("/"))
             ? nullptr
             : "must be empty or an http:// or https:// URL with no query and no trailing /";
}

// Every key of docs/configuration.md#keys. Defaults are written as in the file; nullptr marks the
// two computed ones (worker_num: online CPUs; node_id: host name + ":" + port).
// clang-format off
constexpr Key kKeys[] = {
  intKey   ("server",  "worker_num",          &Config::workerNum,           nullptr,     1, 256),
  boolKey  ("server",  "daemonize",           &Config::daemonize,           "false"),
  pathKey  ("server",  "pid_file",            &Config::pidFile,             "runtime/msw.pid", notEmpty),
  pathKey  ("server",  "log_file",            &Config::logFile,             "runtime/log/msw.log", notEmpty),
  enumKey  ("server",  "log_level",           &LiveSettings::logLevel,      "info",      kLogLevels, kReloadable),
  intKey   ("server",  "stop_timeout",        &Config::stopTimeout,         "10",        0, 3600),
  stringKey("server",  "node_id",             &Config::nodeId,              nullptr,     nodeIdChars),

  stringKey("outside", "host",                &Config::host,                "0.0.0.0",   notEmpty),
  intKey   ("outside", "port",                &Config::port,                "20000",     1, 65535),
  pathKey  ("outside", "ssl_cert",            &Config::sslCert,             ""),
  pathKey  ("outside", "ssl_key",             &Config::sslKey,              ""),
  intKey   ("outside", "max_connections",     &Config::maxConnections,      "0",         0, 1 << 20),
  sizeKey  ("outside", "max_message_size",    &LiveSettings::maxMessageSize, "65536",     16, 64 * kMiB, kReloadable),
  intKey   ("outside", "heartbeat_idle_time", &LiveSettings::heartbeatIdleTime, "60",        0, 86400, kReloadable),
  sizeKey  ("outside", "send_queue_limit",    &LiveSettings::sendQueueLimit, "1m",        4 * kKiB, kGiB, kReloadable),
  intKey   ("outside", "rate_limit",          &LiveSettings::rateLimit,     "100",       0, 1000000, kReloadable),
  intKey   ("outside", "rate_burst",          &LiveSettings::rateBurst,     "200",       1, 1000000, kReloadable),
  pathKey  ("outside", "static_dir",          &Config::staticDir,           "public"),
  boolKey  ("outside", "escape_html",         &LiveSettings::escapeHtml,    "true",      kReloadable),
  sizeKey  ("outside", "rx_buffer_size",      &Config::rxBufferSize,        "512",       128, 64 * kKiB),
  boolKey  ("outside", "permessage_deflate",  &Config::permessageDeflate,   "false"),
  intKey   ("outside", "max_connections_per_ip",   &Config::maxConnectionsPerIp,   "0", 0, 1 << 20),
  intKey   ("outside", "max_connections_per_user", &Config::maxConnectionsPerUser, "0", 0, 1 << 20),
  listKey  ("outside", "trusted_proxies",     &Config::trustedProxies,      "",          checkIpAddress),
  stringKey("outside", "ack",                 &LiveSettings::ack,           "",          wordRule, kReloadable),
  stringKey("outside", "flavor",              &Config::flavor,              "",          wordRule),
  stringKey("outside", "heartbeat",           &Config::heartbeat,           "text",      heartbeatRule),

  stringKey("manager", "host",                &Config::managerHost,         "127.0.0.1", notEmpty),
  intKey   ("manager", "port",                &Config::managerPort,         "20001",     1, 65535),
  stringKey("manager", "token",               &Config::managerToken,        "",          nullptr, kSecret),

  enumKey  ("auth",    "cipher",              &Config::cipher,              "aes-256-gcm", kCiphers),
  stringKey("auth",    "key",                 &Config::authKey,             "",          nullptr, kSecret),
  intKey   ("auth",    "ttl",                 &Config::authTtl,             "86400",     0, kInt32Max),
  boolKey  ("auth",    "required",            &Config::authRequired,        "true"),

  enumKey  ("cache",   "driver",              &Config::driver,              "memory",    kDrivers),
  stringKey("cache",   "host",                &Config::cacheHost,           "127.0.0.1", notEmpty),
  intKey   ("cache",   "port",                &Config::cachePort,           "6379",      1, 65535),
  pathKey  ("cache",   "socket",              &Config::cacheSocket,         ""),
  stringKey("cache",   "password",            &Config::cachePassword,       "",          nullptr, kSecret),
  intKey   ("cache",   "db",                  &Config::cacheDb,             "0",         0, 15),
  stringKey("cache",   "prefix",              &Config::cachePrefix,         "msw:",      nullptr),
  intKey   ("cache",   "connect_timeout",     &Config::cacheConnectTimeout, "2000",      1, 60000),

  listKey  ("app",     "modules",             &Config::modules,             "index, live", moduleName),
  pathKey  ("app",     "plugin_dir",          &Config::pluginDir,           ""),

  stringKey("backend", "url",                 &Config::backendUrl,          "",          httpBase),
  intKey   ("backend", "timeout",             &Config::backendTimeout,      "3",         1, 300),
  stringKey("backend", "secret",              &Config::backendSecret,       "",          nullptr, kSecret),
  intKey   ("backend", "max_in_flight",       &Config::backendMaxInFlight,  "64",        1, 10000),
  sizeKey  ("backend", "max_answer_size",     &Config::backendMaxAnswer,    "1m",        1 * kKiB, 64 * kMiB),

  intKey   ("live",    "max_pending",         &LiveSettings::maxPending,    "200",       1, 100000, kReloadable),

  intKey   ("rooms",   "heartbeat_interval",  &LiveSettings::roomsHeartbeatInterval, "30",  0, 86400, kReloadable),
  intKey   ("rooms",   "heartbeat_timeout",   &LiveSettings::roomsHeartbeatTimeout,  "60",  0, 86400, kReloadable),
  intKey   ("rooms",   "reconnection_ttl",    &LiveSettings::roomsReconnectionTtl,   "300", 0, 86400, kReloadable),
  intKey   ("rooms",   "reconnection_max_attempts", &LiveSettings::roomsReconnectionMaxAttempts, "5", 1, 1000, kReloadable),
  intKey   ("rooms",   "max_connections_per_room", &LiveSettings::roomsMaxConnectionsPerRoom, "100", 1, 1000000, kReloadable),
  intKey   ("rooms",   "max_rooms_per_connection", &LiveSettings::roomsMaxRoomsPerConnection, "10", 1, 10000, kReloadable),
  intKey   ("rooms",   "history_size",        &LiveSettings::roomsHistorySize,       "1000", 0, 1000000, kReloadable),
  intKey   ("rooms",   "history_ttl",         &LiveSettings::roomsHistoryTtl,        "600", 1, 604800, kReloadable),
};
// clang-format on

// A row whose type does not match its field would make the setters below
// write nothing, and a reloadable row outside LiveSettings would not be
// reloaded: catch both while compiling.
template <class T>
constexpr bool rowFits(const Key& k) {
  switch (k.type) {
    case kInt:
    case kSize:
      return (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) && k.min <= k.max &&
             (!std::is_same_v<T, int> ||
              (k.min >= std::numeric_limits<int>::min() && k.max <= std::numeric_limits<int>::max()));
    case kBool: return std::is_same_v<T, bool>;
    case kString:
    case kPath: return std::is_same_v<T, std::string>;
    case kList: return std::is_same_v<T, std::vector<std::string>>;
    case kEnum: return std::is_enum_v<T> && !k.spellings.empty();
  }
  return false;
}

constexpr bool rowIsConsistent(const Key& k) {
  return std::visit(
      [&k](auto m) {
        using F = FieldOf<decltype(m)>;
        return rowFits<typename F::type>(k) && F::live == k.reloadable;
      },
      k.field);
}

constexpr bool tableIsConsistent() {
  for (const Key& k : kKeys) {
    if (!rowIsConsistent(k)) return false;
    for (const Key& other : kKeys) {
      bool same = std::string_view(k.section) == other.section && std::string_view(k.name) == other.name;
      if (&k != &other && same) return false;
    }
  }
  return true;
}
static_assert(tableIsConsistent(),
              "a row of kKeys has a type that does not match its field, is reloadable but not in LiveSettings "
              "(or the other way round), or repeats a key");

// ---- keys and lists

std::string label(const Key& k) { return std::string("[") + k.section + "] " + k.name; }

// The items of a list, or why it is not one.
const char* parseList(const Key& k, std::string_view s, std::vector<std::string>& items) {
  if (trim(s).empty()) return nullptr;
  for (size_t start = 0; start <= s.size();) {
    size_t comma = std::min(s.find(',', start), s.size());
    std::string item(trim(s.substr(start, comma - start)));
    // A trailing comma is fine: it is how a list that goes on on the next line reads.
    if (item.empty() && comma == s.size() && !items.empty()) break;
    if (std::find(items.begin(), items.end(), item) != items.end()) return kListRule;
    if (const char* bad = k.check ? k.check(item) : nullptr) return bad;
    items.push_back(std::move(item));
    start = comma + 1;
  }
  return nullptr;
}

// ---- writing into Config

void storeNumber(const Key& k, int64_t value, Config& c) {
  std::visit(
      [&](auto m) {
        using T = typename FieldOf<decltype(m)>::type;
        if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) at(c, m) = static_cast<T>(value);
      },
      k.field);
}

void storeBool(const Key& k, bool value, Config& c) {
  std::visit(
      [&](auto m) {
        if constexpr (std::is_same_v<typename FieldOf<decltype(m)>::type, bool>) at(c, m) = value;
      },
      k.field);
}

void storeEnum(const Key& k, size_t index, Config& c) {
  std::visit(
      [&](auto m) {
        using T = typename FieldOf<decltype(m)>::type;
        if constexpr (std::is_enum_v<T>) at(c, m) = static_cast<T>(index);
      },
      k.field);
}

std::string assignNumber(const Key& k, std::optional<int64_t> value, Config& c) {
  if (!value || *value < k.min || *value > k.max) {
    if (k.type == kInt) return "must be an integer from " + std::to_string(k.min) + " to " + std::to_string(k.max);
    return "must be a size in bytes from " + sizeText(k.min) + " to " + sizeText(k.max) +
           " (suffix k, m or g for KiB, MiB, GiB)";
  }
  storeNumber(k, *value, c);
  return {};
}

std::string assignEnum(const Key& k, std::string_view text, Config& c) {
  for (size_t i = 0; i < k.spellings.size(); ++i) {
    if (iequals(text, k.spellings[i])) {
      storeEnum(k, i, c);
      return {};
    }
  }
  return "must be one of " + join(k.spellings);
}

std::string assignText(const Key& k, std::string_view text, const fs::path& root, Config& c) {
  if (const char* reason = k.check ? k.check(text) : nullptr) return reason;
  auto* live = std::get_if<LiveMember<std::string>>(&k.field);
  std::string& dest = live ? at(c, *live) : at(c, std::get<Member<std::string>>(k.field));
  if (k.type == kPath && !text.empty()) {
    dest = normalPath(root / fs::path(text)).string();  // an absolute `text` replaces root
  } else {
    dest = text;
  }
  return {};
}

// Writes `text` into the key's field; "" when done, else what is allowed.
std::string assign(const Key& k, std::string_view text, const fs::path& root, Config& c) {
  switch (k.type) {
    case kInt: return assignNumber(k, parseInteger(text), c);
    case kSize: return assignNumber(k, parseSize(text), c);
    case kEnum: return assignEnum(k, text, c);
    case kString:
    case kPath: return assignText(k, text, root, c);
    case kBool: {
      std::optional<bool> b = parseBool(text);
      if (!b) return "must be one of true, false, yes, no, on, off, 1, 0";
      storeBool(k, *b, c);
      return {};
    }
    case kList: {
      std::vector<std::string> items;
      if (const char* bad = parseList(k, text, items)) return bad;
      at(c, std::get<Member<std::vector<std::string>>>(k.field)) = std::move(items);
      return {};
    }
  }
  return "unsupported key type";
}

// ---- reading the value back (dump)

std::string valueText(const Key& k, const Config& c) {
  std::string out;
  std::visit(
      [&](auto m) {
        using T = typename FieldOf<decltype(m)>::type;
        const T& v = at(c, m);
        if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) {
          out = std::to_string(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          out = v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          out = (k.secret && !v.empty()) ? "(hidden)" : v;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          out = join(v);
        } else {
          auto i = static_cast<size_t>(v);
          out = i < k.spellings.size() ? k.spellings[i] : "?";
        }
      },
      k.field);
  return out;
}

// ---- the parse

const Key* findKey(std::string_view section, std::string_view name) {
  for (const Key& k : kKeys) {
    if (iequals(section, k.section) && iequals(name, k.name)) return &k;
  }
  return nullptr;
}

bool knownSection(std::string_view section) {
  return std::any_of(std::begin(kKeys), std::end(kKeys), [&](const Key& k) { return iequals(section, k.section); });
}

// One load: the ini_reader's stream and the ini_handler's user at once.
struct Parse {
  std::string file;  // as the caller gave it, for messages
  fs::path root;
  Config& out;
  ConfigLoad& result;
  std::vector<std::string_view> lines = {};
  int line = 0;                      // number of the line inih is working on
  int headerLine = 0;                // the latest line that looks like "[section]"
  const char* lineBuffer = nullptr;  // inih's line buffer, see isContinuation()
  size_t lineBufferSize = 0;
  std::map<const Key*, int> setAt = {};             // line where each key was last set
  std::map<const Key*, std::string> listText = {};  // what a list key holds so far, for continuation lines
  std::set<std::string> warnedSections = {};
};

std::string where(const Parse& p, int line) {
  return line > 0 ? p.file + ":" + std::to_string(line) + ": " : p.file + ": ";
}
void addError(Parse& p, int line, const std::string& what) { p.result.errors.push_back(where(p, line) + what); }
void addWarning(Parse& p, int line, const std::string& what) { p.result.warnings.push_back(where(p, line) + what); }

std::vector<std::string_view> splitLines(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 BOM some editors write
  std::vector<std::string_view> lines = {};
  while (!text.empty()) {
    size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return lines;
}

// inih's reader. We hand over one line per call so that the line number of
// every handler call is known, and a line too long for inih's buffer becomes
// an error here instead of being cut by inih.
char* readLine(char* buf, int size, void* stream) {
  auto& p = *static_cast<Parse*>(stream);
  if (size < 2 || p.line >= static_cast<int>(p.lines.size())) return nullptr;
  std::string_view text = p.lines[p.line++];
  p.lineBuffer = buf;
  p.lineBufferSize = static_cast<size_t>(size);
  // Every line goes over with its '\n': inih takes a full buffer without one
  // for a cut line and would swallow the next line as its rest.
  try {
    if (text.size() > static_cast<size_t>(size) - 2) {
      addError(p, p.line, "line is longer than " + std::to_string(size - 1) + " characters");
      text = {};
    } else if (text.find('\0') != std::string_view::npos) {
      addError(p, p.line, "line holds a NUL byte");
      text = {};
    }
  } catch (...) {  // must not unwind through inih's C frames
    text = {};
  }
  if (trim(text).starts_with('[')) p.headerLine = p.line;
  std::copy(text.begin(), text.end(), buf);
  buf[text.size()] = '\n';
  buf[text.size() + 1] = '\0';
  return buf;
}

// inih hands a continuation line (an indented line after a key) to the
// handler under the previous key's name, which it keeps in its own array;
// a real key's name points into the line buffer.
bool isContinuation(const Parse& p, const char* name) {
  bool inLine = std::less_equal<const char*>()(p.lineBuffer, name) &&
                std::less<const char*>()(name, p.lineBuffer + p.lineBufferSize);
  return !inLine;
}

void setValue(Parse& p, const Key& k, std::string_view value) {
  std::string reason = assign(k, value, p.root, p.out);
  if (!reason.empty()) addError(p, p.line, label(k) + " = " + std::string(value) + ": " + reason);
  if (k.type == kList) p.listText[&k] = value;
}

// inih 55 leaves inline comments on continuation lines (later versions cut
// them): cut them the way inih does elsewhere, at a ';' after a blank.
std::string_view withoutComment(std::string_view value) {
  for (size_t i = 1; i < value.size(); ++i) {
    if (value[i] == ';' && (value[i - 1] == ' ' || value[i - 1] == '\t')) return trim(value.substr(0, i));
  }
  return value;
}

void continueValue(Parse& p, const Key& k, std::string_view value) {
  if (k.type != kList) {
    addError(p, p.line,
             label(k) +
                 ": an indented line continues the value above: write the value on one line, or unindent "
                 "this line if it is a key");
    return;
  }
  std::string joined = p.listText[&k];
  if (!joined.empty() && !joined.ends_with(',')) joined += ',';
  setValue(p, k, joined + std::string(withoutComment(value)));
}

void takeEndpointKey(Parse& p, std::string_view ep, std::string_view name, std::string_view value) {
  EndpointKeyNote n = setEndpointKey(p.out.endpoints, ep, p.headerLine, name, value);
  if (!n.text.empty()) (n.error ? addError : addWarning)(p, n.atHeader ? p.headerLine : p.line, n.text);
}

void takeKey(Parse& p, std::string_view section, std::string_view name, std::string_view value, bool continued) {
  if (std::string_view ep; endpointSection(section, ep)) return continued ? void() : takeEndpointKey(p, ep, name, value);
  if (section.empty()) {
    if (!continued) addWarning(p, p.line, std::string(name) + ": key before any [section] (ignored)");
    return;
  }
  if (!knownSection(section)) {
    std::string lower(section.size(), ' ');
    std::transform(section.begin(), section.end(), lower.begin(), lowerAscii);
    if (p.warnedSections.insert(lower).second) {
      addWarning(p, p.headerLine, "[" + std::string(section) + "]: unknown section (ignored)");
    }
    return;
  }
  const Key* k = findKey(section, name);
  if (!k) {
    if (!continued)
      addWarning(p, p.line, "[" + std::string(section) + "] " + std::string(name) + ": unknown key (ignored)");
    return;
  }
  if (continued) return continueValue(p, *k, value);
  if (auto it = p.setAt.find(k); it != p.setAt.end()) {
    addWarning(p, p.line,
               label(*k) + ": set again (before on line " + std::to_string(it->second) + "): the last one wins");
  }
  p.setAt[k] = p.line;
  setValue(p, *k, value);
}

// inih's handler. Always 1: our own errors are collected with their reasons,
// and a 0 would come back from ini_parse_stream looking like a syntax error.
int onKey(void* user, const char* section, const char* name, const char* value) {
  auto& p = *static_cast<Parse*>(user);
  try {
    takeKey(p, trim(section), name, value, isContinuation(p, name));
  } catch (const std::exception& e) {  // must not unwind through inih's C frames
    p.result.errors.push_back(where(p, p.line) + "cannot load: " + e.what());
  } catch (...) {
    p.result.errors.push_back(where(p, p.line) + "cannot load");
  }
  return 1;
}

// ---- defaults and cross-key checks

int cpuCount() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return static_cast<int>(std::clamp<long>(n, 1, 256));  // 256: worker_num's maximum
}

std::string hostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

bool isLoopback(const std::string& host) {
  if (iequals(host, "localhost")) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && std::memcmp(&v6, &in6addr_loopback, sizeof v6) == 0;
}

void applyDefaults(Parse& p) {
  for (const Key& k : kKeys) {
    if (!k.def) continue;
    std::string reason = assign(k, k.def, p.root, p.out);
    if (!reason.empty()) addError(p, 0, label(k) + ": the built-in default " + k.def + " is invalid: " + reason);
  }
  p.out.workerNum = cpuCount();
}

// The line of the latest of these keys set in the file, 0 when none was.
int laterLine(const Parse& p, const char* section, std::initializer_list<const char*> names) {
  int line = 0;
  for (const char* name : names) {
    auto it = p.setAt.find(findKey(section, name));
    if (it != p.setAt.end()) line = std::max(line, it->second);
  }
  return line;
}

void checkAcrossKeys(Parse& p) {
  Config& c = p.out;
  if (!p.setAt.contains(findKey("server", "node_id"))) {
    c.nodeId = hostName() + ":" + std::to_string(c.port);
    if (nodeIdChars(c.nodeId)) {
      addError(p, 0,
               "[server] node_id " + c.nodeId + " (made from the host name) " + kNodeIdRule + ": set [server] node_id");
    }
  }
  if (c.sslCert.empty() != c.sslKey.empty()) {
    addError(p, laterLine(p, "outside", {"ssl_cert", "ssl_key"}),
             std::string("[outside] ssl_cert and ssl_key go together: ") +
                 (c.sslCert.empty() ? "ssl_cert" : "ssl_key") + " is empty");
  }
  if (!isLoopback(c.managerHost) && c.managerToken.empty()) {
    addError(p, laterLine(p, "manager", {"host", "token"}),
             "[manager] host " + c.managerHost + " is not loopback: set [manager] token");
  }
  for (auto& [line, what] : finishEndpoints(c)) addError(p, line, what);
}

bool readFile(const std::string& file, std::string& text, std::string& why) {
  struct Closer { void operator()(FILE* f) const { std::fclose(f); } };
  std::unique_ptr<FILE, Closer> f(std::fopen(file.c_str(), "rb"));
  if (!f) {
    why = std::error_code(errno, std::generic_category()).message();
    return false;
  }
  char buf[8192];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text.append(buf, n);
  if (std::ferror(f.get())) {
    why = std::error_code(errno, std::generic_category()).message();
    return false;
  }
  return true;
}

void load(Parse& p) {
  p.out = Config{};
  p.out.file = absolutePath(p.file).string();
  p.out.root = p.root.string();
  applyDefaults(p);
  std::string text, why;
  if (!readFile(p.file, text, why)) return addError(p, 0, "cannot read: " + why);
  p.lines = splitLines(text);
  int bad = ini_parse_stream(readLine, &p, onKey, &p);
  if (bad > 0 && bad <= static_cast<int>(p.lines.size())) {
    addError(p, bad, "not a [section] or key = value line: \"" + std::string(trim(p.lines[bad - 1])) + "\"");
  }
  checkAcrossKeys(p);
}

}  // namespace

Config::Config() : workerNum(0) {
  // Paths stay relative (there is no root yet): load() writes them again against its root.
  for (const Key& k : kKeys) {
    if (k.def) assign(k, k.def, fs::path(), *this);
  }
}

ConfigLoad loadConfig(const std::string& file, const std::string& root, Config& out) {
  ConfigLoad result;
  try {
    Parse p{.file = file, .root = absolutePath(root), .out = out, .result = result};
    load(p);
    for (auto [k, line] : p.setAt) result.setAt[label(*k)] = line;
  } catch (const std::exception& e) {
    result.errors.push_back(file + ": cannot load: " + e.what());
  } catch (...) {
    result.errors.push_back(file + ": cannot load");
  }
  result.ok = result.errors.empty();
  return result;
}

std::string dumpConfig(const Config& c, const ConfigLoad* origin) {
  std::string out;
  for (const Key& k : kKeys) {
    out += label(k) + " = " + valueText(k, c);
    if (origin) {
      auto it = origin->setAt.find(label(k));
      out += it == origin->setAt.end() ? "  ; default" : "  ; " + c.file + ":" + std::to_string(it->second);
    }
    out += "\n";
  }
  for (const EndpointConfig& e : c.endpoints) out += "[endpoint." + e.name + "] " + describeEndpoint(e, c.port) + "\n";
  return out;
}

std::string configValue(const Config& c, std::string_view section, std::string_view name) {
  const Key* k = findKey(section, name);
  return k && !k->secret ? valueText(*k, c) : std::string();
}

}  // namespace msw
