// text_source: sends each string of its `lines` property as a text_data message when the graph
// starts, then (unless stop_after_ms is 0) asks the graph to stop shortly after, so a graph built
// on it runs to completion on its own.
#include "parley/addon.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "text_source",
  "description": "Sends each of its lines as text_data {text, end_of_segment: true, turn_id} at start, then stops the graph (example out-of-tree addon).",
  "properties": {
    "lines": {"type": "array", "default": [], "description": "Strings to send, one text_data message each"},
    "role": {"type": "string", "default": "user", "description": "Role written into each message"},
    "stop_after_ms": {"type": "int", "default": 200, "description": "Stop the graph this long after the last line; 0 keeps it running"}
  },
  "in":  {},
  "out": {"data": ["text_data"]}
})json";

class TextSource final : public parley::Extension {
 public:
  parley::Status on_configure(parley::Context& ctx) override {
    const nlohmann::json& lines = ctx.prop("lines");
    for (size_t i = 0; i < lines.size(); ++i) {
      if (!lines[i].is_string())
        return parley::invalid_argument("lines[" + std::to_string(i) + "] must be a string, got " +
                                        lines[i].dump());
      lines_.push_back(lines[i].get<std::string>());
    }
    if (ctx.prop_int("stop_after_ms") < 0)
      return parley::invalid_argument("stop_after_ms must be >= 0");
    return parley::Status::ok();
  }

  void on_start(parley::Context& ctx) override {
    const std::string role = ctx.prop_string("role");
    int64_t turn_id = 0;
    for (const auto& line : lines_) {
      auto data = std::make_unique<parley::Data>(
          "text_data",
          nlohmann::json{
              {"text", line}, {"end_of_segment", true}, {"role", role}, {"turn_id", ++turn_id}});
      ctx.send(std::move(data));
    }
    const int64_t stop_after_ms = ctx.prop_int("stop_after_ms");
    if (stop_after_ms > 0) {
      // The timer gives the lines time to travel through the graph before it stops.
      ctx.set_timer(std::chrono::milliseconds(stop_after_ms), [&ctx, n = lines_.size()] {
        ctx.stop_graph("text_source sent all " + std::to_string(n) + " lines");
      });
    }
  }

 private:
  std::vector<std::string> lines_;
};

}  // namespace

// Registers the `text_source` addon (called from the plugin's entry point in plugin.cc).
parley::Status register_text_source(parley::AddonRegistry& registry) {
  return registry.add<TextSource>(kManifest);
}
