// What the streaming TTS addons (espeak_tts, deepgram_tts) share: how text_data pieces are cut
// into sentences, and TtsOutput, how synthesised audio leaves the node — resampled to the output
// rate, cut into pcm_frame of frame_ms carrying turn_id, each turn's audio framed by
// tts_audio_start / tts_audio_end (plus the tts_first_audio turn mark), copied as far_end_frame
// when that is connected (the echo canceller's reference), and ended by an is_eof frame.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "parley/extension.h"
#include "parley/media/rechunker.h"
#include "parley/media/resampler.h"
#include "parley/status.h"

namespace parley::speech {

// Length of the prefix of `text` that ends at its last sentence boundary (. ! ? ; followed by
// white space or ending `text`, or a newline); 0 when there is none yet. Text after it waits for
// more text or for end_of_segment, so a streamed sentence is spoken whole, with its intonation.
size_t complete_sentences_length(std::string_view text);
// Appends the text_data piece `piece` to `pending`. Pieces are whole words (LLM stages send
// trimmed clauses and sentences), so two that do not already meet at white space are joined with
// one space, as the LLM stage joins them in its history and transcript.
void append_piece(std::string& pending, std::string_view piece);
// `text` without leading and trailing white space.
std::string trimmed(std::string_view text);

// The audio side of a streaming TTS node. Used from the node's executor only.
class TtsOutput {
 public:
  using Clock = std::chrono::steady_clock;

  // Output of `sample_rate` Hz mono in frames of `frame_ms` (call in on_configure: the error says
  // why that frame_ms does not fit the rate).
  static Result<TtsOutput> create(int sample_rate, int frame_ms);
  // Audio given to push() is at `input_rate`; it is resampled when that is not the output rate.
  Status set_input_rate(int input_rate);

  // The turn whose audio is being sent (tts_audio_start sent, tts_audio_end not yet).
  const std::optional<int64_t>& speaking() const { return speaking_; }
  // Begins the audio of turn `turn_id`: ends the current turn's audio first (not interrupted),
  // then sends tts_audio_start and the tts_first_audio mark, and the tts_first_audio_ms metric
  // measured from `requested_at` (when the turn's first text went to the synthesiser) if given.
  void start(Context& ctx, int64_t turn_id, std::optional<Clock::time_point> requested_at);
  // Sends `pcm` (input rate) as audio of the speaking turn: every complete frame leaves now, the
  // rest waits for more audio or end(). Call start() first.
  Status push(Context& ctx, std::span<const int16_t> pcm);
  // Ends the speaking turn's audio: sends what the resampler and framer hold (the last frame
  // zero-padded) or, when `interrupted`, drops it; then tts_audio_end. Nothing when none speaks.
  void end(Context& ctx, bool interrupted);
  // Drops the audio held in the resampler and the framer (the speaking turn goes on).
  void drop_held();
  // Sends the is_eof frame that ends the audio stream.
  void send_eof(Context& ctx);

  int sample_rate() const { return chunker_.sample_rate(); }
  int frame_ms() const { return chunker_.frame_ms(); }

 private:
  explicit TtsOutput(media::Rechunker chunker) : chunker_(std::move(chunker)) {}
  void send_ready_frames(Context& ctx);
  void send_frame(Context& ctx, const media::PcmFrame& pcm);
  // Sends `frame` as pcm_frame, and a copy (sharing the payload) as far_end_frame if connected.
  void send_audio(Context& ctx, std::unique_ptr<AudioFrame> frame);

  media::Rechunker chunker_;                     // frames of frame_ms, timestamps
  std::unique_ptr<media::Resampler> resampler_;  // input rate → output rate, when they differ
  std::vector<int16_t> scratch_;
  media::PcmFrame frame_;
  std::optional<int64_t> speaking_;
  std::optional<bool> far_end_connected_;  // looked up once: the graph does not change
};

}  // namespace parley::speech
