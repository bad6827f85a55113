// tests/unit/backend_client_test.cpp: the pure parts of the backend hook
// client: the signature (RFC 4231 HMAC-SHA256 vectors) and hook names.
// The client itself runs against a real HTTP server in integration/backend_test.cpp.
#include "framework/backend_client.h"

#include <gtest/gtest.h>

namespace msw {
namespace {

TEST(HookSignature, IsTheHexHmacSha256OfTheBody) {
  // RFC 4231 test case 2.
  EXPECT_EQ("sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            hookSignature("Jefe", "what do ya want for nothing?"));
  // RFC 4231 test case 6: a key longer than the block size is hashed first.
  std::string key(131, '\xaa');
  EXPECT_EQ("sha256=60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            hookSignature(key, "Test Using Larger Than Block-Size Key - Hash Key First"));
}

TEST(HookName, IsOneToAHundredUrlAndLabelSafeCharacters) {
  EXPECT_TRUE(validHookName("connect"));
  EXPECT_TRUE(validHookName("chat.message"));
  EXPECT_TRUE(validHookName("a-b_c.9"));
  EXPECT_TRUE(validHookName(std::string(100, 'x')));
  EXPECT_FALSE(validHookName(""));
  EXPECT_FALSE(validHookName(std::string(101, 'x')));
  for (const char* bad : {"a/b", "a b", "a?b", "a\"b", "caf\xc3\xa9", "a%2f"}) EXPECT_FALSE(validHookName(bad)) << bad;
}

}  // namespace
}  // namespace msw
