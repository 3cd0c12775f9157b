// openai_llm: the conversation's brain over any OpenAI-compatible Chat Completions server
// (OpenAI, Ollama, vLLM, llama.cpp). Streams the reply, cuts it into speakable pieces for TTS,
// runs tool calls, cancels the HTTP stream on flush, and keeps only heard words in the history.
#include <map>
#include <utility>

#include <openssl/evp.h>
#include <spdlog/logger.h>

#include "llm/conversation.h"
#include "llm/text_segmenter.h"
#include "llm_turn.h"
#include "parley/addon.h"
#include "parley/turn_metrics.h"

namespace {

using namespace parley;
using llm::LlmTurn;

constexpr const char* kManifest = R"json({
  "name": "openai_llm",
  "description": "Streaming chat with an OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp): user text_data in, assistant text_data (cut at clause/sentence boundaries) and transcripts out; tools via tool_register/tool_call; flush closes the HTTP stream.",
  "properties": {
    "base_url": {"type": "string", "default": "${env:OPENAI_BASE_URL|https://api.openai.com/v1}", "description": "Server base URL; /chat/completions is appended"},
    "api_key": {"type": "string", "default": "${env:OPENAI_API_KEY|}", "description": "Bearer token (empty for local servers)"},
    "model": {"type": "string", "default": "${env:OPENAI_MODEL|gpt-4o-mini}"},
    "temperature": {"type": "number", "default": 0.7},
    "max_tokens": {"type": "int", "default": 512},
    "system_prompt": {"type": "string", "default": "You are a helpful voice assistant. Answer briefly in plain spoken sentences, without lists or markdown."},
    "max_history": {"type": "int", "default": 20, "description": "Messages kept besides the system prompt"},
    "greeting": {"type": "string", "default": "", "description": "Said when the user joins"},
    "idle_prompt": {"type": "string", "default": "", "description": "Said after idle_timeout_ms of silence from the user"},
    "idle_timeout_ms": {"type": "int", "default": 0},
    "connect_timeout_ms": {"type": "int", "default": 10000},
    "first_token_timeout_ms": {"type": "int", "default": 15000},
    "max_retries": {"type": "int", "default": 2, "description": "Retries before the first token only"},
    "first_clause": {"type": "bool", "default": true, "description": "Send the first clause to TTS as soon as it is complete"},
    "max_tool_rounds": {"type": "int", "default": 4},
    "tool_timeout_ms": {"type": "int", "default": 10000},
    "vision": {"type": "bool", "default": false, "description": "Attach the latest JPEG video frame to each user message"}
  },
  "in": {"cmd": ["flush", "tool_register", "on_user_joined", "on_user_left"],
         "data": ["text_data", "text_end", "tts_segment", "playout"], "video_frame": ["video_frame"]},
  "out": {"cmd": ["flush", "tool_call"], "data": ["text_data", "text_end", "transcript", "turn_mark", "error"]}
})json";

std::string base64(const Buffer& b);

// Turns whose spoken segments are kept for a late `playout` interruption report.
constexpr int64_t kSpokenTurnsKept = 4;

class OpenAiLlm final : public Extension {
 public:
  Status on_configure(Context& ctx) override {
    std::string base = ctx.prop_string("base_url");
    if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0)
      return invalid_argument("base_url must start with http:// or https://, got '" + base + "'");
    while (!base.empty() && base.back() == '/') base.pop_back();
    endpoint_.url = base + "/chat/completions";
    endpoint_.api_key = ctx.prop_string("api_key");
    endpoint_.connect_timeout = std::chrono::milliseconds(ctx.prop_int("connect_timeout_ms"));
    endpoint_.first_token_timeout =
        std::chrono::milliseconds(ctx.prop_int("first_token_timeout_ms"));
    endpoint_.max_retries = static_cast<int>(ctx.prop_int("max_retries"));
    options_.model = ctx.prop_string("model");
    options_.temperature = ctx.prop_number("temperature");
    options_.max_tokens = static_cast<int>(ctx.prop_int("max_tokens"));
    history_ = llm::Conversation(static_cast<size_t>(ctx.prop_int("max_history")));
    history_.set_system_prompt(ctx.prop_string("system_prompt"));
    segmenter_config_.first_clause = ctx.prop_bool("first_clause");
    return Status::ok();
  }

  void on_start(Context& ctx) override {
    ctx.log().info("chat model '{}' at {}", options_.model, endpoint_.url);
    arm_idle(ctx);
  }

  void on_stop(Context& ctx, Done done) override {
    cancel_turn(ctx);
    done(Status::ok());
  }

  void on_cmd(Context& ctx, std::unique_ptr<Cmd> cmd) override {
    const std::string& name = cmd->name();
    if (name == kFlushCmd) {
      const int64_t turn = gate_.flush(*cmd);
      if (turn_ < turn) {
        cancel_turn(ctx);
        // The cancelled reply will not finish: pass on a text_end it was holding back, or the
        // audio (and a graph reading a file) never ends when no further user turn comes.
        if (std::exchange(reply_active_, false) && input_ended_)
          ctx.send(std::make_unique<Data>("text_end", nlohmann::json::object()));
      }
      ctx.forward_cmd(std::move(cmd));
    } else if (name == "tool_register") {
      register_tool(ctx, std::move(cmd));
    } else if (name == "on_user_joined") {
      const std::string greeting = ctx.prop_string("greeting");
      if (!greeting.empty()) say_fixed(ctx, greeting);
      ctx.return_ok(std::move(cmd));
    } else if (name == "on_user_left") {
      cancel_turn(ctx);
      ctx.return_ok(std::move(cmd));
    } else {
      Extension::on_cmd(ctx, std::move(cmd));
    }
  }

  void on_data(Context& ctx, std::unique_ptr<Data> data) override {
    if (data->name() == "text_end") {
      input_ended_ = true;
      if (!reply_active_) ctx.send(std::make_unique<Data>("text_end", nlohmann::json::object()));
    } else if (data->name() == "text_data") {
      if (data->get<std::string>("role", "user") != "user") return;
      const std::string text = data->get<std::string>("text", "");
      if (text.empty() || !data->get<bool>("end_of_segment", true)) return;
      start_turn(ctx, data->get<int64_t>("turn_id", turn_ + 1), text);
    } else if (data->name() == "tts_segment") {
      spoken_[data->get<int64_t>("turn_id", 0)].push_back(
          {data->get<std::string>("text", ""), data->get<double>("audio_ms", 0)});
    } else if (data->name() == "playout") {
      if (!data->get<bool>("interrupted", false)) return;
      const int64_t turn = data->get<int64_t>("turn_id", 0);
      const double played = data->get<double>("played_ms", 0);
      const size_t heard = llm::heard_characters(spoken_[turn], played);
      spoken_.erase(turn);
      history_.truncate_assistant(turn, heard);
      ctx.log().info("turn {} interrupted after {:.0f} ms of audio; history keeps \"{}\"", turn,
                     played, history_.assistant_text(turn));
    }
  }

  void on_video_frame(Context& ctx, std::unique_ptr<VideoFrame> frame) override {
    if (ctx.prop_bool("vision") && frame->pixel_fmt == PixelFormat::kJpeg)
      latest_jpeg_ = frame->buffer();
  }

 private:
  void register_tool(Context& ctx, std::unique_ptr<Cmd> cmd) {
    const auto& t = cmd->properties().is_object()
                        ? cmd->properties().value("tool", nlohmann::json())
                        : nlohmann::json();
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) {
      ctx.return_result(std::move(cmd), invalid_argument("tool_register needs tool.name (string), "
                                                         "tool.description and tool.parameters"));
      return;
    }
    llm::ToolSpec spec{t["name"].get<std::string>(), t.value("description", ""),
                       t.value("parameters", nlohmann::json::object())};
    ctx.log().info("tool '{}' registered by node '{}'", spec.name, cmd->source());
    tools_[spec.name] = {spec, cmd->source()};
    ctx.return_ok(std::move(cmd));
  }

  void start_turn(Context& ctx, int64_t turn, const std::string& text) {
    cancel_turn(ctx);
    turn_ = std::max(turn, turn_ + 1);
    if (gate_.is_stale(turn_)) gate_.flush_before(turn_);
    nlohmann::json content = text;
    if (ctx.prop_bool("vision") && !latest_jpeg_.empty()) {
      content = nlohmann::json::array(
          {{{"type", "text"}, {"text", text}},
           {{"type", "image_url"},
            {"image_url", {{"url", "data:image/jpeg;base64," + base64(latest_jpeg_)}}}}});
    }
    history_.add_user(turn_, content);
    // Segments of turns long past can no longer be interrupted: keep the map bounded.
    spoken_.erase(spoken_.begin(), spoken_.lower_bound(turn_ - kSpokenTurnsKept));
    reply_active_ = true;
    rounds_ = 0;
    reply_text_.clear();
    message_id_ = "asst-" + std::to_string(turn_);
    request(ctx);
  }

  void request(Context& ctx) {
    segmenter_ = llm::TextSegmenter(segmenter_config_);
    std::vector<llm::ToolSpec> tools;
    for (const auto& [name, t] : tools_) tools.push_back(t.spec);
    const std::string body = llm::build_chat_request(options_, history_.messages(), tools).dump();
    const int64_t turn = turn_;
    ctx.send(make_stage_mark(turn, stage::kLlmRequest));
    request_started_ = monotonic_ms();
    first_token_seen_ = false;
    current_ =
        LlmTurn::start(ctx, endpoint_, body,
                       {[this, &ctx, turn] {
                          if (first_token_seen_) return;
                          first_token_seen_ = true;
                          ctx.send(make_stage_mark(turn, stage::kLlmFirstToken));
                          ctx.metric("llm_first_token_ms", monotonic_ms() - request_started_);
                        },
                        [this, &ctx, turn](std::string_view delta) {
                          for (auto& piece : segmenter_.push(delta))
                            emit_piece(ctx, turn, piece, false);
                        },
                        [this, &ctx, turn](const Status& st, const llm::ChatStreamDecoder& dec) {
                          on_reply_done(ctx, turn, st, dec);
                        }});
  }

  void on_reply_done(Context& ctx, int64_t turn, const Status& st,
                     const llm::ChatStreamDecoder& dec) {
    current_.reset();
    if (!st.is_ok()) {
      ctx.log().error("turn {}: {}", turn, st.message());
      ctx.send(std::make_unique<Data>(
          "error", nlohmann::json{{"turn_id", turn}, {"stage", "llm"}, {"message", st.message()}}));
      finish_reply(ctx, turn);
      return;
    }
    auto calls = dec.tool_calls();
    if (!calls.empty() && rounds_ < ctx.prop_int("max_tool_rounds")) {
      ++rounds_;
      run_tools(ctx, turn, std::move(calls));
      return;
    }
    if (std::string rest = segmenter_.finish(); !rest.empty()) emit_piece(ctx, turn, rest, false);
    finish_reply(ctx, turn);
  }

  void run_tools(Context& ctx, int64_t turn, std::vector<llm::ToolCall> calls) {
    history_.add_tool_calls(turn, calls);
    auto remaining = std::make_shared<size_t>(calls.size());
    for (const auto& call : calls) {
      auto done = [this, &ctx, turn, remaining, id = call.id](const std::string& content) {
        if (turn != turn_ || gate_.is_stale(turn)) return;  // interrupted meanwhile
        history_.add_tool_result(turn, id, content);
        if (--*remaining == 0) request(ctx);
      };
      auto it = tools_.find(call.name);
      if (it == tools_.end()) {
        done(nlohmann::json{{"error", "unknown tool '" + call.name + "'"}}.dump());
        continue;
      }
      auto cmd = std::make_unique<Cmd>(
          "tool_call", nlohmann::json{{"name", call.name}, {"arguments", call.arguments}});
      cmd->set_dest(it->second.node);
      ctx.send_cmd(
          std::move(cmd),
          [done, name = call.name](std::unique_ptr<CmdResult> r) {
            if (!r->ok()) {
              done(nlohmann::json{{"error", r->status().message()}}.dump());
              return;
            }
            const auto& content =
                r->detail().is_object() ? r->detail().value("content", r->detail()) : r->detail();
            done(content.is_string() ? content.get<std::string>() : content.dump());
          },
          std::chrono::milliseconds(ctx.prop_int("tool_timeout_ms")));
    }
  }

  void emit_piece(Context& ctx, int64_t turn, const std::string& piece, bool last) {
    if (gate_.is_stale(turn)) return;
    history_.append_assistant(turn, piece);
    reply_text_ += (reply_text_.empty() ? "" : " ") + piece;
    ctx.send(std::make_unique<Data>(
        "text_data",
        nlohmann::json{
            {"text", piece}, {"end_of_segment", last}, {"role", "assistant"}, {"turn_id", turn}}));
    ctx.send(std::make_unique<Data>("transcript", nlohmann::json{{"role", "assistant"},
                                                                 {"text", reply_text_},
                                                                 {"final", last},
                                                                 {"turn_id", turn},
                                                                 {"message_id", message_id_}}));
  }

  void finish_reply(Context& ctx, int64_t turn) {
    reply_active_ = false;
    if (input_ended_) ctx.send(std::make_unique<Data>("text_end", nlohmann::json::object()));
    if (gate_.is_stale(turn)) return;
    ctx.send(std::make_unique<Data>(
        "text_data",
        nlohmann::json{
            {"text", ""}, {"end_of_segment", true}, {"role", "assistant"}, {"turn_id", turn}}));
    ctx.send(std::make_unique<Data>("transcript", nlohmann::json{{"role", "assistant"},
                                                                 {"text", reply_text_},
                                                                 {"final", true},
                                                                 {"turn_id", turn},
                                                                 {"message_id", message_id_}}));
    arm_idle(ctx);
  }

  // Speaks fixed text (greeting, idle prompt) as an assistant turn of its own.
  void say_fixed(Context& ctx, const std::string& text) {
    cancel_turn(ctx);
    ++turn_;
    reply_text_.clear();
    message_id_ = "asst-" + std::to_string(turn_);
    emit_piece(ctx, turn_, text, false);
    finish_reply(ctx, turn_);
  }

  void arm_idle(Context& ctx) {
    ctx.cancel_timer(idle_timer_);
    const int64_t ms = ctx.prop_int("idle_timeout_ms");
    const std::string prompt = ctx.prop_string("idle_prompt");
    if (ms <= 0 || prompt.empty()) return;
    const int64_t turn_at_arm = turn_;
    idle_timer_ = ctx.set_timer(std::chrono::milliseconds(ms), [this, &ctx, prompt, turn_at_arm] {
      if (turn_ == turn_at_arm && !current_) say_fixed(ctx, prompt);
    });
  }

  void cancel_turn(Context& ctx) {
    ctx.cancel_timer(idle_timer_);
    if (current_) {
      current_->cancel();
      current_.reset();
      ctx.log().info("turn {}: LLM stream closed (cancelled)", turn_);
    }
    segmenter_.reset();
  }

  struct Tool {
    llm::ToolSpec spec;
    std::string node;
  };
  llm::LlmEndpoint endpoint_;
  llm::ChatOptions options_;
  llm::Conversation history_;
  llm::TextSegmenterConfig segmenter_config_;
  llm::TextSegmenter segmenter_;
  std::map<std::string, Tool> tools_;
  std::map<int64_t, std::vector<llm::SpokenSegment>> spoken_;
  std::shared_ptr<LlmTurn> current_;
  TurnGate gate_;
  int64_t turn_ = 0;
  int64_t rounds_ = 0;
  std::string reply_text_;
  std::string message_id_;
  double request_started_ = 0;
  bool first_token_seen_ = false;
  bool reply_active_ = false;  // a user turn is being answered (streaming or running tools)
  bool input_ended_ = false;   // text_end arrived: pass it on once the reply is done
  TimerId idle_timer_ = 0;
  Buffer latest_jpeg_;
};

std::string base64(const Buffer& b) {
  std::string out(4 * ((b.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), b.data(),
                                static_cast<int>(b.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

}  // namespace

parley::Status parley_register_addon_openai_llm(parley::AddonRegistry& registry) {
  return registry.add<OpenAiLlm>(kManifest);
}
