// Decodes the audio bytes of a live stream as they arrive in WebSocket messages of any size: raw
// linear16 (samples and frames may be split across messages), or a 16-bit PCM WAV stream whose
// header is parsed on the fly. Anything else is refused with a DATA-0000 error saying what to send.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/media/audio_converter.h"
#include "parley/status.h"

namespace parley::model_server {

// Streaming decoder of one audio stream; not thread-safe.
class AudioInput {
 public:
  // `raw` is the format of headerless audio. With `expect_raw` (encoding=linear16 was given) the
  // bytes are PCM from the start, though a leading WAV header is recognised and skipped if its
  // format matches; otherwise a WAV header is looked for and raw PCM assumed if there is none.
  AudioInput(media::AudioFormat raw, bool expect_raw) : format_(raw), expect_raw_(expect_raw) {}

  // Appends the whole frames decoded from `bytes` (interleaved s16) to `out`. Fails with
  // kDataLoss ("DATA-0000: ...") when the bytes cannot be this server's audio.
  Status push(std::string_view bytes, std::vector<int16_t>& out);
  // End of stream: fails with kDataLoss if a partial sample or frame is left over.
  Status finish() const;

  // The format of the decoded samples (from the WAV header once it was read).
  const media::AudioFormat& format() const { return format_; }
  // True once the format is known (the header, if any, has been read).
  bool format_known() const { return state_ == State::kPcm; }
  // Bytes received so far, headers included.
  uint64_t bytes_received() const { return bytes_; }

 private:
  enum class State { kDetect, kHeader, kPcm };
  Status detect();
  Status parse_header(bool& complete);
  void emit(std::string_view bytes, std::vector<int16_t>& out);

  media::AudioFormat format_;
  bool expect_raw_;
  State state_ = State::kDetect;
  std::string pending_;  // undecided header bytes, or a partial frame
  uint64_t bytes_ = 0;
};

// Names the container or codec `head` (the first bytes of a stream) starts with, when it is a
// compressed format this server cannot decode (MP3, Ogg, FLAC, WebM, AMR, MP4); nullopt otherwise.
std::optional<std::string> sniff_compressed(std::string_view head);

}  // namespace parley::model_server
