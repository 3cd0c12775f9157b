// Buffer: an immutable, reference-counted byte payload shared by every copy of a message.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace parley {

// Immutable bytes. Copying a Buffer copies a pointer, never the payload, so fan-out of a frame
// to N destinations costs N reference increments. Thread-safe to read and copy.
class Buffer {
 public:
  Buffer() = default;
  // Takes ownership of `bytes` (no copy).
  explicit Buffer(std::vector<uint8_t>&& bytes);
  // Copies `bytes` into a new payload (counted in payload_allocations()).
  static Buffer copy_of(std::span<const uint8_t> bytes);
  // Copies `count` int16 samples into a new payload.
  static Buffer copy_of_samples(std::span<const int16_t> samples);

  const uint8_t* data() const { return bytes_ ? bytes_->data() : nullptr; }
  size_t size() const { return bytes_ ? bytes_->size() : 0; }
  bool empty() const { return size() == 0; }
  std::span<const uint8_t> bytes() const { return {data(), size()}; }
  // The payload viewed as native-endian int16 samples (size()/2 of them).
  std::span<const int16_t> samples() const {
    return {reinterpret_cast<const int16_t*>(data()), size() / 2};
  }
  // How many Buffer objects currently share this payload (for tests of zero-copy fan-out).
  long use_count() const { return bytes_.use_count(); }

  // Number of payloads ever allocated in this process (new vectors adopted or copied).
  // Benchmarks and tests read it to prove that routing copies no payload.
  static uint64_t payload_allocations();

 private:
  std::shared_ptr<const std::vector<uint8_t>> bytes_;
};

}  // namespace parley
