// tests/unit/endpoint_config_test.cpp: [endpoint.NAME] sections through
// loadConfig (library/endpoint_config.h): values, defaults from [outside],
// refusals with file, line and key, and what a reload may change.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "library/config.h"
#include "tests/support/files.h"

namespace msw {
namespace {

namespace fs = std::filesystem;

class EndpointConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::makeTempDir("msw-epconfig");
    ASSERT_FALSE(dir_.empty());
    file_ = dir_ + "/app.ini";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  ConfigLoad load(const std::string& text, Config& into) {
    std::ofstream(file_, std::ios::binary) << text;
    return loadConfig(file_, dir_, into);
  }
  ConfigLoad load(const std::string& text) { return load(text, config_); }
  std::string at(int line) const { return file_ + ":" + std::to_string(line) + ": "; }
  // The first error of a load (a failure when it loads).
  std::string onlyError(const std::string& text) {
    ConfigLoad r = load(text);
    EXPECT_FALSE(r.ok);
    EXPECT_GE(r.errors.size(), 1u);
    return r.errors.empty() ? std::string() : r.errors[0];
  }

  std::string dir_;
  std::string file_;
  Config config_;
};

TEST_F(EndpointConfigTest, EveryKeyIsReadAndLimitsDefaultToOutside) {
  ConfigLoad r = load(
      "[outside]\nport = 21000\nrate_limit = 7\nack = receiveMessage\nflavor = mswoole\nheartbeat = none\n"
      "[endpoint.chat]\npath = /chat\nport = 2346\nroute = type\ncontroller = chat.Room\nenvelope = flat\n"
      "auth = none\nauth_param = token\nack = got\nflavor = workerman\nheartbeat = text\nmax_message_size = 4k\n"
      "rate_burst = 3\nheartbeat_idle_time = 30\nescape_html = false\n");
  ASSERT_TRUE(r.ok) << (r.errors.empty() ? "" : r.errors[0]);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(config_.live.ack, "receiveMessage");
  EXPECT_EQ(config_.flavor, "mswoole");
  EXPECT_EQ(config_.heartbeat, "none");
  ASSERT_EQ(config_.endpoints.size(), 1u);
  const EndpointConfig& e = config_.endpoints[0];
  EXPECT_EQ(e.name, "chat");
  EXPECT_EQ(e.path, "/chat");
  EXPECT_EQ(e.port, 2346);
  EXPECT_EQ(e.route, RouteMode::kType);
  EXPECT_EQ(e.controller, "chat.Room");
  EXPECT_EQ(e.envelope, EnvelopeKind::kFlat);
  EXPECT_EQ(e.auth, AuthMode::kNone);
  EXPECT_EQ(e.authParam, "token");
  EXPECT_EQ(e.live.ack, "got");
  EXPECT_EQ(e.flavor, "workerman");
  EXPECT_TRUE(e.heartbeatText());
  EXPECT_EQ(e.live.maxMessageSize, 4096);
  EXPECT_EQ(e.live.rateLimit, 7);  // [outside]'s
  EXPECT_EQ(e.live.rateBurst, 3);
  EXPECT_EQ(e.live.heartbeatIdleTime, 30);
  EXPECT_EQ(e.live.escapeHtml, 0);
}

TEST_F(EndpointConfigTest, DefaultsOfAMinimalEndpoint) {
  ASSERT_TRUE(load("[endpoint.live]\npath = /live\n[endpoint.echo]\npath = /echo\nroute = raw\ncontroller = index.raw\n").ok);
  ASSERT_EQ(config_.endpoints.size(), 2u);
  const EndpointConfig& live = config_.endpoints[0];
  EXPECT_EQ(live.port, 0);
  EXPECT_EQ(live.route, RouteMode::kMethod);
  EXPECT_EQ(live.envelope, EnvelopeKind::kMsw);
  EXPECT_EQ(live.auth, AuthMode::kToken);
  EXPECT_EQ(live.authParam, "auth");
  EXPECT_TRUE(live.heartbeatText());
  EXPECT_EQ(live.live.maxMessageSize, 65536);
  EXPECT_EQ(live.live.escapeHtml, 1);
  EXPECT_FALSE(config_.endpoints[1].heartbeatText()) << "raw means raw: 2 is not a heartbeat there";
}

TEST_F(EndpointConfigTest, UnknownValueNamesFileLineKeyAndWhatIsAllowed) {
  EXPECT_EQ(onlyError("[endpoint.a]\npath = /a\nroute = bytype\n"),
            at(3) + "[endpoint.a] route = bytype: must be one of method, type, raw");
  EXPECT_EQ(onlyError("[endpoint.a]\npath = /a\nenvelope = xml\n"),
            at(3) + "[endpoint.a] envelope = xml: must be one of msw, flat");
  EXPECT_EQ(onlyError("[endpoint.a]\npath = /a\nauth = maybe\n"),
            at(3) + "[endpoint.a] auth = maybe: must be one of token, optional, none, backend");
  EXPECT_EQ(onlyError("[endpoint.a]\npath = a\n"), at(2) + "[endpoint.a] path = a: must be a path starting with / (e.g. /chat)");
  EXPECT_EQ(onlyError("[endpoint.a]\npath = /a\nport = 70000\n"),
            at(3) + "[endpoint.a] port = 70000: must be an integer from 1 to 65535");
  EXPECT_EQ(onlyError("[endpoint.a]\npath = /a\nheartbeat = ping\n"),
            at(3) + "[endpoint.a] heartbeat = ping: must be one of text, none");
  EXPECT_EQ(onlyError("[outside]\nheartbeat = ping\n"), at(2) + "[outside] heartbeat = ping: must be one of text, none");
  EXPECT_EQ(onlyError("[endpoint.a]\npath = /a\ncontroller = chat\n"),
            at(3) + "[endpoint.a] controller = chat: must be module.controller (two names of A-Z a-z 0-9 _)");
  EXPECT_EQ(onlyError("[endpoint.a b]\npath = /a\n"),
            at(1) + "[endpoint.a b]: an endpoint's name must be made of A-Z a-z 0-9 _ -");
}

TEST_F(EndpointConfigTest, TypeOrRawWithoutControllerStopsTheStart) {
  EXPECT_EQ(onlyError("[server]\n\n[endpoint.t]\npath = /t\nroute = type\n"),
            at(3) + "[endpoint.t] controller: required with route = type or raw (module.controller)");
  EXPECT_EQ(onlyError("[endpoint.r]\npath = /r\nroute = raw\n"),
            at(1) + "[endpoint.r] controller: required with route = type or raw (module.controller)");
  EXPECT_EQ(onlyError("[endpoint.r]\nroute = method\n"), at(1) + "[endpoint.r] path: required (e.g. path = /chat)");
}

TEST_F(EndpointConfigTest, TwoEndpointsOnOnePortAndPathStopTheStart) {
  EXPECT_EQ(onlyError("[outside]\nport = 2000\n[endpoint.a]\npath = /x\n[endpoint.b]\npath = /x\nport = 2000\n"),
            at(5) + "[endpoint.b] path /x on port 2000 is already [endpoint.a]'s");
  // The same path on another port is another endpoint.
  EXPECT_TRUE(load("[endpoint.a]\npath = /x\n[endpoint.b]\npath = /x\nport = 2346\n").ok);
}

TEST_F(EndpointConfigTest, BackendAuthNeedsABackendUrl) {
  EXPECT_EQ(onlyError("[endpoint.a]\npath = /a\nauth = backend\n"),
            at(1) + "[endpoint.a] auth = backend: needs [backend] url (the connect hook, docs/backend.md)");
  ConfigLoad r = load("[endpoint.a]\npath = /a\nauth = backend\nauth_param = token\n"
                      "[backend]\nurl = http://127.0.0.1:9\n");
  EXPECT_TRUE(r.ok) << (r.errors.empty() ? "" : r.errors[0]);
}

TEST_F(EndpointConfigTest, UnknownKeyIsAWarning) {
  ConfigLoad r = load("[endpoint.a]\npath = /a\ncontoller = x.y\n");
  EXPECT_TRUE(r.ok);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], at(3) + "[endpoint.a] contoller: unknown key (ignored)");
}

TEST_F(EndpointConfigTest, ReloadTakesLimitsAndAckAndNotesTheRest) {
  ASSERT_TRUE(load("[endpoint.a]\npath = /a\nrate_limit = 5\n").ok);
  Config fresh;
  ASSERT_TRUE(load("[endpoint.a]\npath = /b\nrate_limit = 9\nack = hi\n[endpoint.n]\npath = /n\n", fresh).ok);
  std::vector<std::string> notes;
  reloadEndpoints(fresh, config_, notes);
  EXPECT_EQ(config_.endpoints[0].live.rateLimit, 9);
  EXPECT_EQ(config_.endpoints[0].live.ack, "hi");
  EXPECT_EQ(config_.endpoints[0].path, "/a") << "a path changes at a restart only";
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("need a restart"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("[endpoint.n] is new"), std::string::npos) << notes[1];
}

TEST_F(EndpointConfigTest, DumpListsTheEndpoints) {
  ASSERT_TRUE(load("[endpoint.raw]\npath = /raw\nroute = raw\ncontroller = index.raw\nauth = none\n").ok);
  std::string dump = dumpConfig(config_);
  EXPECT_NE(dump.find("[endpoint.raw] port=20000 path=/raw route=raw controller=index.raw envelope=msw auth=none "
                      "heartbeat=none"),
            std::string::npos)
      << dump;
}

}  // namespace
}  // namespace msw
