// HTTP messages and URLs as plain values: what a server handler receives and returns, and what
// the HTTP client sends. Nothing here depends on Boost.Beast, so including it is cheap; the
// machinery lives in src/net/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "parley/status.h"

namespace parley::net {

// An ordered list of header fields; lookups ignore the case of names.
class HttpHeaders {
 public:
  using Field = std::pair<std::string, std::string>;

  // Value of the first field named `name`, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;
  // True when a field named `name` exists.
  bool has(std::string_view name) const { return get(name).has_value(); }
  // Replaces every field named `name` with one holding `value`.
  void set(std::string name, std::string value);
  // Appends a field (repeated names are allowed, e.g. Set-Cookie).
  void add(std::string name, std::string value);
  // Removes every field named `name`.
  void remove(std::string_view name);
  // All fields in order.
  const std::vector<Field>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<Field> fields_;
};

// One decoded query parameter (`?a=1&b` gives {"a","1"} and {"b",""}).
using QueryParam = std::pair<std::string, std::string>;

// A request as the server's handlers see it.
struct HttpRequest {
  // Method in upper case, e.g. "GET".
  std::string method;
  // The request-target exactly as received, e.g. "/v1/listen?model=x".
  std::string target;
  // The target's path, percent-decoded, e.g. "/v1/listen".
  std::string path;
  // The target's query parameters, percent-decoded, in order.
  std::vector<QueryParam> query;
  HttpHeaders headers;
  std::string body;
  // Peer address, "127.0.0.1:50432".
  std::string remote;
  // Values of the `{name}` segments of the route's path template, e.g. {"channel", "demo"} for
  // "/v1/api/sessions/{channel}/transcript"; empty for routes without parameters.
  std::vector<QueryParam> path_params;

  // Value of the first query parameter named `name` (case-sensitive), or nullopt.
  std::optional<std::string_view> query_param(std::string_view name) const;
  // Value of the path parameter `name`, or nullopt.
  std::optional<std::string_view> path_param(std::string_view name) const;
  // Value of the first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
};

// Whether `path` matches the route template `pattern`: segments are compared literally except
// `{name}`, which matches one non-empty segment and is appended to `params` as {name, value}.
// "/a/{x}/c" matches "/a/b/c" (x = "b") but not "/a//c" or "/a/b/c/d".
bool match_path_template(std::string_view pattern, std::string_view path,
                         std::vector<QueryParam>* params);

// A response a handler returns, or that the HTTP client received.
struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;

  // A body with its content type.
  static HttpResponse text(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8");
  // `body` serialised as application/json.
  static HttpResponse json(int status, const nlohmann::json& body);
  // The JSON error shape of every Parley server: {"error":{"code":code,"message":message}}.
  // `code` is stable (e.g. "not_found"); `message` says what was wrong and how to fix it.
  static HttpResponse json_error(int status, std::string_view code, std::string_view message);
};

// The standard reason phrase of an HTTP status ("Not Found"); "Unknown" for others.
std::string_view http_status_reason(int status);

// A parsed absolute URL of a scheme the client speaks: http, https, ws or wss.
struct Url {
  // Lower-case scheme.
  std::string scheme;
  // Host name or address, without brackets for IPv6.
  std::string host;
  // Explicit port, or the scheme's default (80 / 443).
  uint16_t port = 0;
  // Path and query, never empty ("/" when the URL has none), e.g. "/v1/listen?model=x".
  std::string target;

  // True for https and wss.
  bool secure() const { return scheme == "https" || scheme == "wss"; }
  // "host:port", as sent in the Host header (the port only when not the default).
  std::string host_header() const;
  // The URL written back out.
  std::string to_string() const;
};

// Parses an http/https/ws/wss URL; invalid_argument naming what is wrong otherwise.
Result<Url> parse_url(std::string_view url);

// Decodes %XX escapes (and '+' as space when `plus_as_space`); malformed escapes are kept as-is.
std::string percent_decode(std::string_view text, bool plus_as_space = false);
// Escapes everything but RFC 3986 unreserved characters.
std::string percent_encode(std::string_view text);
// Splits and decodes a query string (without the leading '?').
std::vector<QueryParam> parse_query(std::string_view query);
// Joins parameters into a query string (without the leading '?'), percent-encoding them.
std::string build_query(const std::vector<QueryParam>& params);
// Splits a request-target into its decoded path and query parameters.
void split_target(std::string_view target, std::string& path, std::vector<QueryParam>& query);

}  // namespace parley::net
