// echo: sends every message it receives straight back out — the loopback graph's only stage and
// a handy pass-through in tests. Commands are answered ok with their properties as detail;
// flush is forwarded downstream first.
#include "parley/addon.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "echo",
  "description": "Sends every data, audio and video message it receives back out unchanged; answers commands ok (echoing their properties) and forwards flush.",
  "properties": {},
  "in":  {"cmd": ["*"], "data": ["*"], "audio_frame": ["*"], "video_frame": ["*"]},
  "out": {"cmd": ["flush"], "data": ["*"], "audio_frame": ["*"], "video_frame": ["*"]}
})json";

class Echo final : public parley::Extension {
 public:
  void on_cmd(parley::Context& ctx, std::unique_ptr<parley::Cmd> cmd) override {
    if (cmd->name() == parley::kFlushCmd) {
      ctx.forward_cmd(std::move(cmd));
      return;
    }
    nlohmann::json detail = cmd->properties();
    ctx.return_ok(std::move(cmd), std::move(detail));
  }
  void on_data(parley::Context& ctx, std::unique_ptr<parley::Data> m) override {
    ctx.send(std::move(m));
  }
  void on_audio_frame(parley::Context& ctx, std::unique_ptr<parley::AudioFrame> m) override {
    ctx.send(std::move(m));
  }
  void on_video_frame(parley::Context& ctx, std::unique_ptr<parley::VideoFrame> m) override {
    ctx.send(std::move(m));
  }
};

}  // namespace

parley::Status parley_register_addon_echo(parley::AddonRegistry& registry) {
  return registry.add<Echo>(kManifest);
}
