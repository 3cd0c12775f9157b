// Channel tokens: round trip, and each way a token is refused names its reason.
#include <gtest/gtest.h>

#include "parley/server/token.h"

namespace parley::server {
namespace {

TokenSigner signer(const std::string& cert = "secret-certificate") {
  auto s = TokenSigner::create("app1", cert);
  EXPECT_TRUE(s.is_ok());
  return std::move(s).value();
}

TokenClaims claims(int64_t expires_at = 2000) {
  TokenClaims c;
  c.channel = "room1";
  c.uid = 42;
  c.role = rtc::Role::kUser;
  c.expires_at = expires_at;
  return c;
}

TEST(ServerToken, RoundTripCarriesEveryClaim) {
  auto s = signer();
  const std::string token = s.issue(claims());
  EXPECT_EQ(token.rfind("v1.", 0), 0u);
  auto v = s.verify(token, "room1", 1000);
  ASSERT_TRUE(v.ok()) << v.message;
  EXPECT_EQ(v.claims.app_id, "app1");
  EXPECT_EQ(v.claims.channel, "room1");
  EXPECT_EQ(v.claims.uid, 42u);
  EXPECT_EQ(v.claims.role, rtc::Role::kUser);
  EXPECT_EQ(v.claims.expires_at, 2000);
  // An empty expected channel accepts the token's own.
  EXPECT_TRUE(s.verify(token, "", 1000).ok());
}

TEST(ServerToken, ExpiredTokenIsRefused) {
  auto s = signer();
  auto v = s.verify(s.issue(claims(1000)), "room1", 1000);
  EXPECT_EQ(v.error, TokenError::kExpired);
  EXPECT_NE(v.message.find("expired"), std::string::npos);
}

TEST(ServerToken, WrongChannelIsRefused) {
  auto s = signer();
  auto v = s.verify(s.issue(claims()), "room2", 1000);
  EXPECT_EQ(v.error, TokenError::kWrongChannel);
  EXPECT_NE(v.message.find("room2"), std::string::npos);
}

TEST(ServerToken, AnotherCertificateIsForged) {
  auto other = signer("another-certificate");
  auto v = signer().verify(other.issue(claims()), "room1", 1000);
  EXPECT_EQ(v.error, TokenError::kForged);
}

TEST(ServerToken, TamperedClaimsAreForged) {
  auto s = signer();
  std::string token = s.issue(claims());
  // Re-encode the claims with another uid, keeping the original signature.
  const size_t dot = token.rfind('.');
  std::string json;
  ASSERT_TRUE(base64url_decode(token.substr(3, dot - 3), json));
  const auto pos = json.find("42");
  ASSERT_NE(pos, std::string::npos);
  json.replace(pos, 2, "43");
  const std::string forged = "v1." + base64url_encode(json) + token.substr(dot);
  EXPECT_EQ(s.verify(forged, "room1", 1000).error, TokenError::kForged);
}

TEST(ServerToken, MalformedTokensSayWhy) {
  auto s = signer();
  for (const char* bad : {"", "hello", "v1.", "v1.abc", "v2.abc.def", "v1.abc.!!!"}) {
    auto v = s.verify(bad, "room1", 1000);
    EXPECT_EQ(v.error, TokenError::kMalformed) << bad;
    EXPECT_NE(v.message.find("malformed"), std::string::npos) << bad;
  }
}

TEST(ServerToken, Base64UrlRoundTrip) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\xff\xfe\x00\x01", 4)}) {
    std::string out;
    ASSERT_TRUE(base64url_decode(base64url_encode(s), out));
    EXPECT_EQ(out, s);
  }
  std::string out;
  EXPECT_FALSE(base64url_decode("a", out));
  EXPECT_FALSE(base64url_decode("ab$d", out));
}

}  // namespace
}  // namespace parley::server
