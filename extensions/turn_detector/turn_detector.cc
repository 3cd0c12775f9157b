// turn_detector: decides when the user's turn ends and when the user interrupts the agent.
// It combines vad_event and asr_result: a turn ends at the final ASR result (which the ASR emits at
// VAD speech_end) and is handed to the LLM as user text_data; speech over the agent — VAD
// speech_start, or a partial transcript of at least `interrupt_min_chars` — sends flush{turn_id} so
// every stage drops the agent's reply at once (DESIGN.md §1 "Turns and interruption").
#include <spdlog/logger.h>

#include "parley/addon.h"
#include "parley/turn_metrics.h"

namespace {

using namespace parley;

constexpr const char* kManifest = R"json({
  "name": "turn_detector",
  "description": "Ends user turns (VAD speech_end + final ASR) and detects barge-in (speech_start or a partial of at least interrupt_min_chars while the agent speaks), sending flush{turn_id}; forwards user text to the LLM and user transcripts to the client.",
  "properties": {
    "interrupt_on_speech_start": {"type": "bool", "default": true, "description": "Barge in as soon as VAD hears the user over the agent"},
    "interrupt_on_onset": {"type": "bool", "default": true, "description": "Barge in already at a vad_event speech_onset (webrtc_vad onset_ms) while the agent speaks"},
    "interrupt_min_chars": {"type": "int", "default": 4, "description": "Barge in when a partial transcript reaches this many characters (0 disables)"},
    "min_turn_chars": {"type": "int", "default": 1, "description": "Ignore final transcripts shorter than this (noise)"}
  },
  "in": {"data": ["vad_event", "asr_result", "asr_done", "tts_audio_start", "tts_audio_end", "playout"],
         "cmd": ["on_user_joined", "on_user_left", "flush"]},
  "out": {"data": ["text_data", "text_end", "transcript", "turn_mark"],
          "cmd": ["flush", "on_user_joined", "on_user_left"]}
})json";

class TurnDetector final : public Extension {
 public:
  void on_cmd(Context& ctx, std::unique_ptr<Cmd> cmd) override {
    // Joined/left notices pass through to the LLM (greeting); everything else as usual.
    if (cmd->name() == "on_user_joined" || cmd->name() == "on_user_left") {
      ctx.forward_cmd(std::move(cmd));
      return;
    }
    Extension::on_cmd(ctx, std::move(cmd));
  }

  void on_data(Context& ctx, std::unique_ptr<Data> d) override {
    const std::string& name = d->name();
    if (name == "vad_event") {
      on_vad(ctx, *d);
    } else if (name == "asr_result") {
      on_asr(ctx, *d);
    } else if (name == "asr_done") {
      // The user's input ended (end of a file): no more user turns will come.
      ctx.send(std::make_unique<Data>("text_end", nlohmann::json::object()));
    } else if (name == "tts_audio_start") {
      agent_turn_ = d->get<int64_t>("turn_id", 0);
      agent_speaking_ = agent_turn_ >= flushed_turn_;
    } else if (name == "tts_audio_end") {
      // Without playout reports (no transport), synthesis end is the best sign speech ended.
      if (!have_playout_ && d->get<int64_t>("turn_id", 0) == agent_turn_) agent_speaking_ = false;
    } else if (name == "playout") {
      have_playout_ = true;
      if (d->get<int64_t>("turn_id", 0) != agent_turn_) return;
      if (d->get<bool>("done", false) || d->get<bool>("interrupted", false)) {
        agent_speaking_ = false;
      } else if (d->get<bool>("started", false) && agent_turn_ >= flushed_turn_) {
        // The turn started playing: the agent speaks even if synthesis already ended (its
        // tts_audio_end may have come before the transport's first report).
        agent_speaking_ = true;
      }
    }
  }

 private:
  void on_vad(Context& ctx, const Data& d) {
    const std::string event = d.get<std::string>("event", "");
    if (event == "speech_onset") {
      // Speech may be starting (webrtc_vad onset_ms): early enough to stop the agent within the
      // barge-in budget, while speech_start still waits for min_speech_ms.
      if (agent_speaking_ && ctx.prop_bool("interrupt_on_onset")) {
        begin_user_turn(ctx);
        barge_in(ctx, "speech onset");
      }
    } else if (event == "speech_start") {
      begin_user_turn(ctx);
      ctx.send(make_stage_mark(turn_, stage::kUserSpeechStart));
      if (agent_speaking_ && ctx.prop_bool("interrupt_on_speech_start"))
        barge_in(ctx, "speech_start");
    } else if (event == "speech_end") {
      if (user_active_) ctx.send(make_stage_mark(turn_, stage::kUserSpeechEnd));
    }
  }

  void on_asr(Context& ctx, const Data& d) {
    const std::string text = d.get<std::string>("text", "");
    const bool final = d.get<bool>("final", false);
    if (!final) {
      if (text.empty()) return;
      begin_user_turn(ctx);
      const int64_t min_chars = ctx.prop_int("interrupt_min_chars");
      if (agent_speaking_ && min_chars > 0 && static_cast<int64_t>(text.size()) >= min_chars)
        barge_in(ctx, "partial transcript");
      send_transcript(ctx, text, false);
      return;
    }
    if (static_cast<int64_t>(text.size()) < ctx.prop_int("min_turn_chars")) {
      user_active_ = false;  // noise: no turn
      return;
    }
    begin_user_turn(ctx);
    if (agent_speaking_) barge_in(ctx, "final transcript");
    ctx.send(make_stage_mark(turn_, stage::kAsrFinal));
    send_transcript(ctx, text, true);
    ctx.log().info("user turn {}: \"{}\"", turn_, text);
    ctx.send(std::make_unique<Data>(
        "text_data",
        nlohmann::json{
            {"text", text}, {"end_of_segment", true}, {"role", "user"}, {"turn_id", turn_}}));
    user_active_ = false;
  }

  // A user utterance gets the next turn id the first time we hear of it.
  void begin_user_turn(Context&) {
    if (user_active_) return;
    user_active_ = true;
    interrupted_this_turn_ = false;
    ++turn_;
  }

  void barge_in(Context& ctx, const char* why) {
    if (interrupted_this_turn_) return;
    interrupted_this_turn_ = true;
    agent_speaking_ = false;
    flushed_turn_ = turn_;
    ctx.log().info("barge-in ({}) over agent turn {}: flushing to turn {}", why, agent_turn_,
                   turn_);
    ctx.send(make_stage_mark(turn_, stage::kBargeIn));
    ctx.send_cmd(make_flush(turn_), [&ctx](std::unique_ptr<CmdResult> r) {
      if (!r->ok()) ctx.log().warn("flush was not acknowledged: {}", r->status().message());
    });
  }

  void send_transcript(Context& ctx, const std::string& text, bool final) {
    ctx.send(std::make_unique<Data>(
        "transcript", nlohmann::json{{"role", "user"},
                                     {"text", text},
                                     {"final", final},
                                     {"turn_id", turn_},
                                     {"message_id", "user-" + std::to_string(turn_)}}));
  }

  int64_t turn_ = 0;
  int64_t agent_turn_ = 0;
  int64_t flushed_turn_ = 0;
  bool user_active_ = false;
  bool agent_speaking_ = false;
  bool interrupted_this_turn_ = false;
  bool have_playout_ = false;
};

}  // namespace

parley::Status parley_register_addon_turn_detector(parley::AddonRegistry& registry) {
  return registry.add<TurnDetector>(kManifest);
}
