// `parley transcribe FILE.wav`: prints what is said in a WAV file, one line per utterance.
//
// Runs the graph of graphs/transcribe.json, built here so the command needs no file:
// wav_source → webrtc_vad → pocketsphinx_asr → a printer node private to this command, which
// prints each final asr_result and stops the graph on asr_done (the end of the file). Progress
// comes from the asr_audio_ms metric pocketsphinx_asr reports through the engine's metrics hook.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "commands.h"
#include "parley/addon.h"
#include "parley/engine.h"
#include "parley/media/wav.h"

namespace parley::cli {

namespace {

using Clock = std::chrono::steady_clock;

// What `parley transcribe` was asked to do.
struct TranscribeOptions {
  std::string file;
  bool realtime = false;
  bool json = false;
  bool no_vad = false;
};

// Files longer than this get a progress line even when stderr is not a terminal.
constexpr double kProgressMinAudioMs = 30'000;

// Standard output (transcripts) and the progress line on standard error, from any thread.
class Console {
 public:
  Console(std::string file, bool json, double total_ms, bool show_progress)
      : file_(std::filesystem::path(file).filename().string()),
        json_(json),
        total_ms_(total_ms),
        show_progress_(show_progress),
        tty_(::isatty(STDERR_FILENO) == 1),
        start_(Clock::now()) {}

  // Prints one final asr_result as "[start-end] text" or as a JSON line.
  void print_final(const nlohmann::json& result) {
    std::lock_guard lock(mu_);
    clear_progress();
    if (json_) {
      std::printf("%s\n",
                  result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      const double start = result.value("start_ms", int64_t{0}) / 1000.0;
      const double end = start + result.value("duration_ms", int64_t{0}) / 1000.0;
      std::printf("[%.2f-%.2f] %s\n", start, end, result.value("text", "").c_str());
    }
    std::fflush(stdout);
    ++finals_;
    if (tty_) draw_progress();  // put back the line the transcript replaced
  }

  // Records that the recognizer has processed the audio up to `audio_ms`.
  void progress(double audio_ms) {
    std::lock_guard lock(mu_);
    audio_ms_ = std::min(audio_ms, total_ms_);  // the last frame is padded past the end
    const int percent = percent_done();
    // A terminal gets every percent; a log file gets a line every 10%.
    if (percent == shown_percent_ || (!tty_ && percent / 10 == shown_percent_ / 10)) return;
    draw_progress();
  }

  // Ends the progress line, if one was drawn.
  void finish() {
    std::lock_guard lock(mu_);
    clear_progress();
    show_progress_ = false;
  }

  size_t finals() const {
    std::lock_guard lock(mu_);
    return finals_;
  }

 private:
  int percent_done() const {
    if (total_ms_ <= 0) return 100;
    return static_cast<int>(std::min(100.0, 100.0 * audio_ms_ / total_ms_));
  }
  void draw_progress() {
    if (!show_progress_ || audio_ms_ <= 0) return;
    shown_percent_ = percent_done();
    const double wall_s = std::chrono::duration<double>(Clock::now() - start_).count();
    std::fprintf(stderr, "%stranscribing %s: %3d%% (%.1f of %.1f s, %.1fx real time)%s",
                 tty_ ? "\r\033[K" : "", file_.c_str(), shown_percent_, audio_ms_ / 1000,
                 total_ms_ / 1000, wall_s > 0 ? audio_ms_ / 1000 / wall_s : 0.0, tty_ ? "" : "\n");
    std::fflush(stderr);
    drawn_ = tty_;
  }
  void clear_progress() {
    if (!drawn_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }

  const std::string file_;
  const bool json_;
  const double total_ms_;
  bool show_progress_;
  const bool tty_;
  const Clock::time_point start_;
  mutable std::mutex mu_;
  double audio_ms_ = 0;
  int shown_percent_ = -1;
  bool drawn_ = false;  // a progress line is on the terminal now
  size_t finals_ = 0;
};

constexpr const char* kPrinterManifest = R"json({
  "name": "parley_transcript_printer",
  "description": "parley transcribe's output: prints final asr_result lines, stops the graph at asr_done",
  "in": {"data": ["asr_result", "asr_done"]},
  "out": {}
})json";

// The graph's sink: prints finals and ends the run once the recognizer is done with the file.
class TranscriptPrinter final : public Extension {
 public:
  TranscriptPrinter(std::shared_ptr<Console> console, std::shared_ptr<std::atomic<bool>> done)
      : console_(std::move(console)), done_(std::move(done)) {}

  void on_data(Context& ctx, std::unique_ptr<Data> data) override {
    if (data->name() == "asr_result" && data->get<bool>("final", false)) {
      console_->print_final(data->properties());
    } else if (data->name() == "asr_done") {
      *done_ = true;
      ctx.stop_graph("end of the audio");
    }
  }

 private:
  std::shared_ptr<Console> console_;
  std::shared_ptr<std::atomic<bool>> done_;
};

// wav_source → [webrtc_vad →] pocketsphinx_asr → out (the printer).
GraphSpec build_graph(const TranscribeOptions& o) {
  GraphSpec g;
  g.name = "transcribe";
  g.file = "<parley transcribe>";
  g.nodes.push_back({"source",
                     "wav_source",
                     {{"path", o.file}, {"realtime", o.realtime}, {"stop_graph_at_end", false}},
                     "/nodes/0"});
  const std::string source_dest = o.no_vad ? "asr" : "vad";
  if (!o.no_vad) g.nodes.push_back({"vad", "webrtc_vad", nlohmann::json::object(), "/nodes/1"});
  g.nodes.push_back({"asr",
                     "pocketsphinx_asr",
                     {{"endpointing", o.no_vad ? "decoder" : "vad"},
                      // Partials are not printed: do not spend time computing them.
                      {"partial_interval_ms", 0}},
                     "/nodes/2"});
  g.nodes.push_back({"out", "parley_transcript_printer", nlohmann::json::object(), "/nodes/3"});
  using K = MessageKind;
  g.connections.push_back({"source", K::kAudioFrame, "pcm_frame", {source_dest}, "/connections/0"});
  if (!o.no_vad) {
    g.connections.push_back({"vad", K::kAudioFrame, "pcm_frame", {"asr"}, "/connections/1"});
    g.connections.push_back({"vad", K::kData, "vad_event", {"asr"}, "/connections/2"});
  }
  g.connections.push_back({"asr", K::kData, "asr_result", {"out"}, "/connections/3"});
  g.connections.push_back({"asr", K::kData, "asr_done", {"out"}, "/connections/4"});
  return g;
}

int transcribe(const TranscribeOptions& o, bool log_level_given) {
  auto info = media::read_wav_info(o.file);
  if (!info.is_ok()) {
    const std::string why = info.status().message();
    std::cerr << "parley transcribe: "
              << (why.find(o.file) == std::string::npos ? "cannot read " + o.file + ": " : "")
              << why << "\n";
    return 1;
  }
  const double total_ms = info->sample_rate > 0 ? 1000.0 * info->frames / info->sample_rate : 0;
  // The transcript is the output; routine log lines (graph start, file playing) would bury it.
  if (!log_level_given) {
    spdlog::set_level(spdlog::level::warn);
    spdlog::default_logger()->set_level(spdlog::level::warn);
  }

  auto console = std::make_shared<Console>(
      o.file, o.json, total_ms, ::isatty(STDERR_FILENO) == 1 || total_ms > kProgressMinAudioMs);
  auto done = std::make_shared<std::atomic<bool>>(false);
  AddonRegistry registry;
  for (const char* name : {"wav_source", "webrtc_vad", "pocketsphinx_asr"}) {
    const Addon* addon = AddonRegistry::global().find(name);
    if (addon == nullptr) {
      std::cerr << "parley transcribe: this build has no " << name << " addon"
                << (std::string(name) == "webrtc_vad" ? " (use --no-vad)" : "") << "\n";
      return 2;
    }
    (void)registry.add(addon->manifest, addon->factory, addon->origin);
  }
  (void)registry.add(Manifest::parse(kPrinterManifest).value(), [console, done] {
    return std::make_unique<TranscriptPrinter>(console, done);
  });

  GraphSpec graph = build_graph(o);
  if (Status s = problems_to_status(validate_graph(graph, registry)); !s.is_ok()) {
    std::cerr << "parley transcribe: " << s.message() << "\n";
    return 2;
  }
  EngineOptions options;
  options.metrics = [console](std::string_view name, double value, const nlohmann::json&) {
    if (name == "asr_audio_ms") console->progress(value);
  };
  const auto end = run_graph_to_end("transcribe", std::move(graph), std::move(options),
                                    std::chrono::milliseconds(0), {}, registry);
  console->finish();
  if (end.failure) return end.failure;
  if (!*done) {
    std::cerr << "parley transcribe: stopped before the end of " << o.file << " (" << end.why
              << ")\n";
    return end.why == "SIGINT" ? 130 : 1;
  }
  if (end.stats.callback_errors > 0) {
    std::cerr << "parley transcribe: an extension failed; see the log above\n";
    return 1;
  }
  if (console->finals() == 0) std::cerr << "parley transcribe: no speech recognised\n";
  return 0;
}

}  // namespace

void add_transcribe_command(CLI::App& app, CommonOptions& common, SetAction set_action) {
  auto* cmd = app.add_subcommand(
      "transcribe",
      "Print what is said in a WAV file, one line per utterance: [start-end] text (seconds)");
  auto o = std::make_shared<TranscribeOptions>();
  cmd->add_option("file", o->file, "WAV file (16-bit PCM, any rate and channel count)")->required();
  cmd->add_flag("--realtime", o->realtime, "Play the file at real-time pace, like a microphone");
  cmd->add_flag("--json", o->json, "Print each final asr_result as a JSON line (with word times)");
  cmd->add_flag("--no-vad", o->no_vad,
                "Split utterances with PocketSphinx's own voice detector instead of WebRTC VAD");
  CLI::App* root = &app;
  cmd->callback([o, root, set_action] {
    const bool log_level_given = root->get_option("--log-level")->count() > 0;
    set_action([o, log_level_given] { return transcribe(*o, log_level_given); });
  });
  (void)common;
}

}  // namespace parley::cli
