// WAV files: reading and writing 16-bit PCM (little-endian) at any sample rate and channel count.
//
// Reading accepts WAVE_FORMAT_PCM and WAVE_FORMAT_EXTENSIBLE with a PCM subformat, skips unknown
// chunks (LIST, fact, id3, ...), tolerates odd-sized chunks with or without their pad byte, and
// reads to the end of the file when the data chunk size is 0 or 0xFFFFFFFF (as written by
// streaming tools). Everything else (float, 8/24/32-bit, A-law/µ-law, truncated or corrupt files)
// is refused with a Status naming the file, the problem and what is supported.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "parley/media/pcm.h"
#include "parley/status.h"

namespace parley::media {

// What a WAV header describes, without the samples.
struct WavInfo {
  int sample_rate = 0;
  int channels = 0;
  // Samples per channel in the data chunk.
  int64_t frames = 0;
};

// Reads the header of a WAV file (cheap: the samples are not read).
Result<WavInfo> read_wav_info(const std::string& path);
// Reads a whole 16-bit PCM WAV file. kNotFound if it cannot be opened, kDataLoss if truncated,
// kUnimplemented for sample formats other than 16-bit PCM, kInvalidArgument for a bad header.
Result<PcmAudio> read_wav(const std::string& path);
// Parses a WAV body held in memory (for example received over HTTP); `what` names it in errors.
Result<PcmAudio> parse_wav(std::span<const uint8_t> bytes, std::string_view what);
// Encodes audio as a complete 16-bit PCM WAV file image (44-byte header + samples).
Result<std::vector<uint8_t>> encode_wav(const PcmAudio& audio);
// Writes audio to `path` as a 16-bit PCM WAV file, replacing any existing file.
Status write_wav(const std::string& path, const PcmAudio& audio);

// Writes a WAV file incrementally, for recordings of unknown length. The header is written with
// "unknown" sizes at open() and patched at close(), so a file cut short by a crash still reads.
// Not thread-safe; one writer per file.
class WavWriter {
 public:
  WavWriter() = default;
  // Closes the file if still open (errors are dropped; call close() to see them).
  ~WavWriter();
  WavWriter(WavWriter&& other) noexcept = default;
  WavWriter& operator=(WavWriter&& other) noexcept;
  WavWriter(const WavWriter&) = delete;
  WavWriter& operator=(const WavWriter&) = delete;

  // Creates (or truncates) `path` and writes a provisional header. Fails if already open.
  Status open(const std::string& path, int sample_rate, int channels);
  // Appends interleaved samples; `samples.size()` must be a multiple of the channel count.
  Status write(std::span<const int16_t> samples);
  // Patches the RIFF and data sizes into the header and closes the file. Ok if not open.
  Status close();

  // True between a successful open() and close().
  bool is_open() const { return file_ != nullptr; }
  // Samples per channel written so far.
  int64_t frames_written() const { return frames_written_; }
  // Path given to open().
  const std::string& path() const { return path_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* file) const;
  };

  std::unique_ptr<std::FILE, FileCloser> file_;
  std::string path_;
  int channels_ = 0;
  int64_t frames_written_ = 0;
};

}  // namespace parley::media
