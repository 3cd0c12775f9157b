// Channel tokens: HMAC-SHA256 over compact JSON claims (see include/parley/server/token.h).
#include "parley/server/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdlib>

#include <nlohmann/json.hpp>

namespace parley::server {

namespace {

constexpr std::string_view kPrefix = "v1.";
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

TokenVerdict refuse(TokenError error, std::string message) {
  TokenVerdict v;
  v.error = error;
  v.message = std::move(message);
  return v;
}

}  // namespace

const char* token_error_name(TokenError error) {
  switch (error) {
    case TokenError::kNone:
      return "ok";
    case TokenError::kMalformed:
      return "malformed";
    case TokenError::kForged:
      return "forged";
    case TokenError::kExpired:
      return "expired";
    case TokenError::kWrongChannel:
      return "wrong_channel";
  }
  return "unknown";
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = b[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (b[i] << 16) | (b[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

bool base64url_decode(std::string_view text, std::string& out) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return false;
  out.clear();
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int d = decode_char(c);
    if (d < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return true;
}

int64_t unix_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string random_hex(size_t n) {
  std::string bytes(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1)
    std::abort();  // no entropy: nothing secure can be done (never happens on Linux)
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

Result<TokenSigner> TokenSigner::create(std::string app_id, std::string certificate) {
  if (app_id.empty()) return invalid_argument("the app id must not be empty");
  if (certificate.empty()) return invalid_argument("the app certificate must not be empty");
  return TokenSigner(std::move(app_id), std::move(certificate));
}

Result<TokenSigner> TokenSigner::from_environment(bool& generated) {
  const char* app = std::getenv("PARLEY_APP_ID");
  const char* cert = std::getenv("PARLEY_APP_CERTIFICATE");
  generated = !(cert && *cert);
  std::string key;
  if (generated) {
    key.resize(32);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), 32) != 1)
      return internal_error("could not generate a random app certificate (RAND_bytes failed)");
  } else {
    key = cert;
  }
  return create(app && *app ? app : "parley", std::move(key));
}

std::string TokenSigner::mac(std::string_view data) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string TokenSigner::issue(TokenClaims claims) const {
  nlohmann::json j = {{"app", app_id_},
                      {"ch", claims.channel},
                      {"uid", claims.uid},
                      {"role", rtc::role_name(claims.role)},
                      {"exp", claims.expires_at}};
  std::string signed_part = std::string(kPrefix) + base64url_encode(j.dump());
  return signed_part + "." + base64url_encode(mac(signed_part));
}

TokenVerdict TokenSigner::verify(std::string_view token, std::string_view channel) const {
  return verify(token, channel, unix_now_s());
}

TokenVerdict TokenSigner::verify(std::string_view token, std::string_view channel,
                                 int64_t now_unix_s) const {
  if (token.substr(0, kPrefix.size()) != kPrefix)
    return refuse(TokenError::kMalformed, "malformed token: it does not start with 'v1.'");
  const size_t dot = token.rfind('.');
  if (dot < kPrefix.size() + 1 || dot + 1 >= token.size())
    return refuse(TokenError::kMalformed, "malformed token: expected v1.<claims>.<signature>");
  const std::string_view signed_part = token.substr(0, dot);
  std::string given_mac;
  if (!base64url_decode(token.substr(dot + 1), given_mac))
    return refuse(TokenError::kMalformed, "malformed token: the signature is not base64url");
  const std::string want_mac = mac(signed_part);
  if (given_mac.size() != want_mac.size() ||
      CRYPTO_memcmp(given_mac.data(), want_mac.data(), want_mac.size()) != 0)
    return refuse(TokenError::kForged,
                  "forged token: the signature does not match this server's app certificate");
  // Signed by us: the claims are ours, but check their shape anyway.
  std::string claims_json;
  if (!base64url_decode(signed_part.substr(kPrefix.size()), claims_json))
    return refuse(TokenError::kMalformed, "malformed token: the claims are not base64url");
  TokenVerdict v;
  try {
    const auto j = nlohmann::json::parse(claims_json);
    v.claims.app_id = j.at("app").get<std::string>();
    v.claims.channel = j.at("ch").get<std::string>();
    v.claims.uid = j.at("uid").get<uint32_t>();
    auto role = rtc::parse_role(j.at("role").get<std::string>());
    if (!role) return refuse(TokenError::kMalformed, "malformed token: unknown role");
    v.claims.role = *role;
    v.claims.expires_at = j.at("exp").get<int64_t>();
  } catch (const nlohmann::json::exception&) {
    return refuse(TokenError::kMalformed, "malformed token: the claims are not valid JSON");
  }
  if (v.claims.app_id != app_id_)
    return refuse(TokenError::kForged, "forged token: issued for another app id");
  if (v.claims.expires_at <= now_unix_s)
    return refuse(TokenError::kExpired, "token expired " +
                                            std::to_string(now_unix_s - v.claims.expires_at) +
                                            " s ago: generate a new one");
  if (!channel.empty() && v.claims.channel != channel)
    return refuse(TokenError::kWrongChannel,
                  "token is for another channel than '" + std::string(channel) + "'");
  return v;
}

}  // namespace parley::server
