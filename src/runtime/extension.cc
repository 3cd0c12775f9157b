// Extension defaults, Context conveniences and the flush helpers of the SDK.
#include "parley/extension.h"

#include <spdlog/spdlog.h>

#include "runtime/cmd_reply.h"

namespace parley {

Status Extension::on_configure(Context&) { return Status::ok(); }
void Extension::on_init(Context&, Done done) { done(Status::ok()); }
void Extension::on_start(Context&) {}
void Extension::on_stop(Context&, Done done) { done(Status::ok()); }
void Extension::on_deinit(Context&) {}

void Extension::on_cmd(Context& ctx, std::unique_ptr<Cmd> cmd) {
  if (cmd->name() == kFlushCmd) {
    ctx.forward_cmd(std::move(cmd));
    return;
  }
  const std::string name = cmd->name();
  ctx.return_result(std::move(cmd),
                    unimplemented("node '" + ctx.node_name() + "' (addon '" + ctx.addon_name() +
                                  "') does not handle cmd '" + name + "'"));
}

void Extension::on_data(Context&, std::unique_ptr<Data>) {}
void Extension::on_audio_frame(Context&, std::unique_ptr<AudioFrame>) {}
void Extension::on_video_frame(Context&, std::unique_ptr<VideoFrame>) {}

const nlohmann::json& Context::prop(const std::string& key) const {
  static const nlohmann::json kNull;
  const auto& props = properties();
  if (!props.is_object()) return kNull;
  auto it = props.find(key);
  return it == props.end() ? kNull : *it;
}

std::string Context::prop_string(const std::string& key) const {
  const auto& v = prop(key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

int64_t Context::prop_int(const std::string& key) const {
  const auto& v = prop(key);
  return v.is_number() ? v.get<int64_t>() : 0;
}

double Context::prop_number(const std::string& key) const {
  const auto& v = prop(key);
  return v.is_number() ? v.get<double>() : 0.0;
}

bool Context::prop_bool(const std::string& key) const {
  const auto& v = prop(key);
  return v.is_boolean() ? v.get<bool>() : false;
}

void Context::return_ok(std::unique_ptr<Cmd> cmd, nlohmann::json detail) {
  return_result(std::move(cmd), Status::ok(), std::move(detail));
}

void Context::forward_cmd(std::unique_ptr<Cmd> cmd) {
  if (!has_destination(MessageKind::kCmd, cmd->name())) {
    return_ok(std::move(cmd));
    return;
  }
  std::shared_ptr<detail::CmdReply> reply = cmd->take_reply();
  std::string name = cmd->name();
  auto copy = std::unique_ptr<Cmd>(static_cast<Cmd*>(cmd->clone().release()));
  send_cmd(std::move(copy), [reply, name](std::unique_ptr<CmdResult> result) {
    if (reply) reply->reply(name, result->status(), result->detail());
  });
}

int64_t TurnGate::flush(const Cmd& flush_cmd) {
  const int64_t turn = flush_cmd.get<int64_t>("turn_id", 0);
  flush_before(turn);
  return turn;
}

std::unique_ptr<Cmd> make_flush(int64_t turn_id) {
  return std::make_unique<Cmd>(kFlushCmd, nlohmann::json{{"turn_id", turn_id}});
}

}  // namespace parley
