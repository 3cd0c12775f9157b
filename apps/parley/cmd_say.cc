// `parley say "text" -o out.wav`: speaks text into a WAV file by running graphs/say.json
// (text_input → espeak_tts → wav_sink) with the command's options as property overrides.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "commands.h"
#include "parley/addon.h"
#include "parley/engine.h"
#include "parley/media/wav.h"

namespace parley::cli {

namespace {

namespace fs = std::filesystem;

// What `parley say` was asked to do.
struct SayOptions {
  std::string text;
  std::string output = "say.wav";
  std::string voice = "en-us";
  int rate = 175;
  int pitch = 50;
  int sample_rate = 16000;
  std::string graph_file;  // empty: look for say.json in the usual places
};

// Directory of the running executable, or empty.
fs::path executable_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

// Finds a ready graph file by name: $PARLEY_GRAPHS_DIR, ./graphs, then the installed
// share/parley/graphs next to the executable. The error lists where it looked.
Result<std::string> find_graph(const std::string& name) {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("PARLEY_GRAPHS_DIR"); env && *env) dirs.emplace_back(env);
  dirs.emplace_back("graphs");
  if (fs::path exe = executable_dir(); !exe.empty())
    dirs.push_back(exe.parent_path() / "share" / "parley" / "graphs");
  std::string tried;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (fs::is_regular_file(dir / name, ec)) return (dir / name).string();
    tried += (tried.empty() ? "" : ", ") + (dir / name).string();
  }
  return not_found("cannot find " + name + " (looked at " + tried +
                   "); run from the Parley source directory, set PARLEY_GRAPHS_DIR, or pass "
                   "--graph FILE");
}

// Checks that `path` can be written before any synthesis runs, so a typo in -o fails at once.
Status check_writable(const std::string& path) {
  std::error_code ec;
  const bool existed = fs::exists(path, ec);
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (f == nullptr) {
    return invalid_argument("cannot write " + path + ": " + std::strerror(errno) +
                            " (does its directory exist?)");
  }
  std::fclose(f);
  if (!existed) fs::remove(path, ec);
  return Status::ok();
}

// Loads the say graph and applies the options as overrides.
Result<GraphSpec> build_graph(const SayOptions& o) {
  std::string file = o.graph_file;
  if (file.empty()) {
    PARLEY_ASSIGN_OR_RETURN(file, find_graph("say.json"));
  }
  std::vector<GraphProblem> problems;
  auto graphs = load_graph_file(file, problems);
  PARLEY_RETURN_IF_ERROR(problems_to_status(problems));
  if (graphs.empty()) return invalid_argument(file + " holds no graph");
  GraphSpec graph = std::move(graphs.front());
  const nlohmann::json overrides = {
      {"text", {{"lines", nlohmann::json::array({o.text})}}},
      {"tts",
       {{"voice", o.voice}, {"rate", o.rate}, {"pitch", o.pitch}, {"sample_rate", o.sample_rate}}},
      {"sink", {{"path", o.output}}}};
  PARLEY_RETURN_IF_ERROR(apply_overrides(graph, overrides).with_context(file));
  PARLEY_RETURN_IF_ERROR(problems_to_status(validate_graph(graph, AddonRegistry::global())));
  return graph;
}

int say(SayOptions o) {
  if (o.text == "-") o.text.assign(std::istreambuf_iterator<char>(std::cin), {});
  if (o.text.find_first_not_of(" \t\r\n") == std::string::npos) {
    std::cerr << "parley say: nothing to say: the text is empty (pass it as the first argument, "
                 "or - to read it from standard input)\n";
    return 2;
  }
  if (Status s = check_writable(o.output); !s.is_ok()) {
    std::cerr << "parley say: " << s.message() << "\n";
    return 2;
  }
  auto graph = build_graph(o);
  if (!graph.is_ok()) {
    std::cerr << "parley say: " << graph.status().message() << "\n";
    return 2;
  }
  // eSpeak NG synthesises far faster than real time; the limit only guards against a stuck graph.
  const auto limit = std::chrono::seconds(60) + std::chrono::milliseconds(10) * o.text.size();
  const auto end = run_graph_to_end("say", std::move(graph).value(), {}, limit);
  if (end.failure) return end.failure;
  if (end.why != "graph finished") {
    std::cerr << "parley say: stopped before the audio was complete (" << end.why << ")\n";
    return 1;
  }
  if (end.stats.callback_errors > 0) {
    std::cerr << "parley say: an extension failed; see the log above\n";
    return 1;
  }
  auto info = media::read_wav_info(o.output);
  if (!info.is_ok() || info->frames == 0) {
    std::cerr << "parley say: no audio was written to " << o.output
              << (info.is_ok() ? "" : ": " + info.status().message()) << "\n";
    return 1;
  }
  std::printf("wrote %s: %.2f s of %d Hz mono 16-bit audio\n", o.output.c_str(),
              static_cast<double>(info->frames) / info->sample_rate, info->sample_rate);
  return 0;
}

}  // namespace

void add_say_command(CLI::App& app, CommonOptions& common, SetAction set_action) {
  auto opts = std::make_shared<SayOptions>();
  auto* cmd =
      app.add_subcommand("say", "Speak text into a WAV file with eSpeak NG (graphs/say.json)");
  cmd->add_option("text", opts->text, "Text to speak; - reads it from standard input")->required();
  cmd->add_option("-o,--output", opts->output, "WAV file to write")->capture_default_str();
  cmd->add_option("--voice", opts->voice, "eSpeak NG voice or language (en-us, en-gb, de, fr, ...)")
      ->capture_default_str();
  cmd->add_option("--rate", opts->rate, "Speaking rate in words per minute")
      ->check(CLI::Range(80, 450))
      ->capture_default_str();
  cmd->add_option("--pitch", opts->pitch, "Base pitch, 50 is the voice's normal pitch")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  cmd->add_option("--sample-rate", opts->sample_rate, "Sample rate of the WAV file in Hz")
      ->check(CLI::Range(8000, 48000))
      ->capture_default_str();
  cmd->add_option("--graph", opts->graph_file, "Graph file to run instead of graphs/say.json");
  cmd->callback([opts, set_action] { set_action([opts] { return say(*opts); }); });
  (void)common;
}

}  // namespace parley::cli
