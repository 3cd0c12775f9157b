// turn_timeline: gathers the per-turn stage marks every stage sends (`turn_mark` {turn_id, stage,
// t_ms}) and, once a turn's first audio is out, logs its timeline and sends it to the client as
// `metrics` {turn_id, timeline}: user speech end → ASR final → LLM first token → first TTS audio →
// first audio out (voice-to-voice), plus barge-in latency (speech onset → last agent audio out).
#include <map>

#include <spdlog/logger.h>

#include "parley/addon.h"
#include "parley/turn_metrics.h"

namespace {

using namespace parley;

constexpr const char* kManifest = R"json({
  "name": "turn_timeline",
  "description": "Assembles stage marks into per-turn latency timelines (voice-to-voice and barge-in), logs them and sends them as metrics data.",
  "properties": {},
  "in": {"data": ["turn_mark"]},
  "out": {"data": ["metrics"]}
})json";

// Stages of a reply, in causal order; each duration is measured from the previous present stage.
constexpr const char* kReplyStages[] = {stage::kUserSpeechEnd, stage::kAsrFinal,
                                        stage::kLlmFirstToken, stage::kTtsFirstAudio,
                                        stage::kFirstAudioOut};

class TurnTimeline final : public Extension {
 public:
  void on_data(Context& ctx, std::unique_ptr<Data> d) override {
    const std::string stage_name = d->get<std::string>("stage", "");
    if (stage_name.empty()) return;  // a finished timeline, not a mark
    const int64_t turn = d->get<int64_t>("turn_id", 0);
    auto& marks = turns_[turn];
    if (!marks.contains(stage_name)) marks[stage_name] = d->get<double>("t_ms", monotonic_ms());
    if (stage_name == stage::kFirstAudioOut) report_reply(ctx, turn, marks);
    if (stage_name == stage::kLastAudioOut && marks.contains(stage::kBargeIn))
      report_barge_in(ctx, turn, marks);
    while (turns_.size() > 64) turns_.erase(turns_.begin());
  }

 private:
  void report_reply(Context& ctx, int64_t turn, const std::map<std::string, double>& marks) {
    nlohmann::json timeline = nlohmann::json::object();
    std::string line;
    const char* prev = nullptr;
    double start = -1;
    for (const char* s : kReplyStages) {
      auto it = marks.find(s);
      if (it == marks.end()) continue;
      if (start < 0) start = it->second;
      if (prev) {
        // Marks come from one monotonic clock in causal order; a step can only be >= 0.
        const double step = std::max(0.0, it->second - marks.at(prev));
        timeline[std::string(s) + "_ms"] = step;
        line += " → " + std::string(s) + " +" + std::to_string(static_cast<int64_t>(step + 0.5)) +
                " ms";
        ctx.metric(std::string("turn_") + s + "_ms", step);
      } else {
        line += s;
      }
      prev = s;
    }
    const double total = prev ? marks.at(prev) - start : 0;
    timeline["voice_to_voice_ms"] = total;
    ctx.metric("turn_voice_to_voice_ms", total);
    ctx.log().info("turn {} timeline: {} (voice-to-voice {} ms)", turn, line,
                   static_cast<int64_t>(total + 0.5));
    ctx.send(std::make_unique<Data>("metrics",
                                    nlohmann::json{{"turn_id", turn}, {"timeline", timeline}}));
  }

  void report_barge_in(Context& ctx, int64_t turn, const std::map<std::string, double>& marks) {
    const double onset = marks.contains(stage::kUserSpeechStart) ? marks.at(stage::kUserSpeechStart)
                                                                 : marks.at(stage::kBargeIn);
    const double ms = std::max(0.0, marks.at(stage::kLastAudioOut) - onset);
    ctx.metric("barge_in_ms", ms);
    ctx.log().info("turn {} barge-in: user speech onset → last agent audio out {} ms", turn,
                   static_cast<int64_t>(ms + 0.5));
    ctx.send(
        std::make_unique<Data>("metrics", nlohmann::json{{"turn_id", turn}, {"barge_in_ms", ms}}));
  }

  std::map<int64_t, std::map<std::string, double>> turns_;
};

}  // namespace

parley::Status parley_register_addon_turn_timeline(parley::AddonRegistry& registry) {
  return registry.add<TurnTimeline>(kManifest);
}
