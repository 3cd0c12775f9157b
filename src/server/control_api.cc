// Routes of the control API (see control_api.h and docs/protocol.md).
#include "control_api.h"

#include <openssl/crypto.h>

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

namespace parley::server {

namespace {

using nlohmann::json;

// TEN's codes (server/internal/code.go) for our stable error codes.
const char* ten_code(const std::string& code) {
  if (code == "workers_limit") return "10001";
  if (code == "channel_not_found") return "10002";
  if (code == "channel_in_use") return "10003";
  if (code == "missing_channel") return "10004";
  if (code == "worker_start_failed" || code == "worker_exited" || code == "join_timeout")
    return "10101";
  if (code == "stop_failed") return "10102";
  if (code == "unauthorized") return "401";
  return "10000";  // params invalid
}

// Answers one request in the v1 shape or TEN's envelope, with CORS headers.
class Reply {
 public:
  Reply(net::HttpResponder responder, bool ten, std::string allow_origin)
      : responder_(std::move(responder)), ten_(ten), allow_origin_(std::move(allow_origin)) {}

  void ok(json data, int status = 200) const {
    if (ten_) data = json{{"code", "0"}, {"msg", "success"}, {"data", std::move(data)}};
    send(net::HttpResponse::json(status, data));
  }
  void error(const ApiError& e) const {
    if (ten_) {
      send(net::HttpResponse::json(
          e.status, json{{"code", ten_code(e.code)}, {"msg", e.message}, {"data", nullptr}}));
    } else {
      send(net::HttpResponse::json_error(e.status, e.code, e.message));
    }
  }
  void send(net::HttpResponse r) const {
    if (!allow_origin_.empty()) {
      r.headers.set("Access-Control-Allow-Origin", allow_origin_);
      r.headers.set("Vary", "Origin");
    }
    responder_.send(std::move(r));
  }

 private:
  net::HttpResponder responder_;
  bool ten_;
  std::string allow_origin_;
};

using Ctx = std::shared_ptr<ControlApiContext>;
using Handler = std::function<void(const net::HttpRequest&, const Reply&, const Ctx&)>;

std::string allowed_origin(const ControlApiOptions& o, const net::HttpRequest& req) {
  if (o.cors_origins.empty()) return {};
  if (o.cors_origins == "*") return "*";
  const std::string origin(req.header("Origin").value_or(""));
  size_t start = 0;
  while (start <= o.cors_origins.size()) {
    size_t end = o.cors_origins.find(',', start);
    if (end == std::string::npos) end = o.cors_origins.size();
    std::string item = o.cors_origins.substr(start, end - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!origin.empty() && item == origin) return origin;
    start = end + 1;
  }
  return {};
}

bool authorized(const ControlApiOptions& o, const net::HttpRequest& req) {
  if (o.api_key.empty()) return true;
  std::string given;
  if (auto auth = req.header("Authorization"); auth && auth->substr(0, 7) == "Bearer ")
    given = std::string(auth->substr(7));
  else if (auto key = req.header("X-API-Key"))
    given = std::string(*key);
  return given.size() == o.api_key.size() &&
         CRYPTO_memcmp(given.data(), o.api_key.data(), given.size()) == 0;
}

// Parses the body as a JSON object (an empty body is {}); replies 400 and returns nullopt if not.
std::optional<json> body_object(const net::HttpRequest& req, const Reply& reply) {
  if (req.body.empty()) return json::object();
  auto j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    reply.error({400, "invalid_json", "the request body must be a JSON object"});
    return std::nullopt;
  }
  return j;
}

// Reads an optional string field; replies 400 on a wrong type.
bool read_string(const json& body, const char* key, std::string& out, const Reply& reply) {
  if (!body.contains(key) || body[key].is_null()) return true;
  if (!body[key].is_string()) {
    reply.error({400, "invalid_field", std::string(key) + " must be a string"});
    return false;
  }
  out = body[key].get<std::string>();
  return true;
}

// Reads an optional unsigned 32-bit integer field (numbers or digit strings).
bool read_uid(const json& body, const char* key, uint32_t& out, const Reply& reply) {
  if (!body.contains(key) || body[key].is_null()) return true;
  const auto& v = body[key];
  if (v.is_number_unsigned() && v.get<uint64_t>() <= 0xffffffffu) {
    out = static_cast<uint32_t>(v.get<uint64_t>());
    return true;
  }
  if (v.is_string() && !v.get<std::string>().empty() && v.get<std::string>().size() <= 10 &&
      v.get<std::string>().find_first_not_of("0123456789") == std::string::npos &&
      std::stoull(v.get<std::string>()) <= 0xffffffffu) {
    out = static_cast<uint32_t>(std::stoull(v.get<std::string>()));
    return true;
  }
  reply.error({400, "invalid_field", std::string(key) + " must be an unsigned 32-bit integer"});
  return false;
}

// Reads an optional integer field that must lie in [lo, hi]; replies 400 saying so otherwise.
bool read_int(const json& body, const char* key, int lo, int hi, std::optional<int>& out,
              const Reply& reply) {
  if (!body.contains(key) || body[key].is_null()) return true;
  const auto& v = body[key];
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    reply.error({400, "invalid_field",
                 std::string(key) + " must be an integer from " + std::to_string(lo) + " to " +
                     std::to_string(hi) + ", got " + v.dump()});
    return false;
  }
  out = static_cast<int>(v.get<int64_t>());
  return true;
}

// Reads the required channel_name.
bool read_channel(const json& body, std::string& out, const Reply& reply) {
  if (!read_string(body, "channel_name", out, reply)) return false;
  if (out.empty()) {
    reply.error({400, "missing_channel", "channel_name is required"});
    return false;
  }
  return true;
}

void generate(const net::HttpRequest& req, const Reply& reply, const Ctx& ctx) {
  auto body = body_object(req, reply);
  if (!body) return;
  TokenClaims c;
  std::string role = "user";
  c.uid = 0;
  if (!read_string(*body, "channel_name", c.channel, reply) ||
      !read_uid(*body, "uid", c.uid, reply) || !read_string(*body, "role", role, reply))
    return;
  if (c.channel.empty()) c.channel = "ch_" + random_hex(8);
  if (c.uid == 0) c.uid = 1 + static_cast<uint32_t>(std::stoul(random_hex(3), nullptr, 16));
  auto parsed = rtc::parse_role(role);
  if (!parsed) return reply.error({400, "invalid_field", "role must be 'user' or 'agent'"});
  c.role = *parsed;
  int64_t ttl = ctx->options.token_ttl_s;
  if (body->contains("expires_in_s")) {
    if (!(*body)["expires_in_s"].is_number_integer() || (*body)["expires_in_s"].get<int64_t>() < 1)
      return reply.error({400, "invalid_field", "expires_in_s must be a positive integer"});
    ttl = (*body)["expires_in_s"].get<int64_t>();
  }
  c.expires_at = unix_now_s() + ttl;
  const std::string token = ctx->signer->issue(c);
  reply.ok({{"app_id", ctx->signer->app_id()},
            {"appId", ctx->signer->app_id()},
            {"channel", c.channel},
            {"channel_name", c.channel},
            {"uid", c.uid},
            {"role", rtc::role_name(c.role)},
            {"token", token},
            {"expires_at", c.expires_at}});
}

void start(const net::HttpRequest& req, const Reply& reply, const Ctx& ctx) {
  auto body = body_object(req, reply);
  if (!body) return;
  StartRequest r;
  if (!read_channel(*body, r.channel, reply) || !read_string(*body, "graph_name", r.graph, reply) ||
      !read_uid(*body, "user_uid", r.user_uid, reply))
    return;
  if (body->contains("request_id"))
    r.request_id = (*body)["request_id"].is_string() ? (*body)["request_id"].get<std::string>()
                                                     : (*body)["request_id"].dump();
  if (body->contains("properties") && !(*body)["properties"].is_null()) {
    if (!(*body)["properties"].is_object())
      return reply.error(
          {400, "invalid_field", "properties must be an object {node: {property: value}}"});
    r.properties = (*body)["properties"];
  }
  // timeout: seconds without a ping, -1 never, 0 the server's default. join_timeout_ms: 0 the
  // server's default.
  if (!read_int(*body, "timeout", -1, 86400000, r.quit_timeout_s, reply) ||
      !read_int(*body, "join_timeout_ms", 0, 86400000, r.join_timeout_ms, reply))
    return;
  if (r.quit_timeout_s == 0) r.quit_timeout_s.reset();
  if (r.join_timeout_ms == 0) r.join_timeout_ms.reset();
  ctx->sessions->start(std::move(r), [reply](std::optional<ApiError> err, SessionInfo info) {
    if (err) return reply.error(*err);
    reply.ok(info.to_json());
  });
}

void stop(const net::HttpRequest& req, const Reply& reply, const Ctx& ctx) {
  auto body = body_object(req, reply);
  if (!body) return;
  std::string channel;
  if (!read_channel(*body, channel, reply)) return;
  ctx->sessions->stop(channel, "stop requested",
                      [reply](std::optional<ApiError> err, SessionInfo info) {
                        if (err) return reply.error(*err);
                        reply.ok(info.to_json());
                      });
}

void ping(const net::HttpRequest& req, const Reply& reply, const Ctx& ctx) {
  auto body = body_object(req, reply);
  if (!body) return;
  std::string channel;
  if (!read_channel(*body, channel, reply)) return;
  SessionInfo info;
  if (auto err = ctx->sessions->ping(channel, info)) return reply.error(*err);
  reply.ok({{"channel", info.channel}, {"state", info.state}, {"session_id", info.id}});
}

void graphs(const net::HttpRequest&, const Reply& reply, const Ctx& ctx, bool ten) {
  boost::asio::post(ctx->runtime->compute(), [reply, ctx, ten] {
    json list = json::array();
    for (const auto& g : ctx->catalog->list()) {
      if (ten && !g.agent) continue;
      list.push_back(ten ? json{{"name", g.name}, {"uuid", g.name}, {"auto_start", false}}
                         : json{{"name", g.name},
                                {"description", g.description},
                                {"file", g.file},
                                {"agent", g.agent}});
    }
    reply.ok(ten ? list : json{{"graphs", list}});
  });
}

void sessions(const net::HttpRequest& req, const Reply& reply, const Ctx& ctx) {
  const bool active_only = req.query_param("active").value_or("") == "1";
  json list = json::array();
  for (const auto& s : ctx->sessions->list(!active_only)) {
    json j = s.to_json();
    j["participants"] = json::array();
    if (s.state != "stopped" && s.state != "failed") {
      for (const auto& p : ctx->hub->participants(s.channel))
        j["participants"].push_back({{"uid", p.uid},
                                     {"role", rtc::role_name(p.role)},
                                     {"transport", p.transport},
                                     {"queued_bytes", p.queued_bytes},
                                     {"dropped_frames", p.dropped_frames}});
    }
    list.push_back(std::move(j));
  }
  reply.ok({{"sessions", std::move(list)}});
}

void ten_list(const net::HttpRequest&, const Reply& reply, const Ctx& ctx) {
  json list = json::array();
  for (const auto& s : ctx->sessions->list(false))
    list.push_back({{"channelName", s.channel},
                    {"requestId", s.request_id},
                    {"createTs", s.created_at_ms / 1000}});
  reply.ok(list);
}

void transcript(const net::HttpRequest& req, const Reply& reply, const Ctx& ctx) {
  const std::string channel(
      req.path_param("channel").value_or(req.query_param("channel").value_or("")));
  if (channel.empty())
    return reply.error({400, "missing_channel",
                        "give the channel: /v1/api/sessions/NAME/transcript or "
                        "/v1/api/transcript?channel=NAME"});
  if (!ctx->store) return reply.error({503, "no_store", "the session store is disabled"});
  boost::asio::post(ctx->runtime->compute(), [reply, ctx, channel] {
    ctx->store->flush();  // include what was recorded a moment ago
    auto rows = ctx->store->transcript(channel);
    if (!rows.is_ok()) return reply.error({500, "store_error", rows.status().message()});
    json entries = json::array();
    for (const auto& r : *rows)
      entries.push_back({{"session_id", r.session_id},
                         {"role", r.role},
                         {"text", r.text},
                         {"final", r.final},
                         {"turn_id", r.turn_id},
                         {"message_id", r.message_id},
                         {"ts", r.ts_ms}});
    reply.ok({{"channel", channel}, {"entries", std::move(entries)}});
  });
}

void health(const net::HttpRequest&, const Reply& reply, const Ctx& ctx) {
  const bool draining = ctx->draining && ctx->draining();
  int live = 0;
  for (const auto& [state, n] : ctx->sessions->count_by_state())
    if (state == "starting" || state == "running" || state == "stopping") live += n;
  reply.ok({{"status", draining ? "draining" : "ok"},
            {"sessions", live},
            {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now() - ctx->started_at)
                             .count()}},
           draining ? 503 : 200);
}

void metrics(const net::HttpRequest&, const Reply& reply, const Ctx& ctx) {
  std::string out =
      "# HELP parley_sessions Sessions by state (live ones, plus the last 256 ended).\n"
      "# TYPE parley_sessions gauge\n";
  for (const auto& [state, n] : ctx->sessions->count_by_state())
    out += "parley_sessions{state=\"" + state + "\"} " + std::to_string(n) + "\n";
  ctx->metrics->render(out);
  const auto st = ctx->server->stats();
  out +=
      "# HELP parley_websocket_connections WebSocket connections open now.\n"
      "# TYPE parley_websocket_connections gauge\nparley_websocket_connections " +
      std::to_string(st.websocket_connections) + "\n";
  if (ctx->store) {
    const auto s = ctx->store->stats();
    out +=
        "# HELP parley_store_writes_total Store writes by outcome.\n"
        "# TYPE parley_store_writes_total counter\n";
    out += "parley_store_writes_total{outcome=\"written\"} " + std::to_string(s.written) + "\n";
    out += "parley_store_writes_total{outcome=\"dropped\"} " + std::to_string(s.dropped) + "\n";
    out += "parley_store_writes_total{outcome=\"failed\"} " + std::to_string(s.failed) + "\n";
  }
  reply.send(net::HttpResponse::text(200, std::move(out), "text/plain; version=0.0.4"));
}

}  // namespace

void register_control_api(net::Server& server, std::shared_ptr<ControlApiContext> context,
                          std::shared_ptr<Hub> hub) {
  auto add = [&server, context](const std::string& method, const std::string& path, bool ten,
                                bool needs_key, Handler handler) {
    server.handle(
        method, path,
        [context, ten, needs_key, handler](const net::HttpRequest& req, net::HttpResponder r) {
          Reply reply(std::move(r), ten, allowed_origin(context->options, req));
          if (needs_key && !authorized(context->options, req)) {
            context->metrics->error("unauthorized");
            return reply.error({401, "unauthorized",
                                "this server needs an API key: send Authorization: Bearer <key> or "
                                "X-API-Key: <key>"});
          }
          handler(req, reply, context);
        });
    server.handle("OPTIONS", path, [context](const net::HttpRequest& req, net::HttpResponder r) {
      Reply reply(std::move(r), false, allowed_origin(context->options, req));
      auto res = net::HttpResponse::text(204, "");
      res.headers.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      res.headers.set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-API-Key");
      res.headers.set("Access-Control-Max-Age", "600");
      reply.send(std::move(res));
    });
  };
  add("POST", "/v1/api/generate", false, true, generate);
  add("POST", "/v1/api/start", false, true, start);
  add("POST", "/v1/api/stop", false, true, stop);
  add("POST", "/v1/api/ping", false, true, ping);
  add("GET", "/v1/api/graphs", false, true,
      [](const net::HttpRequest& q, const Reply& r, const Ctx& c) { graphs(q, r, c, false); });
  add("GET", "/v1/api/sessions", false, true, sessions);
  add("GET", "/v1/api/sessions/{channel}/transcript", false, true, transcript);
  add("GET", "/v1/api/transcript", false, true, transcript);
  add("GET", "/health", false, false, health);
  add("GET", "/metrics", false, false, metrics);
  // TEN server aliases, with its {code,msg,data} envelope.
  add("POST", "/start", true, true, start);
  add("POST", "/stop", true, true, stop);
  add("POST", "/ping", true, true, ping);
  add("POST", "/token/generate", true, true, generate);
  add("GET", "/graphs", true, true,
      [](const net::HttpRequest& q, const Reply& r, const Ctx& c) { graphs(q, r, c, true); });
  add("GET", "/list", true, true, ten_list);
  server.handle_websocket("/v1/rtc", [hub](net::WsUpgrade up) { hub->accept(std::move(up)); });
}

}  // namespace parley::server
