// Sentence cutting and the audio output of the streaming TTS addons (see speech/tts_output.h).
#include "speech/tts_output.h"

#include <cctype>

#include "parley/turn_metrics.h"

namespace parley::speech {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

size_t complete_sentences_length(std::string_view text) {
  for (size_t i = text.size(); i-- > 0;) {
    const char c = text[i];
    if (c == '\n') return i + 1;
    if ((c == '.' || c == '!' || c == '?' || c == ';') &&
        (i + 1 == text.size() || is_space(text[i + 1]))) {
      return i + 1;
    }
  }
  return 0;
}

void append_piece(std::string& pending, std::string_view piece) {
  if (!pending.empty() && !piece.empty() && !is_space(pending.back()) && !is_space(piece.front()))
    pending += ' ';
  pending += piece;
}

std::string trimmed(std::string_view text) {
  size_t b = 0;
  size_t e = text.size();
  while (b < e && is_space(text[b])) ++b;
  while (e > b && is_space(text[e - 1])) --e;
  return std::string(text.substr(b, e - b));
}

Result<TtsOutput> TtsOutput::create(int sample_rate, int frame_ms) {
  PARLEY_ASSIGN_OR_RETURN(auto chunker, media::Rechunker::create(sample_rate, 1, frame_ms));
  return TtsOutput(std::move(chunker));
}

Status TtsOutput::set_input_rate(int input_rate) {
  if (input_rate == sample_rate()) {
    resampler_.reset();
    return Status::ok();
  }
  PARLEY_ASSIGN_OR_RETURN(resampler_, media::Resampler::create(input_rate, sample_rate(), 1));
  return Status::ok();
}

void TtsOutput::start(Context& ctx, int64_t turn_id,
                      std::optional<Clock::time_point> requested_at) {
  if (speaking_) end(ctx, /*interrupted=*/false);
  speaking_ = turn_id;
  ctx.send(std::make_unique<Data>(
      "tts_audio_start",
      nlohmann::json{{"turn_id", turn_id}, {"timestamp_ms", chunker_.next_timestamp_ms()}}));
  ctx.send(make_stage_mark(turn_id, stage::kTtsFirstAudio));
  if (requested_at) {
    const std::chrono::duration<double, std::milli> waited = Clock::now() - *requested_at;
    ctx.metric("tts_first_audio_ms", waited.count(), {{"turn_id", turn_id}});
  }
}

Status TtsOutput::push(Context& ctx, std::span<const int16_t> pcm) {
  if (!speaking_) return failed_precondition("TtsOutput::push before start(): audio of no turn");
  if (resampler_) {
    scratch_.clear();
    PARLEY_RETURN_IF_ERROR(resampler_->process(pcm, scratch_));
    pcm = scratch_;
  }
  PARLEY_RETURN_IF_ERROR(chunker_.push(pcm));  // mono: any sample count is whole frames
  send_ready_frames(ctx);
  return Status::ok();
}

void TtsOutput::end(Context& ctx, bool interrupted) {
  if (!speaking_) return;
  if (interrupted) {
    drop_held();
  } else {
    if (resampler_) {
      scratch_.clear();
      if (resampler_->flush(scratch_).is_ok()) (void)chunker_.push(scratch_);
    }
    send_ready_frames(ctx);
    media::PcmFrame last;
    if (chunker_.flush(last, /*zero_pad=*/true)) send_frame(ctx, last);
  }
  ctx.send(std::make_unique<Data>("tts_audio_end",
                                  nlohmann::json{{"turn_id", *speaking_},
                                                 {"timestamp_ms", chunker_.next_timestamp_ms()},
                                                 {"interrupted", interrupted}}));
  speaking_.reset();
}

void TtsOutput::drop_held() {
  if (resampler_) (void)resampler_->reset();
  chunker_.reset(chunker_.next_timestamp_ms());
}

void TtsOutput::send_eof(Context& ctx) {
  auto eof = std::make_unique<AudioFrame>();
  eof->sample_rate = sample_rate();
  eof->timestamp_ms = chunker_.next_timestamp_ms();
  eof->is_eof = true;
  send_audio(ctx, std::move(eof));
}

void TtsOutput::send_ready_frames(Context& ctx) {
  while (chunker_.pop(frame_)) send_frame(ctx, frame_);
}

void TtsOutput::send_frame(Context& ctx, const media::PcmFrame& pcm) {
  auto frame = media::to_audio_frame(pcm);
  frame->set("turn_id", *speaking_);
  send_audio(ctx, std::move(frame));
}

void TtsOutput::send_audio(Context& ctx, std::unique_ptr<AudioFrame> frame) {
  if (!far_end_connected_)
    far_end_connected_ = ctx.has_destination(MessageKind::kAudioFrame, "far_end_frame");
  if (*far_end_connected_) {
    auto copy = frame->clone();
    copy->set_name("far_end_frame");
    ctx.send(std::move(copy));
  }
  ctx.send(std::move(frame));
}

}  // namespace parley::speech
