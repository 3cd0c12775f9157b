// Plain-value HTTP helpers (headers, responses, URLs, query strings) and option validation; no
// Beast here, so these are unit-tested without sockets.
#include "parley/net/http.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "parley/net/server.h"
#include "parley/net/websocket.h"

namespace parley::net {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string_view> HttpHeaders::get(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (iequals(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

void HttpHeaders::set(std::string name, std::string value) {
  remove(name);
  fields_.emplace_back(std::move(name), std::move(value));
}

void HttpHeaders::add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

void HttpHeaders::remove(std::string_view name) {
  std::erase_if(fields_, [&](const Field& f) { return iequals(f.first, name); });
}

std::optional<std::string_view> HttpRequest::path_param(std::string_view name) const {
  for (const auto& [k, v] : path_params)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

bool match_path_template(std::string_view pattern, std::string_view path,
                         std::vector<QueryParam>* params) {
  std::vector<QueryParam> found;
  for (;;) {
    const size_t pe = pattern.find('/'), se = path.find('/');
    const std::string_view pseg = pattern.substr(0, pe), sseg = path.substr(0, se);
    if (pseg.size() >= 2 && pseg.front() == '{' && pseg.back() == '}') {
      if (sseg.empty()) return false;
      found.emplace_back(std::string(pseg.substr(1, pseg.size() - 2)), std::string(sseg));
    } else if (pseg != sseg) {
      return false;
    }
    if ((pe == std::string_view::npos) != (se == std::string_view::npos)) return false;
    if (pe == std::string_view::npos) break;
    pattern.remove_prefix(pe + 1);
    path.remove_prefix(se + 1);
  }
  if (params != nullptr) params->insert(params->end(), found.begin(), found.end());
  return true;
}

std::optional<std::string_view> HttpRequest::query_param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

HttpResponse HttpResponse::text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.headers.set("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::json(int status, const nlohmann::json& body) {
  // Bodies quote what clients sent (a percent-decoded path or query value), which need not be
  // UTF-8; the strict default would throw on an I/O thread and end the process.
  return text(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
              "application/json");
}

HttpResponse HttpResponse::json_error(int status, std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  return json(status, body);
}

std::string_view http_status_reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

std::string Url::host_header() const {
  const bool default_port = secure() ? port == 443 : port == 80;
  const bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  return default_port ? h : h + ":" + std::to_string(port);
}

std::string Url::to_string() const { return scheme + "://" + host_header() + target; }

Result<Url> parse_url(std::string_view text) {
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    return invalid_argument(
        fmt::format("URL '{}' has no scheme: write e.g. ws://host:8080/path", text));
  }
  Url url;
  url.scheme = std::string(text.substr(0, scheme_end));
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (url.scheme != "http" && url.scheme != "https" && url.scheme != "ws" && url.scheme != "wss") {
    return invalid_argument(
        fmt::format("URL '{}': scheme '{}' is not one of http, https, ws, wss", text, url.scheme));
  }
  std::string_view rest = text.substr(scheme_end + 3);
  const auto path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (const auto hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);  // user info is not supported: dropped
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return invalid_argument(fmt::format("URL '{}': unterminated IPv6 address", text));
    }
    url.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        return invalid_argument(fmt::format("URL '{}': junk after the IPv6 address", text));
      }
      port_text = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return invalid_argument(fmt::format("URL '{}' has no host", text));
  url.port = url.secure() ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return invalid_argument(fmt::format("URL '{}': port '{}' is not 1..65535", text, port_text));
    }
    url.port = static_cast<uint16_t>(value);
  }
  url.target = target.empty() ? "/" : std::string(target);
  if (url.target.front() == '?') url.target.insert(url.target.begin(), '/');
  return url;
}

std::string percent_decode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::vector<QueryParam> parse_query(std::string_view query) {
  std::vector<QueryParam> params;
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
      params.emplace_back(percent_decode(pair, true), std::string());
    } else {
      params.emplace_back(percent_decode(pair.substr(0, eq), true),
                          percent_decode(pair.substr(eq + 1), true));
    }
  }
  return params;
}

std::string build_query(const std::vector<QueryParam>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += percent_encode(k);
    out.push_back('=');
    out += percent_encode(v);
  }
  return out;
}

void split_target(std::string_view target, std::string& path, std::vector<QueryParam>& query) {
  const auto q = target.find('?');
  path = percent_decode(target.substr(0, q));
  query =
      q == std::string_view::npos ? std::vector<QueryParam>() : parse_query(target.substr(q + 1));
}

Status WsOptions::validate() const {
  if (ping_interval.count() < 0) return invalid_argument("websocket ping_interval is negative");
  if (ping_interval.count() > 0 && max_missed_pongs < 1) {
    return invalid_argument("websocket max_missed_pongs must be at least 1 when pinging");
  }
  if (idle_timeout.count() < 0) return invalid_argument("websocket idle_timeout is negative");
  if (handshake_timeout.count() <= 0) {
    return invalid_argument("websocket handshake_timeout must be positive");
  }
  if (max_message_bytes == 0) return invalid_argument("websocket max_message_bytes is 0");
  if (max_queued_bytes == 0) return invalid_argument("websocket max_queued_bytes is 0");
  return Status::ok();
}

std::string WsOptions::to_string() const {
  return fmt::format(
      "ping every {} ms (close after {} missed pongs), idle timeout {} ms, handshake timeout {} "
      "ms, max message {} B, max queued {} B",
      ping_interval.count(), max_missed_pongs, idle_timeout.count(), handshake_timeout.count(),
      max_message_bytes, max_queued_bytes);
}

Status ServerOptions::validate() const {
  if (host.empty()) return invalid_argument("server host is empty (use 0.0.0.0 or 127.0.0.1)");
  if (max_body_bytes == 0) return invalid_argument("server max_body_bytes is 0");
  if (max_header_bytes < 1024) return invalid_argument("server max_header_bytes is below 1024");
  if (request_timeout.count() <= 0) return invalid_argument("server request_timeout must be > 0");
  if (keep_alive_timeout.count() <= 0) {
    return invalid_argument("server keep_alive_timeout must be > 0");
  }
  return websocket.validate();
}

std::string ServerOptions::to_string() const {
  return fmt::format("{}:{}, max body {} B, request timeout {} ms, keep-alive {} ms; websocket: {}",
                     host, port, max_body_bytes, request_timeout.count(),
                     keep_alive_timeout.count(), websocket.to_string());
}

}  // namespace parley::net
