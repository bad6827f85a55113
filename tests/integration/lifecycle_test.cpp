// tests/integration/lifecycle_test.cpp: docs/console.md with clients connected: a
// graceful stop (SIGTERM and `-s stop`) closes everyone with 1001 after what
// is queued for them; `-s reload` keeps every connection; the console's verbs
// and exit codes (0 done, 1 failed, 2 bad usage, 3 not running).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "library/token_codec.h"
#include "tests/integration/it_support.h"

namespace msw::it {
namespace {

class Lifecycle : public ::testing::Test {
 protected:
  void SetUp() override {}
  void start() { ASSERT_TRUE(server_.start()) << server_.error(); }
  void TearDown() override {
    if (server_.proc.running()) {
      EXPECT_EQ(server_.proc.stop(), 0) << "a clean exit at the end of the test";
    }
    std::string report = sanitizerReport(server_.proc.log());
    EXPECT_EQ(report, "") << "sanitizer report from the server";
    if (HasFailure()) std::cerr << "---- server log ----\n" << server_.proc.log() << "\n";
  }
  WsClient client(const std::string& id = "u1") {
    WsClient c;
    EXPECT_TRUE(server_.connect(c, server_.userToken(id))) << c.error() << " " << c.response().body;
    return c;
  }
  ConsoleResult console(const std::string& verb, std::vector<std::string> more = {}) {
    std::vector<std::string> args = server_.consoleArgs(verb);
    args.insert(args.end(), more.begin(), more.end());
    return runConsole(args, &server_.proc);
  }
  // The server's exit status once it has exited by itself (reaping it).
  int exitStatus() { return server_.proc.stop(15000); }

  TestServer server_;
};

// ---------------------------------------------------------------- stop

TEST_F(Lifecycle, SigtermClosesEveryClientWith1001AndExits0) {
  start();
  std::vector<WsClient> clients;
  for (int i = 0; i < 5; ++i) clients.push_back(client("c" + std::to_string(i)));
  for (WsClient& c : clients) ASSERT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  ASSERT_EQ(::kill(server_.proc.pid(), SIGTERM), 0);
  for (WsClient& c : clients) {
    EXPECT_EQ(c.waitClose(10000), 1001) << c.error();
    EXPECT_EQ(c.closeReason(), "server stopping");
  }
  EXPECT_EQ(exitStatus(), 0);
  EXPECT_NE(server_.proc.log().find("stopped"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(server_.root() + "/runtime/msw.pid")) << "the pid file is removed";
}

TEST_F(Lifecycle, SigintStopsLikeSigterm) {
  start();
  WsClient c = client();
  ASSERT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  ASSERT_EQ(::kill(server_.proc.pid(), SIGINT), 0);
  EXPECT_EQ(c.waitClose(10000), 1001);
  EXPECT_EQ(exitStatus(), 0);
}

TEST_F(Lifecycle, Sigusr1AndSighupReload) {
  start();
  WsClient c = client();
  for (int sig : {SIGUSR1, SIGHUP}) {
    ASSERT_EQ(::kill(server_.proc.pid(), sig), 0);
    ASSERT_TRUE(server_.proc.waitLog("signal " + std::to_string(sig) + ": reloading"));
    EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  }
  ASSERT_TRUE(server_.proc.waitLog("reload: 2 modules in force"));
  EXPECT_TRUE(server_.proc.running());
}

TEST_F(Lifecycle, ConsoleStopClosesEveryClientWith1001AndExits0) {
  start();
  std::vector<WsClient> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(client("c" + std::to_string(i)));
  for (WsClient& c : clients) ASSERT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  auto stopped = std::async(std::launch::async, [this] { return console("stop"); });
  for (WsClient& c : clients) EXPECT_EQ(c.waitClose(10000), 1001) << c.error();
  ConsoleResult r = stopped.get();
  EXPECT_EQ(r.exitCode, 0) << r;
  EXPECT_NE(r.out.find("stopped"), std::string::npos) << r;
  EXPECT_EQ(exitStatus(), 0);
}

TEST_F(Lifecycle, WhatIsQueuedBeforeTheStopIsDeliveredBeforeTheClose) {
  server_.ini.set("outside", "send_queue_limit", "8m");
  start();
  WsClient c = client();
  // 3000 messages of 1 KB: about 3 MB, more than the socket buffers hold
  // while we do not read, so most is still in the server's queue at the stop.
  ASSERT_TRUE(c.sendText(R"({"method":"testmod.test.flood","n":3000,"size":1000})"));
  Msg first = recvMsg(c);
  ASSERT_EQ(first.event(), "flood") << first;
  ASSERT_EQ(::kill(server_.proc.pid(), SIGTERM), 0);
  ASSERT_TRUE(server_.proc.waitLog("stopping: closing 1 connections"));
  int received = 1;
  for (;;) {
    Msg m = recvMsg(c, 10000);
    if (!m.received) break;
    ASSERT_EQ(m.info(), std::to_string(received)) << "out of order or lost";
    ++received;
  }
  EXPECT_EQ(received, 3000) << c.error();
  EXPECT_EQ(c.closeCode(), 1001);
  EXPECT_EQ(exitStatus(), 0);
}

TEST_F(Lifecycle, ClientsThatDoNotAnswerTheCloseDoNotHoldTheStopPastStopTimeout) {
  server_.ini.set("server", "stop_timeout", "2");
  start();
  WsClient mute = client();
  ASSERT_EQ(request(mute, R"({"method":"ping"})").event(), "pong");
  auto t0 = msw::test::Clock::now();
  ASSERT_EQ(::kill(server_.proc.pid(), SIGTERM), 0);
  // Read the close frame but never answer it.
  std::optional<msw::test::WsFrame> f = mute.recvFrame(5000);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, msw::test::kOpClose);
  EXPECT_EQ(exitStatus(), 0);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msw::test::Clock::now() - t0).count();
  EXPECT_LE(ms, 8000) << "stop took " << ms << " ms";
}

TEST_F(Lifecycle, NewUpgradesAreRefusedWhileStopping) {
  server_.ini.set("server", "stop_timeout", "3");
  start();
  WsClient holder = client();
  ASSERT_EQ(request(holder, R"({"method":"ping"})").event(), "pong");
  ASSERT_EQ(::kill(server_.proc.pid(), SIGTERM), 0);
  std::optional<msw::test::WsFrame> f = holder.recvFrame(5000);  // the 1001, unanswered: the stop waits
  ASSERT_TRUE(f);
  WsClient late;
  EXPECT_FALSE(server_.connect(late, server_.userToken())) << "upgraded during a stop";
  holder.sendClose(1001);
  EXPECT_EQ(exitStatus(), 0);
}

// ---------------------------------------------------------------- reload

TEST_F(Lifecycle, ReloadKeepsEveryConnection) {
  start();
  std::vector<WsClient> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(client("c" + std::to_string(i)));
  for (WsClient& c : clients) ASSERT_EQ(request(c, R"({"method":"testmod.test.join","room":"r"})").event(), "joined");
  Json before = server_.status();
  ASSERT_TRUE(before.isObject());
  ConsoleResult r = console("reload");
  EXPECT_EQ(r.exitCode, 0) << r;
  EXPECT_NE(r.out.find("index"), std::string::npos) << r;
  EXPECT_NE(r.out.find("testmod"), std::string::npos) << r;
  for (WsClient& c : clients) {
    EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong") << c.error() << " close " << c.closeCode();
    EXPECT_EQ(request(c, R"({"method":"testmod.test.whoami"})").event(), "whoami") << "the reloaded plugin answers";
  }
  Json after = server_.status();
  ASSERT_TRUE(after.isObject());
  EXPECT_EQ(after["modules"].dump(), before["modules"].dump());
  EXPECT_EQ(after["connections"].i64(), 4);
  EXPECT_EQ(after["rooms"].i64(), 1) << "room membership survives a reload";
  // The room still works after the reload.
  ASSERT_TRUE(clients[0].sendText(R"({"method":"testmod.test.roomsay","room":"r","text":"hi"})"));
  for (WsClient& c : clients) EXPECT_EQ(recvMsg(c).event(), "roomMessage");
  EXPECT_EQ(exitStatus(), 0);
}

TEST_F(Lifecycle, ReloadAppliesReloadableSettings) {
  start();
  WsClient c = client();
  EXPECT_EQ(request(c, R"({"method":"echo","t":"<b>"})").param()["t"].str(), "&lt;b&gt;");
  server_.ini.set("outside", "escape_html", "false").set("outside", "max_message_size", "100");
  server_.writeConfig();
  ConsoleResult r = console("reload");
  ASSERT_EQ(r.exitCode, 0) << r;
  EXPECT_EQ(request(c, R"({"method":"echo","t":"<b>"})").param()["t"].str(), "<b>") << "escape_html is reloadable";
  ASSERT_TRUE(c.sendText(R"({"method":"echo","pad":")" + std::string(200, 'x') + "\"}"));
  EXPECT_EQ(recvMsg(c).status(), 413) << "max_message_size is reloadable";
  EXPECT_EQ(c.waitClose(), 1009);
}

// [app] modules is reloadable: a module new to the list is loaded, one gone
// from it is told onShutdown and its routes go; connections and rooms stay.
TEST_F(Lifecycle, ReloadLoadsAddedModulesAndDropsRemovedOnes) {
  start();
  WsClient c = client();
  ASSERT_EQ(request(c, R"({"method":"testmod.test.join","room":"r"})").event(), "joined");
  EXPECT_EQ(request(c, R"({"method":"hello.greet.hello"})").event(), "controllerNotFound");
  server_.ini.set("app", "modules", "index, hello");
  std::ofstream(server_.configPath(), std::ios::trunc) << server_.ini.str();
  ConsoleResult r = console("reload");
  ASSERT_EQ(r.exitCode, 0) << r;
  EXPECT_NE(r.out.find("hello"), std::string::npos) << r;
  EXPECT_EQ(r.out.find("testmod"), std::string::npos) << r;
  EXPECT_TRUE(server_.proc.waitLog("testmod: onShutdown")) << "the removed module's onShutdown ran";
  EXPECT_TRUE(server_.proc.waitLog("reload: module testmod removed"));
  EXPECT_EQ(request(c, R"({"method":"hello.greet.hello"})").event(), "hello") << "the added module answers";
  EXPECT_EQ(request(c, R"({"method":"testmod.test.whoami"})").event(), "controllerNotFound") << "its routes are gone";
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong") << "the connection stayed";
  EXPECT_EQ(server_.status()["rooms"].i64(), 1) << "and so did its room";

  server_.ini.set("app", "modules", "index, testmod");
  std::ofstream(server_.configPath(), std::ios::trunc) << server_.ini.str();
  r = console("reload");
  ASSERT_EQ(r.exitCode, 0) << r;
  EXPECT_EQ(request(c, R"({"method":"testmod.test.whoami"})").event(), "whoami") << "and back again";
  EXPECT_EQ(request(c, R"({"method":"hello.greet.hello"})").event(), "controllerNotFound");
}

TEST_F(Lifecycle, AReloadWithAnInvalidFileChangesNothing) {
  start();
  WsClient c = client();
  std::ofstream(server_.configPath(), std::ios::app) << "[outside]\nmax_message_size = lots\n";
  ConsoleResult r = console("reload");
  EXPECT_EQ(r.exitCode, 1) << r;
  size_t first = r.err.find("max_message_size");
  ASSERT_NE(first, std::string::npos) << r;
  EXPECT_EQ(r.err.find("max_message_size", first + 1), std::string::npos) << "the error is printed once: " << r;
  EXPECT_NE(r.err.find("modules in force stay (modules: index, testmod)"), std::string::npos) << r;
  EXPECT_EQ((r.out + r.err).find("no modules"), std::string::npos) << r;
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  EXPECT_TRUE(server_.proc.running());
}

TEST_F(Lifecycle, StatusAndStopNeedOnlyTheManagerSection) {
  start();
  std::ofstream(server_.configPath(), std::ios::app) << "[outside]\nmax_message_size = lots\nthis is not ini\n";
  ConsoleResult r = console("status");
  EXPECT_EQ(r.exitCode, 0) << r;
  EXPECT_NE(r.out.find("connections"), std::string::npos) << r;
  EXPECT_NE(r.err.find("[manager] section is fine"), std::string::npos) << r;
  r = console("stop");
  EXPECT_EQ(r.exitCode, 0) << r;
  EXPECT_NE(r.out.find("stopped"), std::string::npos) << r;
  EXPECT_EQ(exitStatus(), 0);
}

// How many reloads the server has logged so far.
size_t reloadsLogged(ServerProcess& p) {
  std::string log = p.log();
  size_t n = 0;
  for (size_t at = log.find("modules in force"); at != std::string::npos; at = log.find("modules in force", at + 1)) ++n;
  return n;
}

TEST_F(Lifecycle, OneReloadIsOneReloadWhicheverWayItIsAsked) {
  // Content-Length: 0 (the console's POST) used to be routed at the head and
  // again at lws's end-of-body report: two reloads.
  start();
  size_t before = reloadsLogged(server_.proc);
  auto once = [&](const std::string& how, const std::function<bool()>& ask) {
    EXPECT_TRUE(ask()) << how;
    EXPECT_EQ(reloadsLogged(server_.proc), ++before) << how;
  };
  once("console", [&] { return console("reload").exitCode == 0; });
  once("POST {}", [&] { return server_.manager("POST", "/reload", "{}").status == 200; });
  once("POST, empty body", [&] { return server_.manager("POST", "/reload", "").status == 200; });
  once("POST, no Content-Length (curl -XPOST)", [&] {
    std::string error, buf;
    auto deadline = msw::test::deadlineIn(5000);
    msw::test::UniqueFd fd = msw::test::connectTcp("127.0.0.1", server_.managerPort, deadline, &error);
    HttpResponse r;
    return fd && msw::test::sendAll(fd.get(), "POST /reload HTTP/1.1\r\nHost: x\r\n\r\n", deadline, &error) &&
           msw::test::readHttpResponse(fd.get(), buf, deadline, r, &error) && r.status == 200;
  });
  once("console WebSocket", [&] {
    WsClient ws;
    if (!ws.connect("127.0.0.1", server_.managerPort, "/")) return false;
    if (!ws.sendText(R"({"method":"reload"})")) return false;
    Msg m = recvMsg(ws);
    return m.status() == 200 && m.event() == "reload";
  });
}

TEST_F(Lifecycle, ReloadWhileAnotherClientSendsInALoopGivesNoErrors) {
  start();
  WsClient busy = client("busy");
  std::atomic<bool> done{false};
  auto sender = std::async(std::launch::async, [&] {
    int n = 0, bad = 0;
    std::string firstBad;
    while (!done.load()) {
      Msg m = request(busy, R"({"method":"testmod.test.whoami","rid":)" + std::to_string(n) + "}");
      if (m.status() != 200 || m.rid().i64(-1) != n) {
        if (bad++ == 0) firstBad = m.received ? m.raw : "<nothing: " + busy.error() + ">";
        if (!m.received) break;
      }
      ++n;
    }
    return std::make_tuple(n, bad, firstBad);
  });
  for (int i = 0; i < 5; ++i) {
    ConsoleResult r = console("reload");
    EXPECT_EQ(r.exitCode, 0) << r;
  }
  done = true;
  auto [n, bad, firstBad] = sender.get();
  EXPECT_GT(n, 10);
  EXPECT_EQ(bad, 0) << "first bad reply: " << firstBad;
}

// ---------------------------------------------------------------- other verbs

TEST_F(Lifecycle, ConsoleStatusPrintsATable) {
  start();
  WsClient c = client();
  ASSERT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  ConsoleResult r = console("status");
  EXPECT_EQ(r.exitCode, 0) << r;
  for (const char* word : {"version", "started", " up ", "load", "worker", "connections", "rooms", "messages", "memory",
                           "store", "memory, ok"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word << "\n" << r;
  EXPECT_NE(r.out.find("connections  1"), std::string::npos) << r;
}

TEST_F(Lifecycle, ConsoleSayReachesEveryClient) {
  start();
  WsClient a = client("a"), b = client("b");
  ConsoleResult r = console("say", {"-i", "hello <all>"});
  EXPECT_EQ(r.exitCode, 0) << r;
  for (WsClient* c : {&a, &b}) {
    Msg m = recvMsg(*c);
    EXPECT_EQ(m.event(), "serverBroadcast") << m;
    EXPECT_EQ(m.info(), "hello <all>") << m;
  }
  EXPECT_EQ(runConsole(server_.consoleArgs("say")).exitCode, 2) << "say without -i is bad usage";
}

TEST_F(Lifecycle, ConsoleTokenIsAcceptedByTheServer) {
  start();
  ConsoleResult r = console("token", {"--id", "1", "--type", "wall", "--code", "r1", "--nickname", "N"});
  ASSERT_EQ(r.exitCode, 0) << r;
  std::string token = r.out.substr(0, r.out.find('\n'));
  ASSERT_FALSE(token.empty()) << r;
  WsClient c;
  ASSERT_TRUE(server_.connect(c, token)) << c.error() << " " << c.response().body;
  Msg m = request(c, R"({"method":"testmod.test.whoami"})");
  EXPECT_EQ(m.param()["id"].str(), "1") << m;
  EXPECT_EQ(m.param()["type"].str(), "wall") << m;
  EXPECT_EQ(m.param()["code"].str(), "r1") << m;
  EXPECT_EQ(m.param()["nickname"].str(), "N") << m;
}

TEST_F(Lifecycle, StartTwiceFailsWithAlreadyRunning) {
  start();
  ConsoleResult r = console("start");
  EXPECT_EQ(r.exitCode, 1) << r;
  EXPECT_NE(r.err.find("already running"), std::string::npos) << r;
  EXPECT_TRUE(server_.proc.running()) << "the first server is untouched";
  WsClient c = client();
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
}

TEST_F(Lifecycle, VerbsAgainstAStoppedServerExit3) {
  start();
  ASSERT_EQ(server_.proc.stop(), 0);
  for (const char* verb : {"status", "stop", "reload"}) {
    ConsoleResult r = console(verb);
    EXPECT_EQ(r.exitCode, 3) << verb << "\n" << r;
    EXPECT_FALSE(r.err.empty()) << verb;
  }
  EXPECT_EQ(console("say", {"-i", "x"}).exitCode, 3);
}

TEST_F(Lifecycle, RestartStopsThisServerAndStartsADaemon) {
  // The daemon's grandchild would be reparented to PID 1, which may never
  // reap it (containers): make this process the reaper and reap it ourselves.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  start();
  WsClient old = client();
  auto restarted = std::async(std::launch::async, [this] { return console("restart", {"-d"}); });
  EXPECT_EQ(old.waitClose(10000), 1001);
  ConsoleResult r = restarted.get();
  EXPECT_EQ(r.exitCode, 0) << r;
  EXPECT_EQ(server_.proc.stop(1000), 0) << "the first server exited cleanly";
  pid_t daemon = 0;
  std::ifstream(server_.root() + "/runtime/msw.pid") >> daemon;
  ASSERT_GT(daemon, 0);
  ASSERT_NE(daemon, server_.proc.pid());
  auto reapDaemon = [daemon] { ::waitpid(daemon, nullptr, WNOHANG); };
  ConsoleResult st = runConsole(server_.consoleArgs("status"), reapDaemon);
  EXPECT_EQ(st.exitCode, 0) << st;
  WsClient c;
  EXPECT_TRUE(server_.connect(c, server_.userToken())) << c.error();
  EXPECT_EQ(request(c, R"({"method":"ping"})").event(), "pong");
  ConsoleResult stop = runConsole(server_.consoleArgs("stop"), reapDaemon);
  EXPECT_EQ(stop.exitCode, 0) << stop;
  EXPECT_EQ(c.waitClose(), 1001);
  if (::kill(daemon, 0) == 0) {  // leave nothing behind, whatever happened
    ::kill(daemon, SIGKILL);
    ::waitpid(daemon, nullptr, 0);
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(Lifecycle, ConsoleStopReturnsOnceTheServerHasExitedEvenIfNobodyReapedIt) {
  // Under a parent that does not reap (PID 1 of many containers), an exited
  // server stays a zombie, which kill(pid, 0) still reports as alive.
  server_.ini.set("server", "stop_timeout", "0");
  start();
  auto t0 = msw::test::Clock::now();
  ConsoleResult r = runConsole(server_.consoleArgs("stop"), std::function<void()>());  // we do not reap meanwhile
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msw::test::Clock::now() - t0).count();
  EXPECT_EQ(r.exitCode, 0) << "after " << ms << " ms\n" << r;
  EXPECT_LT(ms, 5000);
  EXPECT_EQ(exitStatus(), 0);
}

// ---------------------------------------------------------------- usage and config errors

class ConsoleUsage : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = msw::test::makeTempDir("msw-usage");
    ASSERT_FALSE(root_.empty());
    std::filesystem::create_directories(root_ + "/config");
    std::filesystem::create_directories(root_ + "/public");
    TestServer unstarted;  // only for its ini with free ports
    ini_ = unstarted.ini;
    write(ini_.str());
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  void write(const std::string& text) { std::ofstream(root_ + "/config/app.ini", std::ios::trunc) << text; }
  ConsoleResult run(std::vector<std::string> args) {
    args.insert(args.end(), {"--root", root_, "-c", root_ + "/config/app.ini"});
    return runConsole(args);
  }

  std::string root_;
  Ini ini_;
};

TEST_F(ConsoleUsage, UnknownVerbIs2) {
  ConsoleResult r = run({"-s", "explode"});
  EXPECT_EQ(r.exitCode, 2) << r;
  EXPECT_NE(r.err.find("usage"), std::string::npos) << r;
  EXPECT_EQ(runConsole({}).exitCode, 2) << "no verb at all";
  EXPECT_EQ(runConsole({"-s", "status", "--bogus"}).exitCode, 2) << "unknown option";
  EXPECT_EQ(runConsole({"-s"}).exitCode, 2) << "-s without a value";
}

TEST_F(ConsoleUsage, TokenWithoutIdIs2) {
  ConsoleResult r = run({"-s", "token", "--type", "wall"});
  EXPECT_EQ(r.exitCode, 2) << r;
  EXPECT_TRUE(r.out.empty()) << r;
}

TEST_F(ConsoleUsage, TokenWithTheConfiguredKeyAndCipher) {
  ConsoleResult r = run({"-s", "token", "--id", "9", "--field", "extra=yes"});
  ASSERT_EQ(r.exitCode, 0) << r;
  std::string token = r.out.substr(0, r.out.find('\n'));
  std::string error;
  auto codec = msw::TokenCodec::create(CipherKind::kAes256Gcm, kAuthKey, &error);
  ASSERT_TRUE(codec) << error;
  std::optional<std::string> plain = codec->decrypt(token);
  ASSERT_TRUE(plain) << token;
  Json j = Json::parse(*plain);
  EXPECT_EQ(j["id"].text(), "9") << *plain;
  EXPECT_EQ(j["extra"].str(), "yes") << *plain;
  EXPECT_LE(std::llabs(j["ctime"].i64() - unixNow()), 5) << *plain;
  // des-ede3-ecb when configured.
  write(Ini(ini_).set("auth", "cipher", "des-ede3-ecb").str());
  r = run({"-s", "token", "--id", "9"});
  ASSERT_EQ(r.exitCode, 0) << r;
  auto des = msw::TokenCodec::create(CipherKind::kDesEde3Ecb, kAuthKey, &error);
  EXPECT_TRUE(des->decrypt(r.out.substr(0, r.out.find('\n')))) << r;
}

TEST_F(ConsoleUsage, StatusStopReloadWithNothingRunningExit3) {
  for (const char* verb : {"status", "stop", "reload"}) {
    ConsoleResult r = run({"-s", verb});
    EXPECT_EQ(r.exitCode, 3) << verb << "\n" << r;
  }
}

TEST_F(ConsoleUsage, AnInvalidValueStopsTheStartNamingFileLineAndKey) {
  std::string text = Ini(ini_).set("outside", "port", "99999999").str();
  size_t at = text.find("port = 99999999");
  int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
  write(text);
  ConsoleResult r = run({"-s", "start"});
  EXPECT_EQ(r.exitCode, 1) << r;
  EXPECT_NE(r.err.find("app.ini:" + std::to_string(line) + ":"), std::string::npos) << "line " << line << "\n" << r;
  EXPECT_NE(r.err.find("port"), std::string::npos) << r;
  EXPECT_NE(r.err.find("65535"), std::string::npos) << "says what is allowed\n" << r;
}

TEST_F(ConsoleUsage, SeveralInvalidValuesAreAllReported) {
  Ini bad = ini_;
  bad.set("outside", "rate_limit", "-5").set("auth", "cipher", "rot13").set("server", "worker_num", "0");
  write(bad.str());
  ConsoleResult r = run({"-s", "start"});
  EXPECT_EQ(r.exitCode, 1) << r;
  for (const char* key : {"rate_limit", "cipher", "worker_num"}) EXPECT_NE(r.err.find(key), std::string::npos) << key << r;
}

TEST_F(ConsoleUsage, UnknownKeysAreReportedButDoNotStopAStart) {
  // Checked through `-s token`, which reads the file the same way and ends at once.
  write(ini_.str() + "[outside]\nno_such_key = 1\n");
  ConsoleResult r = run({"-s", "token", "--id", "1"});
  EXPECT_EQ(r.exitCode, 0) << r;
  EXPECT_NE(r.err.find("no_such_key"), std::string::npos) << r;
}

}  // namespace
}  // namespace msw::it
