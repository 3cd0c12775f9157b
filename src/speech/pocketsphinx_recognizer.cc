// PocketSphinx decoder wrapper: config validation, model loading and streaming decoding.
#include "speech/pocketsphinx_recognizer.h"

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/logmath.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>

namespace parley::speech {
namespace {

// True for PocketSphinx filler words: <s>, </s>, <sil>, [NOISE], ++GARBAGE++ ...
bool is_filler(const char* word) {
  return word[0] == '<' || word[0] == '[' || (word[0] == '+' && word[1] == '+');
}

// "read(2)" → "read": PocketSphinx marks alternate pronunciations with a "(n)" suffix.
std::string strip_pronunciation(const char* word) {
  std::string w(word);
  if (!w.empty() && w.back() == ')') {
    const size_t open = w.rfind('(');
    if (open != std::string::npos && open > 0) w.resize(open);
  }
  return w;
}

// Whether `name` is an argument PocketSphinx knows ("-beam", "-samprate", ...).
bool is_known_argument(const std::string& name) {
  for (const arg_t* a = ps_args(); a->name != nullptr; ++a) {
    if (name == a->name) return true;
  }
  return false;
}

// Checks that `path` exists as a file (or directory when `want_dir`).
Status check_path(const char* what, const std::string& path, bool want_dir) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  const bool ok =
      want_dir ? std::filesystem::is_directory(st) : std::filesystem::is_regular_file(st);
  if (ok) return Status::ok();
  std::string msg = std::string("PocketSphinx ") + what + " '" + path + "' " +
                    (std::filesystem::exists(st) ? "has the wrong type" : "does not exist");
  if (path.rfind(kDebianEnUsModelDir, 0) == 0) {
    msg += "; install the US English model with `apt-get install pocketsphinx-en-us`";
  } else {
    msg += "; check the path in the recognizer's configuration";
  }
  return not_found(std::move(msg));
}

}  // namespace

void silence_pocketsphinx_logging() {
  static std::once_flag once;
  std::call_once(once, [] { err_set_logfp(nullptr); });
}

Status PocketSphinxConfig::validate() const {
  PARLEY_RETURN_IF_ERROR(check_path("acoustic model directory (hmm)", hmm, true));
  PARLEY_RETURN_IF_ERROR(check_path("acoustic model definition", hmm + "/mdef", false));
  PARLEY_RETURN_IF_ERROR(check_path("language model (lm)", lm, false));
  PARLEY_RETURN_IF_ERROR(check_path("dictionary (dict)", dict, false));
  for (const auto& [name, value] : extra_args) {
    if (name == "-hmm" || name == "-lm" || name == "-dict" || name == "-samprate") {
      return invalid_argument("PocketSphinx argument '" + name +
                              "' must be set through its config field, not extra_args");
    }
    if (name.empty() || name[0] != '-' || !is_known_argument(name)) {
      return invalid_argument("unknown PocketSphinx argument '" + name +
                              "' (names start with '-', e.g. -beam; see `pocketsphinx_continuous "
                              "-help`)");
    }
  }
  return Status::ok();
}

std::string PocketSphinxConfig::to_string() const {
  std::ostringstream out;
  out << "PocketSphinxConfig(hmm=" << hmm << ", lm=" << lm << ", dict=" << dict;
  for (const auto& [name, value] : extra_args) out << ", " << name << "=" << value;
  out << ")";
  return out.str();
}

Result<std::unique_ptr<Decoder>> Decoder::create(const PocketSphinxConfig& config) {
  PARLEY_RETURN_IF_ERROR(config.validate());
  silence_pocketsphinx_logging();

  const std::string samprate = std::to_string(kPocketSphinxSampleRate);
  std::vector<const char*> argv = {"-hmm",  config.hmm.c_str(),  "-lm",       config.lm.c_str(),
                                   "-dict", config.dict.c_str(), "-samprate", samprate.c_str()};
  for (const auto& [name, value] : config.extra_args) {
    argv.push_back(name.c_str());
    argv.push_back(value.c_str());
  }
  // cmd_ln_parse_r takes char** but does not modify the strings.
  cmd_ln_t* cmdln = cmd_ln_parse_r(nullptr, ps_args(), static_cast<int32>(argv.size()),
                                   const_cast<char**>(argv.data()), TRUE);
  if (cmdln == nullptr) {
    return invalid_argument("PocketSphinx rejected the arguments of " + config.to_string());
  }
  ps_decoder_t* ps = ps_init(cmdln);
  cmd_ln_free_r(cmdln);  // the decoder keeps its own reference
  if (ps == nullptr) {
    return internal_error("PocketSphinx could not load the model of " + config.to_string() +
                          " (corrupt or mismatched model files?)");
  }
  return std::unique_ptr<Decoder>(new Decoder(config, ps));
}

Decoder::Decoder(PocketSphinxConfig config, ps_decoder_s* ps)
    : config_(std::move(config)), ps_(ps) {
  if (cmn_t* cmn = ps_get_feat(ps_)->cmn_struct; cmn != nullptr) {
    std::vector<mfcc_t> mean(static_cast<size_t>(cmn->veclen));
    cmn_live_get(cmn, mean.data());
    initial_cmn_.assign(mean.begin(), mean.end());
  }
}

Decoder::~Decoder() {
  if (ps_ != nullptr) ps_free(ps_);
}

Status Decoder::start_utterance() {
  if (in_utterance_) {
    return failed_precondition(
        "start_utterance: an utterance is already open; call "
        "end_utterance() or reset() first");
  }
  // PocketSphinx reports segment times relative to the start of its *stream* (all audio since
  // ps_start_stream or ps_init), so a pooled decoder's second utterance would get its word times
  // shifted by everything it heard before. A stream per utterance makes them utterance-relative,
  // as WordSegment promises. It resets only the front end's noise estimate (as a fresh decoder
  // has), not the cepstral mean normalisation, which keeps adapting across utterances.
  if (ps_start_stream(ps_) < 0) return internal_error("PocketSphinx failed to start a stream");
  if (ps_start_utt(ps_) < 0) return internal_error("PocketSphinx failed to start an utterance");
  in_utterance_ = true;
  heard_speech_ = false;
  samples_ = 0;
  return Status::ok();
}

Status Decoder::accept(std::span<const int16_t> pcm16k_mono) {
  if (!in_utterance_) {
    return failed_precondition("accept: no utterance is open; call start_utterance() first");
  }
  if (pcm16k_mono.empty()) return Status::ok();
  if (ps_process_raw(ps_, pcm16k_mono.data(), pcm16k_mono.size(), FALSE, FALSE) < 0) {
    return internal_error("PocketSphinx failed to process " + std::to_string(pcm16k_mono.size()) +
                          " samples");
  }
  samples_ += static_cast<int64_t>(pcm16k_mono.size());
  if (ps_get_in_speech(ps_) != 0) heard_speech_ = true;
  return Status::ok();
}

std::string Decoder::partial() {
  if (!in_utterance_) return {};
  int32 score = 0;
  const char* hyp = ps_get_hyp(ps_, &score);
  return hyp != nullptr ? std::string(hyp) : std::string();
}

bool Decoder::in_speech() { return in_utterance_ && ps_get_in_speech(ps_) != 0; }

bool Decoder::is_endpoint() { return in_utterance_ && heard_speech_ && ps_get_in_speech(ps_) == 0; }

Result<Transcript> Decoder::end_utterance() {
  if (!in_utterance_) {
    return failed_precondition("end_utterance: no utterance is open; call start_utterance() first");
  }
  in_utterance_ = false;
  if (ps_end_utt(ps_) < 0) return internal_error("PocketSphinx failed to finish the utterance");

  Transcript out;
  out.audio_ms = audio_ms();
  int32 score = 0;
  const char* hyp = ps_get_hyp(ps_, &score);
  if (hyp != nullptr) out.text = hyp;
  if (!out.text.empty()) {
    // Posteriors exist only when PocketSphinx builds a lattice (-bestpath yes, the default);
    // otherwise it reports 0, which would read as certainty.
    if (has_posteriors()) out.confidence = logmath_exp(ps_get_logmath(ps_), ps_get_prob(ps_));
    out.words = collect_words();
  }
  return out;
}

std::vector<WordSegment> Decoder::collect_words() {
  std::vector<WordSegment> words;
  cmd_ln_t* cmdln = ps_get_config(ps_);
  const int32 frate = cmd_ln_int32_r(cmdln, "-frate");
  const int64_t ms_per_frame = frate > 0 ? 1000 / frate : 10;
  logmath_t* lmath = ps_get_logmath(ps_);
  const bool posteriors = has_posteriors();
  for (ps_seg_t* seg = ps_seg_iter(ps_); seg != nullptr; seg = ps_seg_next(seg)) {
    const char* word = ps_seg_word(seg);
    if (word == nullptr || is_filler(word)) continue;
    int start_frame = 0;
    int end_frame = 0;
    ps_seg_frames(seg, &start_frame, &end_frame);
    int32 ascr = 0;
    int32 lscr = 0;
    int32 lback = 0;
    const int32 post = ps_seg_prob(seg, &ascr, &lscr, &lback);
    WordSegment w;
    w.word = strip_pronunciation(word);
    w.start_ms = start_frame * ms_per_frame;
    w.end_ms = (end_frame + 1) * ms_per_frame;
    w.confidence = posteriors ? logmath_exp(lmath, post) : -1;
    words.push_back(std::move(w));
  }
  return words;
}

bool Decoder::has_posteriors() { return cmd_ln_boolean_r(ps_get_config(ps_), "-bestpath") != 0; }

void Decoder::reset_adaptation() {
  cmn_t* cmn = ps_get_feat(ps_)->cmn_struct;
  if (cmn == nullptr || initial_cmn_.size() != static_cast<size_t>(cmn->veclen)) return;
  const std::vector<mfcc_t> mean(initial_cmn_.begin(), initial_cmn_.end());
  cmn_live_set(cmn, mean.data());
}

void Decoder::reset() {
  if (in_utterance_) {
    ps_end_utt(ps_);
    in_utterance_ = false;
  }
  heard_speech_ = false;
  samples_ = 0;
}

}  // namespace parley::speech
