// asr_bench: PocketSphinx ASR cost on this machine, as markdown tables for docs/benchmarks.md.
//
//   1. Real-time factor per stream: decode time / audio time for each LibriVox test file, fed in
//      20 ms chunks to one decoder on one thread (what one session costs).
//   2. Real-time streams: N graphs wav_source (real-time pace, looping the test files with 1 s
//      pauses) → pocketsphinx_asr (decoder endpointing, so every frame is decoded) share one
//      Runtime whose compute pool has one thread per core. A stream keeps up when its decode lag
//      (arrival of audio at the ASR → its decode finished: the asr_decode_lag_ms metric) stays
//      bounded over the second half of the run: it does not grow (mean lag of the window's last
//      third at most --max-growth-ms above its first third's; a decoder slower than real time
//      grows its backlog without bound) and p99 stays under --max-lag-ms. Finals cost a burst
//      (PocketSphinx's second pass and lattice search run at the end of an utterance), so p99 is
//      reported too: it is the latency a final may see at that load.
//   3. Decoder checkout: try_acquire() from a warm pool vs a cold Decoder::create().
//
//   build/bench/asr_bench [--seconds S] [--streams 1,2,4,...] [--max-lag-ms MS]
//                         [--max-growth-ms MS] [--skip-streams]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "parley/addon.h"
#include "parley/engine.h"
#include "parley/media/wav.h"
#include "speech/decoder_pool.h"
#include "speech/pocketsphinx_recognizer.h"

using namespace parley;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kLibrivox = "/usr/share/pocketsphinx/test/data/librivox";

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
  return v[i];
}

struct Options {
  double seconds = 30;
  std::vector<int> streams = {1, 2, 4, 6, 8, 10, 12, 14, 16};
  double max_lag_ms = 2000;
  double max_growth_ms = 100;
  bool skip_streams = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--seconds") {
      o.seconds = std::atof(next().c_str());
    } else if (a == "--max-lag-ms") {
      o.max_lag_ms = std::atof(next().c_str());
    } else if (a == "--max-growth-ms") {
      o.max_growth_ms = std::atof(next().c_str());
    } else if (a == "--skip-streams") {
      o.skip_streams = true;
    } else if (a == "--streams") {
      o.streams.clear();
      std::stringstream in(next());
      for (std::string n; std::getline(in, n, ',');) o.streams.push_back(std::atoi(n.c_str()));
    } else {
      std::fprintf(stderr,
                   "usage: asr_bench [--seconds S] [--streams 1,2,4] [--max-lag-ms MS] "
                   "[--max-growth-ms MS] "
                   "[--skip-streams]\n");
      std::exit(2);
    }
  }
  return o;
}

std::vector<std::string> librivox_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(kLibrivox)) {
    if (e.path().extension() == ".wav") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// 1. Decode time / audio time per file, one decoder, 20 ms chunks, one utterance per file.
void real_time_factor(speech::Decoder& d, const std::vector<std::string>& files) {
  std::printf("\n### Real-time factor per stream (one decoder, one thread, 20 ms chunks)\n\n");
  std::printf("| file | audio s | decode wall s | decode CPU s | RTF (CPU) |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  double total_audio = 0;
  double total_decode = 0;
  double total_cpu = 0;
  for (const auto& f : files) {
    auto audio = media::read_wav(f);
    if (!audio.is_ok()) continue;
    const auto start = Clock::now();
    const double cpu0 = thread_cpu_s();
    (void)d.start_utterance();
    for (size_t i = 0; i < audio->samples.size(); i += 320) {
      const size_t n = std::min<size_t>(320, audio->samples.size() - i);
      (void)d.accept(std::span<const int16_t>(audio->samples.data() + i, n));
    }
    (void)d.end_utterance();
    const double cpu_s = thread_cpu_s() - cpu0;
    const double decode_s = ms_since(start) / 1000;
    total_audio += audio->duration_s();
    total_decode += decode_s;
    total_cpu += cpu_s;
    std::printf("| %s | %.2f | %.3f | %.3f | %.3f |\n", std::filesystem::path(f).stem().c_str(),
                audio->duration_s(), decode_s, cpu_s, cpu_s / audio->duration_s());
  }
  std::printf("| **all** | %.2f | %.3f | %.3f | **%.3f** |\n", total_audio, total_decode, total_cpu,
              total_cpu / total_audio);
}

// 2. N concurrent real-time streams through the addon; returns true when all kept up.
struct StreamRun {
  int n = 0;
  double p50 = 0, p99 = 0, max = 0;
  double growth = 0;
  bool keeps_up = false;
  double cpu_pct = 0;
};

double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

StreamRun run_streams(int n, const std::string& wav, const Options& o,
                      const std::shared_ptr<Runtime>& runtime) {
  std::mutex mu;
  std::vector<std::pair<double, double>> lags;  // (seconds since start, lag ms)
  const auto t0 = Clock::now();
  std::vector<std::unique_ptr<Engine>> engines;
  for (int i = 0; i < n; ++i) {
    auto doc = nlohmann::json::parse(R"({"nodes": [
        {"name": "source", "addon": "wav_source", "property": {"realtime": true, "loop": true}},
        {"name": "asr", "addon": "pocketsphinx_asr",
         "property": {"endpointing": "decoder", "pool_warm": 0, "pool_max": 64}}],
      "connections": [{"extension": "source",
        "audio_frame": [{"name": "pcm_frame", "dest": [{"extension": "asr"}]}]}]})");
    doc["nodes"][0]["property"]["path"] = wav;
    // Stagger the streams so that their frames do not all arrive in the same millisecond.
    doc["nodes"][0]["property"]["start_delay_ms"] = (i * 20) / std::max(1, n);
    std::vector<GraphProblem> problems;
    auto graphs = parse_graph_document(doc, "<asr_bench>", problems);
    GraphSpec g = std::move(graphs.at(0));
    g.name = "stream" + std::to_string(i);
    if (!validate_graph(g, AddonRegistry::global()).empty()) std::abort();
    EngineOptions opts;
    opts.metrics = [&mu, &lags, t0](std::string_view name, double v, const nlohmann::json&) {
      if (name != "asr_decode_lag_ms") return;
      std::lock_guard lock(mu);
      lags.emplace_back(ms_since(t0) / 1000, v);
    };
    auto e = Engine::create(std::move(g), runtime, std::move(opts));
    if (!e.is_ok() || !(*e)->start_sync().is_ok()) {
      std::fprintf(stderr, "stream %d failed to start\n", i);
      break;
    }
    engines.push_back(std::move(e).value());
  }
  {
    std::lock_guard lock(mu);
    lags.clear();  // decoders loading (startup) is not steady state
  }
  const double cpu0 = process_cpu_s();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  const double cpu = process_cpu_s() - cpu0;
  const double half = ms_since(t0) / 1000 - o.seconds / 2;
  for (auto& e : engines) e->stop_sync();
  StreamRun r;
  r.n = n;
  std::vector<double> second_half;
  {
    std::lock_guard lock(mu);
    for (const auto& [t, lag] : lags) {
      if (t >= half) second_half.push_back(lag);
    }
  }
  r.p50 = percentile(second_half, 50);
  r.p99 = percentile(second_half, 99);
  r.max = second_half.empty() ? 0 : *std::max_element(second_half.begin(), second_half.end());
  // Growth of the backlog: mean lag of the window's last third against its first third.
  const size_t third = second_half.size() / 3;
  double first = 0;
  double last = 0;
  for (size_t i = 0; i < third; ++i) {
    first += second_half[i];
    last += second_half[second_half.size() - 1 - i];
  }
  r.growth = third > 0 ? (last - first) / static_cast<double>(third) : 0;
  r.keeps_up = static_cast<int>(engines.size()) == n && !second_half.empty() &&
               r.p99 <= o.max_lag_ms && r.growth <= o.max_growth_ms;
  r.cpu_pct = 100.0 * cpu / o.seconds;
  return r;
}

// 3. Checkout from a warm pool vs a cold model load.
void checkout_times() {
  std::printf("\n### Decoder checkout\n\n| how | p50 | max | runs |\n|---|---:|---:|---:|\n");
  std::vector<double> cold;
  for (int i = 0; i < 3; ++i) {
    const auto t = Clock::now();
    auto d = speech::Decoder::create(speech::PocketSphinxConfig{});
    cold.push_back(ms_since(t));
    if (!d.is_ok()) std::fprintf(stderr, "%s\n", d.status().to_string().c_str());
  }
  speech::DecoderPool pool(speech::PocketSphinxConfig{}, 1, 1);
  if (!pool.prewarm().is_ok()) return;
  std::vector<double> warm;
  std::vector<double> give_back;
  for (int i = 0; i < 200; ++i) {
    const auto t = Clock::now();
    auto lease = pool.try_acquire();
    warm.push_back(ms_since(t));
    if (!lease.is_ok()) return;
    const auto r = Clock::now();
    lease->release();  // reset and back to the pool
    give_back.push_back(ms_since(r));
  }
  std::printf("| try_acquire() from a warm pool | %.2f µs | %.2f µs | %zu |\n",
              1000 * percentile(warm, 50), 1000 * percentile(warm, 100), warm.size());
  std::printf("| lease returned (decoder reset) | %.2f µs | %.2f µs | %zu |\n",
              1000 * percentile(give_back, 50), 1000 * percentile(give_back, 100),
              give_back.size());
  std::printf("| cold Decoder::create() (model load) | %.1f ms | %.1f ms | %zu |\n",
              percentile(cold, 50), percentile(cold, 100), cold.size());
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (!speech::PocketSphinxConfig{}.validate().is_ok() || !std::filesystem::exists(kLibrivox)) {
    std::fprintf(stderr, "asr_bench needs pocketsphinx-en-us and pocketsphinx-testdata\n");
    return 1;
  }
  register_builtin_addons(AddonRegistry::global());
  spdlog::set_level(spdlog::level::warn);  // no "playing ..." line per stream
  const unsigned cores = std::thread::hardware_concurrency();
  std::printf("## ASR (PocketSphinx en-US) on %u cores\n", cores);

  const auto files = librivox_files();
  {
    auto decoder = speech::Decoder::create(speech::PocketSphinxConfig{});
    if (!decoder.is_ok()) return 1;
    real_time_factor(**decoder, files);
  }

  checkout_times();

  if (o.skip_streams) return 0;
  // All test files, each followed by 1 s of silence (a turn of a conversation), looped by each
  // stream: ~30 s of which ~25 s read speech. Without the pauses PocketSphinx's endpointing would
  // rarely close an utterance and every final would pay a lattice search over the whole loop.
  media::PcmAudio all{16000, 1, {}};
  for (const auto& f : files) {
    auto a = media::read_wav(f);
    if (a.is_ok()) all.samples.insert(all.samples.end(), a->samples.begin(), a->samples.end());
    all.samples.insert(all.samples.end(), 16000, 0);
  }
  const std::string wav = (std::filesystem::temp_directory_path() / "asr_bench_librivox.wav");
  if (!media::write_wav(wav, all).is_ok()) return 1;
  std::printf(
      "\n### Real-time streams (wav_source real time → pocketsphinx_asr, decoder endpointing; "
      "%.0f s per run; keeps up = over the second half, the mean decode lag grows by ≤ %.0f ms "
      "from its first to its last third and p99 ≤ %.0f ms)\n\n",
      o.seconds, o.max_growth_ms, o.max_lag_ms);
  std::printf(
      "| streams | lag p50 ms | lag p99 ms | lag max ms | lag growth ms | process CPU %% | keeps "
      "up |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---|\n");
  auto runtime = Runtime::create();  // one I/O and one compute thread per core
  int best = 0;
  for (int n : o.streams) {
    const StreamRun r = run_streams(n, wav, o, runtime);
    std::printf("| %d | %.1f | %.1f | %.1f | %+.1f | %.0f | %s |\n", r.n, r.p50, r.p99, r.max,
                r.growth, r.cpu_pct, r.keeps_up ? "yes" : "**no**");
    std::fflush(stdout);
    if (!r.keeps_up) break;
    best = n;
  }
  std::printf("\nLargest number of real-time streams that keep up: **%d** on %u cores\n", best,
              cores);
  std::filesystem::remove(wav);
  return 0;
}
