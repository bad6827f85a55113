// tests/unit/message_test.cpp: parseMessage, the strict reading of a client's
// frame (docs/protocol.md "Messages"): one object, no key twice, no NUL, rid
// kept as written.
#include <gtest/gtest.h>

#include "framework/frame_builder.h"
#include "framework/message.h"

namespace msw {
namespace {

std::string ridOf(std::string_view text) {
  Message m = parseMessage(text);
  EXPECT_EQ(m.error, "") << text;
  std::string out;
  appendJson(out, m.rid.raw());
  return out;
}

bool refused(std::string_view text) { return !parseMessage(text).error.empty(); }

TEST(ParseMessage, AnObjectIsReadWithRidTakenOut) {
  Message m = parseMessage(R"({"method":"ping","rid":7,"a":[1,{"b":"}"}]})");
  ASSERT_EQ(m.error, "");
  EXPECT_EQ(m.root["method"].str(), "ping");
  EXPECT_FALSE(m.root.has("rid"));
  EXPECT_EQ(m.root["a"].at(1)["b"].str(), "}");
}

TEST(ParseMessage, WhitespaceAroundTheObjectIsFine) { EXPECT_FALSE(refused(" \r\n\t{\"a\" : 1 } \n")); }

TEST(ParseMessage, AnythingButOneObjectIsRefused) {
  for (const char* t : {"", "x", "[1]", "\"s\"", "12", "null", "{", "{\"a\":1"}) EXPECT_TRUE(refused(t)) << t;
}

TEST(ParseMessage, TrailingDataIsRefused) {
  EXPECT_TRUE(refused(R"({"method":"index.index.ping"} xyz)"));
  EXPECT_TRUE(refused(R"({"method":"ping"}{"method":"ping"})"));
  EXPECT_TRUE(refused(R"({"a":1},)"));
}

TEST(ParseMessage, AKeyTwiceIsRefusedWhateverItsSpelling) {
  EXPECT_TRUE(refused(R"({"method":"a","method":"b"})"));
  EXPECT_TRUE(refused(R"({"method":"a","m\u0065thod":"b"})"));
  EXPECT_TRUE(refused(R"({"rid":1,"x":0,"rid":2})"));
  EXPECT_FALSE(refused(R"({"a":{"k":1},"b":{"k":1}})")) << "nested objects have their own keys";
  std::string many = "{";
  for (int i = 0; i < 40; ++i) many += "\"k" + std::to_string(i) + "\":0,";
  EXPECT_FALSE(refused(many + "\"last\":0}"));
  EXPECT_TRUE(refused(many + "\"k7\":0}"));
}

TEST(ParseMessage, ANulAnywhereIsRefused) {
  EXPECT_TRUE(refused(R"({"method":"index.index.ping\u0000x"})"));
  EXPECT_TRUE(refused(R"({"method":"index\u0000.x.y"})"));
  EXPECT_TRUE(refused(R"({"a\u0000b":1})"));
  constexpr char kRawNulInAString[] = "{\"a\":\"x\0y\"}";  // sized by the array: it holds a NUL
  EXPECT_TRUE(refused(std::string(kRawNulInAString, sizeof kRawNulInAString - 1)));
  EXPECT_FALSE(refused(R"({"a":"\\u0000"})")) << "an escaped backslash, then the text u0000";
}

TEST(ParseMessage, IntegerRidsUpTo2Pow53AreKeptDigitForDigit) {
  EXPECT_EQ(ridOf(R"({"rid":9007199254740992})"), "9007199254740992");
  EXPECT_EQ(ridOf(R"({"rid":-9007199254740992})"), "-9007199254740992");
  EXPECT_EQ(ridOf(R"({"rid":0})"), "0");
  EXPECT_EQ(ridOf(R"({"rid":-0})"), "-0");
  EXPECT_EQ(ridOf(R"({"rid" : 42 ,"a":1})"), "42");
  EXPECT_EQ(ridOf(R"({"a":1})"), "null") << "no rid";
}

TEST(ParseMessage, StringRidsAreKeptAsWritten) {
  EXPECT_EQ(ridOf(R"({"rid":"r-1"})"), R"("r-1")");
  EXPECT_EQ(ridOf(R"({"rid":"\u00e9\"x"})"), R"("\u00e9\"x")");
  EXPECT_EQ(ridOf(R"({"rid":""})"), R"("")");
}

TEST(ParseMessage, OtherRidsAreRefused) {
  for (const char* t : {R"({"rid":9007199254740993})", R"({"rid":12345678901234567890})", R"({"rid":1e400})",
                        R"({"rid":1.5})", R"({"rid":1e3})", R"({"rid":true})", R"({"rid":null})",
                        R"({"rid":[1]})", R"({"rid":{"a":1}})", "{\"rid\":\"a\tb\"}"})
    EXPECT_TRUE(refused(t)) << t;
}

// Found by tests/fuzz/message_fuzz.cpp: cJSON skips any byte up to the space
// between tokens; the scan for rid's text must too, or it reads the wrong member.
TEST(ParseMessage, BytesCJsonSkipsAsSpaceDoNotMisleadTheRidScan) {
  Message m = parseMessage("\x10\x10{\x10\"rid\"\x10:\x10\"77\"\x01,\"a\":1}");
  ASSERT_EQ(m.error, "");
  EXPECT_FALSE(m.root.has("rid"));
  EXPECT_STREQ(m.rid.raw()->valuestring, "\"77\"");
}

TEST(IsSafeJsonInteger, Bounds) {
  EXPECT_TRUE(isSafeJsonInteger("9007199254740992"));
  EXPECT_TRUE(isSafeJsonInteger("999999999999999"));
  EXPECT_FALSE(isSafeJsonInteger("9007199254740993"));
  EXPECT_FALSE(isSafeJsonInteger("10000000000000000"));
  EXPECT_FALSE(isSafeJsonInteger("-"));
  EXPECT_FALSE(isSafeJsonInteger("01"));
}

}  // namespace
}  // namespace msw
