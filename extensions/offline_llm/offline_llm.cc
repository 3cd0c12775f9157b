// offline_llm: a clearly labelled stand-in for a language model, so the whole voice pipeline runs
// and is tested with no model and no credentials. It repeats what it heard and answers what the
// registered tools can answer (the time, the weather). It is NOT a conversation partner: a real
// conversation needs openai_llm (OpenAI, Ollama, vLLM, llama.cpp) or another LLM provider.
#include <map>
#include <regex>

#include <spdlog/logger.h>

#include "llm/text_segmenter.h"
#include "parley/addon.h"
#include "parley/turn_metrics.h"

namespace {

using namespace parley;

constexpr const char* kManifest = R"json({
  "name": "offline_llm",
  "description": "Offline responder for zero-credential runs and tests (not a language model): echoes the user's words and answers time/weather questions through registered tools.",
  "properties": {
    "greeting": {"type": "string", "default": "", "description": "Said when the user joins"},
    "prefix": {"type": "string", "default": "I heard you say:", "description": "Words before the echoed text"},
    "suffix": {"type": "string", "default": "", "description": "Words after the echoed text"},
    "tool_timeout_ms": {"type": "int", "default": 5000}
  },
  "in": {"cmd": ["flush", "tool_register", "on_user_joined", "on_user_left"],
         "data": ["text_data", "text_end", "tts_segment", "playout"]},
  "out": {"cmd": ["flush", "tool_call"], "data": ["text_data", "text_end", "transcript", "turn_mark"]}
})json";

class OfflineLlm final : public Extension {
 public:
  void on_start(Context& ctx) override {
    ctx.log().info(
        "offline responder (no language model): echoes speech and answers tool questions");
  }

  void on_cmd(Context& ctx, std::unique_ptr<Cmd> cmd) override {
    if (cmd->name() == kFlushCmd) {
      gate_.flush(*cmd);
      ctx.forward_cmd(std::move(cmd));
    } else if (cmd->name() == "tool_register") {
      const auto tool = cmd->get<nlohmann::json>("tool", nlohmann::json());
      if (tool.is_object() && tool.contains("name"))
        tools_[tool["name"].get<std::string>()] = cmd->source();
      ctx.return_ok(std::move(cmd));
    } else if (cmd->name() == "on_user_joined") {
      if (const auto g = ctx.prop_string("greeting"); !g.empty()) speak(ctx, ++turn_, g);
      ctx.return_ok(std::move(cmd));
    } else if (cmd->name() == "on_user_left") {
      ctx.return_ok(std::move(cmd));
    } else {
      Extension::on_cmd(ctx, std::move(cmd));
    }
  }

  void on_data(Context& ctx, std::unique_ptr<Data> d) override {
    if (d->name() == "text_end") {
      input_ended_ = true;
      if (pending_ == 0) ctx.send(std::make_unique<Data>("text_end", nlohmann::json::object()));
      return;
    }
    if (d->name() != "text_data" || d->get<std::string>("role", "user") != "user") return;
    const std::string text = d->get<std::string>("text", "");
    if (text.empty()) return;
    turn_ = std::max(d->get<int64_t>("turn_id", turn_ + 1), turn_ + 1);
    const int64_t turn = turn_;
    ctx.send(make_stage_mark(turn, stage::kLlmRequest));
    static const std::regex kTime(R"(\b(time|date|day|clock)\b)", std::regex::icase);
    static const std::regex kWeather(R"(\bweather\b(?:.*\bin\s+([a-z][a-z .'-]*))?)",
                                     std::regex::icase);
    std::smatch m;
    ++pending_;
    if (std::regex_search(text, m, kWeather) && tools_.contains("get_weather")) {
      const std::string place = m[1].matched ? std::string(m[1]) : "Berlin";
      call_tool(ctx, turn, "get_weather", {{"location", place}});
    } else if (std::regex_search(text, kTime) && tools_.contains("get_current_time")) {
      call_tool(ctx, turn, "get_current_time", nlohmann::json::object());
    } else {
      echo(ctx, turn, text);
    }
  }

 private:
  void echo(Context& ctx, int64_t turn, const std::string& text) {
    std::string answer = ctx.prop_string("prefix") + " " + text + ".";
    if (const auto s = ctx.prop_string("suffix"); !s.empty()) answer += " " + s;
    reply(ctx, turn, answer);
  }

  void call_tool(Context& ctx, int64_t turn, const std::string& tool, nlohmann::json args) {
    auto cmd = std::make_unique<Cmd>("tool_call",
                                     nlohmann::json{{"name", tool}, {"arguments", args.dump()}});
    cmd->set_dest(tools_[tool]);
    ctx.send_cmd(
        std::move(cmd),
        [this, &ctx, turn](std::unique_ptr<CmdResult> r) {
          // A flushed turn still counts as answered (reply() speaks nothing for it), or a
          // text_end that arrived meanwhile would never be passed on and the graph never ends.
          if (!r->ok()) {
            reply(ctx, turn, "I could not ask the tool: " + r->status().message());
            return;
          }
          const auto& d = r->detail();
          const auto spoken = d.is_object() && d.contains("spoken") ? d["spoken"].get<std::string>()
                                                                    : d.value("content", d).dump();
          reply(ctx, turn, spoken);
        },
        std::chrono::milliseconds(ctx.prop_int("tool_timeout_ms")));
  }

  // Speaks `answer` for `turn` the way an LLM stage does: pieces, then end_of_segment.
  void reply(Context& ctx, int64_t turn, const std::string& answer) {
    if (pending_ > 0) --pending_;
    if (input_ended_ && pending_ == 0) {
      // Sent after this reply's text (below), so TTS ends the audio after speaking it.
      auto end = std::make_unique<Data>("text_end", nlohmann::json::object());
      speak(ctx, turn, answer);
      ctx.send(std::move(end));
      return;
    }
    speak(ctx, turn, answer);
  }

  void speak(Context& ctx, int64_t turn, const std::string& answer) {
    if (gate_.is_stale(turn)) return;
    ctx.send(make_stage_mark(turn, stage::kLlmFirstToken));
    llm::TextSegmenter seg;
    auto pieces = seg.push(answer);
    if (auto rest = seg.finish(); !rest.empty()) pieces.push_back(rest);
    for (const auto& p : pieces) {
      ctx.send(std::make_unique<Data>(
          "text_data",
          nlohmann::json{
              {"text", p}, {"end_of_segment", false}, {"role", "assistant"}, {"turn_id", turn}}));
    }
    ctx.send(std::make_unique<Data>(
        "text_data",
        nlohmann::json{
            {"text", ""}, {"end_of_segment", true}, {"role", "assistant"}, {"turn_id", turn}}));
    ctx.send(std::make_unique<Data>(
        "transcript", nlohmann::json{{"role", "assistant"},
                                     {"text", answer},
                                     {"final", true},
                                     {"turn_id", turn},
                                     {"message_id", "asst-" + std::to_string(turn)}}));
    ctx.log().info("turn {} reply: \"{}\"", turn, answer);
  }

  std::map<std::string, std::string> tools_;  // tool name → node that registered it
  TurnGate gate_;
  int64_t turn_ = 0;
  int pending_ = 0;           // user turns not yet answered
  bool input_ended_ = false;  // text_end arrived: pass it on after the last answer
};

}  // namespace

parley::Status parley_register_addon_offline_llm(parley::AddonRegistry& registry) {
  return registry.add<OfflineLlm>(kManifest);
}
