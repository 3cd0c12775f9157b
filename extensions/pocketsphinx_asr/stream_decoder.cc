// StreamDecoder: runs queued DecodeOps against one PocketSphinx decoder (see stream_decoder.h).
#include "stream_decoder.h"

#include <utility>

namespace parley::asr {
namespace {

// Milliseconds of 16 kHz audio in `samples` samples.
int64_t samples_to_ms(size_t samples) {
  return static_cast<int64_t>(samples) * 1000 / speech::kPocketSphinxSampleRate;
}

}  // namespace

std::vector<DecodeEvent> StreamDecoder::run(std::vector<DecodeOp> ops) {
  std::vector<DecodeEvent> out;
  for (DecodeOp& op : ops) {
    epoch_ = op.epoch;
    switch (op.type) {
      case DecodeOp::Type::kAudio:
        if (!open_ && op.auto_endpoint) begin(op.start_ms, out);
        if (open_) feed(op, out);
        // Audio outside an utterance (VAD endpointing, between speech_end and speech_start) is
        // consumed without decoding.
        position_ms_ = op.start_ms + samples_to_ms(op.pcm.size());
        break;
      case DecodeOp::Type::kBegin:
        // Already open: the utterance PocketSphinx's endpointing began is adopted as is (its
        // audio already holds the lead-in), which is how "auto" switches to VAD endpointing.
        if (open_) break;
        begin(op.start_ms, out);
        if (open_) feed(op, out);
        position_ms_ = op.start_ms + samples_to_ms(op.pcm.size());
        break;
      case DecodeOp::Type::kFinish:
        if (open_) finish(out);
        break;
      case DecodeOp::Type::kAbort:
        if (open_) decoder_->reset();
        open_ = false;
        break;
      case DecodeOp::Type::kEof: {
        if (open_) finish(out);
        out.push_back(event(DecodeEvent::Type::kEof));
        break;
      }
    }
  }
  return out;
}

void StreamDecoder::begin(int64_t start_ms, std::vector<DecodeEvent>& out) {
  if (Status s = decoder_->start_utterance(); !s.is_ok()) {
    fail(std::move(s), out);
    return;
  }
  open_ = true;
  ++utterance_;
  origin_ms_ = start_ms;
  since_partial_ms_ = 0;
  last_partial_.clear();
}

void StreamDecoder::feed(const DecodeOp& op, std::vector<DecodeEvent>& out) {
  if (Status s = decoder_->accept(op.pcm); !s.is_ok()) {
    fail(std::move(s), out);
    return;
  }
  since_partial_ms_ += samples_to_ms(op.pcm.size());
  if (partial_interval_ms_ > 0 && since_partial_ms_ >= partial_interval_ms_) {
    since_partial_ms_ = 0;
    std::string text = decoder_->partial();
    // Only a changed, non-empty hypothesis is news for the listener.
    if (!text.empty() && text != last_partial_) {
      last_partial_ = text;
      DecodeEvent e = event(DecodeEvent::Type::kPartial);
      e.text = std::move(text);
      e.audio_ms = decoder_->audio_ms();
      out.push_back(std::move(e));
    }
  }
  if (op.auto_endpoint && decoder_->is_endpoint()) finish(out);
}

void StreamDecoder::finish(std::vector<DecodeEvent>& out) {
  open_ = false;
  auto transcript = decoder_->end_utterance();
  if (!transcript.is_ok()) {
    fail(transcript.status(), out);
    return;
  }
  DecodeEvent e = event(DecodeEvent::Type::kFinal);
  e.transcript = std::move(transcript).value();
  e.text = e.transcript.text;
  e.audio_ms = e.transcript.audio_ms;
  out.push_back(std::move(e));
}

void StreamDecoder::fail(Status error, std::vector<DecodeEvent>& out) {
  decoder_->reset();
  open_ = false;
  DecodeEvent e = event(DecodeEvent::Type::kError);
  e.error = std::move(error);
  out.push_back(std::move(e));
}

DecodeEvent StreamDecoder::event(DecodeEvent::Type type) const {
  DecodeEvent e;
  e.type = type;
  e.utterance = utterance_;
  e.origin_ms = origin_ms_;
  e.epoch = epoch_;
  return e;
}

}  // namespace parley::asr
