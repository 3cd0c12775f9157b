// Streaming linear16 / WAV decoding for live transcription.
#include "model_server/audio_input.h"

#include <cstring>

#include <fmt/format.h>

namespace parley::model_server {
namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;

uint32_t le32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return u[0] | (u[1] << 8) | (u[2] << 16) | (static_cast<uint32_t>(u[3]) << 24);
}
uint16_t le16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}

Status data_error(std::string what) { return data_loss("DATA-0000: " + what); }

}  // namespace

std::optional<std::string> sniff_compressed(std::string_view head) {
  auto starts = [&](std::string_view magic) { return head.starts_with(magic); };
  if (starts("ID3")) return "MP3";
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0xFF &&
      (static_cast<unsigned char>(head[1]) & 0xE0) == 0xE0 &&
      (static_cast<unsigned char>(head[1]) & 0x06) != 0) {
    return "MP3/AAC";
  }
  if (starts("OggS")) return "Ogg";
  if (starts("fLaC")) return "FLAC";
  if (starts("\x1A\x45\xDF\xA3")) return "WebM/Matroska";
  if (starts("#!AMR")) return "AMR";
  if (head.size() >= 8 && head.substr(4, 4) == "ftyp") return "MP4";
  return std::nullopt;
}

Status AudioInput::push(std::string_view bytes, std::vector<int16_t>& out) {
  bytes_ += bytes.size();
  if (state_ == State::kPcm) {
    emit(bytes, out);
    return Status::ok();
  }
  pending_.append(bytes);
  if (state_ == State::kDetect) {
    if (pending_.size() < 12) return Status::ok();
    PARLEY_RETURN_IF_ERROR(detect());
  }
  if (state_ == State::kHeader) {
    bool complete = false;
    PARLEY_RETURN_IF_ERROR(parse_header(complete));
    if (!complete) return Status::ok();
  }
  std::string rest;
  rest.swap(pending_);
  emit(rest, out);
  return Status::ok();
}

Status AudioInput::finish() const {
  if (state_ == State::kHeader) {
    return data_error("the stream ended inside its WAV header");
  }
  // In kDetect fewer than 12 bytes ever arrived: judge them as headerless PCM.
  if (pending_.size() % (2 * static_cast<size_t>(format_.channels)) != 0) {
    return data_error(fmt::format(
        "{} stray byte(s) at the end of the audio: linear16 is 2 bytes per sample and {} "
        "channel(s) per frame, so the total must be a multiple of {}",
        pending_.size() % (2 * format_.channels), format_.channels, 2 * format_.channels));
  }
  return Status::ok();
}

Status AudioInput::detect() {
  if (pending_.starts_with("RIFF") && pending_.substr(8, 4) == "WAVE") {
    state_ = State::kHeader;
    return Status::ok();
  }
  if (pending_.starts_with("RIFF") || pending_.starts_with("RF64")) {
    return data_error(
        "a RIFF stream that is not WAVE (or RF64) cannot be decoded; send a 16-bit "
        "PCM WAV file or raw linear16");
  }
  if (auto kind = sniff_compressed(pending_)) {
    return data_error(fmt::format(
        "the audio looks like {}, which this server cannot decode: send raw linear16 with "
        "encoding=linear16&sample_rate=N, or a 16-bit PCM WAV file",
        *kind));
  }
  state_ = State::kPcm;
  return Status::ok();
}

Status AudioInput::parse_header(bool& complete) {
  complete = false;
  size_t pos = 12;
  std::optional<media::AudioFormat> fmt_found;
  while (pos + 8 <= pending_.size()) {
    const std::string_view id(pending_.data() + pos, 4);
    const uint32_t size = le32(pending_.data() + pos + 4);
    if (id == "data") {
      if (!fmt_found) return data_error("the WAV stream has its data chunk before its fmt chunk");
      if (expect_raw_ && !(*fmt_found == format_)) {
        return data_error(fmt::format(
            "the WAV header says {} but the query says sample_rate={}, channels={}: drop "
            "encoding/sample_rate from the URL or make them match",
            fmt_found->to_string(), format_.sample_rate, format_.channels));
      }
      format_ = *fmt_found;
      pending_.erase(0, pos + 8);
      state_ = State::kPcm;
      complete = true;
      return Status::ok();
    }
    const size_t padded = size + (size & 1);
    if (pos + 8 + padded > pending_.size()) break;  // wait for the rest of the chunk
    if (id == "fmt ") {
      if (size < 16) return data_error("the WAV fmt chunk is shorter than 16 bytes");
      const char* f = pending_.data() + pos + 8;
      uint16_t tag = le16(f);
      const uint16_t channels = le16(f + 2);
      const uint32_t rate = le32(f + 4);
      const uint16_t bits = le16(f + 14);
      if (tag == 0xFFFE && size >= 40) tag = le16(f + 24);  // WAVE_FORMAT_EXTENSIBLE subformat
      if (tag != 1 || bits != 16) {
        return data_error(fmt::format(
            "the WAV stream is format {} with {} bits per sample; only 16-bit PCM can be "
            "decoded (convert with: sox in.wav -b 16 -e signed-integer out.wav)",
            tag, bits));
      }
      media::AudioFormat f16{static_cast<int>(rate), static_cast<int>(channels)};
      if (auto st = f16.validate("the WAV stream"); !st.is_ok()) return data_error(st.message());
      fmt_found = f16;
    }
    pos += 8 + padded;
  }
  if (pending_.size() > kMaxHeaderBytes) {
    return data_error("no WAV data chunk in the first 64 KiB of the stream");
  }
  return Status::ok();
}

void AudioInput::emit(std::string_view bytes, std::vector<int16_t>& out) {
  const size_t frame_bytes = 2 * static_cast<size_t>(format_.channels);
  // Complete a frame split across messages first.
  if (!pending_.empty()) {
    const size_t need = frame_bytes - pending_.size();
    if (bytes.size() < need) {
      pending_.append(bytes);
      return;
    }
    pending_.append(bytes.substr(0, need));
    bytes.remove_prefix(need);
    const size_t base = out.size();
    out.resize(base + format_.channels);
    std::memcpy(out.data() + base, pending_.data(), frame_bytes);
    pending_.clear();
  }
  const size_t whole = bytes.size() / frame_bytes * frame_bytes;
  const size_t base = out.size();
  out.resize(base + whole / 2);
  if (whole > 0)  // (an empty view's data() may be null, which memcpy must not get)
    std::memcpy(out.data() + base, bytes.data(), whole);  // little-endian host (x86, arm64)
  pending_.assign(bytes.substr(whole));
}

}  // namespace parley::model_server
