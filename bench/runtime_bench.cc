// runtime_bench: hop latency through a 5-extension chain, throughput through a 2-node graph and
// payload copies on a 4-way fan-out — each next to a bare Boost.Asio baseline measured in the
// same run (the machines are shared and noisy, so ratios matter more than absolute numbers).
//
//   build/bench/runtime_bench [--frames N] [--messages N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "parley/addon.h"
#include "parley/engine.h"

using namespace parley;
using Clock = std::chrono::steady_clock;

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Arrival times per frame (index = frame seq carried in timestamp_ms) per stage.
constexpr int kStages = 6;  // inject + 5 extensions
std::vector<std::array<int64_t, kStages>> g_stamps;
std::atomic<uint64_t> g_count{0};
std::promise<void>* g_done = nullptr;
uint64_t g_expect = 0;

class Relay final : public Extension {
 public:
  Status on_configure(Context& ctx) override {
    stage_ = static_cast<int>(ctx.prop_int("stage"));
    return Status::ok();
  }
  void on_audio_frame(Context& ctx, std::unique_ptr<AudioFrame> f) override {
    if (!g_stamps.empty()) g_stamps[f->timestamp_ms][stage_] = now_ns();
    if (!ctx.send(std::move(f)) && g_count.fetch_add(1) + 1 == g_expect && g_done)
      g_done->set_value();
  }
  void on_data(Context& ctx, std::unique_ptr<Data> d) override {
    if (!ctx.send(std::move(d)) && g_count.fetch_add(1) + 1 == g_expect && g_done)
      g_done->set_value();
  }

 private:
  int stage_ = 0;
};

// Sends `count` messages in batches, re-posting itself so the graph drains between batches.
class Blaster final : public Extension {
 public:
  void on_start(Context& ctx) override {
    total_ = ctx.prop_int("count");
    data_ = ctx.prop_bool("data");
    frame_.set_buffer(Buffer(std::vector<uint8_t>(640, 1)));
    batch(ctx);
  }

 private:
  void batch(Context& ctx) {
    for (int i = 0; i < 2000 && sent_ < total_; ++i, ++sent_) {
      if (data_) {
        ctx.send(std::make_unique<Data>("text_data",
                                        nlohmann::json{{"text", "hello"}, {"turn_id", sent_}}));
      } else {
        ctx.send(frame_.clone());
      }
    }
    if (sent_ < total_) ctx.poster()([this, &ctx] { batch(ctx); });
  }
  int64_t total_ = 0, sent_ = 0;
  bool data_ = false;
  AudioFrame frame_;
};

constexpr const char* kRelayManifest =
    R"({"name": "bench_relay", "properties": {"stage": {"type": "int", "default": 0}},
  "in": {"audio_frame": ["*"], "data": ["*"]}, "out": {"audio_frame": ["*"], "data": ["*"]}})";
constexpr const char* kBlasterManifest =
    R"({"name": "bench_blaster", "properties": {"count": {"type": "int", "default": 0}, "data": {"type": "bool", "default": false}},
  "out": {"audio_frame": ["*"], "data": ["*"]}})";

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

GraphSpec chain(int relays) {
  GraphSpec g;
  g.name = "bench_chain";
  for (int i = 0; i < relays; ++i) {
    g.nodes.push_back({"r" + std::to_string(i), "bench_relay", {{"stage", i + 1}}, ""});
    if (i > 0)
      g.connections.push_back({"r" + std::to_string(i - 1),
                               MessageKind::kAudioFrame,
                               "*",
                               {"r" + std::to_string(i)},
                               ""});
  }
  return g;
}

// Hop latency: frames injected one at a time (paced) into a chain of 5 extensions.
void bench_hops(AddonRegistry& reg, int frames) {
  auto rt = Runtime::create({2, 1});
  auto engine = Engine::create(chain(5), rt, {}, reg);
  if (!engine.is_ok() || !(*engine)->start_sync().is_ok()) {
    std::fprintf(stderr, "engine failed\n");
    return;
  }
  g_stamps.assign(frames, {});
  Buffer payload(std::vector<uint8_t>(640, 0));  // one 20 ms frame at 16 kHz mono
  for (int i = 0; i < frames; ++i) {
    auto f = std::make_unique<AudioFrame>();
    f->set_buffer(payload);
    f->timestamp_ms = i;
    g_stamps[i][0] = now_ns();
    (void)(*engine)->inject("r0", std::move(f));
    // Pace like a real-time source, faster: one frame every 50 µs (busy-wait keeps timing tight).
    const int64_t until = now_ns() + 50'000;
    while (now_ns() < until) {
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*engine)->stop_sync();
  std::vector<double> first, inner, total;
  for (int i = frames / 10; i < frames; ++i) {  // skip warm-up
    const auto& s = g_stamps[i];
    if (s[5] == 0) continue;
    first.push_back((s[1] - s[0]) / 1000.0);
    for (int h = 2; h < kStages; ++h) inner.push_back((s[h] - s[h - 1]) / 1000.0);
    total.push_back((s[5] - s[0]) / 1000.0);
  }
  g_stamps.clear();

  // Baseline: the same chain as bare Boost.Asio strands posting a lambda each hop.
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { io.run(); });
  std::vector<boost::asio::strand<boost::asio::io_context::executor_type>> strands;
  for (int i = 0; i < 5; ++i) strands.push_back(boost::asio::make_strand(io));
  std::vector<std::array<int64_t, kStages>> stamps(frames);
  std::function<void(int, int)> hop = [&](int i, int stage) {
    stamps[i][stage] = now_ns();
    if (stage < 5) boost::asio::post(strands[stage], [&, i, stage] { hop(i, stage + 1); });
  };
  for (int i = 0; i < frames; ++i) {
    stamps[i][0] = now_ns();
    boost::asio::post(strands[0], [&, i] { hop(i, 1); });
    const int64_t until = now_ns() + 50'000;
    while (now_ns() < until) {
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  guard.reset();
  for (auto& t : threads) t.join();
  std::vector<double> b_inner, b_total;
  for (int i = frames / 10; i < frames; ++i) {
    for (int h = 2; h < kStages; ++h) b_inner.push_back((stamps[i][h] - stamps[i][h - 1]) / 1000.0);
    b_total.push_back((stamps[i][5] - stamps[i][0]) / 1000.0);
  }
  std::printf(
      "| hop latency, extension → extension (µs) | %.2f | %.2f | %.2f | %.2f | %.2f× / %.2f× |\n",
      pct(inner, 0.5), pct(inner, 0.99), pct(b_inner, 0.5), pct(b_inner, 0.99),
      pct(inner, 0.5) / std::max(0.01, pct(b_inner, 0.5)),
      pct(inner, 0.99) / std::max(0.01, pct(b_inner, 0.99)));
  std::printf("| hop latency, external inject → first extension (µs) | %.2f | %.2f | | | |\n",
              pct(first, 0.5), pct(first, 0.99));
  std::printf("| 5-extension chain end to end (µs) | %.2f | %.2f | %.2f | %.2f | %.2f× / %.2f× |\n",
              pct(total, 0.5), pct(total, 0.99), pct(b_total, 0.5), pct(b_total, 0.99),
              pct(total, 0.5) / std::max(0.01, pct(b_total, 0.5)),
              pct(total, 0.99) / std::max(0.01, pct(b_total, 0.99)));
}

// Throughput: a blaster node sends `n` messages to one relay (2-node graph).
double bench_throughput(AddonRegistry& reg, int64_t n, bool data) {
  GraphSpec g;
  g.name = "bench_pair";
  g.nodes.push_back({"src", "bench_blaster", {{"count", n}, {"data", data}}, ""});
  g.nodes.push_back({"dst", "bench_relay", {{"stage", 0}}, ""});
  g.connections.push_back(
      {"src", data ? MessageKind::kData : MessageKind::kAudioFrame, "*", {"dst"}, ""});
  auto rt = Runtime::create({2, 1});
  auto engine = Engine::create(g, rt, {}, reg);
  std::promise<void> done;
  g_done = &done;
  g_count = 0;
  g_expect = static_cast<uint64_t>(n);
  const auto t0 = Clock::now();
  if (!engine.is_ok() || !(*engine)->start_sync().is_ok()) return 0;
  done.get_future().wait();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  (*engine)->stop_sync();
  g_done = nullptr;
  return n / secs;
}

// Baseline throughput: bare asio posts from one strand to another.
double baseline_throughput(int64_t n) {
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { io.run(); });
  auto a = boost::asio::make_strand(io), b = boost::asio::make_strand(io);
  std::atomic<int64_t> got{0};
  std::promise<void> done;
  int64_t sent = 0;
  AudioFrame proto;
  proto.set_buffer(Buffer(std::vector<uint8_t>(640, 1)));
  std::function<void()> batch = [&] {
    for (int i = 0; i < 2000 && sent < n; ++i, ++sent) {
      boost::asio::post(b, [&, f = proto.clone()] {
        if (got.fetch_add(1) + 1 == n) done.set_value();
      });
    }
    if (sent < n) boost::asio::post(a, batch);
  };
  const auto t0 = Clock::now();
  boost::asio::post(a, batch);
  done.get_future().wait();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  guard.reset();
  for (auto& t : threads) t.join();
  return n / secs;
}

void bench_fanout(AddonRegistry& reg, int frames) {
  GraphSpec g;
  g.name = "bench_fanout";
  g.nodes.push_back({"src", "bench_relay", {{"stage", 0}}, ""});
  std::vector<std::string> dests;
  for (int i = 0; i < 4; ++i) {
    g.nodes.push_back({"d" + std::to_string(i), "bench_relay", {{"stage", 0}}, ""});
    dests.push_back("d" + std::to_string(i));
  }
  g.connections.push_back({"src", MessageKind::kAudioFrame, "*", dests, ""});
  auto rt = Runtime::create({2, 1});
  auto engine = Engine::create(g, rt, {}, reg);
  std::promise<void> done;
  g_done = &done;
  g_count = 0;
  g_expect = static_cast<uint64_t>(frames) * 4;
  if (!engine.is_ok() || !(*engine)->start_sync().is_ok()) return;
  std::vector<std::unique_ptr<AudioFrame>> prepared;
  for (int i = 0; i < frames; ++i) {
    prepared.push_back(std::make_unique<AudioFrame>());
    prepared.back()->set_buffer(Buffer(std::vector<uint8_t>(640, 2)));
  }
  const uint64_t before = Buffer::payload_allocations();
  for (auto& f : prepared) (void)(*engine)->inject("src", std::move(f));
  done.get_future().wait();
  const uint64_t copies = Buffer::payload_allocations() - before;
  (*engine)->stop_sync();
  g_done = nullptr;
  std::printf("| fan-out of %d frames to 4 destinations: payload copies | %llu (%d deliveries) |\n",
              frames, static_cast<unsigned long long>(copies), frames * 4);
}

}  // namespace

int main(int argc, char** argv) {
  int frames = 20000;
  int64_t messages = 1'000'000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--frames")) frames = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--messages")) messages = std::atoll(argv[i + 1]);
  }

  AddonRegistry reg;
  (void)reg.add<Relay>(kRelayManifest);
  (void)reg.add<Blaster>(kBlasterManifest);
  std::printf("runtime_bench: %d paced frames, %lld messages, %u hardware threads\n\n", frames,
              static_cast<long long>(messages), std::thread::hardware_concurrency());
  std::printf(
      "| measure | Parley p50 | Parley p99 | bare Asio p50 | bare Asio p99 | ratio p50 / p99 "
      "|\n|---|---|---|---|---|---|\n");
  bench_hops(reg, frames);
  const double base = baseline_throughput(messages);
  const double audio = bench_throughput(reg, messages, false);
  const double data = bench_throughput(reg, messages, true);
  std::printf("\n| throughput, 2-node graph | msgs/s | vs bare Asio |\n|---|---|---|\n");
  std::printf("| audio frames (20 ms, shared payload) | %.0f | %.2f× |\n", audio, audio / base);
  std::printf("| data messages (JSON properties) | %.0f | %.2f× |\n", data, data / base);
  std::printf("| bare Asio strand → strand post | %.0f | 1.00× |\n\n", base);
  std::printf("| fan-out | value |\n|---|---|\n");
  bench_fanout(reg, 10000);
  return 0;
}
