// log_sink: writes every message it receives as one JSON line (to a file or stdout), so a graph's
// output can be read by people, scripts and tests. Audio frames are counted rather than printed
// unless `audio_frames` is set; a summary line is written at stop.
#include <chrono>
#include <cstdio>
#include <map>

#include "parley/addon.h"

namespace {

constexpr const char* kManifest = R"json({
  "name": "log_sink",
  "description": "Writes each received message as a JSON line (kind, name, properties, payload size) to a file or stdout, and a summary line at stop.",
  "properties": {
    "path": {"type": "string", "default": "", "description": "File to append to; empty for standard output"},
    "audio_frames": {"type": "bool", "default": false, "description": "Also write one line per audio frame (noisy)"},
    "video_frames": {"type": "bool", "default": false, "description": "Also write one line per video frame"},
    "summary": {"type": "bool", "default": true, "description": "Write a summary line with counts at stop"}
  },
  "in": {"cmd": ["*"], "data": ["*"], "audio_frame": ["*"], "video_frame": ["*"]},
  "out": {}
})json";

class LogSink final : public parley::Extension {
 public:
  ~LogSink() override { close(); }

  parley::Status on_configure(parley::Context& ctx) override {
    const std::string path = ctx.prop_string("path");
    if (path.empty()) {
      out_ = stdout;
    } else {
      out_ = std::fopen(path.c_str(), "a");
      if (!out_) return parley::invalid_argument("cannot open '" + path + "' for writing");
      owned_ = true;
    }
    audio_ = ctx.prop_bool("audio_frames");
    video_ = ctx.prop_bool("video_frames");
    summary_ = ctx.prop_bool("summary");
    return parley::Status::ok();
  }

  void on_cmd(parley::Context& ctx, std::unique_ptr<parley::Cmd> cmd) override {
    write(*cmd);
    ctx.return_ok(std::move(cmd));
  }
  void on_data(parley::Context&, std::unique_ptr<parley::Data> m) override { write(*m); }
  void on_audio_frame(parley::Context&, std::unique_ptr<parley::AudioFrame> m) override {
    audio_ms_ += m->duration_ms();
    if (audio_ || m->is_eof) {
      write(*m);
    } else {
      ++counts_[key(*m)];
    }
  }
  void on_video_frame(parley::Context&, std::unique_ptr<parley::VideoFrame> m) override {
    if (video_) {
      write(*m);
    } else {
      ++counts_[key(*m)];
    }
  }

  void on_stop(parley::Context&, parley::Done done) override {
    if (summary_ && out_) {
      nlohmann::json j = {{"summary", counts_}, {"audio_ms", static_cast<int64_t>(audio_ms_)}};
      std::fprintf(out_, "%s\n", j.dump().c_str());
      std::fflush(out_);
    }
    done(parley::Status::ok());
  }
  void on_deinit(parley::Context&) override { close(); }

 private:
  static std::string key(const parley::Message& m) {
    return std::string(parley::message_kind_name(m.kind())) + ":" + m.name();
  }
  void write(const parley::Message& m) {
    ++counts_[key(m)];
    if (!out_) return;
    nlohmann::json j = m.to_json();
    j["ts_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    std::fprintf(out_, "%s\n",
                 j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    std::fflush(out_);
  }
  void close() {
    if (owned_ && out_) std::fclose(out_);
    out_ = nullptr;
    owned_ = false;
  }

  FILE* out_ = nullptr;
  bool owned_ = false;
  bool audio_ = false;
  bool video_ = false;
  bool summary_ = true;
  double audio_ms_ = 0;
  std::map<std::string, uint64_t> counts_;
};

}  // namespace

parley::Status parley_register_addon_log_sink(parley::AddonRegistry& registry) {
  return registry.add<LogSink>(kManifest);
}
