// Encoding and decoding of the /v1/rtc media framing (see include/parley/rtc_protocol.h).
#include "parley/rtc_protocol.h"

#include <algorithm>
#include <cstring>

namespace parley::rtc {

namespace {

void put_u16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>(v >> 8);
}
void put_u32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint16_t get_u16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | (static_cast<uint8_t>(p[1]) << 8));
}
uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Bytes a raw picture of that format and size must have; 0 for compressed formats.
size_t raw_picture_bytes(WirePixelFormat fmt, size_t w, size_t h) {
  switch (fmt) {
    case WirePixelFormat::kRgb24:
      return w * h * 3;
    case WirePixelFormat::kRgba:
      return w * h * 4;
    case WirePixelFormat::kI420:
      return w * h + 2 * (((w + 1) / 2) * ((h + 1) / 2));
    case WirePixelFormat::kJpeg:
      return 0;
  }
  return 0;
}

Status check(const FrameHeader& h, size_t payload_bytes) {
  if (payload_bytes > kMaxFramePayloadBytes)
    return invalid_argument("frame payload of " + std::to_string(payload_bytes) +
                            " bytes is over the limit of " + std::to_string(kMaxFramePayloadBytes));
  if (h.kind == FrameKind::kAudio) {
    if (h.sample_rate < 1000 || h.sample_rate > 192000)
      return invalid_argument("audio sample_rate " + std::to_string(h.sample_rate) +
                              " is outside 1000..192000 Hz");
    if (h.channels < 1 || h.channels > 8)
      return invalid_argument("audio channels " + std::to_string(h.channels) + " is outside 1..8");
    if (payload_bytes % (2u * h.channels) != 0)
      return invalid_argument("audio payload of " + std::to_string(payload_bytes) +
                              " bytes is not a whole number of 16-bit samples for " +
                              std::to_string(h.channels) + " channel(s)");
    return Status::ok();
  }
  if (h.kind != FrameKind::kVideo)
    return invalid_argument("frame kind " + std::to_string(static_cast<int>(h.kind)) +
                            " is unknown (1 = audio, 2 = video)");
  const auto fmt = static_cast<uint8_t>(h.pixel_format);
  if (fmt < 1 || fmt > 4)
    return invalid_argument("video pixel format " + std::to_string(fmt) +
                            " is unknown (1 RGB24, 2 RGBA, 3 I420, 4 JPEG)");
  if (h.end_of_stream() && payload_bytes == 0) return Status::ok();
  if (h.width == 0 || h.height == 0)
    return invalid_argument("video width and height must be > 0, got " + std::to_string(h.width) +
                            "x" + std::to_string(h.height));
  const size_t want = raw_picture_bytes(h.pixel_format, h.width, h.height);
  if (want != 0 && want != payload_bytes)
    return invalid_argument("video payload of " + std::to_string(payload_bytes) +
                            " bytes does not match " + std::to_string(h.width) + "x" +
                            std::to_string(h.height) + " (expected " + std::to_string(want) +
                            " bytes)");
  return Status::ok();
}

WirePixelFormat to_wire(PixelFormat fmt) {
  switch (fmt) {
    case PixelFormat::kRgb24:
      return WirePixelFormat::kRgb24;
    case PixelFormat::kRgba:
      return WirePixelFormat::kRgba;
    case PixelFormat::kI420:
      return WirePixelFormat::kI420;
    case PixelFormat::kJpeg:
      return WirePixelFormat::kJpeg;
  }
  return WirePixelFormat::kJpeg;
}

PixelFormat from_wire(WirePixelFormat fmt) {
  switch (fmt) {
    case WirePixelFormat::kRgb24:
      return PixelFormat::kRgb24;
    case WirePixelFormat::kRgba:
      return PixelFormat::kRgba;
    case WirePixelFormat::kI420:
      return PixelFormat::kI420;
    case WirePixelFormat::kJpeg:
      return PixelFormat::kJpeg;
  }
  return PixelFormat::kJpeg;
}

Buffer buffer_of(std::string_view bytes) {
  return Buffer::copy_of({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

std::string_view view_of(const Buffer& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

Result<std::string> encode_frame(const FrameHeader& header, std::string_view payload) {
  PARLEY_RETURN_IF_ERROR(check(header, payload.size()));
  std::string out(kFrameHeaderBytes + payload.size(), '\0');
  char* p = out.data();
  p[0] = static_cast<char>(kFrameMagic);
  p[1] = static_cast<char>(kFrameVersion);
  p[2] = static_cast<char>(header.kind);
  p[3] = static_cast<char>(header.flags);
  put_u32(p + 4, header.sequence);
  put_u64(p + 8, header.timestamp_ms);
  if (header.kind == FrameKind::kAudio) {
    put_u32(p + 16, header.sample_rate);
    p[20] = static_cast<char>(header.channels);
    p[21] = static_cast<char>(kSampleFormatS16le);
  } else {
    p[16] = static_cast<char>(header.pixel_format);
    put_u16(p + 18, header.width);
    put_u16(p + 20, header.height);
  }
  if (!payload.empty()) std::memcpy(p + kFrameHeaderBytes, payload.data(), payload.size());
  return out;
}

Result<FrameView> decode_frame(std::string_view bytes) {
  if (bytes.size() < kFrameHeaderBytes)
    return invalid_argument("binary frame of " + std::to_string(bytes.size()) +
                            " bytes is shorter than the " + std::to_string(kFrameHeaderBytes) +
                            "-byte header");
  const char* p = bytes.data();
  if (static_cast<uint8_t>(p[0]) != kFrameMagic)
    return invalid_argument("binary frame does not start with the magic byte 0x50 ('P')");
  if (static_cast<uint8_t>(p[1]) != kFrameVersion)
    return invalid_argument("binary frame version " + std::to_string(static_cast<uint8_t>(p[1])) +
                            " is not supported (this server speaks version 1)");
  FrameView v;
  FrameHeader& h = v.header;
  h.kind = static_cast<FrameKind>(static_cast<uint8_t>(p[2]));
  h.flags = static_cast<uint8_t>(p[3]);
  h.sequence = get_u32(p + 4);
  h.timestamp_ms = get_u64(p + 8);
  if (h.kind == FrameKind::kAudio) {
    h.sample_rate = get_u32(p + 16);
    h.channels = static_cast<uint8_t>(p[20]);
    if (static_cast<uint8_t>(p[21]) != kSampleFormatS16le)
      return invalid_argument("audio sample format " + std::to_string(static_cast<uint8_t>(p[21])) +
                              " is not supported (1 = 16-bit little-endian PCM)");
  } else {
    h.pixel_format = static_cast<WirePixelFormat>(static_cast<uint8_t>(p[16]));
    h.width = get_u16(p + 18);
    h.height = get_u16(p + 20);
  }
  v.payload = bytes.substr(kFrameHeaderBytes);
  PARLEY_RETURN_IF_ERROR(check(h, v.payload.size()));
  return v;
}

Result<std::string> encode_audio(const AudioFrame& frame, uint32_t sequence) {
  if (frame.bytes_per_sample != 2)
    return invalid_argument("only 16-bit PCM can be sent, the frame has " +
                            std::to_string(frame.bytes_per_sample) + " bytes per sample");
  FrameHeader h;
  h.kind = FrameKind::kAudio;
  h.flags = frame.is_eof ? frame_flags::kEndOfStream : 0;
  h.sequence = sequence;
  h.timestamp_ms = static_cast<uint64_t>(std::max<int64_t>(0, frame.timestamp_ms));
  h.sample_rate = static_cast<uint32_t>(std::max(0, frame.sample_rate));
  h.channels = static_cast<uint8_t>(std::clamp(frame.channels, 0, 255));
  return encode_frame(h, view_of(frame.buffer()));
}

Result<std::string> encode_video(const VideoFrame& frame, uint32_t sequence) {
  FrameHeader h;
  h.kind = FrameKind::kVideo;
  h.sequence = sequence;
  h.timestamp_ms = static_cast<uint64_t>(std::max<int64_t>(0, frame.timestamp_ms));
  h.pixel_format = to_wire(frame.pixel_fmt);
  if (frame.width > 65535 || frame.height > 65535 || frame.width < 0 || frame.height < 0)
    return invalid_argument("video frame size " + std::to_string(frame.width) + "x" +
                            std::to_string(frame.height) + " does not fit the 16-bit header");
  h.width = static_cast<uint16_t>(frame.width);
  h.height = static_cast<uint16_t>(frame.height);
  return encode_frame(h, view_of(frame.buffer()));
}

std::unique_ptr<AudioFrame> to_audio_frame(const FrameView& frame) {
  auto out = std::make_unique<AudioFrame>("pcm_frame");
  out->sample_rate = static_cast<int>(frame.header.sample_rate);
  out->channels = frame.header.channels;
  out->bytes_per_sample = 2;
  out->timestamp_ms = static_cast<int64_t>(frame.header.timestamp_ms);
  out->is_eof = frame.header.end_of_stream();
  out->set_buffer(buffer_of(frame.payload));
  return out;
}

std::unique_ptr<VideoFrame> to_video_frame(const FrameView& frame) {
  auto out = std::make_unique<VideoFrame>("video_frame");
  out->pixel_fmt = from_wire(frame.header.pixel_format);
  out->width = frame.header.width;
  out->height = frame.header.height;
  out->timestamp_ms = static_cast<int64_t>(frame.header.timestamp_ms);
  out->set_buffer(buffer_of(frame.payload));
  return out;
}

const char* role_name(Role role) { return role == Role::kAgent ? "agent" : "user"; }

std::optional<Role> parse_role(std::string_view name) {
  if (name == "user") return Role::kUser;
  if (name == "agent") return Role::kAgent;
  return std::nullopt;
}

}  // namespace parley::rtc
