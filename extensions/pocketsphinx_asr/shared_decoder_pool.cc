// Process-wide decoder pools, one per model configuration (see shared_decoder_pool.h).
#include "shared_decoder_pool.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace parley::asr {

SharedPool shared_decoder_pool(const speech::PocketSphinxConfig& config, size_t warm, size_t max) {
  struct Entry {
    std::unique_ptr<speech::DecoderPool> pool;
    size_t warm = 0;
    size_t max = 0;
  };
  // Function-local and deliberately never destroyed: extensions may return leases while the
  // process is exiting, after static destructors would have run.
  static std::mutex& mu = *new std::mutex;
  static auto& pools = *new std::map<std::string, Entry>;

  std::lock_guard lock(mu);
  auto [it, inserted] = pools.try_emplace(config.to_string());
  Entry& entry = it->second;
  if (inserted) {
    entry.max = std::max<size_t>(max, 1);
    entry.warm = std::min(warm, entry.max);
    entry.pool = std::make_unique<speech::DecoderPool>(config, entry.warm, entry.max);
  }
  return {entry.pool.get(), inserted, entry.warm, entry.max};
}

}  // namespace parley::asr
