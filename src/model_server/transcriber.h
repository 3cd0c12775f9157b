// StreamingTranscriber: turns a PocketSphinx Decoder fed with 16 kHz mono audio into the events
// of Deepgram's live protocol — interim and final segments, speech start, utterance end — with
// times measured from the start of the stream. Used by /v1/listen sessions and by the one-shot
// POST /invocations. Blocking (it runs the decoder): call it on the compute pool, one thread at a
// time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "parley/status.h"
#include "speech/pocketsphinx_recognizer.h"

namespace parley::model_server {

// What to report and when to cut utterances.
struct TranscriberOptions {
  // Report the partial hypothesis about every interim_interval_ms of audio.
  bool interim_results = false;
  int interim_interval_ms = 500;
  // Silence that ends an utterance with speech_final; nullopt: utterances still end (is_final)
  // at PocketSphinx's endpoints but speech_final is never set.
  std::optional<int> endpointing_ms = 10;
  // Report UtteranceEnd once this much audio passed after the last final word; nullopt = never.
  std::optional<int> utterance_end_ms;
  // Report SpeechStarted.
  bool vad_events = false;
  // Capitalise sentences and end them with a period.
  bool punctuate = false;
  // Longest utterance before it is cut (is_final, not speech_final).
  int max_utterance_ms = 30000;
};

// One recognised word, in seconds from the start of the stream.
struct TimedWord {
  std::string word;
  std::string punctuated_word;
  double start = 0;
  double end = 0;
  double confidence = 0;
};

// One event for the client.
struct TranscriptEvent {
  enum class Kind { kSegment, kSpeechStarted, kUtteranceEnd };
  Kind kind = Kind::kSegment;
  // kSegment: the segment's audio, in seconds from the start of the stream.
  double start = 0;
  double duration = 0;
  bool is_final = false;
  bool speech_final = false;
  bool from_finalize = false;
  std::string transcript;
  double confidence = 0;
  std::vector<TimedWord> words;
  // kSpeechStarted: when speech began; kUtteranceEnd: end of the last word. Seconds.
  double timestamp = 0;
};

class StreamingTranscriber {
 public:
  using Emit = std::function<void(TranscriptEvent event)>;

  // Decodes with `decoder` (borrowed; must outlive this object) and reports through `emit`.
  StreamingTranscriber(speech::Decoder& decoder, TranscriberOptions options, Emit emit);

  // Feeds 16 kHz mono audio; emits whatever it completes.
  Status accept(std::span<const int16_t> pcm16k);
  // Ends the current utterance now and emits it as final (from_finalize when the client asked
  // for it with Finalize); with no utterance open, emits an empty final segment if `always`.
  Status finalize(bool from_finalize, bool always);
  // Audio accepted so far, in seconds.
  double position() const { return static_cast<double>(samples_) / kRate; }

 private:
  static constexpr int kRate = speech::kPocketSphinxSampleRate;
  Status end_utterance(bool speech_final, bool from_finalize, bool always);
  int64_t ms(int64_t samples) const { return samples * 1000 / kRate; }

  speech::Decoder& decoder_;
  TranscriberOptions options_;
  Emit emit_;
  int64_t samples_ = 0;    // accepted since the stream began
  int64_t utt_start_ = 0;  // sample where the open utterance began
  bool in_utterance_ = false;
  bool heard_speech_ = false;  // in the open utterance
  bool was_speech_ = false;
  int64_t silence_start_ = -1;  // sample where speech last stopped in the open utterance
  int64_t last_partial_at_ = 0;
  std::string last_partial_;
  std::optional<int64_t> last_word_end_;               // sample, for UtteranceEnd
  static constexpr int kPocketSphinxHangoverMs = 500;  // -vad_postspeech at its default
};

// Applies the simple punctuation this server offers: a capital letter at the start, "I", and a
// final period. Words (if any) get their punctuated_word.
void punctuate(std::string& transcript, std::vector<TimedWord>& words);

}  // namespace parley::model_server
