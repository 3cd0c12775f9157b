// Test addons for the runtime tests.
#include "test_addons.h"

#include <array>

namespace parley::test {

namespace {

std::array<Recorded, 8>& slots() {
  static std::array<Recorded, 8> s;
  return s;
}

class Recorder final : public Extension {
 public:
  Status on_configure(Context& ctx) override {
    slot_ = static_cast<int>(ctx.prop_int("slot"));
    return Status::ok();
  }
  void on_cmd(Context& ctx, std::unique_ptr<Cmd> cmd) override {
    record(cmd->clone());
    ctx.return_ok(std::move(cmd), {{"by", ctx.node_name()}});
  }
  void on_data(Context&, std::unique_ptr<Data> m) override { record(std::move(m)); }
  void on_audio_frame(Context&, std::unique_ptr<AudioFrame> m) override { record(std::move(m)); }
  void on_video_frame(Context&, std::unique_ptr<VideoFrame> m) override { record(std::move(m)); }

 private:
  void record(std::unique_ptr<Message> m) {
    auto& r = recorded(slot_);
    std::lock_guard lock(r.mu);
    r.messages.push_back(std::move(m));
    r.threads.push_back(std::this_thread::get_id());
    r.cv.notify_all();
  }
  int slot_ = 0;
};

class Relay final : public Extension {
 public:
  void on_cmd(Context& ctx, std::unique_ptr<Cmd> cmd) override {
    if (cmd->name() == kFlushCmd) {
      gate_.flush(*cmd);
      ctx.forward_cmd(std::move(cmd));
      return;
    }
    Extension::on_cmd(ctx, std::move(cmd));
  }
  void on_data(Context& ctx, std::unique_ptr<Data> m) override {
    if (gate_.is_stale(m->get<int64_t>("turn_id", 0))) return;
    ctx.send(std::move(m));
  }
  void on_audio_frame(Context& ctx, std::unique_ptr<AudioFrame> m) override {
    ctx.send(std::move(m));
  }

 private:
  TurnGate gate_;
};

class Silent final : public Extension {
 public:
  void on_cmd(Context&, std::unique_ptr<Cmd> cmd) override { kept_.push_back(std::move(cmd)); }
  std::vector<std::unique_ptr<Cmd>> kept_;
};

class Dropper final : public Extension {
 public:
  void on_cmd(Context&, std::unique_ptr<Cmd>) override {}
};

class Thrower final : public Extension {
 public:
  void on_cmd(Context&, std::unique_ptr<Cmd>) override { throw std::runtime_error("boom in cmd"); }
  void on_data(Context& ctx, std::unique_ptr<Data> m) override {
    if (m->name() == "bad") throw std::runtime_error("boom in data");
    ctx.send(std::move(m));
  }
};

class Producer final : public Extension {
 public:
  void on_start(Context& ctx) override {
    const int64_t n = ctx.prop_int("count");
    for (int64_t i = 0; i < n; ++i)
      ctx.send(std::make_unique<Data>("tick", nlohmann::json{{"seq", i}}));
  }
};

// Runs each "work" request on the compute pool, then reports where the completion ran.
class Worker final : public Extension {
 public:
  void on_data(Context& ctx, std::unique_ptr<Data> m) override {
    const int ms = m->get<int>("ms", 50);
    auto work_thread = std::make_shared<std::thread::id>();
    ctx.run_blocking_result<int>(
        [ms, work_thread]() -> Result<int> {
          *work_thread = std::this_thread::get_id();
          std::this_thread::sleep_for(std::chrono::milliseconds(ms));
          return ms;
        },
        [&ctx, work_thread](Result<int> r) {
          ctx.metric("work_ms", r.is_ok() ? *r : -1, {{"kind", "sleep"}});
          auto done = std::make_unique<Data>("done");
          done->set("same_thread_as_work", *work_thread == std::this_thread::get_id());
          done->set("ms", r.is_ok() ? *r : -1);
          ctx.send(std::move(done));
        });
  }
};

// Sends "tick" `count` times every `period_ms`, then cancels its timer.
class Ticker final : public Extension {
 public:
  void on_start(Context& ctx) override {
    id_ = ctx.set_timer(
        std::chrono::milliseconds(ctx.prop_int("period_ms")),
        [this, &ctx] {
          ctx.send(std::make_unique<Data>("tick", nlohmann::json{{"n", ++n_}}));
          if (n_ == ctx.prop_int("count")) ctx.cancel_timer(id_);
        },
        true);
  }

 private:
  TimerId id_ = 0;
  int64_t n_ = 0;
};

constexpr const char* kAll =
    R"("in": {"cmd": ["*"], "data": ["*"], "audio_frame": ["*"], "video_frame": ["*"]},
  "out": {"cmd": ["*"], "data": ["*"], "audio_frame": ["*"], "video_frame": ["*"]})";

std::string manifest(const std::string& name, const std::string& props) {
  return R"({"name": ")" + name + R"(", "description": "test", "properties": )" + props + ", " +
         kAll + "}";
}

}  // namespace

Recorded& recorded(int slot) { return slots().at(slot); }

void reset_recorded() {
  for (auto& r : slots()) {
    std::lock_guard lock(r.mu);
    r.messages.clear();
    r.threads.clear();
  }
}

void register_test_addons(AddonRegistry& r) {
  (void)r.add<Recorder>(manifest("recorder", R"({"slot": {"type": "int", "default": 0}})"));
  (void)r.add<Relay>(manifest("relay", "{}"));
  (void)r.add<Silent>(manifest("silent", "{}"));
  (void)r.add<Dropper>(manifest("dropper", "{}"));
  (void)r.add<Thrower>(manifest("thrower", "{}"));
  (void)r.add<Worker>(manifest("worker", "{}"));
  (void)r.add<Ticker>(manifest(
      "ticker",
      R"({"period_ms": {"type": "int", "default": 10}, "count": {"type": "int", "default": 3}})"));
  (void)r.add<Producer>(manifest("producer", R"({"count": {"type": "int", "default": 3}})"));
}

}  // namespace parley::test
