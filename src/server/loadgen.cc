// The load generator (see include/parley/server/loadgen.h). Each simulated user is a small state
// machine driven by network callbacks (generate → join → start → stream → stop); one ticker
// thread sends every user's frames at its own real-time pace, so users stay evenly staggered.
#include "parley/server/loadgen.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/steady_timer.hpp>

#include "parley/media/audio_converter.h"
#include "parley/media/wav.h"
#include "parley/net/client.h"
#include "parley/rtc_protocol.h"
#include "parley/runtime.h"
#include "parley/server/token.h"

namespace parley::server {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

Distribution summarize(std::vector<double> v) {
  Distribution d;
  d.count = v.size();
  if (v.empty()) return d;
  std::sort(v.begin(), v.end());
  auto at = [&v](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  d.p50 = at(0.50);
  d.p90 = at(0.90);
  d.p99 = at(0.99);
  d.max = v.back();
  return d;
}

// Proportional set size of `pid` in KiB (shared library pages divided among the processes
// sharing them, so worker processes are not charged the same library N times).
long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Pss:", 0) == 0) return std::stol(line.substr(4));
  return 0;
}

// Memory (PSS) of `pid` and its direct children (the worker processes, which any of its
// threads may have spawned).
long tree_rss_kib(int pid) {
  long total = rss_kib(pid);
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream children(task.path() / "children");
    for (int child; children >> child;) total += rss_kib(child);
  }
  return total;
}

// State shared by every user of a run.
struct Run {
  LoadgenConfig cfg;
  std::shared_ptr<Runtime> runtime;
  std::vector<std::string> pcm;  // one payload per frame of the WAV
  int sample_rate = 16000;
  std::mutex mu;
  std::condition_variable cv;
  int finished_users = 0;
  std::map<std::string, int> errors;
  std::vector<double> start_ms, relay_ms, first_reply_ms, turn_ms;
  uint64_t frames_received = 0, transcripts = 0;
  std::atomic<uint64_t> frames_sent{0};
  std::atomic<int> started{0};

  void error(const std::string& kind) {
    std::lock_guard lock(mu);
    ++errors[kind];
  }
};

// POSTs `body` to `path` and calls `done(status, json body, transport error)` on an I/O thread.
void post(Run& run, const std::string& path, const json& body,
          std::function<void(int, const json&, const std::string&)> done) {
  net::HttpClientRequest req;
  req.method = "POST";
  req.url = run.cfg.server + path;
  req.body = body.dump();
  req.headers.set("Content-Type", "application/json");
  if (!run.cfg.api_key.empty()) req.headers.set("Authorization", "Bearer " + run.cfg.api_key);
  req.connect_timeout = std::chrono::seconds(10);
  req.read_timeout = std::chrono::seconds(60);
  auto acc = std::make_shared<std::pair<int, std::string>>(0, "");
  net::HttpStreamHandlers h;
  h.on_headers = [acc](int status, const net::HttpHeaders&) { acc->first = status; };
  h.on_body = [acc](std::string_view chunk) { acc->second.append(chunk); };
  h.on_done = [acc, done = std::move(done)](const Status& s) {
    if (!s.is_ok()) return done(0, nullptr, s.message());
    done(acc->first, json::parse(acc->second, nullptr, false), "");
  };
  net::http_stream(run.runtime->io(), std::move(req), std::move(h));
}

std::string error_code_of(int status, const json& body, const std::string& transport) {
  if (!transport.empty()) return "transport";
  if (body.is_object() && body.contains("error")) return body["error"].value("code", "unknown");
  return "http_" + std::to_string(status);
}

class User : public std::enable_shared_from_this<User> {
 public:
  User(Run& run, int index, size_t frames)
      : run_(run), index_(index), total_frames_(frames), sent_ns_(frames) {
    channel_ = fmt::format("lg-{}-{}", random_hex(3), index);
  }

  // Where the user is, for the report of users that did not finish.
  const char* phase() const { return phase_.load(); }
  // Closes the connection (end of the run).
  void abort() {
    if (conn_) conn_->close(net::ws_close::kNormal, "loadgen deadline");
  }

  void begin() {
    phase_ = "generate";
    post(run_, "/v1/api/generate", {{"channel_name", channel_}, {"uid", 1000 + index_}},
         [self = shared_from_this()](int status, const json& body, const std::string& err) {
           if (status != 200) return self->fail("generate: " + error_code_of(status, body, err));
           self->join(body.value("token", ""));
         });
  }

  // Called by the ticker thread: sends every frame that is due.
  void tick(Clock::time_point now) {
    if (!streaming_.load(std::memory_order_acquire)) return;
    while (next_ < total_frames_ &&
           now >= stream_start_ + std::chrono::milliseconds(next_ * run_.cfg.frame_ms)) {
      rtc::FrameHeader h;
      h.sequence = static_cast<uint32_t>(next_);
      h.timestamp_ms = next_ * run_.cfg.frame_ms;
      h.sample_rate = static_cast<uint32_t>(run_.sample_rate);
      auto frame = rtc::encode_frame(h, run_.pcm[next_ % run_.pcm.size()]);
      sent_ns_[next_].store((Clock::now() - stream_start_).count(), std::memory_order_relaxed);
      if (frame.is_ok()) (void)conn_->send_binary(std::move(frame).value());
      run_.frames_sent.fetch_add(1, std::memory_order_relaxed);
      ++next_;
    }
    if (next_ >= total_frames_) {
      streaming_ = false;
      // Let the last echoes arrive, then stop the session.
      auto t = std::make_shared<boost::asio::steady_timer>(run_.runtime->io(),
                                                           std::chrono::milliseconds(500));
      t->async_wait(
          [t, self = shared_from_this()](const boost::system::error_code&) { self->stop(); });
    }
  }

 private:
  void join(const std::string& token) {
    phase_ = "join";
    auto self = shared_from_this();
    net::WsCallbacks cb;
    cb.on_binary = [self](const auto&, std::string data) { self->on_frame(data); };
    cb.on_text = [self](const auto&, std::string text) { self->on_event(text); };
    cb.on_close = [self](const auto&, const net::WsCloseInfo& info) {
      if (!self->done_) self->fail("closed early: " + std::to_string(info.code));
    };
    net::ws_connect(
        run_.runtime->io(),
        "ws" + run_.cfg.server.substr(4) + "/v1/rtc?channel=" + channel_ + "&token=" + token, {},
        cb, [self](Result<std::shared_ptr<net::WsConnection>> c) {
          if (!c.is_ok()) return self->fail("join: " + c.status().message());
          self->conn_ = std::move(c).value();
          self->start();
        });
  }

  void start() {
    phase_ = "start";
    const auto t0 = Clock::now();
    post(run_, "/v1/api/start",
         {{"channel_name", channel_},
          {"graph_name", run_.cfg.graph},
          {"user_uid", 1000 + index_},
          {"timeout", -1}},
         [self = shared_from_this(), t0](int status, const json& body, const std::string& err) {
           if (status != 200) return self->fail("start: " + error_code_of(status, body, err));
           {
             std::lock_guard lock(self->run_.mu);
             self->run_.start_ms.push_back(
                 std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
           }
           self->run_.started.fetch_add(1);
           self->phase_ = "stream";
           self->stream_start_ = Clock::now();
           self->streaming_.store(true, std::memory_order_release);
         });
  }

  // On the connection's strand.
  void on_frame(const std::string& data) {
    auto f = rtc::decode_frame(data);
    if (!f.is_ok()) return;
    const auto now_ns = (Clock::now() - stream_start_).count();
    ++received_;
    if (first_reply_ms_ < 0) first_reply_ms_ = now_ns / 1e6;
    const uint64_t idx = f->header.timestamp_ms / static_cast<uint64_t>(run_.cfg.frame_ms);
    // Relay delay is measured on frames the agent echoes (echo_agent): the same payload back
    // with the user's timestamp. A voice agent's own audio is not a relayed frame.
    // (Silent frames are skipped: a synthesiser's silence would match the user's pauses.)
    const std::string& mine = run_.pcm[idx % run_.pcm.size()];
    const bool silent = mine.find_first_not_of('\0') == std::string::npos;
    if (idx < total_frames_ && !silent && f->payload == mine) {
      const int64_t sent = sent_ns_[idx].load(std::memory_order_relaxed);
      if (sent > 0 || idx == 0) relay_.push_back((now_ns - sent) / 1e6);
    }
  }

  void on_event(const std::string& text) {
    auto j = json::parse(text, nullptr, false);
    if (!j.is_object()) return;
    if (j.value("type", "") == rtc::event::kTranscript) {
      ++transcripts_;
      if (first_reply_ms_ < 0) first_reply_ms_ = (Clock::now() - stream_start_).count() / 1e6;
    } else if (j.value("type", "") == rtc::event::kMetrics) {
      // The agent's per-turn timeline (turn_timeline): user speech end → first audio out.
      const auto& tl = j.contains("timeline") && j["timeline"].is_object() ? j["timeline"] : j;
      if (tl.contains("voice_to_voice_ms") && tl["voice_to_voice_ms"].is_number())
        turn_.push_back(tl["voice_to_voice_ms"].get<double>());
    } else if (j.value("type", "") == rtc::event::kError) {
      run_.error("hub error: " + j.value("code", ""));
    }
  }

  void stop() {
    phase_ = "stop";
    post(run_, "/v1/api/stop", {{"channel_name", channel_}},
         [self = shared_from_this()](int status, const json& body, const std::string& err) {
           if (status != 200) self->run_.error("stop: " + error_code_of(status, body, err));
           // Results are merged on the connection's strand, where they were collected.
           self->conn_->post([self] { self->finish(); });
         });
  }

  void finish() {
    if (done_) return;
    done_ = true;
    phase_ = "done";
    if (conn_) conn_->close(net::ws_close::kNormal, "loadgen done");
    std::lock_guard lock(run_.mu);
    run_.relay_ms.insert(run_.relay_ms.end(), relay_.begin(), relay_.end());
    if (first_reply_ms_ >= 0) run_.first_reply_ms.push_back(first_reply_ms_);
    run_.turn_ms.insert(run_.turn_ms.end(), turn_.begin(), turn_.end());
    run_.frames_received += received_;
    run_.transcripts += transcripts_;
    ++run_.finished_users;
    run_.cv.notify_all();
  }

  void fail(const std::string& kind) {
    run_.error(kind);
    streaming_ = false;
    if (conn_) {
      conn_->post([self = shared_from_this()] { self->finish(); });
      return;
    }
    done_ = true;
    phase_ = "done";
    std::lock_guard lock(run_.mu);
    ++run_.finished_users;
    run_.cv.notify_all();
  }

  Run& run_;
  const int index_;
  std::string channel_;
  const size_t total_frames_;
  std::vector<std::atomic<int64_t>> sent_ns_;
  std::shared_ptr<net::WsConnection> conn_;
  std::atomic<bool> streaming_{false};
  Clock::time_point stream_start_;
  size_t next_ = 0;  // ticker thread only
  // Connection strand only.
  std::vector<double> relay_;
  uint64_t received_ = 0, transcripts_ = 0;
  double first_reply_ms_ = -1;
  std::vector<double> turn_;  // voice-to-voice of each answered turn, from metrics events
  bool done_ = false;
  std::atomic<const char*> phase_{"new"};
};

Status load_audio(Run& run) {
  PARLEY_ASSIGN_OR_RETURN(media::PcmAudio audio, media::read_wav(run.cfg.wav));
  std::vector<int16_t> samples;
  PARLEY_ASSIGN_OR_RETURN(auto conv, media::AudioConverter::create({16000, 1}));
  PARLEY_RETURN_IF_ERROR(
      conv->convert(audio.samples, {audio.sample_rate, audio.channels}, samples));
  PARLEY_RETURN_IF_ERROR(conv->flush(samples));
  // A talking user pauses to listen: silence after each pass of the WAV ends the turn.
  samples.insert(samples.end(), static_cast<size_t>(16 * std::max(0, run.cfg.pause_ms)), 0);
  const size_t per_frame = static_cast<size_t>(16 * run.cfg.frame_ms);
  for (size_t i = 0; i + per_frame <= samples.size(); i += per_frame)
    run.pcm.emplace_back(reinterpret_cast<const char*>(samples.data() + i), per_frame * 2);
  if (run.pcm.empty()) return invalid_argument(run.cfg.wav + " is shorter than one frame");
  return Status::ok();
}

}  // namespace

Status LoadgenConfig::validate() const {
  auto url = net::parse_url(server);
  if (!url.is_ok() || url->scheme != "http")
    return invalid_argument("--server must be an http:// URL, e.g. http://127.0.0.1:8080");
  const bool loopback =
      url->host == "localhost" || url->host == "::1" || url->host.rfind("127.", 0) == 0;
  if (!loopback)
    return invalid_argument(
        "--server must be a loopback address (127.0.0.1, ::1, localhost): "
        "loadgen does not load other machines");
  if (users < 1 || users > 5000) return invalid_argument("--users must be between 1 and 5000");
  if (!(duration_s > 0 && duration_s <= 3600))
    return invalid_argument("--duration must be > 0 and <= 3600 s");
  if (frame_ms < 10 || frame_ms > 100) return invalid_argument("--frame-ms must be 10..100");
  if (ramp_ms < 0 || ramp_ms > 600000) return invalid_argument("--ramp-ms must be 0..600000");
  if (wav.empty()) return invalid_argument("--wav is required");
  return Status::ok();
}

Result<LoadgenReport> run_loadgen(const LoadgenConfig& config) {
  PARLEY_RETURN_IF_ERROR(config.validate());
  Run run;
  run.cfg = config;
  while (!run.cfg.server.empty() && run.cfg.server.back() == '/') run.cfg.server.pop_back();
  PARLEY_RETURN_IF_ERROR(load_audio(run));
  run.runtime = Runtime::create({std::max(1, config.io_threads), 1});
  const size_t frames = static_cast<size_t>(config.duration_s * 1000 / config.frame_ms);
  LoadgenReport report;
  report.users = config.users;
  if (config.server_pid > 0) report.server_rss_kib_idle = tree_rss_kib(config.server_pid);

  std::vector<std::shared_ptr<User>> users;
  for (int i = 0; i < config.users; ++i) users.push_back(std::make_shared<User>(run, i, frames));
  const auto t0 = Clock::now();
  std::atomic<bool> ticking{true};
  std::thread ticker([&] {
    auto next = Clock::now();
    while (ticking.load()) {
      next += std::chrono::milliseconds(1);
      std::this_thread::sleep_until(next);
      const auto now = Clock::now();
      for (auto& u : users) u->tick(now);
      if (config.server_pid > 0 &&
          (now - t0) % std::chrono::milliseconds(500) < std::chrono::milliseconds(1))
        report.server_rss_kib_peak =
            std::max(report.server_rss_kib_peak, tree_rss_kib(config.server_pid));
    }
  });
  for (int i = 0; i < config.users; ++i) {
    if (config.ramp_ms > 0)
      std::this_thread::sleep_until(
          t0 + std::chrono::microseconds(int64_t{config.ramp_ms} * 1000 * i / config.users));
    users[i]->begin();
  }
  const auto deadline = t0 + std::chrono::milliseconds(config.ramp_ms) +
                        std::chrono::milliseconds(static_cast<int64_t>(config.duration_s * 1000)) +
                        std::chrono::seconds(60);
  {
    std::unique_lock lock(run.mu);
    if (!run.cv.wait_until(lock, deadline, [&] { return run.finished_users == config.users; })) {
      for (const auto& u : users)
        if (std::string(u->phase()) != "done")
          ++run.errors[std::string("unfinished at the deadline, in ") + u->phase()];
    }
  }
  ticking = false;
  ticker.join();
  // Connections still open (users cut off by the deadline) would keep the network threads busy.
  for (auto& u : users) u->abort();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  run.runtime->io().stop();
  report.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  run.runtime->shutdown();
  std::lock_guard lock(run.mu);
  report.sessions_started = run.started.load();
  report.start_ms = summarize(run.start_ms);
  report.relay_ms = summarize(run.relay_ms);
  report.first_reply_ms = summarize(run.first_reply_ms);
  report.turn_ms = summarize(run.turn_ms);
  report.frames_sent = run.frames_sent.load();
  report.frames_received = run.frames_received;
  report.transcripts = run.transcripts;
  report.errors = run.errors;
  return report;
}

std::string LoadgenReport::to_text() const {
  auto dist = [](const char* name, const Distribution& d) {
    return fmt::format(
        "{:<22} n={:<8} p50={:8.2f} ms  p90={:8.2f} ms  p99={:8.2f} ms  max={:8.2f} ms\n", name,
        d.count, d.p50, d.p90, d.p99, d.max);
  };
  std::string out = fmt::format("users {}  sessions started {}  wall {:.1f} s\n", users,
                                sessions_started, wall_s);
  out += dist("session start", start_ms);
  out += dist("relay delay", relay_ms);
  out += dist("first reply", first_reply_ms);
  out += dist("turn (voice-to-voice)", turn_ms);
  out += fmt::format(
      "frames sent {}  received {} ({:.2f}%)  transcripts {}\n", frames_sent, frames_received,
      frames_sent ? 100.0 * static_cast<double>(frames_received) / frames_sent : 0.0, transcripts);
  if (server_rss_kib_peak > 0)
    out += fmt::format(
        "server memory (PSS, with workers): idle {:.1f} MiB, peak {:.1f} MiB ({:.2f} MiB per "
        "session)\n",
        server_rss_kib_idle / 1024.0, server_rss_kib_peak / 1024.0,
        sessions_started ? (server_rss_kib_peak - server_rss_kib_idle) / 1024.0 / sessions_started
                         : 0.0);
  int total = 0;
  for (const auto& [kind, n] : errors) total += n;
  out += fmt::format("errors {}\n", total);
  for (const auto& [kind, n] : errors) out += fmt::format("  {:>6}  {}\n", n, kind);
  return out;
}

nlohmann::json LoadgenReport::to_json() const {
  auto dist = [](const Distribution& d) {
    return json{{"count", d.count}, {"p50", d.p50}, {"p90", d.p90}, {"p99", d.p99}, {"max", d.max}};
  };
  return {{"users", users},
          {"sessions_started", sessions_started},
          {"start_ms", dist(start_ms)},
          {"relay_ms", dist(relay_ms)},
          {"first_reply_ms", dist(first_reply_ms)},
          {"turn_ms", dist(turn_ms)},
          {"frames_sent", frames_sent},
          {"frames_received", frames_received},
          {"transcripts", transcripts},
          {"errors", errors},
          {"server_rss_kib_idle", server_rss_kib_idle},
          {"server_rss_kib_peak", server_rss_kib_peak},
          {"wall_s", wall_s}};
}

}  // namespace parley::server
