// The channel hub's wire format (/v1/rtc): binary media frames with a small fixed header, JSON
// text events, roles and close codes. Shared by the hub (src/server/), the agent's
// channel_transport addon and any C++ client; docs/protocol.md describes the same bytes.
//
// A binary frame is a 24-byte little-endian header followed by the payload:
//   0  u8   magic 0x50 ('P')            1  u8  version (1)
//   2  u8   kind: 1 audio, 2 video      3  u8  flags: bit0 end of stream, bit1 key frame
//   4  u32  sequence (per sender)       8  u64 timestamp_ms (sender's media clock)
//   audio: 16 u32 sample_rate, 20 u8 channels, 21 u8 sample format (1 = s16le), 22 u16 reserved
//   video: 16 u8 pixel format (1 RGB24, 2 RGBA, 3 I420, 4 JPEG), 17 u8 reserved,
//          18 u16 width, 20 u16 height, 22 u16 reserved
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "parley/message.h"
#include "parley/status.h"

namespace parley::rtc {

// First byte of every media frame.
inline constexpr uint8_t kFrameMagic = 0x50;
// Version of the framing this code writes and reads.
inline constexpr uint8_t kFrameVersion = 1;
// Size of the header in front of every payload.
inline constexpr size_t kFrameHeaderBytes = 24;
// Largest payload a frame may carry (a 1080p RGBA picture fits).
inline constexpr size_t kMaxFramePayloadBytes = 8u << 20;

// What a binary frame carries.
enum class FrameKind : uint8_t { kAudio = 1, kVideo = 2 };

// Bits of the header's flags byte.
namespace frame_flags {
inline constexpr uint8_t kEndOfStream = 1;  // the last frame of the stream (may be empty)
inline constexpr uint8_t kKeyFrame = 2;     // video: decodable on its own
}  // namespace frame_flags

// Sample formats of audio frames (only s16le today).
inline constexpr uint8_t kSampleFormatS16le = 1;

// Pixel formats as numbered on the wire.
enum class WirePixelFormat : uint8_t { kRgb24 = 1, kRgba = 2, kI420 = 3, kJpeg = 4 };

// The decoded header of one media frame.
struct FrameHeader {
  FrameKind kind = FrameKind::kAudio;
  uint8_t flags = 0;
  uint32_t sequence = 0;
  uint64_t timestamp_ms = 0;
  // Audio only.
  uint32_t sample_rate = 16000;
  uint8_t channels = 1;
  // Video only.
  WirePixelFormat pixel_format = WirePixelFormat::kJpeg;
  uint16_t width = 0;
  uint16_t height = 0;

  bool end_of_stream() const { return (flags & frame_flags::kEndOfStream) != 0; }
};

// A decoded frame; `payload` points into the bytes given to decode_frame().
struct FrameView {
  FrameHeader header;
  std::string_view payload;
};

// Writes header + payload. The header is checked as decode_frame() would check it.
Result<std::string> encode_frame(const FrameHeader& header, std::string_view payload);
// Parses and checks a binary message; the error says which field is wrong and what was expected.
Result<FrameView> decode_frame(std::string_view bytes);

// An AudioFrame (16-bit PCM) as a wire frame with `sequence`.
Result<std::string> encode_audio(const AudioFrame& frame, uint32_t sequence);
// A VideoFrame as a wire frame with `sequence`.
Result<std::string> encode_video(const VideoFrame& frame, uint32_t sequence);
// The runtime message for a decoded audio frame (name "pcm_frame").
std::unique_ptr<AudioFrame> to_audio_frame(const FrameView& frame);
// The runtime message for a decoded video frame (name "video_frame").
std::unique_ptr<VideoFrame> to_video_frame(const FrameView& frame);

// Who a participant is in a channel: the person (or device) or the agent serving them.
enum class Role { kUser, kAgent };
// "user" / "agent".
const char* role_name(Role role);
// Parses "user" / "agent".
std::optional<Role> parse_role(std::string_view name);

// "type" values of JSON text events (docs/protocol.md lists their fields).
namespace event {
inline constexpr const char* kJoin = "join";              // client → hub: join with a token
inline constexpr const char* kJoined = "joined";          // hub → all: someone joined
inline constexpr const char* kLeft = "left";              // hub → all: someone left
inline constexpr const char* kError = "error";            // hub → client: a non-fatal error
inline constexpr const char* kPing = "ping";              // client → hub, answered with pong
inline constexpr const char* kPong = "pong";              // hub → client
inline constexpr const char* kTranscript = "transcript";  // agent → user (recorded)
inline constexpr const char* kMetrics = "metrics";        // agent → user (recorded)
inline constexpr const char* kPlayout = "playout";        // agent → user: what was heard
inline constexpr const char* kPlayed = "played";          // user → agent: what was heard
}  // namespace event

// WebSocket close codes the hub uses besides the RFC 6455 ones (1000, 1001, 1008, 1009, 1011).
namespace close_code {
inline constexpr uint16_t kBadToken = 4001;       // malformed, forged, expired, other channel
inline constexpr uint16_t kJoinTimeout = 4002;    // no join message in time
inline constexpr uint16_t kRoleTaken = 4003;      // another participant holds that role
inline constexpr uint16_t kReplaced = 4004;       // the same uid joined again elsewhere
inline constexpr uint16_t kSessionEnded = 4005;   // the agent's session was stopped
inline constexpr uint16_t kEventOverflow = 4008;  // too many events waiting: reader too slow
inline constexpr uint16_t kBadMessage = 4009;     // a malformed join or event
}  // namespace close_code

}  // namespace parley::rtc
