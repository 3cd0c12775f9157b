// ExtensionTester: one extension plus a recording probe in a private registry and engine.
#include "parley/testing/extension_tester.h"

#include <future>

namespace parley::testing {

namespace {

constexpr const char* kProbeNode = "tester";
constexpr const char* kExtNode = "ext";

class Probe final : public Extension {
 public:
  explicit Probe(std::shared_ptr<ExtensionTester::Inbox> inbox) : inbox_(std::move(inbox)) {}

  void on_cmd(Context& ctx, std::unique_ptr<Cmd> cmd) override {
    CmdAnswer answer;
    std::function<CmdAnswer(const Cmd&)> handler;
    {
      std::lock_guard lock(inbox_->mu);
      handler = inbox_->cmd_handler;
    }
    if (handler) answer = handler(*cmd);
    auto copy = cmd->clone();
    record(std::move(copy));
    ctx.return_result(std::move(cmd), answer.status, answer.detail);
  }
  void on_data(Context&, std::unique_ptr<Data> m) override { record(std::move(m)); }
  void on_audio_frame(Context&, std::unique_ptr<AudioFrame> m) override { record(std::move(m)); }
  void on_video_frame(Context&, std::unique_ptr<VideoFrame> m) override { record(std::move(m)); }

 private:
  void record(std::unique_ptr<Message> m) {
    std::lock_guard lock(inbox_->mu);
    inbox_->messages.push_back(std::move(m));
    inbox_->cv.notify_all();
  }
  std::shared_ptr<ExtensionTester::Inbox> inbox_;
};

constexpr const char* kProbeManifest = R"json({
  "name": "parley_tester_probe",
  "description": "ExtensionTester's recording peer",
  "in":  {"cmd": ["*"], "data": ["*"], "audio_frame": ["*"], "video_frame": ["*"]},
  "out": {"cmd": ["*"], "data": ["*"], "audio_frame": ["*"], "video_frame": ["*"]}
})json";

}  // namespace

ExtensionTester::ExtensionTester(std::string addon, nlohmann::json properties,
                                 const AddonRegistry& registry)
    : addon_(std::move(addon)),
      properties_(std::move(properties)),
      source_registry_(registry),
      inbox_(std::make_shared<Inbox>()) {}

ExtensionTester::~ExtensionTester() { stop(); }

Status ExtensionTester::start() {
  const Addon* target = source_registry_.find(addon_);
  if (!target) return not_found("ExtensionTester: unknown addon '" + addon_ + "'");
  PARLEY_RETURN_IF_ERROR(registry_.add(target->manifest, target->factory, target->origin));
  auto probe_manifest = Manifest::parse(kProbeManifest);
  auto inbox = inbox_;
  PARLEY_RETURN_IF_ERROR(registry_.add(std::move(probe_manifest).value(),
                                       [inbox] { return std::make_unique<Probe>(inbox); }));

  GraphSpec graph;
  graph.name = "tester:" + addon_;
  graph.file = "<ExtensionTester>";
  graph.nodes.push_back({kExtNode, addon_,
                         properties_.is_null() ? nlohmann::json::object() : properties_,
                         "/nodes/0"});
  graph.nodes.push_back({kProbeNode, "parley_tester_probe", nlohmann::json::object(), "/nodes/1"});
  // Properties are validated as in any graph; the wildcard wiring below is the tester's own.
  PARLEY_RETURN_IF_ERROR(problems_to_status(validate_graph(graph, registry_)));
  for (auto kind : {MessageKind::kCmd, MessageKind::kData, MessageKind::kAudioFrame,
                    MessageKind::kVideoFrame}) {
    graph.connections.push_back({kExtNode, kind, "*", {kProbeNode}, ""});
    graph.connections.push_back({kProbeNode, kind, "*", {kExtNode}, ""});
  }
  runtime_ = Runtime::create({2, 2});
  EngineOptions options;
  options.on_stop_requested = [inbox](const std::string&) {
    std::lock_guard lock(inbox->mu);
    inbox->stop_requested = true;
    inbox->cv.notify_all();
  };
  auto engine = Engine::create(std::move(graph), runtime_, std::move(options), registry_);
  if (!engine.is_ok()) return engine.status();
  engine_ = std::move(engine).value();
  return engine_->start_sync();
}

void ExtensionTester::stop() {
  if (engine_) engine_->stop_sync();
}

Status ExtensionTester::send(std::unique_ptr<Message> msg) {
  if (!engine_) return failed_precondition("ExtensionTester: call start() first");
  return engine_->inject(kExtNode, std::move(msg));
}

std::unique_ptr<CmdResult> ExtensionTester::send_cmd(std::unique_ptr<Cmd> cmd,
                                                     std::chrono::milliseconds timeout) {
  const std::string name = cmd->name();
  if (!engine_)
    return std::make_unique<CmdResult>(name, 0,
                                       failed_precondition("ExtensionTester: not started"));
  auto promise = std::make_shared<std::promise<std::unique_ptr<CmdResult>>>();
  auto future = promise->get_future();
  Status s = engine_->inject_cmd(
      kExtNode, std::move(cmd),
      [promise](std::unique_ptr<CmdResult> r) { promise->set_value(std::move(r)); }, timeout);
  if (!s.is_ok()) return std::make_unique<CmdResult>(name, 0, s);
  return future.get();
}

std::unique_ptr<Message> ExtensionTester::wait_for(MessageKind kind, const std::string& name,
                                                   std::chrono::milliseconds timeout) {
  std::unique_lock lock(inbox_->mu);
  std::unique_ptr<Message> found;
  inbox_->cv.wait_for(lock, timeout, [&] {
    for (auto it = inbox_->messages.begin(); it != inbox_->messages.end(); ++it) {
      if ((*it)->kind() == kind && (name.empty() || (*it)->name() == name)) {
        found = std::move(*it);
        inbox_->messages.erase(it);
        return true;
      }
    }
    return false;
  });
  return found;
}

std::unique_ptr<Data> ExtensionTester::wait_for_data(const std::string& name,
                                                     std::chrono::milliseconds timeout) {
  auto m = wait_for(MessageKind::kData, name, timeout);
  return std::unique_ptr<Data>(static_cast<Data*>(m.release()));
}

std::unique_ptr<AudioFrame> ExtensionTester::wait_for_audio(std::chrono::milliseconds timeout) {
  auto m = wait_for(MessageKind::kAudioFrame, "", timeout);
  return std::unique_ptr<AudioFrame>(static_cast<AudioFrame*>(m.release()));
}

std::unique_ptr<Cmd> ExtensionTester::wait_for_cmd(const std::string& name,
                                                   std::chrono::milliseconds timeout) {
  auto m = wait_for(MessageKind::kCmd, name, timeout);
  return std::unique_ptr<Cmd>(static_cast<Cmd*>(m.release()));
}

std::deque<std::unique_ptr<Message>> ExtensionTester::take_all() {
  std::lock_guard lock(inbox_->mu);
  return std::move(inbox_->messages);
}

void ExtensionTester::set_cmd_handler(std::function<CmdAnswer(const Cmd&)> handler) {
  std::lock_guard lock(inbox_->mu);
  inbox_->cmd_handler = std::move(handler);
}

bool ExtensionTester::stop_requested() const {
  std::lock_guard lock(inbox_->mu);
  return inbox_->stop_requested;
}

}  // namespace parley::testing
