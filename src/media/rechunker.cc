// Fixed-size PCM framing, see include/parley/media/rechunker.h.
#include "parley/media/rechunker.h"

#include <algorithm>

namespace parley::media {

std::unique_ptr<AudioFrame> to_audio_frame(const PcmFrame& frame, std::string name) {
  auto msg = std::make_unique<AudioFrame>(std::move(name));
  msg->sample_rate = frame.sample_rate;
  msg->channels = frame.channels;
  msg->bytes_per_sample = 2;
  msg->timestamp_ms = frame.timestamp_ms;
  msg->set_buffer(Buffer::copy_of_samples(frame.samples));
  msg->samples_per_channel = frame.samples_per_channel();
  return msg;
}

Rechunker::Rechunker(int sample_rate, int channels, int frame_ms, int64_t start_timestamp_ms)
    : sample_rate_(sample_rate),
      channels_(channels),
      frame_ms_(frame_ms),
      samples_per_frame_(static_cast<int>(int64_t{sample_rate} * frame_ms / 1000)),
      start_timestamp_ms_(start_timestamp_ms) {}

Result<Rechunker> Rechunker::create(int sample_rate, int channels, int frame_ms,
                                    int64_t start_timestamp_ms) {
  if (sample_rate <= 0 || channels <= 0 || frame_ms <= 0 || frame_ms > 60'000) {
    return invalid_argument("rechunker needs a positive sample rate (" +
                            std::to_string(sample_rate) + "), channel count (" +
                            std::to_string(channels) + ") and frame duration 1..60000 ms (" +
                            std::to_string(frame_ms) + ")");
  }
  if (int64_t{sample_rate} * frame_ms % 1000 != 0) {
    return invalid_argument("a " + std::to_string(frame_ms) + " ms frame at " +
                            std::to_string(sample_rate) +
                            " Hz is not a whole number of samples; choose a frame duration "
                            "that divides evenly (10 or 20 ms work at 8, 16, 44.1 and 48 kHz)");
  }
  return Rechunker(sample_rate, channels, frame_ms, start_timestamp_ms);
}

Status Rechunker::push(std::span<const int16_t> interleaved) {
  if (interleaved.size() % static_cast<size_t>(channels_) != 0) {
    return invalid_argument("rechunker input of " + std::to_string(interleaved.size()) +
                            " samples is not a whole number of " + std::to_string(channels_) +
                            "-channel frames");
  }
  // Compact once the consumed prefix dominates, so the buffer stays about one frame long.
  if (read_pos_ > 0 && read_pos_ >= pending_.size() / 2) {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(read_pos_));
    read_pos_ = 0;
  }
  pending_.insert(pending_.end(), interleaved.begin(), interleaved.end());
  return Status::ok();
}

int64_t Rechunker::next_timestamp_ms() const {
  return start_timestamp_ms_ + emitted_ * 1000 / sample_rate_;
}

void Rechunker::emit(PcmFrame& frame, size_t count, size_t total) {
  frame.sample_rate = sample_rate_;
  frame.channels = channels_;
  frame.timestamp_ms = next_timestamp_ms();
  const auto first = pending_.begin() + static_cast<ptrdiff_t>(read_pos_);
  frame.samples.assign(first, first + static_cast<ptrdiff_t>(count));
  frame.samples.resize(total, 0);
  read_pos_ += count;
  emitted_ += static_cast<int64_t>(total / static_cast<size_t>(channels_));
}

bool Rechunker::pop(PcmFrame& frame) {
  const size_t frame_samples = static_cast<size_t>(samples_per_frame_) * channels_;
  if (pending_.size() - read_pos_ < frame_samples) return false;
  emit(frame, frame_samples, frame_samples);
  return true;
}

bool Rechunker::flush(PcmFrame& frame, bool zero_pad) {
  const size_t left = pending_.size() - read_pos_;
  if (left == 0) return false;
  const size_t frame_samples = static_cast<size_t>(samples_per_frame_) * channels_;
  // A flush normally follows pop() until false, but emit at most one frame's worth regardless.
  const size_t count = std::min(left, frame_samples);
  emit(frame, count, zero_pad ? frame_samples : count);
  if (read_pos_ == pending_.size()) {
    pending_.clear();
    read_pos_ = 0;
  }
  return true;
}

void Rechunker::reset(int64_t start_timestamp_ms) {
  pending_.clear();
  read_pos_ = 0;
  emitted_ = 0;
  start_timestamp_ms_ = start_timestamp_ms;
}

}  // namespace parley::media
