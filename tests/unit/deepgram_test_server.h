// Test support for the deepgram_asr and deepgram_tts addons: the real `parley model-serve`
// started in-process on 127.0.0.1 (port 0 unless a test restarts it on the same port) and a
// registry with the built-in addons.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "model_server/model_server.h"
#include "parley/addon.h"
#include "parley/runtime.h"

namespace parley::deepgram_test {

using namespace std::chrono_literals;

// A fixture running `parley model-serve` in-process; skips without the speech models.
class ModelServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!speech::PocketSphinxConfig{}.validate().is_ok())
      GTEST_SKIP() << "needs the Debian package pocketsphinx-en-us";
    register_builtin_addons(registry_);
    runtime_ = Runtime::create({.io_threads = 2, .compute_threads = 2});
    start_server(0);
  }
  void TearDown() override {
    stop_server();
    if (runtime_) runtime_->shutdown();
  }

  // Starts the server on `port` (0 = any) and waits until /ping would say ready.
  void start_server(uint16_t port) {
    model_server::ModelServerConfig c;
    c.host = "127.0.0.1";
    c.port = port;
    c.decoders = 2;
    c.warm_decoders = 1;
    server_ = std::make_unique<model_server::ModelServer>(runtime_, c);
    auto st = server_->start();
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    port_ = server_->port();
    for (int i = 0; i < 600 && server_->readiness() != model_server::Readiness::kReady; ++i) {
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(server_->readiness(), model_server::Readiness::kReady);
  }
  void stop_server() {
    if (server_) server_->stop(2000ms);
    server_.reset();
  }
  // The server's base URL: the addons add /v1/listen or /v1/speak.
  std::string base_url() const { return "ws://127.0.0.1:" + std::to_string(port_); }

  AddonRegistry registry_;
  std::shared_ptr<Runtime> runtime_;
  std::unique_ptr<model_server::ModelServer> server_;
  uint16_t port_ = 0;
};

}  // namespace parley::deepgram_test
