// weather_tool: the "what's the weather" tool over an Open-Meteo-compatible HTTP API (geocoding
// of a place name, then the current conditions). Registers get_weather with the LLM at start.
#include <spdlog/logger.h>

#include "parley/addon.h"
#include "parley/net/client.h"
#include "parley/runtime.h"

namespace {

using namespace parley;

constexpr const char* kManifest = R"json({
  "name": "weather_tool",
  "description": "Tool get_weather: current temperature, wind and conditions for a place, from an Open-Meteo-compatible API.",
  "properties": {
    "base_url": {"type": "string", "default": "${env:OPEN_METEO_BASE_URL|https://api.open-meteo.com}", "description": "Forecast API (…/v1/forecast)"},
    "geocoding_url": {"type": "string", "default": "${env:OPEN_METEO_GEOCODING_URL|https://geocoding-api.open-meteo.com}", "description": "Geocoding API (…/v1/search)"},
    "timeout_ms": {"type": "int", "default": 5000}
  },
  "in": {"cmd": ["tool_call"]},
  "out": {"cmd": ["tool_register"]}
})json";

// WMO weather interpretation codes, as Open-Meteo reports them.
std::string describe_code(int code) {
  if (code == 0) return "clear sky";
  if (code <= 3) return "partly cloudy";
  if (code <= 48) return "fog";
  if (code <= 57) return "drizzle";
  if (code <= 67) return "rain";
  if (code <= 77) return "snow";
  if (code <= 82) return "rain showers";
  if (code <= 86) return "snow showers";
  return "thunderstorms";
}

class WeatherTool final : public Extension {
 public:
  // A wrong URL is a configuration mistake: say so at start, not at the user's first question.
  Status on_configure(Context& ctx) override {
    for (const char* key : {"base_url", "geocoding_url"}) {
      const std::string url = ctx.prop_string(key);
      if (auto u = net::parse_url(url); !u.is_ok() || (u->scheme != "http" && u->scheme != "https"))
        return invalid_argument(std::string(key) + " must be an http:// or https:// URL, got '" +
                                url + "'");
    }
    return Status::ok();
  }

  void on_start(Context& ctx) override {
    nlohmann::json tool = {
        {"name", "get_weather"},
        {"description",
         "Current weather (temperature in °C, wind, conditions) for a city or place."},
        {"parameters",
         {{"type", "object"},
          {"properties",
           {{"location", {{"type", "string"}, {"description", "City or place name, e.g. Paris"}}}}},
          {"required", {"location"}}}}};
    ctx.send_cmd(std::make_unique<Cmd>("tool_register", nlohmann::json{{"tool", tool}}),
                 [&ctx](std::unique_ptr<CmdResult> r) {
                   if (!r->ok()) ctx.log().warn("tool_register failed: {}", r->status().message());
                 });
  }

  void on_cmd(Context& ctx, std::unique_ptr<Cmd> cmd) override {
    if (cmd->name() != "tool_call") {
      Extension::on_cmd(ctx, std::move(cmd));
      return;
    }
    const auto args =
        nlohmann::json::parse(cmd->get<std::string>("arguments", "{}"), nullptr, false);
    if (!args.is_object() || !args.contains("location") || !args["location"].is_string()) {
      ctx.return_result(std::move(cmd),
                        invalid_argument("get_weather needs {\"location\": \"<place>\"}"));
      return;
    }
    const std::string place = args["location"];
    auto shared_cmd = std::make_shared<std::unique_ptr<Cmd>>(std::move(cmd));
    fetch(ctx,
          ctx.prop_string("geocoding_url") + "/v1/search?" +
              net::build_query({{"count", "1"}, {"name", place}}),
          [this, &ctx, shared_cmd, place](Result<nlohmann::json> geo) {
            if (!geo.is_ok()) return fail(ctx, shared_cmd, geo.status());
            const auto& results = geo->value("results", nlohmann::json::array());
            if (!results.is_array() || results.empty())
              return fail(ctx, shared_cmd, not_found("no place called '" + place + "' was found"));
            const auto& r0 = results[0];
            const double lat = r0.value("latitude", 0.0), lon = r0.value("longitude", 0.0);
            const std::string name = r0.value("name", place);
            fetch(ctx,
                  ctx.prop_string("base_url") + "/v1/forecast?latitude=" + std::to_string(lat) +
                      "&longitude=" + std::to_string(lon) +
                      "&current=temperature_2m,wind_speed_10m,weather_code",
                  [&ctx, shared_cmd, name](Result<nlohmann::json> fc) {
                    if (!fc.is_ok()) return fail(ctx, shared_cmd, fc.status());
                    const auto cur = fc->value("current", nlohmann::json::object());
                    const double t = cur.value("temperature_2m", 0.0),
                                 w = cur.value("wind_speed_10m", 0.0);
                    const std::string sky = describe_code(cur.value("weather_code", 0));
                    char spoken[256];
                    std::snprintf(
                        spoken, sizeof spoken,
                        "In %s it is %.0f degrees with %s and wind at %.0f kilometres per hour.",
                        name.c_str(), t, sky.c_str(), w);
                    nlohmann::json content = {{"location", name},
                                              {"temperature_c", t},
                                              {"wind_kmh", w},
                                              {"conditions", sky}};
                    ctx.return_ok(std::move(*shared_cmd),
                                  {{"content", content.dump()}, {"spoken", spoken}});
                  });
          });
  }

 private:
  static void fail(Context& ctx, const std::shared_ptr<std::unique_ptr<Cmd>>& cmd,
                   const Status& s) {
    ctx.return_result(std::move(*cmd), s.with_context("get_weather"));
  }

  // GETs `url` and hands the parsed JSON (or the error) back on this node's executor.
  void fetch(Context& ctx, const std::string& url,
             std::function<void(Result<nlohmann::json>)> done) {
    net::HttpClientRequest req;
    req.url = url;
    req.connect_timeout = req.read_timeout = std::chrono::milliseconds(ctx.prop_int("timeout_ms"));
    auto body = std::make_shared<std::string>();
    auto status = std::make_shared<int>(0);
    net::HttpStreamHandlers h;
    h.on_headers = [status](int code, const net::HttpHeaders&) { *status = code; };
    h.on_body = [body](std::string_view chunk) {
      if (body->size() < (1u << 20)) body->append(chunk);
    };
    h.on_done = [poster = ctx.poster(), body, status, done, url](const Status& st) {
      poster([body, status, done, st, url] {
        if (!st.is_ok()) return done(st.with_context(url));
        if (*status != 200)
          return done(unavailable(url + " answered HTTP " + std::to_string(*status)));
        auto j = nlohmann::json::parse(*body, nullptr, false);
        if (j.is_discarded() || !j.is_object())
          return done(data_loss(url + " did not return a JSON object"));
        done(std::move(j));
      });
    };
    net::http_stream(ctx.runtime().io(), std::move(req), std::move(h));
  }
};

}  // namespace

parley::Status parley_register_addon_weather_tool(parley::AddonRegistry& registry) {
  return registry.add<WeatherTool>(kManifest);
}
