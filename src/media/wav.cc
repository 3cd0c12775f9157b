// WAV reading and writing (16-bit PCM), see include/parley/media/wav.h.
#include "parley/media/wav.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>

namespace parley::media {
namespace {

constexpr uint16_t kFormatPcm = 0x0001;
constexpr uint16_t kFormatExtensible = 0xFFFE;
// A chunk size meaning "unknown, read to the end" (streaming writers use 0 or this).
constexpr uint32_t kUnknownSize = 0xFFFFFFFF;
constexpr size_t kHeaderBytes = 44;
// Largest data chunk a 32-bit RIFF size can describe alongside the 36 other header bytes.
constexpr uint64_t kMaxDataBytes = 0xFFFFFFFFull - 36;
// Bytes 2..15 of every KSDATAFORMAT_SUBTYPE_* GUID; bytes 0..1 hold the WAVE format code.
constexpr std::array<uint8_t, 14> kSubformatGuidTail = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                                        0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
constexpr std::string_view kSupported =
    "Parley reads 16-bit PCM WAV (WAVE_FORMAT_PCM, or WAVE_FORMAT_EXTENSIBLE with a PCM subformat) "
    "at any sample rate and channel count; convert with e.g. "
    "`sox in.wav -b 16 -e signed-integer out.wav`";

uint16_t load_le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

uint32_t load_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

void store_le16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Swaps int16 samples between little-endian (on disk) and host order; a no-op on LE hosts.
void swap_to_host(std::span<int16_t> samples) {
  if constexpr (std::endian::native == std::endian::big) {
    for (int16_t& s : samples) {
      auto u = static_cast<uint16_t>(s);
      s = static_cast<int16_t>((u >> 8) | (u << 8));
    }
  }
}

// A chunk id for messages: printable characters as-is, others as '?'.
std::string printable_id(const uint8_t* p) {
  std::string id(4, '?');
  for (int i = 0; i < 4; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7F) id[i] = static_cast<char>(p[i]);
  }
  return id;
}

// Builds the canonical 44-byte header; sizes are clamped to kUnknownSize.
std::array<uint8_t, kHeaderBytes> make_header(int sample_rate, int channels, uint64_t data_bytes) {
  std::array<uint8_t, kHeaderBytes> h{};
  const uint32_t data_size = data_bytes > kMaxDataBytes ? kUnknownSize : uint32_t(data_bytes);
  const uint32_t riff_size = data_bytes > kMaxDataBytes ? kUnknownSize : uint32_t(data_bytes + 36);
  const auto block_align = static_cast<uint16_t>(channels * 2);
  std::memcpy(&h[0], "RIFF", 4);
  store_le32(&h[4], riff_size);
  std::memcpy(&h[8], "WAVEfmt ", 8);
  store_le32(&h[16], 16);
  store_le16(&h[20], kFormatPcm);
  store_le16(&h[22], static_cast<uint16_t>(channels));
  store_le32(&h[24], static_cast<uint32_t>(sample_rate));
  store_le32(&h[28], static_cast<uint32_t>(sample_rate) * block_align);
  store_le16(&h[32], block_align);
  store_le16(&h[34], 16);
  std::memcpy(&h[36], "data", 4);
  store_le32(&h[40], data_size);
  return h;
}

// Random access to the bytes of a WAV image, in memory or on disk.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Total number of bytes.
  virtual uint64_t size() const = 0;
  // Copies `n` bytes at `offset` (inside size()) into `dst`; false on an I/O error.
  virtual bool read(uint64_t offset, size_t n, void* dst) = 0;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  bool read(uint64_t offset, size_t n, void* dst) override {
    if (n > 0) std::memcpy(dst, bytes_.data() + offset, n);
    return true;
  }

 private:
  std::span<const uint8_t> bytes_;
};

class FileSource final : public ByteSource {
 public:
  // Opens `path` for reading; the Status says why it could not be.
  Status open(const std::string& path) {
    file_.reset(std::fopen(path.c_str(), "rb"));
    if (!file_) {
      const int err = errno;
      std::string msg = "cannot open WAV file '" + path + "': " + std::strerror(err);
      return err == ENOENT ? not_found(std::move(msg)) : unavailable(std::move(msg));
    }
    struct stat st {};
    if (::fstat(::fileno(file_.get()), &st) != 0 || !S_ISREG(st.st_mode)) {
      return invalid_argument("'" + path + "' is not a regular file; expected a .wav file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    return Status::ok();
  }
  uint64_t size() const override { return size_; }
  bool read(uint64_t offset, size_t n, void* dst) override {
    if (::fseeko(file_.get(), static_cast<off_t>(offset), SEEK_SET) != 0) return false;
    return std::fread(dst, 1, n, file_.get()) == n;
  }

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> file_;
  uint64_t size_ = 0;
};

// The fields of a fmt chunk that matter to us.
struct FmtChunk {
  uint16_t format = 0;  // the effective format (the subformat for WAVE_FORMAT_EXTENSIBLE)
  bool extensible = false;
  uint16_t channels = 0;
  uint32_t sample_rate = 0;
  uint16_t block_align = 0;
  uint16_t bits_per_sample = 0;
};

// Where the samples are and what they are.
struct WavLayout {
  WavInfo info;
  uint64_t data_offset = 0;
  uint64_t data_bytes = 0;
};

std::string format_name(uint16_t format) {
  switch (format) {
    case 0x0002:
      return "Microsoft ADPCM";
    case 0x0003:
      return "IEEE float";
    case 0x0006:
      return "A-law";
    case 0x0007:
      return "µ-law";
    case 0x0011:
      return "IMA ADPCM";
    case 0x0031:
      return "GSM 6.10";
    case 0x0050:
      return "MPEG";
    case 0x0055:
      return "MPEG Layer III (MP3)";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "unknown format 0x%04X", format);
      return buf;
    }
  }
}

Status bad_header(std::string_view what, const std::string& problem) {
  return invalid_argument(std::string(what) + ": " + problem);
}

Result<FmtChunk> parse_fmt(const uint8_t* p, uint32_t size, std::string_view what) {
  FmtChunk f;
  f.format = load_le16(p);
  f.channels = load_le16(p + 2);
  f.sample_rate = load_le32(p + 4);
  f.block_align = load_le16(p + 12);
  f.bits_per_sample = load_le16(p + 14);
  if (f.format != kFormatExtensible) return f;
  f.extensible = true;
  if (size < 40 || load_le16(p + 16) < 22) {
    return bad_header(what, "WAVE_FORMAT_EXTENSIBLE fmt chunk is " + std::to_string(size) +
                                " bytes; 40 expected");
  }
  if (!std::equal(kSubformatGuidTail.begin(), kSubformatGuidTail.end(), p + 26)) {
    return unimplemented(std::string(what) +
                         ": WAVE_FORMAT_EXTENSIBLE with a non-standard subformat GUID is not "
                         "supported; " +
                         std::string(kSupported));
  }
  f.format = load_le16(p + 24);
  return f;
}

Status check_fmt(const FmtChunk& f, std::string_view what) {
  const std::string w(what);
  if (f.channels == 0) return bad_header(what, "the header declares 0 channels");
  if (f.sample_rate == 0) return bad_header(what, "the header declares a sample rate of 0 Hz");
  if (f.sample_rate > static_cast<uint32_t>(INT_MAX)) {
    return bad_header(what,
                      "sample rate " + std::to_string(f.sample_rate) + " Hz is not plausible");
  }
  if (f.format != kFormatPcm) {
    std::string name = format_name(f.format);
    if (f.format == 0x0003) name += " (" + std::to_string(f.bits_per_sample) + "-bit)";
    if (f.extensible) name = "WAVE_FORMAT_EXTENSIBLE " + name;
    return unimplemented(w + ": " + name + " samples are not supported; " +
                         std::string(kSupported));
  }
  if (f.bits_per_sample != 16) {
    return unimplemented(w + ": " + std::to_string(f.bits_per_sample) +
                         "-bit PCM is not supported; " + std::string(kSupported));
  }
  if (f.block_align != f.channels * 2) {
    return bad_header(what, "block_align is " + std::to_string(f.block_align) +
                                " but 16-bit audio with " + std::to_string(f.channels) +
                                " channel(s) needs " + std::to_string(f.channels * 2) +
                                " (corrupt header)");
  }
  return Status::ok();
}

Status truncated(std::string_view what, const std::string& chunk, uint64_t declared,
                 uint64_t present) {
  return data_loss(std::string(what) + ": '" + chunk + "' chunk declares " +
                   std::to_string(declared) + " bytes but only " + std::to_string(present) +
                   " are present (file truncated?)");
}

Status check_riff(ByteSource& src, std::string_view what) {
  const uint64_t size = src.size();
  if (size < 12) {
    return bad_header(what, "not a WAV file: only " + std::to_string(size) +
                                " bytes, shorter than a RIFF/WAVE header");
  }
  uint8_t h[12];
  if (!src.read(0, sizeof h, h)) return unavailable(std::string(what) + ": read error");
  const std::string riff = printable_id(h);
  if (riff == "RF64" || riff == "RIFX") {
    return unimplemented(std::string(what) + ": " + riff +
                         (riff == "RF64" ? " (WAV over 4 GiB)" : " (big-endian WAV)") +
                         " is not supported; " + std::string(kSupported));
  }
  if (riff != "RIFF") {
    return bad_header(what, "not a WAV file: it starts with '" + riff + "' instead of 'RIFF'");
  }
  if (std::memcmp(h + 8, "WAVE", 4) != 0) {
    return bad_header(what, "RIFF file of type '" + printable_id(h + 8) + "' is not WAVE audio; " +
                                std::string(kSupported));
  }
  return Status::ok();
}

// Walks the chunks and finds the format and the sample data.
Result<WavLayout> parse_layout(ByteSource& src, std::string_view what) {
  PARLEY_RETURN_IF_ERROR(check_riff(src, what));
  const uint64_t size = src.size();
  std::optional<FmtChunk> fmt;
  std::optional<WavLayout> data;
  bool streamed = false;  // the data chunk size was 0/unknown: it runs to the end of the file
  uint64_t pos = 12;
  while (pos + 8 <= size && !(fmt && data)) {
    uint8_t h[8];
    if (!src.read(pos, sizeof h, h)) return unavailable(std::string(what) + ": read error");
    const std::string id = printable_id(h);
    const uint32_t chunk_size = load_le32(h + 4);
    const uint64_t body = pos + 8;
    if (id == "data" && (chunk_size == 0 || chunk_size == kUnknownSize)) {
      data = WavLayout{{}, body, size - body};
      streamed = true;
      break;
    }
    if (body + chunk_size > size) return truncated(what, id, chunk_size, size - body);
    if (id == "data") {
      data = WavLayout{{}, body, chunk_size};
    } else if (id == "fmt ") {
      if (chunk_size < 16) {
        return bad_header(
            what, "fmt chunk is " + std::to_string(chunk_size) + " bytes; at least 16 expected");
      }
      uint8_t body_bytes[40] = {};
      const uint32_t n = std::min<uint32_t>(chunk_size, sizeof body_bytes);
      if (!src.read(body, n, body_bytes)) return unavailable(std::string(what) + ": read error");
      PARLEY_ASSIGN_OR_RETURN(fmt, parse_fmt(body_bytes, chunk_size, what));
    }
    pos = body + chunk_size;
    // RIFF pads odd-sized chunks with a zero byte; some writers omit it, and no chunk id starts
    // with a zero byte, so skip the pad only when it is zero.
    if ((chunk_size & 1) != 0 && pos < size) {
      uint8_t pad = 0;
      if (!src.read(pos, 1, &pad)) return unavailable(std::string(what) + ": read error");
      if (pad == 0) ++pos;
    }
  }
  if (!fmt) {
    return bad_header(what,
                      "no 'fmt ' chunk before the end of the file (truncated or not WAV "
                      "audio)");
  }
  if (!data) {
    return bad_header(what, "no 'data' chunk (the file is truncated or holds no audio)");
  }
  PARLEY_RETURN_IF_ERROR(check_fmt(*fmt, what));
  const uint64_t frame_bytes = fmt->block_align;
  if (data->data_bytes % frame_bytes != 0) {
    if (!streamed) {
      return data_loss(std::string(what) + ": data chunk holds " +
                       std::to_string(data->data_bytes) + " bytes, not a whole number of " +
                       std::to_string(frame_bytes) + "-byte frames (corrupt or truncated file)");
    }
    data->data_bytes -= data->data_bytes % frame_bytes;  // a streaming writer stopped mid-frame
  }
  data->info.sample_rate = static_cast<int>(fmt->sample_rate);
  data->info.channels = fmt->channels;
  data->info.frames = static_cast<int64_t>(data->data_bytes / frame_bytes);
  return *data;
}

Result<PcmAudio> read_samples(ByteSource& src, std::string_view what) {
  PARLEY_ASSIGN_OR_RETURN(WavLayout layout, parse_layout(src, what));
  PcmAudio audio;
  audio.sample_rate = layout.info.sample_rate;
  audio.channels = layout.info.channels;
  audio.samples.resize(layout.data_bytes / 2);
  if (!src.read(layout.data_offset, layout.data_bytes, audio.samples.data())) {
    return unavailable(std::string(what) + ": read error in the data chunk");
  }
  swap_to_host(audio.samples);
  return audio;
}

Status io_error(const std::string& action, const std::string& path) {
  return unavailable(action + " '" + path + "': " + std::strerror(errno));
}

}  // namespace

Result<WavInfo> read_wav_info(const std::string& path) {
  FileSource src;
  PARLEY_RETURN_IF_ERROR(src.open(path));
  PARLEY_ASSIGN_OR_RETURN(WavLayout layout, parse_layout(src, path));
  return layout.info;
}

Result<PcmAudio> read_wav(const std::string& path) {
  FileSource src;
  PARLEY_RETURN_IF_ERROR(src.open(path));
  return read_samples(src, path);
}

Result<PcmAudio> parse_wav(std::span<const uint8_t> bytes, std::string_view what) {
  MemorySource src(bytes);
  return read_samples(src, what);
}

Result<std::vector<uint8_t>> encode_wav(const PcmAudio& audio) {
  PARLEY_RETURN_IF_ERROR(audio.validate());
  const uint64_t data_bytes = audio.samples.size() * 2;
  if (data_bytes > kMaxDataBytes) {
    return invalid_argument("audio of " + std::to_string(data_bytes) +
                            " bytes exceeds the 4 GiB limit of a WAV file; split it");
  }
  const auto header = make_header(audio.sample_rate, audio.channels, data_bytes);
  std::vector<uint8_t> out(kHeaderBytes + data_bytes);
  std::memcpy(out.data(), header.data(), kHeaderBytes);
  std::memcpy(out.data() + kHeaderBytes, audio.samples.data(), data_bytes);
  swap_to_host(std::span(reinterpret_cast<int16_t*>(out.data() + kHeaderBytes), data_bytes / 2));
  return out;
}

Status write_wav(const std::string& path, const PcmAudio& audio) {
  WavWriter writer;
  PARLEY_RETURN_IF_ERROR(audio.validate());
  PARLEY_RETURN_IF_ERROR(writer.open(path, audio.sample_rate, audio.channels));
  PARLEY_RETURN_IF_ERROR(writer.write(audio.samples));
  return writer.close();
}

void WavWriter::FileCloser::operator()(std::FILE* file) const { std::fclose(file); }

WavWriter::~WavWriter() { (void)close(); }

WavWriter& WavWriter::operator=(WavWriter&& other) noexcept {
  if (this != &other) {
    (void)close();
    file_ = std::move(other.file_);
    path_ = std::move(other.path_);
    channels_ = other.channels_;
    frames_written_ = other.frames_written_;
  }
  return *this;
}

Status WavWriter::open(const std::string& path, int sample_rate, int channels) {
  if (is_open()) {
    return failed_precondition("WavWriter is already writing '" + path_ + "'; close() it first");
  }
  if (sample_rate <= 0 || channels <= 0 || channels > 65535) {
    return invalid_argument("cannot write '" + path + "': sample rate (" +
                            std::to_string(sample_rate) + ") must be positive and channels (" +
                            std::to_string(channels) + ") must be 1..65535");
  }
  file_.reset(std::fopen(path.c_str(), "wb"));
  if (!file_) return io_error("cannot create WAV file", path);
  path_ = path;
  channels_ = channels;
  frames_written_ = 0;
  // Sizes stay "unknown" until close(), so a recording cut short by a crash is still readable.
  auto header = make_header(sample_rate, channels, 0);
  store_le32(&header[4], kUnknownSize);
  store_le32(&header[40], kUnknownSize);
  if (std::fwrite(header.data(), 1, header.size(), file_.get()) != header.size()) {
    Status s = io_error("cannot write WAV header to", path);
    file_.reset();
    return s;
  }
  return Status::ok();
}

Status WavWriter::write(std::span<const int16_t> samples) {
  if (!is_open()) return failed_precondition("WavWriter::write called before open()");
  if (samples.size() % static_cast<size_t>(channels_) != 0) {
    return invalid_argument("WavWriter '" + path_ + "': " + std::to_string(samples.size()) +
                            " samples are not a whole number of " + std::to_string(channels_) +
                            "-channel frames");
  }
  const uint64_t new_bytes =
      (static_cast<uint64_t>(frames_written_) * channels_ + samples.size()) * 2;
  if (new_bytes > kMaxDataBytes) {
    return failed_precondition("WavWriter '" + path_ +
                               "': the recording would exceed the 4 GiB limit of a WAV file; "
                               "start a new file");
  }
  size_t written = 0;
  if constexpr (std::endian::native == std::endian::little) {
    written = std::fwrite(samples.data(), 2, samples.size(), file_.get());
  } else {
    std::vector<int16_t> le(samples.begin(), samples.end());
    swap_to_host(le);
    written = std::fwrite(le.data(), 2, le.size(), file_.get());
  }
  if (written != samples.size()) return io_error("cannot write samples to", path_);
  frames_written_ += static_cast<int64_t>(samples.size()) / channels_;
  return Status::ok();
}

Status WavWriter::close() {
  if (!is_open()) return Status::ok();
  std::FILE* f = file_.release();
  const uint64_t data_bytes = static_cast<uint64_t>(frames_written_) * channels_ * 2;
  uint8_t riff_size[4];
  uint8_t data_size[4];
  store_le32(riff_size, static_cast<uint32_t>(data_bytes + 36));
  store_le32(data_size, static_cast<uint32_t>(data_bytes));
  const bool ok = std::fseek(f, 4, SEEK_SET) == 0 && std::fwrite(riff_size, 1, 4, f) == 4 &&
                  std::fseek(f, 40, SEEK_SET) == 0 && std::fwrite(data_size, 1, 4, f) == 4;
  Status status = ok ? Status::ok() : io_error("cannot finish WAV header of", path_);
  if (std::fclose(f) != 0 && status.is_ok()) status = io_error("cannot close", path_);
  return status;
}

}  // namespace parley::media
