// Channel tokens: HMAC-SHA256-signed claims that let one participant (uid, role) join one channel
// of the hub until an expiry. Format: "v1." + base64url(JSON claims) + "." + base64url(MAC), the
// MAC taken over everything before the second dot with the app certificate as key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parley/rtc_protocol.h"
#include "parley/status.h"

namespace parley::server {

// What a token grants.
struct TokenClaims {
  // The application (PARLEY_APP_ID) that issued it.
  std::string app_id;
  std::string channel;
  uint32_t uid = 0;
  rtc::Role role = rtc::Role::kUser;
  // Unix time in seconds after which the token is refused.
  int64_t expires_at = 0;
};

// Why a token was refused.
enum class TokenError { kNone, kMalformed, kForged, kExpired, kWrongChannel };

// "malformed", "forged", "expired", "wrong_channel" (stable: used in close reasons and metrics).
const char* token_error_name(TokenError error);

// Outcome of TokenSigner::verify().
struct TokenVerdict {
  TokenError error = TokenError::kNone;
  // Says what was wrong, for the close reason (never echoes secrets).
  std::string message;
  // The claims (only meaningful when ok()).
  TokenClaims claims;
  bool ok() const { return error == TokenError::kNone; }
};

// Issues and checks tokens with one app certificate. Thread-safe (immutable after creation).
class TokenSigner {
 public:
  // A signer for `app_id` keyed with `certificate` (any non-empty byte string).
  static Result<TokenSigner> create(std::string app_id, std::string certificate);
  // From PARLEY_APP_ID (default "parley") and PARLEY_APP_CERTIFICATE; when the certificate is
  // unset, 32 random bytes are generated and `generated` is set (tokens then die with the process).
  static Result<TokenSigner> from_environment(bool& generated);

  // A signed token for `claims` (its app_id is replaced by this signer's).
  std::string issue(TokenClaims claims) const;
  // Checks format, signature (constant-time), app, expiry against `now_unix_s` and, when
  // `channel` is not empty, that the token is for that channel.
  TokenVerdict verify(std::string_view token, std::string_view channel, int64_t now_unix_s) const;
  // verify() against the current time.
  TokenVerdict verify(std::string_view token, std::string_view channel) const;

  const std::string& app_id() const { return app_id_; }

 private:
  TokenSigner(std::string app_id, std::string key)
      : app_id_(std::move(app_id)), key_(std::move(key)) {}
  std::string mac(std::string_view data) const;

  std::string app_id_;
  std::string key_;
};

// base64url without padding (RFC 4648 §5).
std::string base64url_encode(std::string_view bytes);
// Decodes base64url with or without padding; false on a character outside the alphabet.
bool base64url_decode(std::string_view text, std::string& out);
// Current Unix time in seconds.
int64_t unix_now_s();
// `n` cryptographically random bytes as lower-case hex.
std::string random_hex(size_t n);

}  // namespace parley::server
