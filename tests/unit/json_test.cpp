// tests/unit/json_test.cpp: the builders of msw/json.h take every integer
// type, floating point, bool and the three string types without ambiguity
// (docs/controllers.md, "Building params"). Header only: no server.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "msw/json.h"

namespace msw {
namespace {

template <class T>
concept Settable = requires(JsonRef j, T v) { j.set("k", v); j.push(v); };

static_assert(Settable<short> && Settable<int> && Settable<long> && Settable<long long>);
static_assert(Settable<unsigned short> && Settable<unsigned> && Settable<unsigned long> &&
              Settable<unsigned long long>);
static_assert(Settable<int8_t> && Settable<int64_t> && Settable<uint64_t> && Settable<size_t>);
static_assert(Settable<float> && Settable<double> && Settable<bool>);
static_assert(Settable<const char*> && Settable<std::string> && Settable<std::string_view>);
static_assert(!Settable<char>, "a char is neither clearly a number nor text: refused");

TEST(Json, SetTakesEveryIntegerTypeAsANumber) {
  Json o = Json::object();
  o.set("ll", std::stoll("-12345678901"))
      .set("ull", 42ull)
      .set("size", std::string("abc").size())
      .set("i64", int64_t{1} << 40)
      .set("short", static_cast<short>(-7))
      .set("u8", static_cast<uint8_t>(200));
  EXPECT_EQ(o.dump(), R"({"ll":-12345678901,"ull":42,"size":3,"i64":1099511627776,"short":-7,"u8":200})");
}

TEST(Json, SetKeepsBoolsStringsAndDoublesApart) {
  Json o = Json::object();
  std::string s = "s";
  o.set("b", true).set("d", 0.5).set("f", 1.5f).set("c", "x").set("s", s).set("v", std::string_view("v"));
  EXPECT_EQ(o.dump(), R"({"b":true,"d":0.5,"f":1.5,"c":"x","s":"s","v":"v"})");
}

TEST(Json, PushTakesTheSameValues) {
  Json a = Json::array();
  a.push(1).push(2ll).push(size_t{3}).push(true).push(0.25).push("x").push(std::string("y"));
  EXPECT_EQ(a.dump(), R"([1,2,3,true,0.25,"x","y"])");
}

}  // namespace
}  // namespace msw
