// Runtime: the shared I/O and compute thread pools.
#include "parley/runtime.h"

#include <algorithm>

namespace parley {

std::shared_ptr<Runtime> Runtime::create(RuntimeOptions options) {
  return std::shared_ptr<Runtime>(new Runtime(options));
}

Runtime::Runtime(RuntimeOptions options) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int io = options.io_threads > 0 ? options.io_threads : cores;
  const int compute = options.compute_threads > 0 ? options.compute_threads : cores;
  work_ =
      std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
          io_.get_executor());
  compute_ = std::make_unique<boost::asio::thread_pool>(compute);
  for (int i = 0; i < io; ++i) threads_.emplace_back([this] { io_.run(); });
}

Runtime::~Runtime() { shutdown(); }

void Runtime::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  work_.reset();
  compute_->join();
  for (auto& t : threads_) {
    // The last engine may release the runtime from one of its own threads: never join oneself.
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else if (t.joinable()) {
      t.join();
    }
  }
}

}  // namespace parley
