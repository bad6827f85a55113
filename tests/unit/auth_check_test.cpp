// tests/unit/auth_check_test.cpp: framework/auth.h, the handshake's token
// check (docs/protocol.md#the-token) and the Sec-WebSocket-Key check (RFC 6455 §4.2.1).
#include "framework/auth.h"
#include "library/json_text.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace msw {
namespace {

constexpr time_t kNow = 1700000000;
constexpr int64_t kTtl = 86400;

std::unique_ptr<TokenCodec> codec(CipherKind kind, const std::string& key = "unit-key") {
  std::string error;
  auto c = TokenCodec::create(kind, key, &error);
  EXPECT_TRUE(c) << error;
  return c;
}

std::string plain(const std::string& ctime, const std::string& extra = "") {
  return R"({"id":"u1","type":"wall","code":"room1","nickname":"Nick","ctime":)" + ctime + extra + "}";
}

class CheckToken : public ::testing::TestWithParam<CipherKind> {
 protected:
  void SetUp() override { codec_ = codec(GetParam()); }
  AuthCheck check(const std::string& plaintext, int64_t ttl = kTtl) {
    return checkToken(*codec_, codec_->encrypt(plaintext), ttl, kNow);
  }
  std::unique_ptr<TokenCodec> codec_;
};

TEST_P(CheckToken, AcceptsAFreshToken) {
  AuthCheck r = check(plain(std::to_string(kNow), R"(,"extra":{"k":[1,2]})"));
  ASSERT_TRUE(r.ok) << r.info;
  Auth a = r.auth.view();
  EXPECT_EQ(a.id, "u1");
  EXPECT_EQ(a.type, "wall");
  EXPECT_EQ(a.code, "room1");
  EXPECT_EQ(a.nickname, "Nick");
  Json j = Json::parse(a.json);
  ASSERT_TRUE(j.isObject()) << a.json;
  EXPECT_EQ(j["extra"]["k"].size(), 2) << "other fields are kept";
  EXPECT_EQ(j["ctime"].i64(), kNow);
}

TEST_P(CheckToken, MissingTokenIsMissing) {
  AuthCheck r = checkToken(*codec_, "", kTtl, kNow);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, Reject::kMissing);
  EXPECT_FALSE(r.info.empty());
}

TEST_P(CheckToken, GarbageIsInvalid) {
  for (const char* t : {"garbage", "AAAA", "!!!!", "a b c", "%00", "*:_"}) {
    AuthCheck r = checkToken(*codec_, t, kTtl, kNow);
    EXPECT_FALSE(r.ok) << t;
    EXPECT_EQ(r.reason, Reject::kInvalid) << t;
  }
}

TEST_P(CheckToken, TokenOfAnotherKeyIsInvalid) {
  auto other = codec(GetParam(), "another-key");
  // 3DES padding passes by chance about once in 256 wrong keys: try many
  // plaintexts so that the JSON check is exercised too.
  for (int i = 0; i < 64; ++i) {
    std::string token = other->encrypt(plain(std::to_string(kNow), ",\"n\":" + std::to_string(i)));
    AuthCheck r = checkToken(*codec_, token, kTtl, kNow);
    EXPECT_FALSE(r.ok) << i;
    EXPECT_EQ(r.reason, Reject::kInvalid) << i;
  }
}

TEST_P(CheckToken, PlaintextThatIsNotAJsonObjectIsInvalid) {
  for (const char* p : {"[1,2]", "\"text\"", "42", "null", "not json", "", "{\"id\":"}) {
    AuthCheck r = check(p, 0);
    EXPECT_FALSE(r.ok) << p;
    EXPECT_EQ(r.reason, Reject::kInvalid) << p;
  }
}

TEST_P(CheckToken, ExpiredAfterTtl) {
  EXPECT_TRUE(check(plain(std::to_string(kNow - kTtl))).ok) << "exactly ttl old is still valid";
  AuthCheck r = check(plain(std::to_string(kNow - kTtl - 1)));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, Reject::kExpired);
  r = check(plain("0"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, Reject::kExpired);
}

TEST_P(CheckToken, FutureCtimeBeyond300s) {
  EXPECT_TRUE(check(plain(std::to_string(kNow + 300))).ok);
  AuthCheck r = check(plain(std::to_string(kNow + 301)));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, Reject::kFuture);
  r = check(plain(std::to_string(kNow + 301)), 0);
  EXPECT_FALSE(r.ok) << "ttl 0 does not lift the clock-skew check";
  EXPECT_EQ(r.reason, Reject::kFuture);
}

TEST_P(CheckToken, TtlZeroMeansNoExpiry) {
  EXPECT_TRUE(check(plain("0"), 0).ok);
  EXPECT_TRUE(check(plain(std::to_string(kNow - 10 * kTtl)), 0).ok);
  EXPECT_TRUE(check(R"({"id":"u1"})", 0).ok) << "no ctime at all, no expiry";
}

TEST_P(CheckToken, WithATtlACtimeIsRequired) {
  EXPECT_FALSE(check(R"({"id":"u1"})").ok);
  EXPECT_FALSE(check(R"({"id":"u1","ctime":null})").ok);
  EXPECT_FALSE(check(R"({"id":"u1","ctime":"soon"})").ok);
  EXPECT_FALSE(check(R"({"id":"u1","ctime":[1]})").ok);
}

TEST_P(CheckToken, CtimeAsADecimalString) {
  EXPECT_TRUE(check(plain("\"" + std::to_string(kNow - 5) + "\"")).ok);
  EXPECT_FALSE(check(plain("\"" + std::to_string(kNow - kTtl - 5) + "\"")).ok);
}

TEST_P(CheckToken, NumericIdBecomesText) {
  AuthCheck r = check(R"({"id":12345678901,"type":"wechatUser","code":7,"ctime":)" + std::to_string(kNow) + "}");
  ASSERT_TRUE(r.ok) << r.info;
  Auth a = r.auth.view();
  EXPECT_EQ(a.id, "12345678901");
  EXPECT_EQ(a.code, "7");
  EXPECT_EQ(a.nickname, "");
}

// A numeric id is kept as the token wrote it, so ids that one double would
// hold (2^53 and 2^53 + 1, 0 and -0) stay two users; one that no double
// holds exactly, or that is not a plain integer, is refused.
TEST_P(CheckToken, NumericIdsAreKeptAsWritten) {
  auto idOf = [&](const std::string& id, const std::string& before = "") {
    AuthCheck r = check("{" + before + R"("id":)" + id + R"(,"ctime":)" + std::to_string(kNow) + "}");
    return r.ok ? std::string(r.auth.view().id) : "refused: " + r.info;
  };
  EXPECT_EQ(idOf("9007199254740992"), "9007199254740992");
  EXPECT_EQ(idOf("-9007199254740992"), "-9007199254740992");
  EXPECT_EQ(idOf("-0"), "-0");
  EXPECT_EQ(idOf("0"), "0");
  EXPECT_EQ(idOf("42", R"("n":[{"id":1},"}"],"s":"\"id\":7",)"), "42") << "the top-level id, not a nested one";
  EXPECT_EQ(idOf(" \t 42 ", " "), "42");
  EXPECT_EQ(idOf("\"9007199254740993\""), "9007199254740993") << "a string id is any string";
  for (const char* bad : {"9007199254740993", "-9007199254740993", "9223372036854775808", "1e400", "1e3", "1.0",
                          "1.5", "-1e-400", "12345678901234567890"}) {
    AuthCheck r = check(std::string(R"({"id":)") + bad + R"(,"ctime":)" + std::to_string(kNow) + "}");
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_EQ(r.reason, Reject::kInvalid) << bad;
  }
}

// Found by tests/fuzz/token_fuzz: a number beyond int64 in a text field was
// cast to int64 (undefined behaviour; the sanitizer build aborted).
TEST_P(CheckToken, NumbersBeyondInt64InOtherFieldsAreText) {
  AuthCheck r = check(R"({"id":"ale","code":1e400,"type":-1e300,"nickname":9223372036854775808,"ctime":)" +
                      std::to_string(kNow) + "}");
  ASSERT_TRUE(r.ok) << r.info;
  Auth a = r.auth.view();
  EXPECT_EQ(a.code, "inf");
  EXPECT_EQ(a.type.substr(0, 2), "-1");
  EXPECT_EQ(a.nickname, "9223372036854775808.000000");
  r = check(R"({"id":"x","code":4611686018427387904,"ctime":)" + std::to_string(kNow) + "}");
  EXPECT_EQ(r.auth.view().code, "4611686018427387904") << "2^62 is still an integer";
}

TEST(MemberText, FindsEachMemberAsWritten) {
  std::string_view j = R"( {"a" : 1e400 , "b":{"x":[1,"]}"]},"c":"q\"}",  "d":-0})";
  EXPECT_EQ(memberText(j, 0), "1e400");
  EXPECT_EQ(memberText(j, 1), R"({"x":[1,"]}"]})");
  EXPECT_EQ(memberText(j, 2), R"("q\"}")");
  EXPECT_EQ(memberText(j, 3), "-0");
  EXPECT_EQ(memberText(j, 4), std::nullopt);
  for (std::string_view bad : {"", "[1]", "{", "{\"a\"", "{\"a\":", "{\"a\":\"x", "{\"a\":[1"})
    EXPECT_EQ(memberText(bad, 0), std::nullopt) << bad;
}

TEST(IsSafeInteger, PlainIntegersUpTo2To53) {
  for (const char* ok : {"0", "-0", "7", "-7", "9007199254740992", "-9007199254740992"})
    EXPECT_TRUE(isSafeInteger(ok)) << ok;
  for (const char* bad :
       {"", "-", "+1", "01", "-01", "1.0", "1e3", "9007199254740993", "99999999999999999", " 1", "1 "})
    EXPECT_FALSE(isSafeInteger(bad)) << bad;
}

TEST_P(CheckToken, LongTokens) {
  std::string big(3000, 'z');
  AuthCheck r = check(plain(std::to_string(kNow), ",\"blob\":\"" + big + "\""));
  ASSERT_TRUE(r.ok) << r.info;
  EXPECT_EQ(Json::parse(r.auth.view().json)["blob"].str(), big);
}

INSTANTIATE_TEST_SUITE_P(Ciphers, CheckToken, ::testing::Values(CipherKind::kAes256Gcm, CipherKind::kDesEde3Ecb),
                         [](const ::testing::TestParamInfo<CipherKind>& info) {
                           return info.param == CipherKind::kAes256Gcm ? std::string("Aes") : std::string("Des");
                         });

TEST(CheckTokenCiphers, AnAesTokenIsNotA3DesTokenNorTheOtherWay) {
  auto aes = codec(CipherKind::kAes256Gcm, "same-key");
  auto des = codec(CipherKind::kDesEde3Ecb, "same-key");
  std::string p = plain(std::to_string(kNow));
  EXPECT_FALSE(checkToken(*des, aes->encrypt(p), kTtl, kNow).ok);
  EXPECT_FALSE(checkToken(*aes, des->encrypt(p), kTtl, kNow).ok);
}

TEST(ValidWebSocketKey, AcceptsSixteenBytesOfBase64) {
  EXPECT_TRUE(validWebSocketKey("dGhlIHNhbXBsZSBub25jZQ=="));  // RFC 6455 §1.3
  EXPECT_TRUE(validWebSocketKey("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_TRUE(validWebSocketKey("/+/+/+/+/+/+/+/+/+/+/w=="));
}

TEST(ValidWebSocketKey, RejectsEverythingElse) {
  for (const char* k : {"", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===",
                        "AAAAAAAAAAAAAAAAAAAA",            // 15 bytes
                        "AAAAAAAAAAAAAAAAAAAAAAA=",        // 17 bytes
                        "AAAAAAAAAAAAAAAAAAAAAAAA",        // 18 bytes
                        "dGhlIHNhbXBsZSBub25jZ-==",        // url-safe alphabet
                        "dGhlIHNhbXBsZSBub25j ZQ=", "dGhlIHNhbXBsZSBub25jZQ==\n", "dGhlIHNhbXBsZSBub25jZR=="}) {
    EXPECT_FALSE(validWebSocketKey(k)) << k;
  }
}

}  // namespace
}  // namespace msw
