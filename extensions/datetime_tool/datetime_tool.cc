// datetime_tool: the "what time is it" tool. Registers get_current_time with the LLM at start and
// answers tool_call with the local date and time in the asked (or configured) IANA time zone.
#include <date/tz.h>
#include <spdlog/logger.h>

#include "parley/addon.h"

namespace {

using namespace parley;

constexpr const char* kManifest = R"json({
  "name": "datetime_tool",
  "description": "Tool get_current_time: the current date and time in an IANA time zone (tz database from Debian's tzdata).",
  "properties": {
    "timezone": {"type": "string", "default": "${env:TZ|UTC}", "description": "Default IANA time zone, e.g. Europe/Berlin"}
  },
  "in": {"cmd": ["tool_call"]},
  "out": {"cmd": ["tool_register"]}
})json";

class DatetimeTool final : public Extension {
 public:
  Status on_configure(Context& ctx) override {
    if (auto s = zone(ctx.prop_string("timezone")); !s.is_ok()) return s.status();
    return Status::ok();
  }

  void on_start(Context& ctx) override {
    nlohmann::json tool = {
        {"name", "get_current_time"},
        {"description",
         "Current local date and time. Use it for any question about the time, date or day."},
        {"parameters",
         {{"type", "object"},
          {"properties",
           {{"timezone",
             {{"type", "string"},
              {"description",
               "IANA time zone such as America/New_York; omit for the default"}}}}}}}};
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
    std::string tz = ctx.prop_string("timezone");
    if (args.is_object() && args.contains("timezone") && args["timezone"].is_string())
      tz = args["timezone"];
    auto z = zone(tz);
    if (!z.is_ok()) {
      ctx.return_result(std::move(cmd), z.status());
      return;
    }
    const auto now = date::make_zoned(
        *z, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
    const std::string iso = date::format("%FT%T%Ez", now);
    const std::string spoken = date::format("It is %H:%M on %A, %B %d, %Y (%Z).", now);
    ctx.return_ok(std::move(cmd),
                  {{"content", nlohmann::json{{"timezone", tz}, {"local_time", iso}}.dump()},
                   {"spoken", spoken}});
  }

 private:
  static Result<const date::time_zone*> zone(const std::string& name) {
    try {
      return date::locate_zone(name);
    } catch (const std::exception&) {
      return invalid_argument("unknown time zone '" + name +
                              "' (use an IANA name such as Europe/Berlin; Debian package tzdata)");
    }
  }
};

}  // namespace

parley::Status parley_register_addon_datetime_tool(parley::AddonRegistry& registry) {
  return registry.add<DatetimeTool>(kManifest);
}
