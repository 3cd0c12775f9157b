// Streaming speech recognition with PocketSphinx 5prealpha (Debian's libpocketsphinx3).
//
// `PocketSphinxConfig` says which model to load; `Decoder` owns one ps_decoder_t and decodes one
// utterance at a time: start_utterance → accept (repeatedly) → partial / is_endpoint →
// end_utterance (→ start_utterance again), the streaming shape of sherpa-onnx's recognizers.
// A Decoder is not thread-safe: use it from one thread (or one strand) at a time. Loading one costs
// about half a second and ~100 MB, so sessions borrow decoders from a DecoderPool
// (speech/decoder_pool.h) rather than creating their own.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "parley/status.h"

// Opaque PocketSphinx handle (pocketsphinx.h), kept out of this header.
struct ps_decoder_s;

namespace parley::speech {

// Where the Debian package pocketsphinx-en-us installs its US English model.
inline constexpr const char* kDebianEnUsModelDir = "/usr/share/pocketsphinx/model/en-us";

// The only sample rate the en-us acoustic model accepts, in Hz (mono, signed 16-bit).
inline constexpr int kPocketSphinxSampleRate = 16000;

// Which model files a decoder loads, plus optional raw PocketSphinx arguments.
struct PocketSphinxConfig {
  // Acoustic model directory (contains mdef, means, variances, ...).
  std::string hmm = std::string(kDebianEnUsModelDir) + "/en-us";
  // Language model (binary trie .lm.bin or ARPA .lm).
  std::string lm = std::string(kDebianEnUsModelDir) + "/en-us.lm.bin";
  // Pronunciation dictionary.
  std::string dict = std::string(kDebianEnUsModelDir) + "/cmudict-en-us.dict";
  // Extra command-line style arguments passed to PocketSphinx, e.g. {"-beam", "1e-40"}.
  std::vector<std::pair<std::string, std::string>> extra_args;

  // Checks that every file exists and the extra arguments are well formed; the message names the
  // Debian package to install when the default model is missing.
  Status validate() const;
  // One-line human-readable description, for logs.
  std::string to_string() const;
};

// One recognised word with its position in the utterance.
struct WordSegment {
  // The word as spelled in the dictionary, without alternate-pronunciation markers ("read(2)").
  std::string word;
  // Start and end of the word, in milliseconds from the start of the utterance.
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  // Posterior probability of the word in [0, 1], from the lattice; -1 when unavailable.
  double confidence = -1;
};

// The final result of one utterance.
struct Transcript {
  // Best hypothesis, words separated by single spaces; empty when nothing was recognised.
  std::string text;
  // The words of `text` with timings; fillers (silence, noise, <s>, </s>) are left out.
  std::vector<WordSegment> words;
  // Posterior probability of the whole hypothesis in [0, 1]; -1 when unavailable.
  double confidence = -1;
  // Audio decoded in this utterance, in milliseconds.
  int64_t audio_ms = 0;
};

// One PocketSphinx decoder: the acoustic model, dictionary and language model of one config.
class Decoder {
 public:
  // Loads the model named by `config` (slow: ~0.5 s). Fails with the config's validate() error,
  // or kInternal when PocketSphinx rejects the files.
  static Result<std::unique_ptr<Decoder>> create(const PocketSphinxConfig& config);

  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Begins a new utterance; fails with kFailedPrecondition if one is already open.
  Status start_utterance();
  // Feeds 16 kHz mono signed 16-bit samples of the open utterance; any length, including empty.
  Status accept(std::span<const int16_t> pcm16k_mono);
  // The current best hypothesis of the open utterance (empty if none yet). Costs a search
  // back-trace, so call it every few hundred milliseconds rather than every frame.
  std::string partial();
  // True while PocketSphinx's own voice detector hears speech in the open utterance.
  bool in_speech();
  // True once the utterance has had speech and PocketSphinx's voice detector has since heard
  // silence (-vad_postspeech, 0.5 s by default): the speaker has finished, call end_utterance().
  bool is_endpoint();
  // Closes the utterance and returns its final hypothesis with word timings.
  Result<Transcript> end_utterance();
  // Abandons the open utterance, if any, leaving the decoder ready for start_utterance().
  void reset();
  // Forgets what earlier utterances taught the decoder about the channel: the live cepstral mean
  // (CMN), which PocketSphinx adapts after every utterance, goes back to the model's initial
  // value. A decoder returned to a DecoderPool gets this, so one user's microphone does not bias
  // the next user's first words and every session starts like a freshly loaded decoder.
  void reset_adaptation();

  // True between start_utterance() and end_utterance()/reset().
  bool in_utterance() const { return in_utterance_; }
  // Audio accepted in the open (or last) utterance, in milliseconds.
  int64_t audio_ms() const { return samples_ * 1000 / kPocketSphinxSampleRate; }
  // The config this decoder was loaded from.
  const PocketSphinxConfig& config() const { return config_; }

 private:
  Decoder(PocketSphinxConfig config, ps_decoder_s* ps);
  std::vector<WordSegment> collect_words();
  bool has_posteriors();

  PocketSphinxConfig config_;
  ps_decoder_s* ps_;  // owned; released with ps_free
  bool in_utterance_ = false;
  bool heard_speech_ = false;  // PocketSphinx's VAD reported speech in this utterance
  int64_t samples_ = 0;
  std::vector<float> initial_cmn_;  // the live cepstral mean right after loading
};

// Silences PocketSphinx/SphinxBase logging for the whole process (called by Decoder::create).
void silence_pocketsphinx_logging();

}  // namespace parley::speech
