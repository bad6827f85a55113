// tests/unit/config_test.cpp: loadConfig, applyReloadable and dumpConfig
// against ini files written to a fresh temporary folder.
#include "library/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace msw {
namespace {

namespace fs = std::filesystem;
using Lines = std::vector<std::string>;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "msw-config-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    file_ = dir_ + "/app.ini";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }
  ConfigLoad load(const std::string& text) {
    write(file_, text);
    return loadConfig(file_, dir_, config_);
  }
  // "FILE:LINE: " as every message of line LINE starts.
  std::string at(int line) const { return file_ + ":" + std::to_string(line) + ": "; }

  std::string dir_;
  std::string file_;
  Config config_;
};

std::string hostName() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

Lines linesOf(const std::string& text) {
  Lines out;
  for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
    out.push_back(text.substr(at, nl - at));
  }
  return out;
}

int onlineCpus() { return std::clamp(static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)), 1, 256); }

TEST_F(ConfigTest, EmptyFileGivesTheDefaults) {
  ConfigLoad r = load("");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(Lines{}, r.errors);
  EXPECT_EQ(Lines{}, r.warnings);
  const Config& c = config_;
  EXPECT_EQ(file_, c.file);
  EXPECT_EQ(dir_, c.root);
  EXPECT_EQ(onlineCpus(), c.workerNum);
  EXPECT_FALSE(c.daemonize);
  EXPECT_EQ(dir_ + "/runtime/msw.pid", c.pidFile);
  EXPECT_EQ(dir_ + "/runtime/log/msw.log", c.logFile);
  EXPECT_EQ(LogLevelSetting::kInfo, c.live.logLevel);
  EXPECT_EQ(10, c.stopTimeout);
  EXPECT_EQ(hostName() + ":20000", c.nodeId);
  EXPECT_EQ("0.0.0.0", c.host);
  EXPECT_EQ(20000, c.port);
  EXPECT_EQ("", c.sslCert);
  EXPECT_EQ("", c.sslKey);
  EXPECT_EQ(0, c.maxConnections);
  EXPECT_EQ(65536, c.live.maxMessageSize);
  EXPECT_EQ(60, c.live.heartbeatIdleTime);
  EXPECT_EQ(1 << 20, c.live.sendQueueLimit);
  EXPECT_EQ(100, c.live.rateLimit);
  EXPECT_EQ(200, c.live.rateBurst);
  EXPECT_EQ(dir_ + "/public", c.staticDir);
  EXPECT_TRUE(c.live.escapeHtml);
  EXPECT_EQ(512, c.rxBufferSize);
  EXPECT_FALSE(c.permessageDeflate);
  EXPECT_EQ("127.0.0.1", c.managerHost);
  EXPECT_EQ(20001, c.managerPort);
  EXPECT_EQ("", c.managerToken);
  EXPECT_EQ(CipherKind::kAes256Gcm, c.cipher);
  EXPECT_EQ("", c.authKey);
  EXPECT_EQ(86400, c.authTtl);
  EXPECT_TRUE(c.authRequired);
  EXPECT_EQ(StoreDriver::kMemory, c.driver);
  EXPECT_EQ("127.0.0.1", c.cacheHost);
  EXPECT_EQ(6379, c.cachePort);
  EXPECT_EQ("", c.cacheSocket);
  EXPECT_EQ("", c.cachePassword);
  EXPECT_EQ(0, c.cacheDb);
  EXPECT_EQ("msw:", c.cachePrefix);
  EXPECT_EQ(2000, c.cacheConnectTimeout);
  EXPECT_EQ((Lines{"index", "live"}), c.modules);
  EXPECT_EQ("", c.pluginDir);
  EXPECT_EQ("", c.backendUrl);
  EXPECT_EQ(3, c.backendTimeout);
  EXPECT_EQ("", c.backendSecret);
  EXPECT_EQ(64, c.backendMaxInFlight);
  EXPECT_EQ(1 << 20, c.backendMaxAnswer);
}

TEST_F(ConfigTest, BackendUrlIsAnHttpBaseWithoutQueryOrTrailingSlash) {
  for (const char* ok : {"http://127.0.0.1:8000/msw", "https://app.example.com", ""}) {
    ConfigLoad r = load(std::string("[backend]\nurl = ") + ok + "\n");
    EXPECT_TRUE(r.ok) << ok;
    EXPECT_EQ(ok, config_.backendUrl);
  }
  for (const char* bad : {"ftp://x", "127.0.0.1:8000", "http://x/msw/", "http://x/msw?a=1", "http://x/a b"}) {
    ConfigLoad r = load(std::string("[backend]\nurl = ") + bad + "\n");
    EXPECT_FALSE(r.ok) << bad;
    ASSERT_EQ(1u, r.errors.size()) << bad;
    EXPECT_NE(std::string::npos, r.errors[0].find("must be empty or an http:// or https:// URL")) << r.errors[0];
  }
  EXPECT_FALSE(load("[backend]\ntimeout = 0\n").ok);
  EXPECT_FALSE(load("[backend]\nmax_in_flight = 0\n").ok);
  ASSERT_TRUE(load("[backend]\ntimeout = 300\nmax_in_flight = 10000\nmax_answer_size = 64m\n").ok);
  EXPECT_EQ(64 << 20, config_.backendMaxAnswer);
}

// Config has no initialisers of its own: its constructor writes the table's
// defaults. So a default-constructed Config is what an empty file gives, but
// for the two computed keys and the paths, which an empty file resolves
// against the root.
TEST_F(ConfigTest, ADefaultConstructedConfigHoldsTheTable) {
  ASSERT_TRUE(load("").ok);
  Lines fromTable = linesOf(dumpConfig(config_));
  Lines constructed = linesOf(dumpConfig(Config{}));
  ASSERT_EQ(fromTable.size(), constructed.size());
  for (size_t i = 0; i < fromTable.size(); ++i) {
    const std::string& line = constructed[i];
    if (line.starts_with("[server] worker_num =") || line.starts_with("[server] node_id =")) continue;
    std::string value = line.substr(line.find(" = ") + 3);
    bool path = value.find("runtime/") == 0 || value == "public";
    EXPECT_EQ(fromTable[i], path ? line.substr(0, line.find(" = ") + 3) + dir_ + "/" + value : line);
  }
  EXPECT_EQ(512, Config{}.rxBufferSize);  // config.h once said 1024 where the table said 512
  EXPECT_EQ(config_.live, Config{}.live);
  EXPECT_EQ(0, Config{}.workerNum);
}

TEST_F(ConfigTest, ValuesReplaceDefaultsAndPreviousContentIsReset) {
  config_.port = 1;
  config_.modules = {"stale"};
  ConfigLoad r = load("[outside]\nport = 30000 ; inline comment\nhost=::\n[server]\nworker_num = 3\n");
  ASSERT_TRUE(r.ok) << testing::PrintToString(r.errors);
  EXPECT_EQ(30000, config_.port);
  EXPECT_EQ("::", config_.host);
  EXPECT_EQ(3, config_.workerNum);
  EXPECT_EQ((Lines{"index", "live"}), config_.modules);
}

TEST_F(ConfigTest, NodeIdIsComputedFromTheConfiguredPort) {
  ASSERT_TRUE(load("[outside]\nport = 30001\n").ok);
  EXPECT_EQ(hostName() + ":30001", config_.nodeId);
}

TEST_F(ConfigTest, NodeIdWhenSetIsKeptAndChecked) {
  ASSERT_TRUE(load("[server]\nnode_id = web-1.a_b:7\n").ok);
  EXPECT_EQ("web-1.a_b:7", config_.nodeId);

  ConfigLoad r = load("[server]\nnode_id = web 1\n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(Lines{at(2) + "[server] node_id = web 1: may hold only A-Z a-z 0-9 _ . : - (it is part of store keys)"},
            r.errors);
  EXPECT_FALSE(load("[server]\nnode_id =\n").ok);
  EXPECT_FALSE(load("[server]\nnode_id = a/b\n").ok);
}

TEST_F(ConfigTest, PortOutOfRangeNamesFileLineKeyValueAndWhatIsAllowed) {
  ConfigLoad r = load("; comment\n[outside]\nport = 70000\n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(Lines{at(3) + "[outside] port = 70000: must be an integer from 1 to 65535"}, r.errors);
}

TEST_F(ConfigTest, IntegersAreRejectedOutsideTheirRangeOrWhenNotIntegers) {
  struct Case {
    const char* section;
    const char* key;
    const char* value;
    const char* reason;
  };
  const Case cases[] = {
      {"outside", "port", "0", "must be an integer from 1 to 65535"},
      {"outside", "port", "abc", "must be an integer from 1 to 65535"},
      {"outside", "port", "80x", "must be an integer from 1 to 65535"},
      {"outside", "port", "8.5", "must be an integer from 1 to 65535"},
      {"outside", "port", "", "must be an integer from 1 to 65535"},
      {"outside", "port", "99999999999999999999999", "must be an integer from 1 to 65535"},
      {"server", "worker_num", "0", "must be an integer from 1 to 256"},
      {"server", "worker_num", "257", "must be an integer from 1 to 256"},
      {"server", "stop_timeout", "-1", "must be an integer from 0 to 3600"},
      {"outside", "rate_burst", "0", "must be an integer from 1 to 1000000"},
      {"outside", "heartbeat_idle_time", "86401", "must be an integer from 0 to 86400"},
      {"manager", "port", "65536", "must be an integer from 1 to 65535"},
      {"cache", "db", "16", "must be an integer from 0 to 15"},
      {"cache", "connect_timeout", "0", "must be an integer from 1 to 60000"},
      {"auth", "ttl", "-5", "must be an integer from 0 to 2147483647"},
  };
  for (const Case& c : cases) {
    ConfigLoad r = load(std::string("[") + c.section + "]\n" + c.key + " = " + c.value + "\n");
    EXPECT_EQ(Lines{at(2) + "[" + c.section + "] " + c.key + " = " + c.value + ": " + c.reason}, r.errors);
  }
}

TEST_F(ConfigTest, IntegersAtTheirBoundsAreAccepted) {
  ASSERT_TRUE(load("[server]\nworker_num = 256\nstop_timeout = 0\n[outside]\nport = 65535\nrate_limit = 0\n"
                   "heartbeat_idle_time = 0\n[cache]\ndb = 15\n[auth]\nttl = 0\n")
                  .ok);
  EXPECT_EQ(256, config_.workerNum);
  EXPECT_EQ(0, config_.stopTimeout);
  EXPECT_EQ(65535, config_.port);
  EXPECT_EQ(0, config_.live.rateLimit);
  EXPECT_EQ(0, config_.live.heartbeatIdleTime);
  EXPECT_EQ(15, config_.cacheDb);
  EXPECT_EQ(0, config_.authTtl);
}

TEST_F(ConfigTest, SizesAcceptKmgSuffixesInEitherCase) {
  ASSERT_TRUE(load("[outside]\nmax_message_size = 64k\nsend_queue_limit = 2M\nrx_buffer_size = 4K\n").ok);
  EXPECT_EQ(64 * 1024, config_.live.maxMessageSize);
  EXPECT_EQ(2 * 1024 * 1024, config_.live.sendQueueLimit);
  EXPECT_EQ(4096, config_.rxBufferSize);

  ASSERT_TRUE(load("[outside]\nmax_message_size = 64m\nsend_queue_limit = 1g\nrx_buffer_size = 128\n").ok);
  EXPECT_EQ(64LL << 20, config_.live.maxMessageSize);
  EXPECT_EQ(1LL << 30, config_.live.sendQueueLimit);
  EXPECT_EQ(128, config_.rxBufferSize);
}

TEST_F(ConfigTest, SizesAreRejectedOutsideTheirRangeOrMalformed) {
  const std::string messageSizeRule = "must be a size in bytes from 16 to 64m (suffix k, m or g for KiB, MiB, GiB)";
  for (const char* bad : {"15", "65m", "1g", "1.5k", "k", "-1k", "12kb", "99999999999999999g", "64 k"}) {
    ConfigLoad r = load(std::string("[outside]\nmax_message_size = ") + bad + "\n");
    EXPECT_EQ(Lines{at(2) + "[outside] max_message_size = " + bad + ": " + messageSizeRule}, r.errors) << bad;
  }
  ConfigLoad r = load("[outside]\nsend_queue_limit = 4095\n");
  EXPECT_EQ(Lines{at(2) + "[outside] send_queue_limit = 4095: must be a size in bytes from 4k to 1g (suffix k, m or g "
                          "for KiB, MiB, GiB)"},
            r.errors);
  EXPECT_FALSE(load("[outside]\nrx_buffer_size = 65537\n").ok);
}

TEST_F(ConfigTest, BoolsAcceptSixSpellingsInAnyCase) {
  for (const char* yes : {"true", "TRUE", "Yes", "on", "ON", "1"}) {
    ASSERT_TRUE(load(std::string("[server]\ndaemonize = ") + yes + "\n").ok) << yes;
    EXPECT_TRUE(config_.daemonize) << yes;
  }
  for (const char* no : {"false", "False", "no", "NO", "off", "0"}) {
    ASSERT_TRUE(load(std::string("[outside]\nescape_html = ") + no + "\n").ok) << no;
    EXPECT_FALSE(config_.live.escapeHtml) << no;
  }
  ConfigLoad r = load("[auth]\nrequired = maybe\n");
  EXPECT_EQ(Lines{at(2) + "[auth] required = maybe: must be one of true, false, yes, no, on, off, 1, 0"}, r.errors);
  EXPECT_FALSE(load("[outside]\npermessage_deflate = 2\n").ok);
}

TEST_F(ConfigTest, EnumsTakeTheirSpellingsAndNameThemWhenRejected) {
  ASSERT_TRUE(load("[server]\nlog_level = WARN\n[auth]\ncipher = des-ede3-ecb\n[cache]\ndriver = redis\n").ok);
  EXPECT_EQ(LogLevelSetting::kWarn, config_.live.logLevel);
  EXPECT_EQ(CipherKind::kDesEde3Ecb, config_.cipher);
  EXPECT_EQ(StoreDriver::kRedis, config_.driver);

  ASSERT_TRUE(load("[server]\nlog_level = debug\n").ok);
  EXPECT_EQ(LogLevelSetting::kDebug, config_.live.logLevel);
  ASSERT_TRUE(load("[server]\nlog_level = error\n").ok);
  EXPECT_EQ(LogLevelSetting::kError, config_.live.logLevel);

  EXPECT_EQ(Lines{at(2) + "[server] log_level = verbose: must be one of debug, info, warn, error"},
            load("[server]\nlog_level = verbose\n").errors);
  EXPECT_EQ(Lines{at(2) + "[auth] cipher = aes-128-gcm: must be one of aes-256-gcm, des-ede3-ecb"},
            load("[auth]\ncipher = aes-128-gcm\n").errors);
  EXPECT_EQ(Lines{at(2) + "[cache] driver = mysql: must be one of memory, redis"},
            load("[cache]\ndriver = mysql\n").errors);
}

TEST_F(ConfigTest, StringsKeepTheirTextAndRequiredOnesMustNotBeEmpty) {
  ASSERT_TRUE(load("[cache]\nprefix = app:1:\npassword = p;w=x\n[manager]\ntoken = s3cret\n").ok);
  EXPECT_EQ("app:1:", config_.cachePrefix);
  EXPECT_EQ("p;w=x", config_.cachePassword);  // ';' starts a comment only after a blank
  EXPECT_EQ("s3cret", config_.managerToken);

  EXPECT_EQ(Lines{at(2) + "[outside] host = : must not be empty"}, load("[outside]\nhost =\n").errors);
  EXPECT_FALSE(load("[server]\npid_file =\n").ok);
  EXPECT_FALSE(load("[server]\nlog_file =\n").ok);
}

TEST_F(ConfigTest, ListsAreCommaSeparatedTrimmedNames) {
  ASSERT_TRUE(load("[app]\nmodules =  chat ,wall_2, a-b \n").ok);
  EXPECT_EQ((Lines{"chat", "wall_2", "a-b"}), config_.modules);
  ASSERT_TRUE(load("[app]\nmodules =\n").ok);
  EXPECT_EQ(Lines{}, config_.modules);
  ASSERT_TRUE(load("[app]\nmodules = a,\n").ok);
  EXPECT_EQ(Lines{"a"}, config_.modules);

  const std::string rule = "must be a comma-separated list of distinct names made of A-Z a-z 0-9 _ -";
  for (const char* bad : {"a,,b", ",", ", a", "../evil", "a b", "a/b", "index, index"}) {
    EXPECT_EQ(Lines{at(2) + "[app] modules = " + bad + ": " + rule},
              load(std::string("[app]\nmodules = ") + bad + "\n").errors)
        << bad;
  }
}

TEST_F(ConfigTest, TrustedProxiesAreIpAddresses) {
  ASSERT_TRUE(load("[outside]\ntrusted_proxies = 127.0.0.1, ::1,10.0.0.2\n").ok);
  EXPECT_EQ((Lines{"127.0.0.1", "::1", "10.0.0.2"}), config_.trustedProxies);
  ASSERT_TRUE(load("[outside]\ntrusted_proxies =\n").ok);
  EXPECT_EQ(Lines{}, config_.trustedProxies);
  for (const char* bad : {"localhost", "10.0.0.0/8", "1.2.3", "::1,,::2"}) {
    EXPECT_EQ(Lines{at(2) + "[outside] trusted_proxies = " + bad + ": must be a comma-separated list of IP addresses"},
              load(std::string("[outside]\ntrusted_proxies = ") + bad + "\n").errors)
        << bad;
  }
  ASSERT_TRUE(load("[outside]\nmax_connections_per_ip = 3\nmax_connections_per_user = 2\n").ok);
  EXPECT_EQ(3, config_.maxConnectionsPerIp);
  EXPECT_EQ(2, config_.maxConnectionsPerUser);
  EXPECT_FALSE(load("[outside]\nmax_connections_per_ip = -1\n").ok);
}

TEST_F(ConfigTest, AListMayGoOnOnIndentedLines) {
  ConfigLoad r = load("[app]\nmodules = index,\n  live\n  chat ; more\nplugin_dir = p\n");
  ASSERT_TRUE(r.ok) << testing::PrintToString(r.errors);
  EXPECT_EQ(Lines{}, r.warnings);
  EXPECT_EQ((Lines{"index", "live", "chat"}), config_.modules);
  EXPECT_EQ(dir_ + "/p", config_.pluginDir);
}

TEST_F(ConfigTest, AnIndentedLineAfterAScalarKeyIsAnError) {
  ConfigLoad r = load("[outside]\nhost = 0.0.0.0\n  port = 1234\n");
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(1u, r.errors.size());
  EXPECT_EQ(0u, r.errors[0].rfind(at(3) + "[outside] host: an indented line continues the value above", 0))
      << r.errors[0];
  EXPECT_EQ(20000, config_.port);

  // An indented key right after a section header is a key like any other.
  ASSERT_TRUE(load("[outside]\n  port = 1234\n").ok);
  EXPECT_EQ(1234, config_.port);
}

TEST_F(ConfigTest, RelativePathsResolveAgainstRoot) {
  ASSERT_TRUE(load("[server]\npid_file = run/../var/x.pid\nlog_file = /var/log/msw.log\n"
                   "[outside]\nstatic_dir = www/\nssl_cert = certs/c.pem\nssl_key = ./certs/k.pem\n"
                   "[cache]\nsocket = run/redis.sock\n[app]\nplugin_dir = /opt/msw/plugins\n")
                  .ok);
  EXPECT_EQ(dir_ + "/var/x.pid", config_.pidFile);
  EXPECT_EQ("/var/log/msw.log", config_.logFile);
  EXPECT_EQ(dir_ + "/www", config_.staticDir);
  EXPECT_EQ(dir_ + "/certs/c.pem", config_.sslCert);
  EXPECT_EQ(dir_ + "/certs/k.pem", config_.sslKey);
  EXPECT_EQ(dir_ + "/run/redis.sock", config_.cacheSocket);
  EXPECT_EQ("/opt/msw/plugins", config_.pluginDir);
}

TEST_F(ConfigTest, EmptyOptionalPathsStayEmpty) {
  ASSERT_TRUE(load("[outside]\nstatic_dir =\n[app]\nplugin_dir =\n").ok);
  EXPECT_EQ("", config_.staticDir);
  EXPECT_EQ("", config_.pluginDir);
}

TEST_F(ConfigTest, RelativeFileAndRootBecomeAbsolute) {
  write(file_, "[outside]\nstatic_dir = www\n");
  fs::path before = fs::current_path();
  fs::current_path(dir_);
  Config c;
  ConfigLoad r = loadConfig("app.ini", ".", c);
  fs::path here = fs::current_path();
  fs::current_path(before);
  ASSERT_TRUE(r.ok) << testing::PrintToString(r.errors);
  EXPECT_EQ((here / "app.ini").string(), c.file);
  EXPECT_EQ(here.string(), c.root);
  EXPECT_EQ((here / "www").string(), c.staticDir);
}

TEST_F(ConfigTest, UnknownKeysWarnWithTheirLine) {
  ConfigLoad r = load("[server]\ndaemonize = false\nworkers = 4\n\n[outside]\nprot = 1\n");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ((Lines{at(3) + "[server] workers: unknown key (ignored)", at(6) + "[outside] prot: unknown key (ignored)"}),
            r.warnings);
}

TEST_F(ConfigTest, AnUnknownSectionWarnsOnceAtItsHeader) {
  ConfigLoad r = load("[server]\n\n[sever]\nport = 1\nlog_level = bad\n[outside]\nport = 2\n");
  EXPECT_TRUE(r.ok) << testing::PrintToString(r.errors);
  EXPECT_EQ(Lines{at(3) + "[sever]: unknown section (ignored)"}, r.warnings);
  EXPECT_EQ(2, config_.port);
}

TEST_F(ConfigTest, AKeyBeforeAnySectionWarns) {
  ConfigLoad r = load("port = 1\n[outside]\n");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(Lines{at(1) + "port: key before any [section] (ignored)"}, r.warnings);
  EXPECT_EQ(20000, config_.port);
}

TEST_F(ConfigTest, SectionAndKeyNamesIgnoreCase) {
  ConfigLoad r = load("[Outside]\nPORT = 4000\n");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(Lines{}, r.warnings);
  EXPECT_EQ(4000, config_.port);
}

TEST_F(ConfigTest, AKeyGivenTwiceWarnsAndTheLastWins) {
  ConfigLoad r = load("[outside]\nport = 3000\n[server]\n[outside]\nport = 4000\n");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(Lines{at(5) + "[outside] port: set again (before on line 2): the last one wins"}, r.warnings);
  EXPECT_EQ(4000, config_.port);
}

TEST_F(ConfigTest, AnOverLongLineIsAnErrorAndTheRestStillParses) {
  std::string longLine = "; " + std::string(197, 'x');  // 199 characters, 200 with its line break
  ConfigLoad r = load("[outside]\n" + longLine + "\nport = 4000\n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(Lines{at(2) + "line is longer than 199 characters"}, r.errors);
  EXPECT_EQ(4000, config_.port);

  std::string longValue = "password = " + std::string(300, 'p');
  r = load("[cache]\n" + longValue + "\nprefix = x:\n");
  EXPECT_EQ(Lines{at(2) + "line is longer than 199 characters"}, r.errors);
  EXPECT_EQ("", config_.cachePassword);
  EXPECT_EQ("x:", config_.cachePrefix);
}

TEST_F(ConfigTest, ALineOf199CharactersWithItsBreakFits) {
  std::string value(198 - std::string("prefix = ").size(), 'v');
  ConfigLoad r = load("[cache]\nprefix = " + value + "\r\nhost = h\n");
  ASSERT_TRUE(r.ok) << testing::PrintToString(r.errors);
  EXPECT_EQ(value, config_.cachePrefix);
  EXPECT_EQ("h", config_.cacheHost);
}

TEST_F(ConfigTest, ALineWithANulByteIsAnError) {
  const char text[] = "[outside]\nport = 1\0\nhost = h\n";
  ConfigLoad r = load(std::string(text, sizeof text - 1));
  EXPECT_EQ(Lines{at(2) + "line holds a NUL byte"}, r.errors);
  EXPECT_EQ("h", config_.host);
}

TEST_F(ConfigTest, AnInihSyntaxErrorIsReportedWithItsLine) {
  ConfigLoad r = load("[outside]\nport = 4000\nthis line has no equals sign\nhost = ::1\n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(Lines{at(3) + "not a [section] or key = value line: \"this line has no equals sign\""}, r.errors);
  EXPECT_EQ("::1", config_.host);

  r = load("[outside\nport = 1\n");
  EXPECT_EQ(Lines{at(1) + "not a [section] or key = value line: \"[outside\""}, r.errors);
}

TEST_F(ConfigTest, WindowsLineEndingsAndABomAreAccepted) {
  ConfigLoad r = load("\xEF\xBB\xBF[outside]\r\nport = 4001\r\nhost = ::\r\n");
  ASSERT_TRUE(r.ok) << testing::PrintToString(r.errors);
  EXPECT_EQ(Lines{}, r.warnings);
  EXPECT_EQ(4001, config_.port);
  EXPECT_EQ("::", config_.host);
}

TEST_F(ConfigTest, SslCertAndKeyGoTogether) {
  ConfigLoad r = load("[outside]\nssl_cert = c.pem\nport = 443\n");
  EXPECT_EQ(Lines{at(2) + "[outside] ssl_cert and ssl_key go together: ssl_key is empty"}, r.errors);

  r = load("[outside]\nssl_key = k.pem\nssl_cert =\n");
  EXPECT_EQ(Lines{at(3) + "[outside] ssl_cert and ssl_key go together: ssl_cert is empty"}, r.errors);

  r = load("[outside]\nssl_key = k.pem\nssl_cert = c.pem\n");
  EXPECT_TRUE(r.ok) << testing::PrintToString(r.errors);
}

TEST_F(ConfigTest, ANonLoopbackManagerNeedsAToken) {
  ConfigLoad r = load("[manager]\nport = 9000\nhost = 0.0.0.0\n");
  EXPECT_EQ(Lines{at(3) + "[manager] host 0.0.0.0 is not loopback: set [manager] token"}, r.errors);
  r = load("[manager]\nhost = 10.0.0.5\ntoken =\n");
  EXPECT_EQ(Lines{at(3) + "[manager] host 10.0.0.5 is not loopback: set [manager] token"}, r.errors);

  EXPECT_TRUE(load("[manager]\nhost = 0.0.0.0\ntoken = t0ken\n").ok);
  for (const char* loopback : {"127.0.0.1", "127.9.8.7", "::1", "localhost", "LocalHost"}) {
    EXPECT_TRUE(load(std::string("[manager]\nhost = ") + loopback + "\n").ok) << loopback;
  }
  EXPECT_FALSE(load("[manager]\nhost = 128.0.0.1\n").ok);
  EXPECT_FALSE(load("[manager]\nhost = ::\n").ok);
}

TEST_F(ConfigTest, AMissingFileCannotBeRead) {
  Config c;
  std::string missing = dir_ + "/nope.ini";
  ConfigLoad r = loadConfig(missing, dir_, c);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(Lines{missing + ": cannot read: No such file or directory"}, r.errors);

  r = loadConfig(dir_, dir_, c);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(Lines{dir_ + ": cannot read: Is a directory"}, r.errors);
}

TEST_F(ConfigTest, AllErrorsOfAFileAreReportedTogether) {
  ConfigLoad r = load("[outside]\nport = 0\nmax_message_size = 1\n[cache]\ndb = x\n");
  EXPECT_EQ(3u, r.errors.size()) << testing::PrintToString(r.errors);
}

TEST_F(ConfigTest, ApplyReloadableCopiesOnlyTheReloadableKeys) {
  Config running;
  Config fresh;
  fresh.live.logLevel = LogLevelSetting::kError;
  fresh.live.heartbeatIdleTime = 5;
  fresh.live.maxMessageSize = 1234;
  fresh.live.sendQueueLimit = 8192;
  fresh.live.rateLimit = 7;
  fresh.live.rateBurst = 9;
  fresh.live.escapeHtml = false;
  fresh.live.maxPending = 3;
  // and everything else differs too, but must stay
  fresh.workerNum = 99;
  fresh.port = 1;
  fresh.host = "10.1.1.1";
  fresh.nodeId = "other";
  fresh.rxBufferSize = 4096;
  fresh.cipher = CipherKind::kDesEde3Ecb;
  fresh.driver = StoreDriver::kRedis;
  fresh.modules = {"x"};
  fresh.managerToken = "t";
  fresh.staticDir = "/elsewhere";

  applyReloadable(fresh, running);
  EXPECT_EQ(LogLevelSetting::kError, running.live.logLevel);
  EXPECT_EQ(5, running.live.heartbeatIdleTime);
  EXPECT_EQ(1234, running.live.maxMessageSize);
  EXPECT_EQ(8192, running.live.sendQueueLimit);
  EXPECT_EQ(7, running.live.rateLimit);
  EXPECT_EQ(9, running.live.rateBurst);
  EXPECT_FALSE(running.live.escapeHtml);
  EXPECT_EQ(3, running.live.maxPending);

  Config untouched;
  EXPECT_EQ(untouched.workerNum, running.workerNum);
  EXPECT_EQ(untouched.port, running.port);
  EXPECT_EQ(untouched.host, running.host);
  EXPECT_EQ(untouched.nodeId, running.nodeId);
  EXPECT_EQ(untouched.rxBufferSize, running.rxBufferSize);
  EXPECT_EQ(untouched.cipher, running.cipher);
  EXPECT_EQ(untouched.driver, running.driver);
  EXPECT_EQ(untouched.modules, running.modules);
  EXPECT_EQ(untouched.managerToken, running.managerToken);
  EXPECT_EQ(untouched.staticDir, running.staticDir);
}

TEST_F(ConfigTest, DumpHasOneLinePerKeyAndHidesSecrets) {
  ASSERT_TRUE(load("[auth]\nkey = topsecret\ncipher = des-ede3-ecb\n[app]\nmodules = a, b\n"
                   "[backend]\nsecret = hookkey\n").ok);
  std::string dump = dumpConfig(config_);
  EXPECT_EQ(62, std::count(dump.begin(), dump.end(), '\n'));
  EXPECT_NE(std::string::npos, dump.find("[backend] secret = (hidden)\n"));
  EXPECT_EQ(std::string::npos, dump.find("hookkey"));
  EXPECT_NE(std::string::npos, dump.find("[outside] port = 20000\n"));
  EXPECT_NE(std::string::npos, dump.find("[outside] send_queue_limit = 1048576\n"));
  EXPECT_NE(std::string::npos, dump.find("[server] log_level = info\n"));
  EXPECT_NE(std::string::npos, dump.find("[server] daemonize = false\n"));
  EXPECT_NE(std::string::npos, dump.find("[auth] cipher = des-ede3-ecb\n"));
  EXPECT_NE(std::string::npos, dump.find("[app] modules = a, b\n"));
  EXPECT_NE(std::string::npos, dump.find("[outside] static_dir = " + dir_ + "/public\n"));
  EXPECT_NE(std::string::npos, dump.find("[auth] key = (hidden)\n"));
  EXPECT_NE(std::string::npos, dump.find("[manager] token = \n"));
  EXPECT_EQ(std::string::npos, dump.find("topsecret"));
}

// What App::setting hands a module: the dump's text of one key, no secret.
TEST_F(ConfigTest, ConfigValueIsOneKeyOfTheDump) {
  ASSERT_TRUE(load("[auth]\nkey = topsecret\n[outside]\nsend_queue_limit = 64k\n[live]\nmax_pending = 7\n").ok);
  EXPECT_EQ(configValue(config_, "outside", "send_queue_limit"), "65536");
  EXPECT_EQ(configValue(config_, "LIVE", "max_pending"), "7");
  EXPECT_EQ(configValue(config_, "server", "daemonize"), "false");
  EXPECT_EQ(configValue(config_, "auth", "key"), "");
  EXPECT_EQ(configValue(config_, "live", "nope"), "");
  EXPECT_EQ(Config{}.live.maxPending, 200);
  EXPECT_FALSE(load("[live]\nmax_pending = 0\n").ok);
  ASSERT_TRUE(load("[rooms]\nhistory_size = 0\nheartbeat_interval = 5\n").ok);
  EXPECT_EQ(configValue(config_, "rooms", "history_size"), "0");
  EXPECT_EQ(configValue(config_, "rooms", "reconnection_ttl"), "300");
  EXPECT_FALSE(load("[rooms]\nmax_connections_per_room = 0\n").ok);
}

// The chat module's keys (docs/chat.md): both reloadable, agents a list of ids.
TEST_F(ConfigTest, ChatKeysAreAListOfAgentIdsAndAHistoryLength) {
  ASSERT_TRUE(load("[chat]\nagents = 900, agent-7,a@shop\nhistory = 5\n").ok);
  EXPECT_EQ(configValue(config_, "chat", "agents"), "900, agent-7,a@shop");
  EXPECT_EQ(configValue(config_, "chat", "history"), "5");
  EXPECT_EQ(Config{}.live.chatHistory, 100);
  EXPECT_FALSE(load("[chat]\nagents = 900, a/b\n").ok);
  EXPECT_FALSE(load("[chat]\nhistory = 0\n").ok);
  Config fresh, live;
  fresh.live.chatAgents = "1";
  applyReloadable(fresh, live);
  EXPECT_EQ(live.live.chatAgents, "1") << "a reload carries the agents";
}

// The channels module's keys (docs/configuration.md#channels-the-laravel-s-channels-module).
TEST_F(ConfigTest, ChannelsKeysAreBoundedAndReloadable) {
  EXPECT_EQ(Config{}.live.maxChannels, 32);
  EXPECT_FALSE(Config{}.live.clientBroadcast);
  ASSERT_TRUE(load("[channels]\nmax_channels = 3\nclient_broadcast = on\n").ok);
  EXPECT_EQ(configValue(config_, "channels", "max_channels"), "3");
  EXPECT_EQ(configValue(config_, "channels", "client_broadcast"), "true");
  Config running;
  applyReloadable(config_, running);
  EXPECT_EQ(running.live.maxChannels, 3);
  EXPECT_FALSE(load("[channels]\nmax_channels = 0\n").ok);
  EXPECT_FALSE(load("[channels]\nmax_channels = 10001\n").ok);
}

TEST(ShippedConfig, LoadsCleanlyAndHoldsTheDefaults) {
  const std::string root = MSW_SOURCE_DIR;
  Config shipped;
  ConfigLoad r = loadConfig(root + "/config/app.ini", root, shipped);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(Lines{}, r.errors);
  EXPECT_EQ(Lines{}, r.warnings);

  // Every key is present in the file and set to its default.
  std::string emptyFile = (fs::temp_directory_path() / "msw-config-empty-XXXXXX").string();
  ASSERT_NE(mkdtemp(emptyFile.data()), nullptr);
  std::ofstream(emptyFile + "/app.ini").flush();
  Config defaults;
  ASSERT_TRUE(loadConfig(emptyFile + "/app.ini", root, defaults).ok);
  fs::remove_all(emptyFile);
  EXPECT_EQ(dumpConfig(defaults), dumpConfig(shipped));
}

TEST(ShippedConfig, WritesEveryKeyAndLeavesOnlyTheComputedOnesCommentedOut) {
  std::ifstream in(std::string(MSW_SOURCE_DIR) + "/config/app.ini");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(text.empty());
  for (const std::string& line : linesOf(dumpConfig(Config{}))) {
    size_t open = line.find("] ") + 2;
    std::string key = line.substr(open, line.find(" = ") - open);
    bool computed = key == "worker_num" || key == "node_id";
    EXPECT_NE(std::string::npos, text.find((computed ? "\n;" : "\n") + key + " =")) << key;
  }
}

}  // namespace
}  // namespace msw
