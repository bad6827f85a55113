// tests/unit/frame_builder_test.cpp: framework/frame_builder.h, the shared
// server frames and the docs/protocol.md#messages envelope.
#include "framework/frame_builder.h"

#include <gtest/gtest.h>

#include <string>

namespace msw {
namespace {

std::string frameBytes(const Payload& p) { return std::string(reinterpret_cast<const char*>(p.frame()), p.frameSize()); }

std::string jsonString(std::string_view s) {
  std::string out;
  appendJsonString(out, s);
  return out;
}

std::string compact(const char* json) {
  Json j = Json::parse(json);
  std::string out;
  appendJson(out, j.raw());
  return out;
}

TEST(FrameBuilder, HeaderSizeBoundaries) {
  EXPECT_EQ(frameHeaderSize(0), 2u);
  EXPECT_EQ(frameHeaderSize(125), 2u);
  EXPECT_EQ(frameHeaderSize(126), 4u);
  EXPECT_EQ(frameHeaderSize(65535), 4u);
  EXPECT_EQ(frameHeaderSize(65536), 10u);
  EXPECT_EQ(frameHeaderSize(size_t{1} << 32), 10u);
}

TEST(FrameBuilder, TextFrameOf125BytesHasAShortHeader) {
  std::string text(125, 'a');
  Payload p = buildTextFrame(text);
  ASSERT_TRUE(p);
  std::string f = frameBytes(p);
  ASSERT_EQ(f.size(), 2u + 125u);
  EXPECT_EQ(static_cast<unsigned char>(f[0]), 0x81);  // FIN + text
  EXPECT_EQ(static_cast<unsigned char>(f[1]), 125);   // unmasked, 7-bit length
  EXPECT_EQ(f.substr(2), text);
  EXPECT_EQ(p.text(), text);
}

TEST(FrameBuilder, TextFrameOf126And65535BytesHasA16BitLength) {
  for (size_t n : {size_t{126}, size_t{65535}}) {
    Payload p = buildTextFrame(std::string(n, 'b'));
    std::string f = frameBytes(p);
    ASSERT_EQ(f.size(), 4 + n) << n;
    EXPECT_EQ(static_cast<unsigned char>(f[0]), 0x81);
    EXPECT_EQ(static_cast<unsigned char>(f[1]), 126);
    EXPECT_EQ((static_cast<unsigned char>(f[2]) << 8) | static_cast<unsigned char>(f[3]), static_cast<int>(n));
    EXPECT_EQ(p.text().size(), n);
  }
}

TEST(FrameBuilder, TextFrameOf65536BytesHasA64BitLength) {
  const size_t n = 65536;
  Payload p = buildTextFrame(std::string(n, 'c'));
  std::string f = frameBytes(p);
  ASSERT_EQ(f.size(), 10 + n);
  EXPECT_EQ(static_cast<unsigned char>(f[1]), 127);
  uint64_t len = 0;
  for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<unsigned char>(f[static_cast<size_t>(i)]);
  EXPECT_EQ(len, n);
  EXPECT_EQ(p.text(), std::string(n, 'c'));
}

TEST(FrameBuilder, EmptyTextFrame) {
  Payload p = buildTextFrame("");
  EXPECT_EQ(frameBytes(p), std::string("\x81\x00", 2));
  EXPECT_TRUE(p.text().empty());
}

TEST(FrameBuilder, PayloadCopiesShareOneBlock) {
  Payload a = buildTextFrame("shared");
  Payload b = a;
  Payload c;
  c = b;
  EXPECT_EQ(a.block(), b.block());
  EXPECT_EQ(a.block(), c.block());
  EXPECT_EQ(a.block()->refs.load(), 3u);
  Payload moved = std::move(c);
  EXPECT_FALSE(c);  // NOLINT(bugprone-use-after-move): a moved-from Payload is empty
  EXPECT_EQ(a.block()->refs.load(), 3u);
  b = Payload();
  EXPECT_EQ(a.block()->refs.load(), 2u);
  EXPECT_EQ(moved.text(), "shared");
}

TEST(JsonString, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(jsonString(""), "\"\"");
  EXPECT_EQ(jsonString("plain"), "\"plain\"");
  EXPECT_EQ(jsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(jsonString("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(jsonString(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(jsonString(std::string("a\0b", 3)), "\"a\\u0000b\"");
  EXPECT_EQ(jsonString("x\x7fy/"), "\"x\x7fy/\"");  // DEL and '/' need no escape
}

TEST(JsonString, PassesUtf8Through) {
  const std::string utf8 = "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";  // é 中 😀
  EXPECT_EQ(jsonString(utf8), "\"" + utf8 + "\"");
  // And what comes out parses back to the same bytes.
  Json j = Json::parse(jsonString("q\"" + utf8 + "\n\x02"));
  ASSERT_TRUE(j.isString());
  EXPECT_EQ(j.str(), "q\"" + utf8 + "\n\x02");
}

TEST(AppendJson, CompactTextOfEveryType) {
  EXPECT_EQ(compact(R"({"a": 1, "b": [true, false, null], "c": {"d": "e"}, "f": -2.5, "g": []})"),
            R"({"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-2.5,"g":[]})");
  EXPECT_EQ(compact("12345678901"), "12345678901");
  EXPECT_EQ(compact("\"x\\u0001\""), "\"x\\u0001\"");
  std::string out;
  appendJson(out, nullptr);
  EXPECT_EQ(out, "null");
}

TEST(AppendJson, NumbersRoundTrip) {
  for (const char* n : {"0", "-1", "0.5", "0.1", "1e300", "-123.456", "9007199254740993", "1.7976931348623157e308"}) {
    Json in = Json::parse(n);
    ASSERT_TRUE(in.isNumber()) << n;
    std::string out;
    appendJson(out, in.raw());
    Json back = Json::parse(out);
    ASSERT_TRUE(back.isNumber()) << n << " -> " << out;
    EXPECT_EQ(back.num(), in.num()) << n << " -> " << out;
  }
}

TEST(BuildMessage, FieldOrderWithoutParamAndRid) {
  Payload p = buildMessage(200, "success", "done", JsonRef(), JsonRef());
  EXPECT_EQ(p.text(), R"({"status":200,"event":"success","info":"done"})");
  EXPECT_EQ(static_cast<unsigned char>(p.frame()[0]), 0x81);
}

TEST(BuildMessage, FieldOrderWithParamAndRid) {
  Json param = Json::parse(R"({"x":[1,"two"],"y":{"z":null}})");
  Json rid = Json::number(42);
  Payload p = buildMessage(404, "controllerNotFound", "no \"such\" thing", param, rid);
  EXPECT_EQ(p.text(),
            R"({"status":404,"event":"controllerNotFound","info":"no \"such\" thing","param":{"x":[1,"two"],"y":{"z":null}},"rid":42})");
}

TEST(BuildMessage, RidAloneAndStringRid) {
  Json rid = Json::string("r-1");
  Payload p = buildMessage(500, "controllerError", "", JsonRef(), rid);
  EXPECT_EQ(p.text(), R"({"status":500,"event":"controllerError","info":"","rid":"r-1"})");
}

TEST(BuildMessage, ParamOfEveryKind) {
  Json s = Json::string("a\nb");
  EXPECT_EQ(buildMessage(200, "e", "i", s, JsonRef()).text(), R"({"status":200,"event":"e","info":"i","param":"a\nb"})");
  Json arr = Json::parse("[]");
  EXPECT_EQ(buildMessage(200, "e", "i", arr, JsonRef()).text(), R"({"status":200,"event":"e","info":"i","param":[]})");
}

TEST(BuildMessage, EscapesEventAndInfo) {
  Payload p = buildMessage(200, "ev\"", "tab\there\x01", JsonRef(), JsonRef());
  EXPECT_EQ(p.text(), "{\"status\":200,\"event\":\"ev\\\"\",\"info\":\"tab\\there\\u0001\"}");
  Json j = Json::parse(p.text());
  EXPECT_TRUE(j.isObject());
}

TEST(BuildMessage, LargeMessagesGetTheRightHeader) {
  Json param = Json::string(std::string(70000, 'q'));
  Payload p = buildMessage(200, "big", "", param, JsonRef());
  EXPECT_EQ(p.frameSize(), 10 + p.text().size());
  EXPECT_EQ(static_cast<unsigned char>(p.frame()[1]), 127);
  EXPECT_TRUE(Json::parse(p.text()).isObject());
}

TEST(EscapeHtml, EscapesEveryStringValueInNestedObjectsAndArrays) {
  Json j = Json::parse(
      R"({"<key>":"<b>&</b>","arr":["'q'",{"deep":"\"x\""},5,true,null],"obj":{"k&":"a>b","n":1},"plain":"ok"})");
  ASSERT_TRUE(j.isObject());
  escapeHtmlStrings(j.raw());
  std::string out;
  appendJson(out, j.raw());
  EXPECT_EQ(out,
            R"({"<key>":"&lt;b&gt;&amp;&lt;/b&gt;","arr":["&#039;q&#039;",{"deep":"&quot;x&quot;"},5,true,null],"obj":{"k&":"a&gt;b","n":1},"plain":"ok"})");
}

TEST(EscapeHtml, TopLevelStringAndArray) {
  Json s = Json::string("<i>");
  escapeHtmlStrings(s.raw());
  EXPECT_EQ(s.str(), "&lt;i&gt;");
  Json a = Json::parse(R"(["&amp;", ["<"]])");
  escapeHtmlStrings(a.raw());
  std::string out;
  appendJson(out, a.raw());
  EXPECT_EQ(out, R"(["&amp;amp;",["&lt;"]])");  // escaping is not idempotent, as in PHP's htmlspecialchars
}

TEST(EscapeHtml, LeavesUtf8AndOtherTextAlone) {
  const std::string utf8 = "caf\xc3\xa9 \xe4\xb8\xad";
  Json j = Json::object();
  j.set("t", utf8);
  escapeHtmlStrings(j.raw());
  EXPECT_EQ(j["t"].str(), utf8);
  escapeHtmlStrings(nullptr);  // harmless
}

}  // namespace
}  // namespace msw
