// StreamDecoder: the compute-pool half of the pocketsphinx_asr addon.
//
// The extension (on its executor) turns audio frames, vad_event and flush into a queue of
// DecodeOps; batches of ops run in order on the compute pool through StreamDecoder::run, which
// drives one borrowed speech::Decoder and returns DecodeEvents (partials, finals, end of stream)
// for the executor to publish. Only one batch runs at a time, so a StreamDecoder needs no lock;
// it must never be used from two threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "parley/status.h"
#include "speech/pocketsphinx_recognizer.h"

namespace parley::asr {

// One step of work for the decoder, queued by the extension in stream order.
struct DecodeOp {
  enum class Type {
    kAudio,   // feed `pcm`; opens an utterance first when none is open and `auto_endpoint`
    kBegin,   // open an utterance at `start_ms` with `pcm` as its lead-in (no-op if one is open)
    kFinish,  // close the open utterance and report its final
    kAbort,   // drop the open utterance without a result (flush)
    kEof,     // close the open utterance (final) and report the end of the stream
  };
  Type type = Type::kAudio;
  // 16 kHz mono samples (kAudio, kBegin).
  std::vector<int16_t> pcm;
  // Stream time of the first sample of `pcm`, in ms.
  int64_t start_ms = 0;
  // kAudio: endpoint with PocketSphinx's own voice detector (open and close utterances by itself).
  bool auto_endpoint = false;
  // The extension's flush generation when the op was queued; copied into the op's events so
  // results of audio from before a flush can be recognised and dropped.
  uint64_t epoch = 0;

  // An op of `type` with the other fields at their defaults.
  static DecodeOp of(Type type, int64_t start_ms = 0) {
    DecodeOp op;
    op.type = type;
    op.start_ms = start_ms;
    return op;
  }
};

// Something the executor publishes, produced by StreamDecoder::run in stream order.
struct DecodeEvent {
  enum class Type { kPartial, kFinal, kEof, kError };
  Type type = Type::kPartial;
  // Which utterance of this stream (1, 2, ...); the extension maps it to a turn_id.
  uint64_t utterance = 0;
  // kPartial: the current hypothesis. kFinal: transcript.text.
  std::string text;
  // kFinal: the utterance's result; word times are relative to `origin_ms`.
  speech::Transcript transcript;
  // Stream time of the utterance's first sample, in ms.
  int64_t origin_ms = 0;
  // Audio decoded in the utterance so far, in ms.
  int64_t audio_ms = 0;
  // kError: what went wrong (the utterance was dropped).
  Status error;
  // DecodeOp::epoch of the op that produced the event.
  uint64_t epoch = 0;
};

// Decodes one stream's queued ops with one Decoder. Not thread-safe (see the file comment).
class StreamDecoder {
 public:
  // `partial_interval_ms`: audio between two partial hypotheses (0 disables partials).
  StreamDecoder(speech::Decoder* decoder, int partial_interval_ms)
      : decoder_(decoder), partial_interval_ms_(partial_interval_ms) {}

  // Runs `ops` in order and returns what happened. Blocks (decoding); call on the compute pool.
  std::vector<DecodeEvent> run(std::vector<DecodeOp> ops);

  // True while an utterance is open (read only between batches).
  bool in_utterance() const { return open_; }
  // Stream time just after the last sample this decoder consumed, in ms.
  int64_t position_ms() const { return position_ms_; }

 private:
  void begin(int64_t start_ms, std::vector<DecodeEvent>& out);
  void feed(const DecodeOp& op, std::vector<DecodeEvent>& out);
  void finish(std::vector<DecodeEvent>& out);
  void fail(Status error, std::vector<DecodeEvent>& out);

  // An event of the op being run.
  DecodeEvent event(DecodeEvent::Type type) const;

  speech::Decoder* decoder_;  // borrowed: the extension's lease owns it
  uint64_t epoch_ = 0;        // epoch of the op being run
  int partial_interval_ms_;
  bool open_ = false;
  uint64_t utterance_ = 0;
  int64_t origin_ms_ = 0;
  int64_t position_ms_ = 0;
  int64_t since_partial_ms_ = 0;
  std::string last_partial_;
};

}  // namespace parley::asr
