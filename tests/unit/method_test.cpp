// tests/unit/method_test.cpp: the method grammar of docs/protocol.md#messages (framework/method.h).
#include "framework/method.h"

#include <gtest/gtest.h>

#include <string>

namespace msw {
namespace {

std::string full(std::string_view method) {
  std::optional<MethodName> m = parseMethod(method);
  return m ? m->full() : "<rejected>";
}

TEST(ParseMethod, OneSegmentIsAnActionOfIndexIndex) { EXPECT_EQ(full("ping"), "index.index.ping"); }

TEST(ParseMethod, TwoSegmentsAreControllerAndActionOfIndex) { EXPECT_EQ(full("user.join"), "index.user.join"); }

TEST(ParseMethod, ThreeSegmentsAreModuleControllerAction) { EXPECT_EQ(full("live.user.join"), "live.user.join"); }

TEST(ParseMethod, FieldsAreSplitInOrder) {
  std::optional<MethodName> m = parseMethod("a1.b_2.C3");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->module, "a1");
  EXPECT_EQ(m->controller, "b_2");
  EXPECT_EQ(m->action, "c3");
}

TEST(ParseMethod, IsCaseInsensitive) {
  EXPECT_EQ(full("Live.USER.JoIn"), "live.user.join");
  EXPECT_EQ(full("PING"), "index.index.ping");
  EXPECT_EQ(full("Index.Echo"), "index.index.echo");
}

TEST(ParseMethod, AcceptsDigitsAndUnderscoresAnywhere) {
  EXPECT_EQ(full("_"), "index.index._");
  EXPECT_EQ(full("9.__.x_9"), "9.__.x_9");
}

TEST(ParseMethod, DefaultIsIndexIndexIndex) { EXPECT_EQ(defaultMethod().full(), "index.index.index"); }

TEST(ParseMethod, RejectsEmpty) { EXPECT_FALSE(parseMethod("")); }

TEST(ParseMethod, RejectsEmptySegments) {
  for (const char* m : {".", "..", ".a", "a.", "a..b", "a.b.", ".a.b", "a.b..c"}) {
    EXPECT_FALSE(parseMethod(m)) << m;
  }
}

TEST(ParseMethod, RejectsFourOrMoreSegments) {
  EXPECT_FALSE(parseMethod("a.b.c.d"));
  EXPECT_FALSE(parseMethod("a.b.c.d.e"));
}

TEST(ParseMethod, RejectsCharactersOutsideTheGrammar) {
  for (const char* m : {"a-b", "a b", " a", "a ", "a/b", "a:b", "a.b$", "ü", "a\tb", "a.b.c;", "*", "a,b"}) {
    EXPECT_FALSE(parseMethod(m)) << m;
  }
  EXPECT_FALSE(parseMethod(std::string_view("a\0b", 3)));
}

TEST(ParseMethod, SegmentLengthLimit) {
  // The implementation caps a segment at 64 characters (framework/method.cpp).
  EXPECT_TRUE(parseMethod(std::string(64, 'a')));
  EXPECT_TRUE(parseMethod(std::string(64, 'a') + "." + std::string(64, 'b') + "." + std::string(64, 'c')));
  EXPECT_FALSE(parseMethod(std::string(65, 'a')));
  EXPECT_FALSE(parseMethod("x." + std::string(65, 'a')));
  EXPECT_FALSE(parseMethod(std::string(10000, 'a')));
}

}  // namespace
}  // namespace msw
