// Runtime: the process-wide thread pools every engine shares — an I/O pool running asynchronous
// work and extension executors, and a compute pool for blocking engine calls.
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it with g++ 12

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <thread>
#include <vector>

namespace parley {

// Sizes of the pools (0 = one thread per core).
struct RuntimeOptions {
  int io_threads = 0;
  int compute_threads = 0;
};

// Owns the pools. Create one per process and share it between engines; destroying it joins all
// threads after the queued work has run.
class Runtime {
 public:
  static std::shared_ptr<Runtime> create(RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs asynchronous I/O and extension executors (strands).
  boost::asio::io_context& io() { return io_; }
  // Runs blocking work (decoders, synthesizers) off the I/O threads.
  boost::asio::thread_pool& compute() { return *compute_; }
  int io_threads() const { return static_cast<int>(threads_.size()); }

  // Stops the threads after queued work finishes. Idempotent.
  void shutdown();

 private:
  explicit Runtime(RuntimeOptions options);
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<boost::asio::thread_pool> compute_;
  std::vector<std::thread> threads_;
  bool shut_down_ = false;
};

}  // namespace parley
