// tests/integration/chat_cluster_test.cpp: the chat module (docs/chat.md) on
// the Redis driver: a user on one node and the agent on another talk in one
// session; and the sessions and history outlive a restart of msw.
#include "tests/integration/chat_support.h"
#include "tests/integration/cluster_support.h"

namespace msw::cluster {
namespace {

using msw::chattest::ChatClient;
using msw::chattest::chatter;

class ChatCluster : public ClusterTest {
 protected:
  // A node with the chat endpoint on a port of its own: that port.
  int chatNode(const std::string& id) {
    TestServer& s = makeNode(id);
    int port = msw::chattest::otherPort(s);
    msw::chattest::configureChat(s, port, "index, live, clustertest, chat");
    EXPECT_TRUE(s.start()) << s.error();
    waitSubscribed(id);
    return port;
  }
};

TEST_F(ChatCluster, AUserOnOneNodeAndTheAgentOnAnotherTalk) {
  int a = chatNode("a"), b = chatNode("b");
  msw::chattest::registerSession(node("a"), "31", "32");
  auto u = chatter(a, "32", "31");
  auto agent = chatter(b, "900", "31");
  waitRoomSubscribers("chat:31", 2);
  u->say("31", "from a");
  for (ChatClient* c : {u.get(), agent.get()})
    EXPECT_EQ(c->type("new_message").root["message"]["content"].str(), "from a");
  agent->say("31", "from b");
  Msg m = u->type("new_message");
  EXPECT_EQ(m.root["message"]["sender_id"].i64(), 900) << m;
  Json kept = node("b").getJson("/chat/messages?session=31");
  EXPECT_EQ(kept["messages"].size(), 2) << "either node reads the session: " << kept.dump();
}

TEST_F(ChatCluster, SessionsAndHistoryOutliveARestart) {
  int port = chatNode("a");
  msw::chattest::registerSession(node("a"), "41", "42");
  auto u = chatter(port, "42", "41");
  u->say("41", "before the restart");
  int64_t first = u->type("new_message").root["message"]["id"].i64();
  u.reset();
  ASSERT_EQ(node("a").proc.stop(15000), 0);
  int again = chatNode("a2");
  Json kept = node("a2").getJson("/chat/messages?session=41");
  ASSERT_EQ(kept["messages"].size(), 1) << kept.dump();
  EXPECT_EQ(kept["messages"].at(0)["content"].str(), "before the restart");
  auto back = chatter(again, "42", "41");  // the session is still registered
  back->say("41", "after");
  EXPECT_GT(back->type("new_message").root["message"]["id"].i64(), first) << "ids go on from the store";
}

}  // namespace
}  // namespace msw::cluster
