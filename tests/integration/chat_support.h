// tests/integration/chat_support.h: what the chat module's tests share
// (chat_test.cpp, chat_cluster_test.cpp; docs/chat.md): the endpoint's
// settings on a TestServer, and a client of the Workerman protocol that
// reads messages by their "type" (through InboxClient, so a message that
// arrives while it waits for another is kept). Header-only; one client per
// test thread.
#pragma once

#include <memory>
#include <string>

#include "tests/integration/it_support.h"

namespace msw::chattest {

using namespace msw::it;

// [endpoint.chat] at / on `port`, as config/app.ini's example, and the
// `modules` loaded; `agents` for [chat] agents.
inline void configureChat(TestServer& s, int port, const std::string& modules = "index, chat",
                          const std::string& agents = "900, 901") {
  s.ini.set("app", "modules", modules).set("chat", "agents", agents);
  s.ini.set("endpoint.chat", "path", "/").set("endpoint.chat", "port", std::to_string(port));
  s.ini.set("endpoint.chat", "route", "type").set("endpoint.chat", "controller", "chat.client");
  s.ini.set("endpoint.chat", "envelope", "flat").set("endpoint.chat", "auth", "none");
  s.ini.set("endpoint.chat", "escape_html", "false");
}

// A free port other than the server's own two.
inline int otherPort(const TestServer& s) {
  int p;
  do p = msw::test::freePort();
  while (p == s.port || p == s.managerPort);
  return p;
}

struct ChatClient : InboxClient {
  // Connects and reads the greeting (kept in `hello`).
  bool open(int port, const std::string& path = "/") {
    if (!ws.connect("127.0.0.1", port, path)) return false;
    hello = type("connected");
    return hello.received;
  }
  // The next message of that type (the others stay in the inbox).
  Msg type(const std::string& t, int timeoutMs = 5000) {
    return next([t](const Msg& m) { return m.root["type"].str() == t; }, timeoutMs);
  }
  Msg ask(const std::string& json, const std::string& t) {
    ws.sendText(json);
    return type(t);
  }
  Msg auth(const std::string& user) { return ask(R"({"type":"auth","user_id":)" + user + "}", "auth_success"); }
  Msg join(const std::string& session) {
    return ask(R"({"type":"join_session","session_id":)" + session + "}", "joined_session");
  }
  void say(const std::string& session, const std::string& content) {
    ws.sendText(R"({"type":"send_message","session_id":)" + session + R"(,"content":")" + content + "\"}");
  }
  // How many kept messages have that type.
  int kept(const std::string& t) const {
    int n = 0;
    for (const Msg& m : inbox) n += m.root["type"].str() == t;
    return n;
  }
  // Round trip: every message queued for this client before it is read past.
  bool pingPong() { return ask(R"({"type":"ping"})", "pong").received; }

  Msg hello;
};

// A client that has authenticated as `user` (and joined `session` when given).
inline std::unique_ptr<ChatClient> chatter(int port, const std::string& user, const std::string& session = {}) {
  auto c = std::make_unique<ChatClient>();
  EXPECT_TRUE(c->open(port)) << c->ws.error();
  EXPECT_TRUE(c->auth(user).received) << "auth " << user;
  if (!session.empty()) {
    EXPECT_EQ(c->join(session).root["session_id"].text(), session) << "join " << session;
  }
  return c;
}

// POST /chat/sessions on the manager: `user` owns `session`.
inline void registerSession(const TestServer& s, const std::string& session, const std::string& user) {
  HttpResponse r = s.post("/chat/sessions", R"({"session_id":)" + session + R"(,"user_id":)" + user + "}");
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace msw::chattest
