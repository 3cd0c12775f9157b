// Buffer: shared immutable payloads, with a process-wide allocation counter.
#include "parley/buffer.h"

#include <cstring>

namespace parley {
namespace {
std::atomic<uint64_t> g_payload_allocations{0};
}  // namespace

Buffer::Buffer(std::vector<uint8_t>&& bytes)
    : bytes_(std::make_shared<const std::vector<uint8_t>>(std::move(bytes))) {
  g_payload_allocations.fetch_add(1, std::memory_order_relaxed);
}

Buffer Buffer::copy_of(std::span<const uint8_t> bytes) {
  return Buffer(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

Buffer Buffer::copy_of_samples(std::span<const int16_t> samples) {
  std::vector<uint8_t> bytes(samples.size_bytes());
  if (!samples.empty()) std::memcpy(bytes.data(), samples.data(), samples.size_bytes());
  return Buffer(std::move(bytes));
}

uint64_t Buffer::payload_allocations() {
  return g_payload_allocations.load(std::memory_order_relaxed);
}

}  // namespace parley
