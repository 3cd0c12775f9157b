// uppercase: receives text_data, upper-cases its `text`, appends the `suffix` property and sends it
// on. Every other field of the message (turn_id, end_of_segment, role) travels unchanged, and flush
// is forwarded downstream by the default Extension::on_cmd.
#include <cctype>

#include "parley/addon.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "uppercase",
  "description": "Upper-cases the text of each text_data message and appends a suffix (example out-of-tree addon).",
  "properties": {
    "suffix": {"type": "string", "default": "", "description": "Text appended to every message"}
  },
  "in":  {"cmd": ["flush"], "data": ["text_data"]},
  "out": {"cmd": ["flush"], "data": ["text_data"]}
})json";

class Uppercase final : public parley::Extension {
 public:
  parley::Status on_configure(parley::Context& ctx) override {
    suffix_ = ctx.prop_string("suffix");
    return parley::Status::ok();
  }

  void on_data(parley::Context& ctx, std::unique_ptr<parley::Data> data) override {
    if (data->name() != "text_data") return;
    std::string text = data->get<std::string>("text", "");
    // ASCII upper-casing only: std::toupper on bytes would mangle multi-byte UTF-8 sequences.
    for (char& c : text) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    data->set("text", text + suffix_);
    ctx.send(std::move(data));
  }

 private:
  std::string suffix_;
};

}  // namespace

// Registers the `uppercase` addon (called from the plugin's entry point in plugin.cc).
parley::Status register_uppercase(parley::AddonRegistry& registry) {
  return registry.add<Uppercase>(kManifest);
}
