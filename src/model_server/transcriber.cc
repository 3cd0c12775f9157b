// StreamingTranscriber: utterance segmentation, interim results and Deepgram-style events.
#include "model_server/transcriber.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace parley::model_server {
namespace {

// Samples per block fed to the decoder: speech transitions and endpoints are checked this often,
// however large the client's messages are.
constexpr size_t kBlockSamples = speech::kPocketSphinxSampleRate / 10;  // 100 ms

bool is_pronoun_i(std::string_view w) {
  return w == "i" || w == "i'm" || w == "i'll" || w == "i've" || w == "i'd";
}

std::string capitalised(std::string w) {
  if (!w.empty()) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
  return w;
}

}  // namespace

void punctuate(std::string& transcript, std::vector<TimedWord>& words) {
  if (transcript.empty()) return;
  std::istringstream in(transcript);
  std::string out, w;
  bool first = true;
  while (in >> w) {
    if (first || is_pronoun_i(w)) w = capitalised(w);
    if (!out.empty()) out.push_back(' ');
    out += w;
    first = false;
  }
  if (!out.empty() && !std::ispunct(static_cast<unsigned char>(out.back()))) out.push_back('.');
  transcript = std::move(out);
  for (size_t i = 0; i < words.size(); ++i) {
    std::string p = words[i].word;
    if (i == 0 || is_pronoun_i(p)) p = capitalised(p);
    if (i + 1 == words.size()) p.push_back('.');
    words[i].punctuated_word = std::move(p);
  }
}

StreamingTranscriber::StreamingTranscriber(speech::Decoder& decoder, TranscriberOptions options,
                                           Emit emit)
    : decoder_(decoder), options_(std::move(options)), emit_(std::move(emit)) {}

Status StreamingTranscriber::accept(std::span<const int16_t> pcm) {
  while (!pcm.empty()) {
    if (!in_utterance_) {
      PARLEY_RETURN_IF_ERROR(decoder_.start_utterance());
      in_utterance_ = true;
      utt_start_ = samples_;
      heard_speech_ = false;
      was_speech_ = false;
      silence_start_ = -1;
      last_partial_at_ = samples_;
      last_partial_.clear();
    }
    const auto block = pcm.first(std::min(pcm.size(), kBlockSamples));
    pcm = pcm.subspan(block.size());
    PARLEY_RETURN_IF_ERROR(decoder_.accept(block));
    samples_ += static_cast<int64_t>(block.size());

    const bool speech = decoder_.in_speech();
    if (speech && !was_speech_) {
      heard_speech_ = true;
      silence_start_ = -1;
      if (options_.vad_events) {
        TranscriptEvent ev;
        ev.kind = TranscriptEvent::Kind::kSpeechStarted;
        ev.timestamp = position();
        emit_(std::move(ev));
      }
    }
    if (!speech && was_speech_) silence_start_ = samples_;
    was_speech_ = speech;

    if (options_.interim_results && heard_speech_ &&
        ms(samples_ - last_partial_at_) >= options_.interim_interval_ms) {
      last_partial_at_ = samples_;
      std::string text = decoder_.partial();
      if (!text.empty() && text != last_partial_) {
        last_partial_ = text;
        TranscriptEvent ev;
        ev.start = static_cast<double>(utt_start_) / kRate;
        ev.duration = static_cast<double>(samples_ - utt_start_) / kRate;
        ev.transcript = std::move(text);
        if (options_.punctuate) {
          std::vector<TimedWord> none;
          punctuate(ev.transcript, none);
        }
        emit_(std::move(ev));
      }
    }

    const int64_t utt_ms = ms(samples_ - utt_start_);
    if (decoder_.is_endpoint()) {
      const int64_t silence_ms =
          (silence_start_ >= 0 ? ms(samples_ - silence_start_) : 0) + kPocketSphinxHangoverMs;
      if (!options_.endpointing_ms) {
        PARLEY_RETURN_IF_ERROR(end_utterance(false, false, false));
      } else if (silence_ms >= *options_.endpointing_ms) {
        PARLEY_RETURN_IF_ERROR(end_utterance(true, false, false));
      }
    } else if (!heard_speech_ && utt_ms > 5000) {
      decoder_.reset();  // only silence so far: drop it rather than decode it again and again
      in_utterance_ = false;
    } else if (utt_ms >= options_.max_utterance_ms) {
      PARLEY_RETURN_IF_ERROR(end_utterance(false, false, false));
    }

    if (options_.utterance_end_ms && last_word_end_ && !speech &&
        ms(samples_ - *last_word_end_) >= *options_.utterance_end_ms) {
      TranscriptEvent ev;
      ev.kind = TranscriptEvent::Kind::kUtteranceEnd;
      ev.timestamp = static_cast<double>(*last_word_end_) / kRate;
      last_word_end_.reset();
      emit_(std::move(ev));
    }
  }
  return Status::ok();
}

Status StreamingTranscriber::finalize(bool from_finalize, bool always) {
  return end_utterance(false, from_finalize, always);
}

Status StreamingTranscriber::end_utterance(bool speech_final, bool from_finalize, bool always) {
  TranscriptEvent ev;
  ev.is_final = true;
  ev.speech_final = speech_final;
  ev.from_finalize = from_finalize;
  if (!in_utterance_) {
    if (!always) return Status::ok();
    ev.start = position();
    emit_(std::move(ev));
    return Status::ok();
  }
  in_utterance_ = false;
  auto result = decoder_.end_utterance();
  if (!result.is_ok()) return result.status();
  const speech::Transcript& t = *result;
  const double base = static_cast<double>(utt_start_) / kRate;
  ev.start = base;
  ev.duration = static_cast<double>(samples_ - utt_start_) / kRate;
  ev.transcript = t.text;
  double sum = 0;
  for (const auto& w : t.words) {
    TimedWord tw;
    tw.word = w.word;
    tw.punctuated_word = w.word;
    tw.start = base + static_cast<double>(w.start_ms) / 1000.0;
    tw.end = base + static_cast<double>(w.end_ms) / 1000.0;
    tw.confidence = w.confidence >= 0 ? w.confidence : std::max(0.0, t.confidence);
    sum += tw.confidence;
    ev.words.push_back(std::move(tw));
  }
  // PocketSphinx's whole-hypothesis posterior is close to 0 for any sentence of real length; the
  // mean word posterior is what a client can use, as Deepgram's alternative confidence.
  ev.confidence = ev.words.empty() ? std::max(0.0, t.confidence) : sum / ev.words.size();
  if (options_.punctuate) punctuate(ev.transcript, ev.words);
  if (!t.words.empty()) {
    last_word_end_ = utt_start_ + t.words.back().end_ms * kRate / 1000;
  }
  if (ev.transcript.empty() && !heard_speech_ && !from_finalize && !always) return Status::ok();
  emit_(std::move(ev));
  return Status::ok();
}

}  // namespace parley::model_server
