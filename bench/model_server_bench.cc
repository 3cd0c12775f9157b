// Load client for `parley model-serve` (and, for comparison, any WebSocket echo server such as
// bench/node_ws_echo.cjs), built on parley_net's WebSocket client. bench/model_server_bench.sh
// starts the servers and runs the three measurements for docs/benchmarks.md, "Model server":
//
//   model_server_bench echo LABEL=URL [LABEL=URL...] [--conns 1,100,1000] [--seconds 5]
//       [--interval-ms 100] [--size 64]
//     Every connection sends a `size`-byte text message every interval and times the echo; the
//     round-trip p50/p99 is printed per server and connection count.
//   model_server_bench idle URL --conns N --pid PID
//     Opens N idle connections and reports the server's resident memory per connection.
//   model_server_bench listen URL --streams 1,2,4 [--seconds 20] [--wav FILE]
//     N concurrent /v1/listen streams at real-time pace; reports the latency of final results
//     behind the audio and how long the Metadata takes after CloseStream.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "parley/media/wav.h"
#include "parley/net/client.h"
#include "parley/runtime.h"

namespace {

using namespace parley;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()))];
}

// Opens `n` connections concurrently (at most 200 handshakes in flight).
std::vector<std::shared_ptr<net::WsConnection>> open_many(
    boost::asio::io_context& io, const std::string& url, int n,
    const std::function<net::WsCallbacks(int)>& callbacks) {
  std::vector<std::shared_ptr<net::WsConnection>> conns(n);
  std::atomic<int> done{0}, failed{0}, next{0};
  std::mutex mu;
  std::condition_variable cv;
  std::function<void()> start_one = [&] {
    const int i = next.fetch_add(1);
    if (i >= n) return;
    net::ws_connect(io, url, {}, callbacks(i),
                    [&, i](Result<std::shared_ptr<net::WsConnection>> r) {
                      if (r.is_ok()) {
                        conns[i] = *r;
                      } else if (failed.fetch_add(1) < 3) {
                        std::cerr << "connect failed: " << r.status().message() << "\n";
                      }
                      start_one();
                      std::lock_guard lock(mu);
                      if (++done == n) cv.notify_all();
                    });
  };
  for (int i = 0; i < std::min(n, 200); ++i) start_one();
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done.load() == n; });
  if (failed) std::cerr << failed << " of " << n << " connections failed\n";
  return conns;
}

int echo(const std::vector<std::pair<std::string, std::string>>& servers,
         const std::vector<int>& counts, double seconds, int interval_ms, int size) {
  auto rt = Runtime::create({.io_threads = 1, .compute_threads = 1});
  const std::string payload(size, 'e');
  std::printf("| server | connections | messages | RTT p50 (ms) | RTT p99 (ms) | RTT max (ms) |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  std::map<std::pair<int, std::string>, double> p50s, p99s;
  for (int n : counts) {
    for (const auto& [label, url] : servers) {
      struct Conn {
        Clock::time_point sent;
        std::unique_ptr<boost::asio::steady_timer> timer;
      };
      std::vector<Conn> state(n);
      std::mutex mu;
      std::vector<double> rtts;
      std::atomic<bool> running{true};
      std::vector<std::shared_ptr<net::WsConnection>> conns;
      auto send = [&](int i) {
        if (!running || !conns[i]) return;
        state[i].sent = Clock::now();
        (void)conns[i]->send_text(payload);
      };
      auto conns_made = open_many(rt->io(), url, n, [&](int i) {
        net::WsCallbacks cb;
        cb.on_text = [&, i](const std::shared_ptr<net::WsConnection>&, std::string) {
          const auto now = Clock::now();
          {
            std::lock_guard lock(mu);
            rtts.push_back(std::chrono::duration<double, std::milli>(now - state[i].sent).count());
          }
          state[i].timer->expires_at(state[i].sent + std::chrono::milliseconds(interval_ms));
          state[i].timer->async_wait([&, i](boost::system::error_code ec) {
            if (!ec) send(i);
          });
        };
        return cb;
      });
      conns = std::move(conns_made);
      std::mt19937 rng(42);
      for (int i = 0; i < n; ++i) {
        if (!conns[i]) continue;
        state[i].timer = std::make_unique<boost::asio::steady_timer>(conns[i]->executor());
        // Spread the first sends over one interval so the load is even.
        const auto delay = std::chrono::microseconds(rng() % (interval_ms * 1000));
        state[i].timer->expires_after(delay);
        conns[i]->post([&, i] {
          state[i].timer->async_wait([&, i](boost::system::error_code ec) {
            if (!ec) send(i);
          });
        });
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(seconds * 1000)));
      running = false;
      for (int i = 0; i < n; ++i) {
        if (conns[i]) conns[i]->close(1000, "");
      }
      std::this_thread::sleep_for(500ms);
      std::vector<double> copy;
      {
        std::lock_guard lock(mu);
        copy = rtts;
      }
      const double p50 = percentile(copy, 50), p99 = percentile(copy, 99);
      const double max = copy.empty() ? 0 : copy.back();
      p50s[{n, label}] = p50;
      p99s[{n, label}] = p99;
      std::printf("| %s | %d | %zu | %.3f | %.3f | %.1f |\n", label.c_str(), n, copy.size(), p50,
                  p99, max);
      std::fflush(stdout);
      for (auto& s : state) {
        if (s.timer) {
          auto* t = s.timer.get();
          boost::asio::post(t->get_executor(), [t] { t->cancel(); });
        }
      }
      std::this_thread::sleep_for(200ms);
    }
  }
  if (servers.size() == 2) {
    std::printf("\n| connections | p50 %s / %s | p99 %s / %s |\n|---:|---:|---:|\n",
                servers[0].first.c_str(), servers[1].first.c_str(), servers[0].first.c_str(),
                servers[1].first.c_str());
    for (int n : counts) {
      std::printf("| %d | %.2f | %.2f |\n", n,
                  p50s[{n, servers[0].first}] / std::max(1e-9, p50s[{n, servers[1].first}]),
                  p99s[{n, servers[0].first}] / std::max(1e-9, p99s[{n, servers[1].first}]));
    }
  }
  rt->shutdown();
  return 0;
}

long rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

int idle(const std::string& url, int n, int pid) {
  auto rt = Runtime::create({.io_threads = 1, .compute_threads = 1});
  const long before = rss_kib(pid);
  const auto t0 = Clock::now();
  auto conns = open_many(rt->io(), url, n, [](int) { return net::WsCallbacks{}; });
  const double open_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(2s);
  const long after = rss_kib(pid);
  size_t open = 0;
  for (auto& c : conns) open += c && c->is_open();
  std::printf("| %d | %zu | %.2f | %.1f | %.1f | %.1f |\n", n, open, open_s, before / 1024.0,
              after / 1024.0, open ? (after - before) * 1024.0 / open / 1024.0 : 0.0);
  for (auto& c : conns) {
    if (c) c->close(1000, "");
  }
  std::this_thread::sleep_for(1s);
  rt->shutdown();
  return 0;
}

int listen(const std::string& url, const std::vector<int>& counts, double seconds,
           const std::string& wav_path) {
  auto audio = media::read_wav(wav_path);
  if (!audio.is_ok() || audio->sample_rate != 16000 || audio->channels != 1) {
    std::cerr << "need a 16 kHz mono WAV: " << audio.status().to_string() << "\n";
    return 2;
  }
  // The recording followed by one second of silence, so utterances end (and finals come) as in
  // live speech instead of at CloseStream only.
  std::vector<int16_t> source = audio->samples;
  source.resize(source.size() + 16000, 0);
  auto rt = Runtime::create({.io_threads = 1, .compute_threads = 1});
  std::printf(
      "| streams | audio per stream (s) | finals | final latency p50 (ms) | p99 (ms) | "
      "CloseStream→Metadata p50 (ms) | max (ms) | refused |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  const size_t chunk = 1600;  // 100 ms
  for (int n : counts) {
    std::mutex mu;
    std::vector<double> latency, close_delay;
    std::vector<Clock::time_point> t0(n), closed_at(n);
    std::atomic<int> done{0};
    std::string full = url + (url.find('?') == std::string::npos ? "?" : "&") +
                       "encoding=linear16&sample_rate=16000";
    auto conns = open_many(rt->io(), full, n, [&](int i) {
      net::WsCallbacks cb;
      cb.on_text = [&, i](const std::shared_ptr<net::WsConnection>&, std::string text) {
        const auto now = Clock::now();
        auto j = nlohmann::json::parse(text, nullptr, false);
        std::lock_guard lock(mu);
        if (j.value("type", "") == "Results" && j.value("is_final", false)) {
          const double audio_end = j.value("start", 0.0) + j.value("duration", 0.0);
          latency.push_back(std::chrono::duration<double, std::milli>(now - t0[i]).count() -
                            audio_end * 1000);
        } else if (j.value("type", "") == "Metadata") {
          close_delay.push_back(
              std::chrono::duration<double, std::milli>(now - closed_at[i]).count());
        }
      };
      cb.on_close = [&](const std::shared_ptr<net::WsConnection>&, const net::WsCloseInfo&) {
        ++done;
      };
      return cb;
    });
    int refused = 0;
    for (auto& c : conns) refused += !c;
    std::vector<std::thread> senders;
    const size_t total = static_cast<size_t>(seconds * 16000);
    for (int i = 0; i < n; ++i) {
      if (!conns[i]) continue;
      senders.emplace_back([&, i] {
        {
          std::lock_guard lock(mu);
          t0[i] = Clock::now();
        }
        for (size_t sent = 0, k = 1; sent < total; sent += chunk, ++k) {
          const size_t at = sent % source.size();
          const size_t len = std::min(chunk, source.size() - at);
          std::string bytes(len * 2, '\0');
          std::memcpy(bytes.data(), source.data() + at, bytes.size());
          (void)conns[i]->send_binary(std::move(bytes));
          std::this_thread::sleep_until(t0[i] + k * 100ms);
        }
        {
          std::lock_guard lock(mu);
          closed_at[i] = Clock::now();
        }
        (void)conns[i]->send_text(R"({"type":"CloseStream"})");
      });
    }
    for (auto& t : senders) t.join();
    for (int w = 0; w < 600 && done.load() < n - refused; ++w) std::this_thread::sleep_for(100ms);
    std::lock_guard lock(mu);
    std::vector<double> cd = close_delay;
    std::printf("| %d | %.0f | %zu | %.0f | %.0f | %.0f | %.0f | %d |\n", n, seconds,
                latency.size(), percentile(latency, 50), percentile(latency, 99),
                percentile(cd, 50), cd.empty() ? 0.0 : cd.back(), refused);
    std::fflush(stdout);
  }
  rt->shutdown();
  return 0;
}

std::string flag(std::vector<std::string>& args, const std::string& name, std::string def) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name) {
      std::string v = args[i + 1];
      args.erase(args.begin() + i, args.begin() + i + 2);
      return v;
    }
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "usage: model_server_bench echo|idle|listen ... (see the file comment)\n";
    return 2;
  }
  const std::string mode = args[0];
  args.erase(args.begin());
  if (mode == "echo") {
    const auto conns = parse_list(flag(args, "--conns", "1,100,1000"));
    const double seconds = std::stod(flag(args, "--seconds", "5"));
    const int interval = std::stoi(flag(args, "--interval-ms", "100"));
    const int size = std::stoi(flag(args, "--size", "64"));
    std::vector<std::pair<std::string, std::string>> servers;
    for (const auto& a : args) {
      const auto eq = a.find('=');
      if (eq == std::string::npos) {
        std::cerr << "servers are LABEL=URL\n";
        return 2;
      }
      servers.emplace_back(a.substr(0, eq), a.substr(eq + 1));
    }
    return echo(servers, conns, seconds, interval, size);
  }
  if (mode == "idle") {
    const int n = std::stoi(flag(args, "--conns", "1000"));
    const int pid = std::stoi(flag(args, "--pid", "0"));
    if (args.size() != 1) return 2;
    std::printf(
        "| connections | open | open time (s) | server RSS before (MiB) | after (MiB) | "
        "KiB per connection |\n|---:|---:|---:|---:|---:|---:|\n");
    return idle(args[0], n, pid);
  }
  if (mode == "listen") {
    const auto streams = parse_list(flag(args, "--streams", "1,2,4"));
    const double seconds = std::stod(flag(args, "--seconds", "20"));
    const std::string wav = flag(
        args, "--wav",
        "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav");
    if (args.size() != 1) return 2;
    return listen(args[0], streams, seconds, wav);
  }
  std::cerr << "unknown mode " << mode << "\n";
  return 2;
}
