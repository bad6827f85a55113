// framework/console.cpp: the msw binary's command line, MSwoole's console.
//
//   msw -s start|stop|reload|restart|status|say|token [options]
//
// Exit codes (docs/console.md): 0 done, 1 failed, 2 bad usage, 3 server not running.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "framework/auth_key.h"
#include "framework/server.h"
#include "library/config.h"
#include "library/log.h"
#include "library/token_codec.h"
#include "msw/json.h"

namespace msw {
namespace {

namespace fs = std::filesystem;

enum Exit { kDone = 0, kFailed = 1, kUsage = 2, kNotRunning = 3 };

const char* const kUsageText =
    "usage: console -s VERB [-c FILE] [options]\n"
    "  -s start [-d]            start the server (-d: as a daemon, logs in runtime/log/)\n"
    "  -s stop                  close every client with 1001, drain, exit\n"
    "  -s reload                reload modules and reloadable settings, keeping connections\n"
    "  -s restart [-d]          stop, then start\n"
    "  -s status                print the server's state\n"
    "  -s say -i TEXT           send TEXT to every client (event serverBroadcast)\n"
    "  -s token --id ID [--type T] [--code ROOM] [--nickname N] [--field K=V ...]\n"
    "                           print an auth token for the configured cipher and key\n"
    "  --print-config           print the configuration in force and where each value comes from\n"
    "  -c FILE                  config file (default: ROOT/config/app.ini)\n"
    "  --root DIR               application root (default: the folder holding public/ and config/)\n";

struct Options {
  std::string verb;
  std::string configFile;
  std::string root;
  bool daemon = false;
  std::string text;  // -i
  std::map<std::string, std::string> fields;  // token fields
};

int usage(const char* why = nullptr) {
  if (why) std::fprintf(stderr, "console: %s\n", why);
  std::fputs(kUsageText, stderr);
  return kUsage;
}

bool parseArgs(int argc, char** argv, Options& o, std::string& error) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        error = a + " needs a value";
        return false;
      }
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "-s") { if (!value(o.verb)) return false; }
    else if (a == "-c") { if (!value(o.configFile)) return false; }
    else if (a == "--root") { if (!value(o.root)) return false; }
    else if (a == "-d") o.daemon = true;
    else if (a == "-i") { if (!value(o.text)) return false; }
    else if (a == "--id" || a == "--type" || a == "--code" || a == "--nickname") {
      if (!value(v)) return false;
      o.fields[a.substr(2)] = v;
    } else if (a == "--field") {
      if (!value(v)) return false;
      size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0) {
        error = "--field takes KEY=VALUE";
        return false;
      }
      o.fields[v.substr(0, eq)] = v.substr(eq + 1);
    } else if (a == "--print-config") {
      o.verb = "print-config";
    } else if (a == "-h" || a == "--help") {
      o.verb = "help";
    } else {
      error = "unknown argument " + a;
      return false;
    }
  }
  return true;
}

// The application root: --root, $MSW_ROOT, the folder above the binary's
// (build/msw), or the current directory.
std::string findRoot(const Options& o) {
  std::error_code ec;
  if (!o.root.empty()) return fs::absolute(o.root, ec).lexically_normal().string();
  if (const char* env = std::getenv("MSW_ROOT"); env && *env) return fs::absolute(env, ec).lexically_normal().string();
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path up = exe.parent_path().parent_path();
    if (fs::exists(up / "config") && fs::exists(up / "public")) return up.string();
  }
  return fs::current_path(ec).string();
}

// The verbs that only talk to a running server need only its [manager]
// section: with errors elsewhere in the file they still work (a server
// with a broken file must stay stoppable), and reload leaves the reporting
// of those errors to the server, so that each is printed once.
bool needsOnlyTheManager(const std::string& verb) {
  return verb == "stop" || verb == "status" || verb == "reload" || verb == "say";
}

// Loads the config file, its warnings and errors printed on stderr; `ok`
// also when only the [manager] section matters and it is sound.
ConfigLoad readConfig(const Options& o, Config& cfg) {
  std::string root = findRoot(o);
  std::error_code ec;
  std::string file = o.configFile.empty() ? root + "/config/app.ini" : fs::absolute(o.configFile, ec).string();
  ConfigLoad load = loadConfig(file, root, cfg);
  bool lenient = needsOnlyTheManager(o.verb) && std::none_of(load.errors.begin(), load.errors.end(), [](auto& e) {
                   return e.find("[manager]") != std::string::npos || e.find("cannot read") != std::string::npos ||
                          e.find("cannot load") != std::string::npos;
                 });
  if (!load.ok && lenient) {
    if (o.verb != "reload")
      std::fprintf(stderr, "note: %s has %zu error(s); its [manager] section is fine and is all %s needs\n",
                   file.c_str(), load.errors.size(), o.verb.c_str());
    load.ok = true;
    return load;
  }
  for (const std::string& w : load.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  for (const std::string& e : load.errors) std::fprintf(stderr, "error: %s\n", e.c_str());
  return load;
}

// ---- a blocking HTTP client for the manager port ----

struct HttpReply {
  int status = 0;  // 0: could not connect
  std::string body;
};

HttpReply managerRequest(const Config& cfg, const char* method, const std::string& path, const std::string& body) {
  HttpReply r;
  addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string host = cfg.managerHost == "0.0.0.0" ? "127.0.0.1" : cfg.managerHost;
  if (getaddrinfo(host.c_str(), std::to_string(cfg.managerPort).c_str(), &hints, &res) != 0) return r;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0;
  freeaddrinfo(res);
  if (!ok) {
    if (fd >= 0) close(fd);
    return r;
  }
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string req = std::string(method) + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n";
  if (!cfg.managerToken.empty()) req += "Authorization: Bearer " + cfg.managerToken + "\r\n";
  // A GET has no body, so no Content-Length; an empty POST says 0.
  if (std::string_view(method) == "POST")
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return r;
  }
  std::string in;
  char buf[16384];
  size_t need = std::string::npos;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    size_t head = in.find("\r\n\r\n");
    if (head == std::string::npos) continue;
    if (need == std::string::npos) {
      std::sscanf(in.c_str(), "HTTP/1.%*d %d", &r.status);
      std::string lower = in.substr(0, head);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t cl = lower.find("content-length:");
      need = cl == std::string::npos ? std::string::npos - 1 : head + 4 + std::strtoull(lower.c_str() + cl + 15, nullptr, 10);
    }
    if (in.size() >= need) break;
  }
  close(fd);
  size_t head = in.find("\r\n\r\n");
  if (head == std::string::npos) r.status = 0;
  else r.body = in.substr(head + 4);
  return r;
}

// A process that exited but was not reaped yet (its parent does not wait,
// as PID 1 of many containers) still answers kill(pid, 0): it is a zombie,
// state 'Z' (or 'X') in /proc/PID/stat, and has finished.
bool processAlive(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return true;  // no /proc: trust kill()
  size_t paren = stat.rfind(')');  // the command name may hold spaces and ')'
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

pid_t pidFromFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return 0;
  long pid = 0;
  if (std::fscanf(f, "%ld", &pid) != 1) pid = 0;
  std::fclose(f);
  return static_cast<pid_t>(pid);
}

// ---- verbs ----

int runServer(Config cfg, int readyFd) {
  // Before any thread exists, so that every thread inherits the mask and
  // only the main thread's sigwait takes these (docs/design.md#threads-and-event-loops).
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  log::setThreadName("main");
  Server server(std::move(cfg));
  return server.run([readyFd](const std::string& error) {
    if (readyFd < 0) return;
    std::string msg = error.empty() ? "ok" : error;
    ssize_t n = write(readyFd, msg.data(), msg.size());
    (void)n;
    close(readyFd);
  });
}

bool alreadyRunning(const Config& cfg) {
  pid_t pid = pidFromFile(cfg.pidFile);
  if (processAlive(pid) && managerRequest(cfg, "GET", "/status", "").status != 0) {
    std::fprintf(stderr, "msw is already running (pid %d)\n", static_cast<int>(pid));
    return true;
  }
  return false;
}

int startDaemon(const Config& cfg) {
  int pipeFds[2];
  if (pipe2(pipeFds, O_CLOEXEC) != 0) return kFailed;
  pid_t child = fork();
  if (child < 0) return kFailed;
  if (child == 0) {
    close(pipeFds[0]);
    setsid();
    if (fork() != 0) _exit(0);  // the grandchild is no session leader: it can never regain a terminal
    std::error_code ec;
    fs::create_directories(fs::path(cfg.logFile).parent_path(), ec);
    int log = open(cfg.logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (log < 0 || null < 0) {
      std::string msg = "cannot open " + cfg.logFile + ": " + std::strerror(errno);
      ssize_t n = write(pipeFds[1], msg.data(), msg.size());
      (void)n;
      _exit(1);
    }
    dup2(null, STDIN_FILENO);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    if (chdir("/") != 0) _exit(1);
    _exit(runServer(cfg, pipeFds[1]));
  }
  close(pipeFds[1]);
  waitpid(child, nullptr, 0);
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = read(pipeFds[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
  close(pipeFds[0]);
  if (msg == "ok") {
    std::printf("msw started in the background (pid %d), logging to %s\n", static_cast<int>(pidFromFile(cfg.pidFile)),
                cfg.logFile.c_str());
    return kDone;
  }
  std::fprintf(stderr, "msw failed to start: %s\n", msg.empty() ? ("see " + cfg.logFile).c_str() : msg.c_str());
  return kFailed;
}

int start(const Options& o, const Config& cfg) {
  if (alreadyRunning(cfg)) return kFailed;
  if (o.daemon || cfg.daemonize) return startDaemon(cfg);
  return runServer(cfg, -1);
}

// Asks the server to stop and waits until its process is gone.
int stop(const Config& cfg) {
  HttpReply st = managerRequest(cfg, "GET", "/status", "");
  if (st.status == 0) {
    std::fprintf(stderr, "msw is not running (nothing answers on %s:%d)\n", cfg.managerHost.c_str(), cfg.managerPort);
    return kNotRunning;
  }
  pid_t pid = static_cast<pid_t>(Json::parse(st.body)["pid"].i64());
  HttpReply r = managerRequest(cfg, "POST", "/stop", "");
  if (r.status != 200) {
    std::fprintf(stderr, "stop refused: %d %s\n", r.status, r.body.c_str());
    return kFailed;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(cfg.stopTimeout + 10);
  // The server is another process: all there is to wait on is its pid.
  while (processAlive(pid)) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "msw (pid %d) is still running after %d s\n", static_cast<int>(pid), cfg.stopTimeout + 10);
      return kFailed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::printf("msw stopped\n");
  return kDone;
}

int reload(const Config& cfg) {
  HttpReply r = managerRequest(cfg, "POST", "/reload", "");
  if (r.status == 0) {
    std::fprintf(stderr, "msw is not running\n");
    return kNotRunning;
  }
  Json j = Json::parse(r.body);
  std::string mods;
  for (JsonRef m : j["modules"]) mods += (mods.empty() ? "" : ", ") + std::string(m.str());
  if (mods.empty()) mods = "(none)";
  for (JsonRef e : j["errors"]) std::fprintf(stderr, "error: %s\n", std::string(e.str()).c_str());
  if (j["unchanged"].boolean(false))
    std::fprintf(stderr, "reload refused: the config file has errors; the configuration and modules in force stay "
                         "(modules: %s)\n", mods.c_str());
  else if (r.status == 200)
    std::printf("reloaded: %s\n", mods.c_str());
  else
    std::printf("reloaded with errors; modules in force: %s\n", mods.c_str());
  return r.status == 200 ? kDone : kFailed;
}

std::string bytesText(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (b >= 1024 && u < 3) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

std::string durationText(int64_t s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lldd %02lldh %02lldm %02llds", static_cast<long long>(s / 86400),
                static_cast<long long>(s / 3600 % 24), static_cast<long long>(s / 60 % 60),
                static_cast<long long>(s % 60));
  return buf;
}

std::string timeText(int64_t unixTime) {
  time_t when = static_cast<time_t>(unixTime);
  char buf[32];
  tm t;
  localtime_r(&when, &t);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &t);
  return buf;
}

// The nodes of a cluster (Redis), as /status has them: one line each.
void printCluster(JsonRef c) {
  if (!c.isObject()) return;
  if (c.has("error")) {
    std::printf("\n%-12s unknown: %s\n", "cluster", std::string(c["error"].str()).c_str());
    return;
  }
  std::printf("\n%-12s %d node(s), %lld connections (as of each node's last heartbeat)\n", "cluster",
              c["nodes"].size(), static_cast<long long>(c["connections"].i64()));
  std::printf("%-24s %12s %10s  %s\n", "node", "connections", "pid", "started");
  for (JsonRef n : c["nodes"]) {
    std::string name(n["node_id"].str());
    if (n["self"].boolean()) name += " (this)";
    std::printf("%-24s %12lld %10lld  %s\n", name.c_str(), static_cast<long long>(n["connections"].i64()),
                static_cast<long long>(n["pid"].i64()), timeText(n["start_time"].i64()).c_str());
  }
}

int status(const Config& cfg) {
  HttpReply r = managerRequest(cfg, "GET", "/status", "");
  if (r.status == 0) {
    std::fprintf(stderr, "msw is not running (nothing answers on %s:%d)\n", cfg.managerHost.c_str(), cfg.managerPort);
    return kNotRunning;
  }
  if (r.status != 200) {
    std::fprintf(stderr, "status refused: %d %s\n", r.status, r.body.c_str());
    return kFailed;
  }
  Json j = Json::parse(r.body);
  std::string mods;
  for (JsonRef m : j["modules"]) mods += (mods.empty() ? "" : ", ") + std::string(m.str());
  std::printf("%-12s msw %s\n", "version", std::string(j["version"].str()).c_str());
  std::printf("%-12s %s (pid %lld)\n", "node", std::string(j["node_id"].str()).c_str(),
              static_cast<long long>(j["pid"].i64()));
  std::printf("%-12s %s, up %s\n", "started", timeText(j["start_time"].i64()).c_str(),
              durationText(j["uptime"].i64()).c_str());
  std::printf("%-12s %.2f %.2f %.2f\n", "load", j["load"].at(0).num(), j["load"].at(1).num(), j["load"].at(2).num());
  std::printf("%-12s %s resident (peak %s)\n", "memory", bytesText(j["memory"]["rss_bytes"].num()).c_str(),
              bytesText(j["memory"]["peak_rss_bytes"].num()).c_str());
  std::printf("%-12s %s, %s\n", "store", std::string(j["store"]["driver"].str()).c_str(),
              std::string(j["store"]["health"].str()).c_str());
  std::printf("%-12s %s\n", "modules", mods.empty() ? "(none)" : mods.c_str());
  std::printf("%-12s %lld (limit %lld)\n", "connections", static_cast<long long>(j["connections"].i64()),
              static_cast<long long>(j["max_connections"].i64()));
  std::printf("%-12s %lld\n", "rooms", static_cast<long long>(j["rooms"].i64()));
  std::printf("%-12s %lld in, %lld out\n", "messages", static_cast<long long>(j["messages_in"].i64()),
              static_cast<long long>(j["messages_out"].i64()));
  std::printf("\n%-8s %12s %14s %14s %12s\n", "worker", "connections", "messages in", "messages out", "queued");
  for (JsonRef w : j["workers"])
    std::printf("%-8lld %12lld %14lld %14lld %12s\n", static_cast<long long>(w["id"].i64()),
                static_cast<long long>(w["connections"].i64()), static_cast<long long>(w["messages_in"].i64()),
                static_cast<long long>(w["messages_out"].i64()), bytesText(w["queued_bytes"].num()).c_str());
  if (j["endpoints"].size() > 1) {
    std::printf("\n%-16s %6s %-16s %-7s %12s %14s\n", "endpoint", "port", "path", "route", "connections", "messages in");
    for (JsonRef e : j["endpoints"])
      std::printf("%-16s %6lld %-16s %-7s %12lld %14lld\n", std::string(e["name"].str()).c_str(),
                  static_cast<long long>(e["port"].i64()), std::string(e["path"].str()).c_str(),
                  std::string(e["route"].str()).c_str(), static_cast<long long>(e["connections"].i64()),
                  static_cast<long long>(e["messages_in"].i64()));
  }
  printCluster(j["cluster"]);
  return kDone;
}

int say(const Options& o, const Config& cfg) {
  if (o.text.empty()) return usage("say needs -i TEXT");
  Json body = Json::object();
  body.addObject("to").set("all", true);
  body.set("event", "serverBroadcast");
  body.set("info", o.text);
  HttpReply r = managerRequest(cfg, "POST", "/push", body.dump());
  if (r.status == 0) {
    std::fprintf(stderr, "msw is not running\n");
    return kNotRunning;
  }
  if (r.status != 200) {
    std::fprintf(stderr, "say refused: %d %s\n", r.status, r.body.c_str());
    return kFailed;
  }
  long long n = static_cast<long long>(Json::parse(r.body)["delivered"].i64());
  std::printf("delivered to %lld client%s\n", n, n == 1 ? "" : "s");
  return kDone;
}

int token(const Options& o, const Config& cfg) {
  if (o.fields.find("id") == o.fields.end()) return usage("token needs --id ID");
  std::string key, error;
  if (!loadOrCreateAuthKey(cfg, key, error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return kFailed;
  }
  std::unique_ptr<TokenCodec> codec = TokenCodec::create(cfg.cipher, key, &error);
  if (!codec) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return kFailed;
  }
  Json j = Json::object();
  for (auto& [k, v] : o.fields) j.set(k.c_str(), v);
  j.set("ctime", static_cast<int64_t>(time(nullptr)));
  std::printf("%s\n", codec->encrypt(j.dump()).c_str());
  return kDone;
}

// --print-config: every key, secrets hidden, each with the file line that
// set it or "default". Needs no server.
int printConfig(const Options& o) {
  Config cfg;
  ConfigLoad load = readConfig(o, cfg);
  if (!load.ok) return kFailed;
  std::fputs(dumpConfig(cfg, &load).c_str(), stdout);
  return kDone;
}

int runVerb(const Options& o) {
  if (o.verb == "help") {
    std::fputs(kUsageText, stdout);
    return kDone;
  }
  if (o.verb == "print-config") return printConfig(o);
  static const char* const verbs[] = {"start", "stop", "reload", "restart", "status", "say", "token"};
  if (std::find(std::begin(verbs), std::end(verbs), o.verb) == std::end(verbs))
    return usage(o.verb.empty() ? "give a verb with -s" : ("unknown verb " + o.verb).c_str());
  Config cfg;
  if (!readConfig(o, cfg).ok) return kFailed;
  if (o.verb == "start") return start(o, cfg);
  if (o.verb == "stop") return stop(cfg);
  if (o.verb == "reload") return reload(cfg);
  if (o.verb == "status") return status(cfg);
  if (o.verb == "say") return say(o, cfg);
  if (o.verb == "token") return token(o, cfg);
  // restart
  int r = stop(cfg);
  if (r == kFailed) return r;
  return start(o, cfg);
}

}  // namespace
}  // namespace msw

int main(int argc, char** argv) {
  msw::Options o;
  std::string error;
  if (!msw::parseArgs(argc, argv, o, error)) return msw::usage(error.c_str());
  return msw::runVerb(o);
}
