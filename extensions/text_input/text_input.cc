// text_input: the built-in text source. Sends each of its `lines` as one text_data message (one
// turn per line), then data `text_end`, so a text → TTS → sink graph runs to completion by itself
// (`parley say` is built on it). Named text_input so it never collides with the text_source addon
// of examples/minimal_extension when that plugin is loaded.
#include <spdlog/logger.h>

#include <string>
#include <vector>

#include "parley/addon.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "text_input",
  "description": "Sends each of its lines as text_data {text, end_of_segment: true, role, turn_id} (turn ids 1, 2, ...) when the graph starts, or one every interval_ms, then sends data text_end.",
  "properties": {
    "lines": {"type": "array", "default": [], "description": "Strings to send, one text_data message (and one turn) each"},
    "role": {"type": "string", "default": "assistant", "description": "Role written into each text_data"},
    "interval_ms": {"type": "int", "default": 0, "description": "Delay between lines in ms (0: all at once at start)"},
    "stop_graph_after": {"type": "bool", "default": false, "description": "Ask the graph to stop right after text_end is sent (leave false when a sink stops the graph at the end of its input)"}
  },
  "in": {},
  "out": {"data": ["text_data", "text_end"]}
})json";

using parley::Context;
using parley::Status;

class TextInput final : public parley::Extension {
 public:
  Status on_configure(Context& ctx) override {
    const nlohmann::json& lines = ctx.prop("lines");
    for (size_t i = 0; i < lines.size(); ++i) {
      if (!lines[i].is_string()) {
        return parley::invalid_argument("lines[" + std::to_string(i) + "] must be a string, got " +
                                        lines[i].dump());
      }
      lines_.push_back(lines[i].get<std::string>());
    }
    if (ctx.prop_int("interval_ms") < 0)
      return parley::invalid_argument("interval_ms must be >= 0, got " +
                                      std::to_string(ctx.prop_int("interval_ms")));
    return Status::ok();
  }

  void on_start(Context& ctx) override {
    const auto interval = std::chrono::milliseconds(ctx.prop_int("interval_ms"));
    if (interval.count() == 0) {
      while (next_ < lines_.size()) send_line(ctx);
      finish(ctx);
      return;
    }
    send_next(ctx, interval);
  }

  void on_stop(Context& ctx, parley::Done done) override {
    ctx.cancel_timer(timer_);
    done(Status::ok());
  }

 private:
  // Sends one line now and schedules the rest `interval` apart.
  void send_next(Context& ctx, std::chrono::milliseconds interval) {
    if (next_ >= lines_.size()) {
      finish(ctx);
      return;
    }
    send_line(ctx);
    timer_ = ctx.set_timer(interval, [this, &ctx, interval] { send_next(ctx, interval); });
  }

  void send_line(Context& ctx) {
    const auto turn_id = static_cast<int64_t>(next_ + 1);
    ctx.send(std::make_unique<parley::Data>("text_data",
                                            nlohmann::json{{"text", lines_[next_]},
                                                           {"end_of_segment", true},
                                                           {"role", ctx.prop_string("role")},
                                                           {"turn_id", turn_id}}));
    ++next_;
  }

  void finish(Context& ctx) {
    ctx.send(std::make_unique<parley::Data>("text_end", nlohmann::json{{"lines", lines_.size()}}));
    ctx.log().debug("sent {} lines and text_end", lines_.size());
    if (ctx.prop_bool("stop_graph_after"))
      ctx.stop_graph("text_input sent all " + std::to_string(lines_.size()) + " lines");
  }

  std::vector<std::string> lines_;
  size_t next_ = 0;
  parley::TimerId timer_ = 0;
};

}  // namespace

parley::Status parley_register_addon_text_input(parley::AddonRegistry& registry) {
  return registry.add<TextInput>(kManifest);
}
