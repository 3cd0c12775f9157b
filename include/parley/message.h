// The five message kinds that flow through a graph: Cmd, CmdResult, Data, AudioFrame, VideoFrame.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "parley/buffer.h"
#include "parley/status.h"

namespace parley {

namespace detail {
class CmdReply;
}

// Which of the five kinds a message is.
enum class MessageKind { kCmd, kCmdResult, kData, kAudioFrame, kVideoFrame };

// "cmd", "cmd_result", "data", "audio_frame", "video_frame" — the keys used in graph JSON.
const char* message_kind_name(MessageKind kind);
// Parses a graph-JSON kind key; nullopt for anything else.
std::optional<MessageKind> parse_message_kind(std::string_view key);

// Common part of every message: kind, name, JSON properties and the node that sent it.
class Message {
 public:
  virtual ~Message() = default;

  MessageKind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  // Free-form JSON properties (null when none were set; reading a null object is cheap).
  const nlohmann::json& properties() const { return properties_; }
  nlohmann::json& mutable_properties() { return properties_; }
  // Sets one property, creating the properties object if needed.
  void set(const std::string& key, nlohmann::json value) { properties_[key] = std::move(value); }
  // Reads one property, or `fallback` when absent or of another type.
  template <class T>
  T get(const std::string& key, T fallback) const {
    if (!properties_.is_object()) return fallback;
    auto it = properties_.find(key);
    if (it == properties_.end()) return fallback;
    try {
      return it->get<T>();
    } catch (const nlohmann::json::exception&) {
      return fallback;
    }
  }
  // Name of the node that sent the message; set by the engine.
  const std::string& source() const { return source_; }
  void set_source(std::string source) { source_ = std::move(source); }

  // A new message with the same metadata sharing the same payload (no payload copy).
  virtual std::unique_ptr<Message> clone() const = 0;
  // JSON rendering for logs and log_sink (payloads are summarised by size, not dumped).
  virtual nlohmann::json to_json() const;

 protected:
  Message(MessageKind kind, std::string name) : kind_(kind), name_(std::move(name)) {}
  Message(const Message&) = default;

 private:
  MessageKind kind_;
  std::string name_;
  nlohmann::json properties_;
  std::string source_;
};

// A command: answered by exactly one final CmdResult. If the receiver drops it without
// answering, the runtime answers with an error naming the node, so a sender never hangs.
class Cmd final : public Message {
 public:
  explicit Cmd(std::string name) : Message(MessageKind::kCmd, std::move(name)) {}
  Cmd(std::string name, nlohmann::json properties);
  ~Cmd() override;
  // Engine-assigned id, unique within the process (0 until sent).
  uint64_t id() const { return id_; }
  // Restricts delivery to one connected node (e.g. the owner of a tool); empty = all connected.
  void set_dest(std::string node) { dest_ = std::move(node); }
  const std::string& dest() const { return dest_; }
  std::unique_ptr<Message> clone() const override;
  nlohmann::json to_json() const override;

  // Runtime internals: the reply channel back to the sender.
  void set_id(uint64_t id) { id_ = id; }
  void set_reply(std::shared_ptr<detail::CmdReply> reply) { reply_ = std::move(reply); }
  std::shared_ptr<detail::CmdReply> take_reply() { return std::move(reply_); }

 private:
  Cmd(const Cmd& other);
  uint64_t id_ = 0;
  std::string dest_;
  std::shared_ptr<detail::CmdReply> reply_;
};

// The final answer to a Cmd: ok or an error, with optional JSON detail.
class CmdResult final : public Message {
 public:
  CmdResult(std::string cmd_name, uint64_t cmd_id, Status status, nlohmann::json detail = {});
  bool ok() const { return status_.is_ok(); }
  const Status& status() const { return status_; }
  uint64_t cmd_id() const { return cmd_id_; }
  // Result payload (for example a tool_call's `content`).
  const nlohmann::json& detail() const { return detail_; }
  std::unique_ptr<Message> clone() const override;
  nlohmann::json to_json() const override;

 private:
  uint64_t cmd_id_;
  Status status_;
  nlohmann::json detail_;
};

// Structured data with an optional binary payload (asr_result, text_data, transcript, ...).
class Data final : public Message {
 public:
  explicit Data(std::string name) : Message(MessageKind::kData, std::move(name)) {}
  Data(std::string name, nlohmann::json properties);
  const Buffer& buffer() const { return buffer_; }
  void set_buffer(Buffer buffer) { buffer_ = std::move(buffer); }
  std::unique_ptr<Message> clone() const override;
  nlohmann::json to_json() const override;

 private:
  Buffer buffer_;
};

// Interleaved PCM audio. Default contract: 16 kHz mono s16le, 10–20 ms per frame.
class AudioFrame final : public Message {
 public:
  explicit AudioFrame(std::string name = "pcm_frame")
      : Message(MessageKind::kAudioFrame, std::move(name)) {}
  int sample_rate = 16000;
  int channels = 1;
  int samples_per_channel = 0;
  int bytes_per_sample = 2;
  int64_t timestamp_ms = 0;
  bool is_eof = false;

  const Buffer& buffer() const { return buffer_; }
  // Sets the payload and derives samples_per_channel from its size.
  void set_buffer(Buffer buffer);
  // Duration of the frame in milliseconds.
  double duration_ms() const {
    return sample_rate > 0 ? 1000.0 * samples_per_channel / sample_rate : 0.0;
  }
  std::unique_ptr<Message> clone() const override;
  nlohmann::json to_json() const override;

 private:
  Buffer buffer_;
};

// Pixel layouts a VideoFrame may carry.
enum class PixelFormat { kRgb24, kRgba, kI420, kJpeg };
const char* pixel_format_name(PixelFormat fmt);

// One video picture, raw or JPEG-compressed.
class VideoFrame final : public Message {
 public:
  explicit VideoFrame(std::string name = "video_frame")
      : Message(MessageKind::kVideoFrame, std::move(name)) {}
  PixelFormat pixel_fmt = PixelFormat::kJpeg;
  int width = 0;
  int height = 0;
  int64_t timestamp_ms = 0;

  const Buffer& buffer() const { return buffer_; }
  void set_buffer(Buffer buffer) { buffer_ = std::move(buffer); }
  std::unique_ptr<Message> clone() const override;
  nlohmann::json to_json() const override;

 private:
  Buffer buffer_;
};

}  // namespace parley
