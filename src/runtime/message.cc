// Message kinds: construction, cloning (payloads shared, never copied) and JSON rendering.
#include "parley/message.h"

#include "runtime/cmd_reply.h"

namespace parley {

const char* message_kind_name(MessageKind kind) {
  switch (kind) {
    case MessageKind::kCmd:
      return "cmd";
    case MessageKind::kCmdResult:
      return "cmd_result";
    case MessageKind::kData:
      return "data";
    case MessageKind::kAudioFrame:
      return "audio_frame";
    case MessageKind::kVideoFrame:
      return "video_frame";
  }
  return "unknown";
}

std::optional<MessageKind> parse_message_kind(std::string_view key) {
  if (key == "cmd") return MessageKind::kCmd;
  if (key == "data") return MessageKind::kData;
  if (key == "audio_frame") return MessageKind::kAudioFrame;
  if (key == "video_frame") return MessageKind::kVideoFrame;
  return std::nullopt;
}

const char* pixel_format_name(PixelFormat fmt) {
  switch (fmt) {
    case PixelFormat::kRgb24:
      return "RGB24";
    case PixelFormat::kRgba:
      return "RGBA";
    case PixelFormat::kI420:
      return "I420";
    case PixelFormat::kJpeg:
      return "JPEG";
  }
  return "unknown";
}

nlohmann::json Message::to_json() const {
  nlohmann::json j = {{"kind", message_kind_name(kind_)}, {"name", name_}};
  if (!source_.empty()) j["source"] = source_;
  if (!properties_.is_null()) j["properties"] = properties_;
  return j;
}

Cmd::Cmd(std::string name, nlohmann::json properties) : Cmd(std::move(name)) {
  mutable_properties() = std::move(properties);
}

// A copy carries the metadata but not the reply channel: it is a new command.
Cmd::Cmd(const Cmd& other) : Message(other), id_(0) {}

Cmd::~Cmd() {
  if (reply_) reply_->dropped(name());
}

std::unique_ptr<Message> Cmd::clone() const { return std::unique_ptr<Cmd>(new Cmd(*this)); }

nlohmann::json Cmd::to_json() const {
  auto j = Message::to_json();
  j["id"] = id_;
  return j;
}

CmdResult::CmdResult(std::string cmd_name, uint64_t cmd_id, Status status, nlohmann::json detail)
    : Message(MessageKind::kCmdResult, std::move(cmd_name)),
      cmd_id_(cmd_id),
      status_(std::move(status)),
      detail_(std::move(detail)) {}

std::unique_ptr<Message> CmdResult::clone() const { return std::make_unique<CmdResult>(*this); }

nlohmann::json CmdResult::to_json() const {
  auto j = Message::to_json();
  j["cmd_id"] = cmd_id_;
  j["status"] = status_.is_ok() ? "ok" : "error";
  if (!status_.is_ok()) j["error"] = status_.to_string();
  if (!detail_.is_null()) j["detail"] = detail_;
  return j;
}

Data::Data(std::string name, nlohmann::json properties) : Data(std::move(name)) {
  mutable_properties() = std::move(properties);
}

std::unique_ptr<Message> Data::clone() const { return std::make_unique<Data>(*this); }

nlohmann::json Data::to_json() const {
  auto j = Message::to_json();
  if (!buffer_.empty()) j["buffer_bytes"] = buffer_.size();
  return j;
}

void AudioFrame::set_buffer(Buffer buffer) {
  buffer_ = std::move(buffer);
  const int frame_bytes = channels * bytes_per_sample;
  samples_per_channel = frame_bytes > 0 ? static_cast<int>(buffer_.size() / frame_bytes) : 0;
}

std::unique_ptr<Message> AudioFrame::clone() const { return std::make_unique<AudioFrame>(*this); }

nlohmann::json AudioFrame::to_json() const {
  auto j = Message::to_json();
  j["sample_rate"] = sample_rate;
  j["channels"] = channels;
  j["samples_per_channel"] = samples_per_channel;
  j["bytes_per_sample"] = bytes_per_sample;
  j["timestamp_ms"] = timestamp_ms;
  if (is_eof) j["is_eof"] = true;
  return j;
}

std::unique_ptr<Message> VideoFrame::clone() const { return std::make_unique<VideoFrame>(*this); }

nlohmann::json VideoFrame::to_json() const {
  auto j = Message::to_json();
  j["pixel_fmt"] = pixel_format_name(pixel_fmt);
  j["width"] = width;
  j["height"] = height;
  j["timestamp_ms"] = timestamp_ms;
  j["buffer_bytes"] = buffer_.size();
  return j;
}

}  // namespace parley
