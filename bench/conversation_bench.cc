// conversation_bench: Parley's own latency in a spoken conversation, with the local engines
// (webrtc_vad, pocketsphinx_asr, turn_detector, offline_llm, espeak_tts), printed as markdown for
// docs/benchmarks.md (DESIGN.md §5).
//
//   (a) Added latency per turn. The voice_assistant graph (graphs/voice_assistant.json, without
//       its wav_source) gets LibriVox questions injected as fast as it takes them, one turn at a
//       time. For each turn, the window user_speech_end → first_audio_out (turn_mark timeline) is
//       split into engine compute — PocketSphinx decoding (the addon's asr_decode_ms: time inside
//       the decoder per batch), the responder (llm_request → llm_first_token) and eSpeak NG up to
//       the first chunk (tts_first_audio_ms) — and the rest, which is Parley: message hops,
//       executor and compute-pool scheduling, framing, resampling. Added latency = window − the
//       union of the engine intervals inside it.
//   (b) Barge-in latency, at real time. The same graph with the sink playing out at real time
//       (wav_sink realtime, reporting playout). A question is fed at real time as 20 ms
//       microphone frames; once the agent's answer is playing, a second recording starts over
//       it. Ground-truth onset = the start of its first 50 ms above -35 dBFS (its lead-in before
//       that is silenced), on the feeding clock; the end = last_audio_out (the interrupted audio
//       stops at the loudspeaker).
//       Components: onset → VAD speech_start (min_speech_ms and frame capture), → turn_detector's
//       flush, → flush handled by the sink (through llm and tts), → the device's last audio.
//
//   (a) runs twice: questions fed as fast as the graph takes them (many turns quickly; every
//       decode batch is then in the window, so this overstates the hops a live turn pays) and at
//       real time (as a microphone delivers them; the decoder keeps up and only the last batches
//       are in the window).
//
// Usage: conversation_bench [--turns N] [--paced-turns N] [--barge-ins N] [--min-speech MS,...]
//        [--onset MS,...] (defaults: 100 fast turns, 20 real-time turns, 15 barge-ins for each
//        webrtc_vad min_speech_ms (200) × onset_ms (80: the graphs' speech_onset cue; 0: none))
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parley/addon.h"
#include "parley/engine.h"
#include "parley/graph.h"
#include "parley/media/pcm.h"
#include "parley/media/wav.h"
#include "parley/turn_metrics.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using parley::AudioFrame;
using parley::Data;
using parley::Message;

constexpr const char* kLibriVox = "/usr/share/pocketsphinx/test/data/librivox/";
const char* kClips[] = {"0880", "0930", "0890", "0920", "0870"};

// ---- What the graph tells the bench --------------------------------------------------------

// One message seen by the tap (or one metric sample), with the time it arrived.
struct Event {
  std::string name;  // message name, or "metric:<name>"
  nlohmann::json props;
  double t_ms = 0;  // parley::monotonic_ms() at arrival
  double value = 0;
};

// Everything the tap and the metrics hook saw, shared with the bench thread.
struct Log {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Event> events;

  void add(Event e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
    cv.notify_all();
  }
  // Waits until `pred` holds for some event (checked on every new event); false on timeout.
  bool wait(const std::function<bool(const Event&)>& pred, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout,
                       [&] { return std::any_of(events.begin(), events.end(), pred); });
  }
  std::vector<Event> copy() {
    std::lock_guard lock(mu);
    return events;
  }
  void clear() {
    std::lock_guard lock(mu);
    events.clear();
  }
};

Log& bench_log() {
  static Log log;
  return log;
}

// "tap": records every data message and command it receives (answering commands ok).
class Tap final : public parley::Extension {
 public:
  void on_data(parley::Context&, std::unique_ptr<Data> d) override {
    bench_log().add({d->name(), d->properties(), parley::monotonic_ms(), 0});
  }
  void on_cmd(parley::Context& ctx, std::unique_ptr<parley::Cmd> cmd) override {
    bench_log().add({cmd->name(), cmd->properties(), parley::monotonic_ms(), 0});
    ctx.return_ok(std::move(cmd));
  }
};

constexpr const char* kTapManifest = R"json({
  "name": "bench_tap", "description": "Records what it receives for conversation_bench.",
  "properties": {}, "in": {"data": ["*"], "cmd": ["*"]}, "out": {}
})json";

// ---- Graph --------------------------------------------------------------------------------

void add_dest(nlohmann::json& connections, const std::string& from, const std::string& kind,
              const std::string& name, const std::string& to) {
  for (auto& c : connections) {
    if (c["extension"] != from) continue;
    for (auto& route : c[kind])
      if (route["name"] == name) {
        route["dest"].push_back({{"extension", to}});
        return;
      }
    c[kind].push_back({{"name", name}, {"dest", {{{"extension", to}}}}});
    return;
  }
  connections.push_back(
      {{"extension", from}, {kind, {{{"name", name}, {"dest", {{{"extension", to}}}}}}}});
}

// graphs/voice_assistant.json without its wav_source (audio is injected into "vad"), with a tap
// on every turn_mark and on the TTS's turn framing; `realtime` makes the sink a loudspeaker
// that reports playout to the turn detector and the LLM stage.
std::unique_ptr<parley::Engine> make_engine(const std::shared_ptr<parley::Runtime>& runtime,
                                            const parley::AddonRegistry& registry, bool realtime,
                                            int min_speech_ms, int onset_cue_ms,
                                            const std::string& out_wav) {
  std::vector<parley::GraphProblem> problems;
  auto doc = nlohmann::json::parse(
      std::ifstream(std::string(PARLEY_SOURCE_DIR) + "/graphs/voice_assistant.json"));
  auto& nodes = doc["nodes"];
  nlohmann::json kept_nodes = nlohmann::json::array();
  for (const auto& n : nodes)
    if (n["name"] != "source" && n["name"] != "log") kept_nodes.push_back(n);
  nodes = std::move(kept_nodes);
  nodes.push_back({{"type", "extension"}, {"name", "tap"}, {"addon", "bench_tap"}});
  auto& connections = doc["connections"];
  nlohmann::json kept_connections = nlohmann::json::array();
  for (const auto& c : connections)
    if (c["extension"] != "source") kept_connections.push_back(c);
  connections = std::move(kept_connections);
  for (auto& c : connections)  // the log node is gone: its routes go to the tap instead
    for (const char* kind : {"data", "cmd", "audio_frame"})
      if (c.contains(kind))
        for (auto& route : c[kind])
          for (auto& d : route["dest"])
            if (d["extension"] == "log") d["extension"] = "tap";
  for (auto& n : nodes) {
    if (n["name"] == "sink")
      n["property"] = {{"path", out_wav}, {"realtime", realtime}, {"stop_graph_on_eof", false}};
    if (n["name"] == "vad") {
      n["property"]["min_speech_ms"] = min_speech_ms;
      n["property"]["onset_ms"] = onset_cue_ms;
    }
    // A long answer, so that there is something to interrupt.
    if (n["name"] == "llm")
      n["property"]["suffix"] =
          "That is what I heard, and I will keep talking for a while about it, because this "
          "benchmark needs an answer long enough to be interrupted. The weather is fine, the "
          "river is calm, and the day is long. There is plenty more to say after this.";
  }
  for (const char* from : {"turn", "llm", "tts", "sink"})
    add_dest(connections, from, "data", "turn_mark", "tap");
  add_dest(connections, "tts", "data", "tts_audio_end", "tap");
  if (realtime) {
    add_dest(connections, "tts", "cmd", "flush", "sink");
    add_dest(connections, "tts", "data", "tts_audio_end", "sink");
    add_dest(connections, "sink", "data", "playout", "turn");
    add_dest(connections, "sink", "data", "playout", "llm");
    add_dest(connections, "sink", "data", "playout", "tap");
    add_dest(connections, "sink", "cmd", "flush", "tap");
  }
  auto graphs = parley::parse_graph_document(doc, "voice_assistant.json", problems);
  auto more = parley::validate_graph(graphs.at(0), registry);
  problems.insert(problems.end(), more.begin(), more.end());
  if (!problems.empty()) {
    std::fprintf(stderr, "graph: %s\n", parley::problems_to_status(problems).message().c_str());
    std::exit(1);
  }
  parley::EngineOptions options;
  options.metrics = [](std::string_view name, double value, const nlohmann::json& labels) {
    if (name == "asr_decode_ms" || name == "tts_first_audio_ms")
      bench_log().add({"metric:" + std::string(name), labels, parley::monotonic_ms(), value});
  };
  auto engine = parley::Engine::create(graphs.at(0), runtime, options, registry);
  if (!engine.is_ok() || !(*engine)->start_sync().is_ok()) {
    std::fprintf(stderr, "cannot start the graph: %s\n", engine.status().message().c_str());
    std::exit(1);
  }
  return std::move(engine).value();
}

// ---- Audio --------------------------------------------------------------------------------

std::vector<int16_t> clip(const char* id) {
  auto audio = parley::media::read_wav(std::string(kLibriVox) +
                                       "sense_and_sensibility_01_austen_64kb-" + id + ".wav");
  if (!audio.is_ok() || audio->sample_rate != 16000 || audio->channels != 1) {
    std::fprintf(stderr, "cannot read LibriVox clip %s (package pocketsphinx-en-us tests)\n", id);
    std::exit(1);
  }
  return std::move(audio->samples);
}

// Ground-truth speech onset of `pcm` (16 kHz): the start of the first 50 ms in which every 10 ms
// block is above -35 dBFS. The LibriVox recordings have a noise floor around -45 dBFS (breath,
// room, MP3 artefacts) that a lower threshold would mistake for speech.
int64_t onset_ms(const std::vector<int16_t>& pcm) {
  int run = 0;
  for (size_t pos = 0; pos + 160 <= pcm.size(); pos += 160) {
    run =
        parley::media::dbfs(std::span<const int16_t>(pcm.data() + pos, 160)) > -35.0 ? run + 1 : 0;
    if (run == 5) return static_cast<int64_t>(pos / 16) - 40;
  }
  return 0;
}

// A microphone: 20 ms frames with a continuous stream clock, injected into the graph's "vad".
// Paced: frame k (covering [20k, 20k+20) ms of the stream) is delivered at origin + 20(k+1) ms,
// when a real microphone would have it complete. Unpaced: as fast as possible.
class Microphone {
 public:
  Microphone(parley::Engine& engine, bool paced) : engine_(engine), paced_(paced) {}

  // Wall time (monotonic ms) at which stream time `stream_ms` is spoken.
  double wall_ms(int64_t stream_ms) const { return origin_ms_ + static_cast<double>(stream_ms); }
  int64_t position_ms() const { return stream_ms_; }

  void speak(const std::vector<int16_t>& pcm) {
    for (size_t pos = 0; pos < pcm.size(); pos += 320) {
      std::vector<int16_t> frame(320, 0);
      std::copy_n(pcm.begin() + static_cast<std::ptrdiff_t>(pos),
                  std::min<size_t>(320, pcm.size() - pos), frame.begin());
      send(frame);
    }
  }
  void silence(int64_t ms) {
    const std::vector<int16_t> zeros(320, 0);
    for (int64_t t = 0; t < ms; t += 20) send(zeros);
  }
  // Silence until `pred` holds (checked every frame) or `max_ms` passed; true when it held.
  bool silence_until(const std::function<bool()>& pred, int64_t max_ms) {
    const std::vector<int16_t> zeros(320, 0);
    for (int64_t t = 0; t < max_ms; t += 20) {
      if (pred()) return true;
      send(zeros);
    }
    return pred();
  }

 private:
  void send(const std::vector<int16_t>& pcm) {
    if (origin_ms_ == 0) origin_ms_ = parley::monotonic_ms();
    if (paced_) {
      const double due = origin_ms_ + static_cast<double>(stream_ms_ + 20);
      const double wait = due - parley::monotonic_ms();
      if (wait > 0) std::this_thread::sleep_for(std::chrono::microseconds(int64_t(wait * 1000)));
    }
    auto f = std::make_unique<AudioFrame>("pcm_frame");
    f->sample_rate = 16000;
    f->channels = 1;
    f->timestamp_ms = stream_ms_;
    f->set_buffer(parley::Buffer::copy_of_samples(pcm));
    (void)engine_.inject("vad", std::move(f));
    stream_ms_ += 20;
  }

  parley::Engine& engine_;
  bool paced_;
  double origin_ms_ = 0;
  int64_t stream_ms_ = 0;
};

// ---- Statistics -----------------------------------------------------------------------------

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
  return v[i];
}
double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// Length of the union of `intervals` clipped to [a, b].
double covered_ms(std::vector<std::pair<double, double>> intervals, double a, double b) {
  for (auto& [s, e] : intervals) {
    s = std::max(s, a);
    e = std::min(e, b);
  }
  std::erase_if(intervals, [](const auto& i) { return i.second <= i.first; });
  std::sort(intervals.begin(), intervals.end());
  double total = 0;
  double end = a;
  for (const auto& [s, e] : intervals) {
    const double from = std::max(s, end);
    if (e > from) total += e - from;
    end = std::max(end, e);
  }
  return total;
}

std::map<std::string, double> marks_of(const std::vector<Event>& events, int64_t turn) {
  std::map<std::string, double> marks;
  for (const auto& e : events)
    if (e.name == "turn_mark" && e.props.value("turn_id", int64_t{-1}) == turn)
      marks.emplace(e.props.value("stage", ""), e.props.value("t_ms", 0.0));
  return marks;
}

// A markdown table row: p50, p99, max and mean of `v`.
void print_row(const std::string& name, const std::vector<double>& v) {
  std::printf("| %s | %.2f | %.2f | %.2f | %.2f |\n", name.c_str(), percentile(v, 50),
              percentile(v, 99), v.empty() ? 0 : *std::max_element(v.begin(), v.end()), mean(v));
}

// ---- (a) added latency per turn ---------------------------------------------------------------

struct TurnFigures {
  double window = 0, engine = 0, asr = 0, llm = 0, tts = 0, batches = 0;
  std::map<std::string, double> steps;
};

// The figures of `turn` from its marks and the engines' busy intervals; none when the turn has
// no complete window.
std::optional<TurnFigures> turn_figures(const std::vector<Event>& events, int64_t turn,
                                        const std::vector<std::pair<double, double>>& asr,
                                        const std::vector<std::pair<double, double>>& tts) {
  auto m = marks_of(events, turn);
  if (!m.contains(parley::stage::kUserSpeechEnd) || !m.contains(parley::stage::kFirstAudioOut))
    return std::nullopt;
  std::vector<std::pair<double, double>> llm;
  if (m.contains(parley::stage::kLlmRequest) && m.contains(parley::stage::kLlmFirstToken))
    llm = {{m[parley::stage::kLlmRequest], m[parley::stage::kLlmFirstToken]}};
  TurnFigures f;
  const double a = m[parley::stage::kUserSpeechEnd];
  const double b = m[parley::stage::kFirstAudioOut];
  f.window = b - a;
  auto all = asr;
  all.insert(all.end(), tts.begin(), tts.end());
  all.insert(all.end(), llm.begin(), llm.end());
  f.engine = covered_ms(all, a, b);
  f.asr = covered_ms(asr, a, b);
  for (const auto& [s0, e0] : asr) f.batches += e0 > a && s0 < b;
  f.tts = covered_ms(tts, a, b);
  f.llm = covered_ms(llm, a, b);
  const char* order[] = {parley::stage::kUserSpeechEnd, parley::stage::kAsrFinal,
                         parley::stage::kLlmRequest,    parley::stage::kLlmFirstToken,
                         parley::stage::kTtsFirstAudio, parley::stage::kFirstAudioOut};
  for (size_t k = 1; k < std::size(order); ++k)
    if (m.contains(order[k]) && m.contains(order[k - 1]))
      f.steps[std::string(order[k - 1]) + " → " + order[k]] = m[order[k]] - m[order[k - 1]];
  return f;
}

// The (a) table of one run.
void print_added_latency(const std::vector<TurnFigures>& figures, int skipped, bool paced) {
  std::vector<double> added, window, engine_ms, asr, tts, llm, batches;
  std::map<std::string, std::vector<double>> steps;
  for (const auto& f : figures) {
    added.push_back(f.window - f.engine);
    window.push_back(f.window);
    engine_ms.push_back(f.engine);
    asr.push_back(f.asr);
    tts.push_back(f.tts);
    llm.push_back(f.llm);
    batches.push_back(f.batches);
    for (const auto& [k, v] : f.steps) steps[k].push_back(v);
  }
  std::printf(
      "\n### (a) Added latency per turn, questions fed %s (%zu turns, %d without an "
      "answer)\n\n",
      paced ? "at real time" : "as fast as possible", figures.size(), skipped);
  std::printf("| per turn, ms | p50 | p99 | max | mean |\n|---|---|---|---|---|\n");
  print_row("**Parley added latency** (window − engine compute)", added);
  print_row("window: user_speech_end → first_audio_out", window);
  print_row("engine compute in the window (union)", engine_ms);
  print_row("  PocketSphinx decoding (asr_decode_ms)", asr);
  print_row("  offline_llm (llm_request → llm_first_token)", llm);
  print_row("  eSpeak NG to first chunk (tts_first_audio_ms)", tts);
  print_row("decode batches in the window (count)", batches);
  for (const auto& [k, v] : steps) print_row("step " + k, v);
  std::printf("\nTarget ≤ 20 ms (DESIGN.md §5): p50 %.2f ms, p99 %.2f ms → %s\n",
              percentile(added, 50), percentile(added, 99),
              percentile(added, 99) <= 20 ? "met" : "NOT met");
}

// (a): `turns` questions, one at a time, fed at real time when `paced`.
void added_latency(const std::shared_ptr<parley::Runtime>& runtime,
                   const parley::AddonRegistry& registry, int turns, bool paced,
                   const std::string& tmp) {
  bench_log().clear();
  auto engine = make_engine(runtime, registry, /*realtime=*/false, 200, 80, tmp + "/answers.wav");
  Microphone mic(*engine, paced);
  std::vector<std::vector<int16_t>> clips;
  for (const char* id : kClips) clips.push_back(clip(id));

  std::vector<TurnFigures> figures;
  int64_t last_turn = 0;
  int skipped = 0;
  for (int i = 0; i < turns; ++i) {
    mic.silence(300);
    mic.speak(clips[static_cast<size_t>(i) % clips.size()]);
    mic.silence(800);  // the VAD needs min_silence_ms (500) to end the utterance
    // Wait for the answer to be out and synthesised, and for the decoder to go idle.
    const bool answered = bench_log().wait(
        [last_turn](const Event& e) {
          return e.name == "tts_audio_end" && e.props.value("turn_id", int64_t{0}) > last_turn;
        },
        30s);
    size_t n = 0;
    for (;;) {  // idle: no decode batch or mark for 300 ms
      std::this_thread::sleep_for(300ms);
      const size_t now = bench_log().copy().size();
      if (now == n) break;
      n = now;
    }
    const auto events = bench_log().copy();
    int64_t newest = last_turn;
    for (const auto& e : events)
      if (e.name == "tts_audio_end")
        newest = std::max(newest, e.props.value("turn_id", int64_t{0}));
    if (!answered) {
      ++skipped;
      continue;
    }
    std::vector<std::pair<double, double>> asr, tts;
    for (const auto& e : events) {
      if (e.name == "metric:asr_decode_ms") asr.emplace_back(e.t_ms - e.value, e.t_ms);
      if (e.name == "metric:tts_first_audio_ms") tts.emplace_back(e.t_ms - e.value, e.t_ms);
    }
    for (int64_t turn = last_turn + 1; turn <= newest; ++turn)
      if (auto f = turn_figures(events, turn, asr, tts)) figures.push_back(*f);
    last_turn = newest;
  }
  engine->stop_sync();
  print_added_latency(figures, skipped, paced);
}

// ---- (b) barge-in ---------------------------------------------------------------------------

struct BargeIn {
  double total = 0, to_decision = 0, to_sink = 0, to_silence = 0;
};

// The (b) table of one min_speech_ms setting.
void print_barge_in(const std::vector<BargeIn>& results, int missed, int min_speech_ms,
                    int onset_cue_ms, int64_t onset_0880, int64_t onset_0930) {
  std::vector<double> total, decision, sink, silence;
  for (const auto& b : results) {
    total.push_back(b.total);
    decision.push_back(b.to_decision);
    sink.push_back(b.to_sink);
    silence.push_back(b.to_silence);
  }
  std::printf(
      "\n### (b) Barge-in, webrtc_vad min_speech_ms = %d, onset_ms = %d (%zu barge-ins, %d "
      "missed)\n\n",
      min_speech_ms, onset_cue_ms, results.size(), missed);
  std::printf("Ground-truth onsets: %lld ms into clip 0880, %lld ms into clip 0930.\n\n",
              static_cast<long long>(onset_0880), static_cast<long long>(onset_0930));
  std::printf("| ms | p50 | p99 | max | mean |\n|---|---|---|---|---|\n");
  print_row("**onset → last agent audio out**", total);
  print_row("onset → barge-in decided (VAD speech_onset or speech_start)", decision);
  print_row("flush sent → handled by the sink (llm → tts → sink)", sink);
  print_row("sink flush → audio stops (device buffer)", silence);
  std::printf("\nTarget ≤ 150 ms (DESIGN.md §5): p50 %.1f ms, p99 %.1f ms → %s\n",
              percentile(total, 50), percentile(total, 99),
              !total.empty() && percentile(total, 99) <= 150 ? "met" : "NOT met");
}

// (b): `trials` barge-ins over the agent's answers with webrtc_vad's `min_speech_ms`.
void barge_in(const std::shared_ptr<parley::Runtime>& runtime,
              const parley::AddonRegistry& registry, int trials, int min_speech_ms,
              int onset_cue_ms, const std::string& tmp) {
  bench_log().clear();
  auto engine = make_engine(runtime, registry, /*realtime=*/true, min_speech_ms, onset_cue_ms,
                            tmp + "/barge_in.wav");
  Microphone mic(*engine, /*paced=*/true);
  // The recordings' lead-in (breath and noise at about -45 dBFS, which the VAD may already call
  // speech) is replaced by digital silence, so that nothing before the ground-truth onset can
  // trigger the barge-in and the onset is exact.
  std::vector<std::vector<int16_t>> clips = {clip("0880"), clip("0930")};
  for (auto& c : clips) std::fill_n(c.begin(), onset_ms(c) * 16, int16_t{0});

  std::vector<BargeIn> results;
  int missed = 0;
  int64_t answer_turn = 1;  // the oldest turn whose answer the next barge-in may interrupt
  auto playing_turn = [&answer_turn] {
    for (const auto& e : bench_log().copy())
      if (e.name == "turn_mark" && e.props.value("stage", "") == parley::stage::kFirstAudioOut &&
          e.props.value("turn_id", int64_t{0}) >= answer_turn)
        return e.props.value("turn_id", int64_t{0});
    return int64_t{0};
  };
  mic.silence(300);
  mic.speak(clips[0]);  // the first question
  for (int i = 0; i < trials; ++i) {
    // The agent answers; 1 s into its answer the user speaks again.
    if (!mic.silence_until([&] { return playing_turn() > 0; }, 20000)) {
      std::fprintf(stderr, "no answer started playing; giving up\n");
      break;
    }
    const int64_t last_turn = playing_turn();
    mic.silence(1000);
    const auto& words = clips[static_cast<size_t>(i + 1) % clips.size()];
    const double onset = mic.wall_ms(mic.position_ms() + onset_ms(words));
    mic.speak(words);
    const bool flushed = bench_log().wait(
        [last_turn](const Event& e) {
          return e.name == "turn_mark" &&
                 e.props.value("stage", "") == parley::stage::kLastAudioOut &&
                 e.props.value("turn_id", int64_t{0}) > last_turn;
        },
        3s);
    const auto events = bench_log().copy();
    int64_t turn = 0;
    double sink_flush = 0;
    for (const auto& e : events) {
      if (e.name == "turn_mark" && e.props.value("stage", "") == parley::stage::kLastAudioOut &&
          e.props.value("turn_id", int64_t{0}) > last_turn)
        turn = e.props.value("turn_id", int64_t{0});
      if (e.name == "flush" && e.props.value("turn_id", int64_t{0}) > last_turn)
        sink_flush = e.t_ms;
    }
    auto m = marks_of(events, turn);
    if (!flushed || turn == 0 || !m.contains(parley::stage::kBargeIn)) {
      ++missed;
      answer_turn = last_turn + 1;
      continue;
    }
    BargeIn b;
    b.total = m[parley::stage::kLastAudioOut] - onset;
    b.to_decision = m[parley::stage::kBargeIn] - onset;
    b.to_sink = sink_flush - m[parley::stage::kBargeIn];
    b.to_silence = m[parley::stage::kLastAudioOut] - sink_flush;
    results.push_back(b);
    answer_turn = turn;
  }
  engine->stop_sync();

  print_barge_in(results, missed, min_speech_ms, onset_cue_ms, onset_ms(clips[0]),
                 onset_ms(clips[1]));
}

}  // namespace

int main(int argc, char** argv) {
  int turns = 100;
  int paced_turns = 20;
  int barge_ins = 15;
  std::vector<int> min_speech = {200};
  std::vector<int> onset_cue = {80, 0};  // the graphs' speech_onset cue, and none
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--turns") == 0) {
      turns = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--paced-turns") == 0) {
      paced_turns = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--barge-ins") == 0) {
      barge_ins = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--min-speech") == 0) {
      min_speech.clear();
      for (const char* p = argv[i + 1]; *p;) {
        min_speech.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
      }
    } else if (std::strcmp(argv[i], "--onset") == 0) {
      onset_cue.clear();
      for (const char* p = argv[i + 1]; *p;) {
        onset_cue.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
      }
    } else {
      std::fprintf(stderr,
                   "usage: %s [--turns N] [--paced-turns N] [--barge-ins N] "
                   "[--min-speech MS,MS,...] [--onset MS,MS,...]\n",
                   argv[0]);
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  parley::AddonRegistry registry;
  parley::register_builtin_addons(registry);
  if (!registry.add<Tap>(kTapManifest).is_ok()) return 1;
  auto runtime = parley::Runtime::create({2, 2});
  const auto tmp = std::filesystem::temp_directory_path() / "parley_conversation_bench";
  std::filesystem::create_directories(tmp);

  std::printf(
      "## conversation_bench: %d + %d (real-time) turns, %d barge-ins per setting, %u hardware "
      "threads\n",
      turns, paced_turns, barge_ins, std::thread::hardware_concurrency());
  if (turns > 0) added_latency(runtime, registry, turns, /*paced=*/false, tmp.string());
  if (paced_turns > 0) added_latency(runtime, registry, paced_turns, /*paced=*/true, tmp.string());
  for (int ms : min_speech)
    for (int cue : onset_cue)
      if (barge_ins > 0) barge_in(runtime, registry, barge_ins, ms, cue, tmp.string());
  return 0;
}
