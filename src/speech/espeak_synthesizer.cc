// EspeakService: the single eSpeak NG synthesis thread, its queue and eSpeak's audio callback.
#include "speech/espeak_synthesizer.h"

#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>

#include <exception>
#include <filesystem>
#include <future>
#include <sstream>
#include <system_error>
#include <utility>

namespace parley::speech {
namespace {

// Length of the audio buffer eSpeak fills between callbacks: the delivery granularity (and the
// worst-case cancellation delay) in milliseconds of audio.
constexpr int kChunkMs = 20;

// Valid ranges of the voice parameters (speak_lib.h).
constexpr int kMinRateWpm = espeakRATE_MINIMUM;
constexpr int kMaxRateWpm = espeakRATE_MAXIMUM;
constexpr int kMaxPitch = 100;

// The request being synthesised on this (the synthesis) thread, as seen by eSpeak's callback.
struct ActiveSynthesis {
  SynthRequest* request = nullptr;
  const std::atomic<bool>* shutting_down = nullptr;
  bool delivered_last = false;  // the end-of-data callback reached on_audio
  bool stopped = false;         // we asked eSpeak to stop (cancel or shutdown)
  std::optional<Status> error;  // on_audio threw
};

thread_local ActiveSynthesis* t_active = nullptr;

// eSpeak's message for a status code.
std::string espeak_message(espeak_ng_STATUS status) {
  char buffer[512] = {0};
  espeak_ng_GetStatusCodeMessage(status, buffer, sizeof(buffer));
  return buffer;
}

// Whether the active request must stop now.
bool must_stop(const ActiveSynthesis& active) {
  return active.request->cancelled->load(std::memory_order_relaxed) ||
         active.shutting_down->load(std::memory_order_relaxed);
}

// eSpeak's synth callback, run on the synthesis thread inside espeak_ng_Synthesize. `wav` is null
// once the text is finished. Returning 1 makes eSpeak abandon the rest of the text.
int on_espeak_audio(short* wav, int num_samples, espeak_EVENT* /*events*/) {
  ActiveSynthesis* active = t_active;
  if (active == nullptr) return 1;
  if (must_stop(*active)) {
    active->stopped = true;
    return 1;
  }
  // Exceptions must not unwind through eSpeak's C frames.
  try {
    if (wav == nullptr) {
      active->delivered_last = true;
      active->request->on_audio({}, true);
      return 0;
    }
    if (num_samples > 0) {
      active->request->on_audio(std::span<const int16_t>(reinterpret_cast<const int16_t*>(wav),
                                                         static_cast<size_t>(num_samples)),
                                false);
    }
  } catch (const std::exception& e) {
    active->error = internal_error(std::string("on_audio callback threw: ") + e.what());
    return 1;
  } catch (...) {
    active->error = internal_error("on_audio callback threw a non-standard exception");
    return 1;
  }
  if (must_stop(*active)) {
    active->stopped = true;
    return 1;
  }
  return 0;
}

// Tells a request how it ended, never letting an exception escape the synthesis thread.
void finish(const SynthRequest& request, const Status& status) {
  if (!request.on_done) return;
  try {
    request.on_done(status);
  } catch (...) {
    // Nothing sensible to do: the caller's own completion handler failed.
  }
}

}  // namespace

Status check_espeak_data_dir(const std::string& data_dir) {
  for (const char* file : {"phontab", "phondata", "phonindex", "intonations", "en_dict"}) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(std::filesystem::path(data_dir) / file, ec)) {
      return not_found("eSpeak NG data file '" + data_dir + "/" + file +
                       "' is missing; install it with `apt-get install espeak-ng-data` (or point "
                       "ESPEAK_DATA_PATH at the directory that contains espeak-ng-data)");
    }
  }
  return Status::ok();
}

Status SynthRequest::validate() const {
  if (!on_audio) return invalid_argument("SynthRequest.on_audio must be set");
  if (voice.empty())
    return invalid_argument("SynthRequest.voice must not be empty (e.g. \"en-us\")");
  if (rate_wpm < kMinRateWpm || rate_wpm > kMaxRateWpm) {
    return invalid_argument("SynthRequest.rate_wpm is " + std::to_string(rate_wpm) +
                            "; eSpeak NG accepts " + std::to_string(kMinRateWpm) + ".." +
                            std::to_string(kMaxRateWpm) + " words per minute");
  }
  if (pitch < 0 || pitch > kMaxPitch) {
    return invalid_argument("SynthRequest.pitch is " + std::to_string(pitch) +
                            "; eSpeak NG accepts 0..100 (50 is normal)");
  }
  return Status::ok();
}

std::string SynthRequest::to_string() const {
  std::ostringstream out;
  out << "SynthRequest(voice=" << voice << ", rate_wpm=" << rate_wpm << ", pitch=" << pitch
      << ", text_bytes=" << text.size() << ")";
  return out.str();
}

EspeakService& EspeakService::instance() {
  static EspeakService service;
  return service;
}

EspeakService::~EspeakService() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  shutting_down_.store(true, std::memory_order_relaxed);
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status EspeakService::start() {
  std::unique_lock lock(mu_);
  if (stopping_) return unavailable("the eSpeak NG service is shutting down");
  if (!started_) {
    started_ = true;
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
      init_status_ = internal_error(std::string("cannot start the eSpeak NG thread: ") + e.what());
    }
  }
  wake_.wait(lock, [this] { return init_status_.has_value(); });
  return *init_status_;
}

Result<SynthHandle> EspeakService::submit(SynthRequest request) {
  PARLEY_RETURN_IF_ERROR(request.validate());
  PARLEY_RETURN_IF_ERROR(start());
  if (!request.cancelled) request.cancelled = std::make_shared<std::atomic<bool>>(false);
  SynthHandle handle(next_id_.fetch_add(1, std::memory_order_relaxed), request.cancelled);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return unavailable("the eSpeak NG service is shutting down");
    queue_.push_back([this, request = std::move(request)](bool shutting_down) mutable {
      if (shutting_down) {
        finish(request, cancelled("the eSpeak NG service shut down before synthesis"));
      } else {
        synthesize(request);
      }
    });
  }
  wake_.notify_all();
  return handle;
}

Status EspeakService::check_voice(const std::string& voice) {
  if (voice.empty()) return invalid_argument("voice name must not be empty (e.g. \"en-us\")");
  PARLEY_RETURN_IF_ERROR(start());
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return unavailable("the eSpeak NG service is shutting down");
    queue_.push_back([this, promise, voice](bool shutting_down) {
      if (shutting_down) {
        promise->set_value(cancelled("the eSpeak NG service shut down"));
        return;
      }
      SynthRequest probe;
      probe.voice = voice;
      promise->set_value(apply_voice(probe));
    });
  }
  wake_.notify_all();
  return future.get();
}

size_t EspeakService::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void EspeakService::run() {
  Status init = initialize_on_thread();
  {
    std::lock_guard lock(mu_);
    init_status_ = init;
  }
  wake_.notify_all();
  if (!init.is_ok()) return;  // submit() and check_voice() refuse from now on

  for (;;) {
    std::function<void(bool)> task;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task(false);
  }
  // Tell everyone still waiting that their request will not run.
  std::deque<std::function<void(bool)>> rest;
  {
    std::lock_guard lock(mu_);
    rest.swap(queue_);
  }
  for (auto& task : rest) task(true);
  espeak_ng_Terminate();
}

Status EspeakService::initialize_on_thread() {
  espeak_ng_InitializePath(nullptr);  // ESPEAK_DATA_PATH, else the compiled-in Debian path
  const char* data_path = nullptr;
  espeak_Info(&data_path);
  if (data_path != nullptr && data_path[0] != '\0') {
    PARLEY_RETURN_IF_ERROR(check_espeak_data_dir(data_path));
  }
  espeak_ng_ERROR_CONTEXT context = nullptr;
  espeak_ng_STATUS status = espeak_ng_Initialize(&context);
  espeak_ng_ClearErrorContext(&context);
  if (status != ENS_OK) {
    return not_found("eSpeak NG failed to initialise (" + espeak_message(status) +
                     "); install its data with `apt-get install espeak-ng-data`");
  }
  status = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, kChunkMs, nullptr);
  if (status != ENS_OK) {
    return internal_error("eSpeak NG output setup failed: " + espeak_message(status));
  }
  espeak_SetSynthCallback(&on_espeak_audio);
  const int rate = espeak_ng_GetSampleRate();
  if (rate <= 0) return internal_error("eSpeak NG reported no output sample rate");
  sample_rate_.store(rate, std::memory_order_release);
  return Status::ok();
}

Status EspeakService::apply_voice(const SynthRequest& request) {
  if (request.voice != current_voice_) {
    // Like the espeak-ng command: a voice name or file ("en-us", "gmw/en"), else a language
    // ("en-gb"), since eSpeak NG 1.51 names its British voice by language only.
    espeak_ng_STATUS status = espeak_ng_SetVoiceByName(request.voice.c_str());
    if (status != ENS_OK) {
      espeak_VOICE selector{};
      selector.languages = request.voice.c_str();
      status = espeak_ng_SetVoiceByProperties(&selector);
    }
    if (status != ENS_OK) {
      current_voice_.clear();  // eSpeak may be left between voices: set it again next time
      return not_found("eSpeak NG has no voice or language '" + request.voice + "' (" +
                       espeak_message(status) + "); list voices with `espeak-ng --voices`");
    }
    current_voice_ = request.voice;
  }
  if (espeak_ng_SetParameter(espeakRATE, request.rate_wpm, 0) != ENS_OK ||
      espeak_ng_SetParameter(espeakPITCH, request.pitch, 0) != ENS_OK) {
    return internal_error("eSpeak NG rejected " + request.to_string());
  }
  return Status::ok();
}

void EspeakService::synthesize(SynthRequest& request) {
  if (request.cancelled->load(std::memory_order_relaxed)) {
    finish(request, cancelled("synthesis request was cancelled before it started"));
    return;
  }
  if (Status voice = apply_voice(request); !voice.is_ok()) {
    finish(request, voice);
    return;
  }
  ActiveSynthesis active;
  active.request = &request;
  active.shutting_down = &shutting_down_;
  t_active = &active;
  const espeak_ng_STATUS status =
      espeak_ng_Synthesize(request.text.c_str(), request.text.size() + 1, 0, POS_CHARACTER, 0,
                           espeakCHARS_UTF8, nullptr, nullptr);
  t_active = nullptr;

  if (active.error) {
    finish(request, *active.error);
  } else if (active.stopped || status == ENS_SPEECH_STOPPED) {
    finish(request, cancelled("synthesis request was cancelled"));
  } else if (status != ENS_OK) {
    finish(request, internal_error("eSpeak NG failed to synthesise " + request.to_string() + ": " +
                                   espeak_message(status)));
  } else {
    // eSpeak normally ends with a null buffer; make sure the caller always sees `last`.
    if (!active.delivered_last) {
      try {
        request.on_audio({}, true);
      } catch (...) {
        finish(request, internal_error("on_audio callback threw"));
        return;
      }
    }
    finish(request, Status::ok());
  }
}

}  // namespace parley::speech
