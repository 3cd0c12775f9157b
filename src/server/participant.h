// One participant of a hub channel and its bounded outgoing queue.
//
// Messages for a participant go straight to its link (a WebSocket or an in-process peer) while the
// link's own backlog is under a high-water mark; beyond it they wait here. The wait is bounded:
// a slow reader loses its OLDEST audio (and video) frames, counted in the metrics, so the newest
// audio keeps flowing and memory stays flat; JSON events are never dropped, and when too many of
// them wait the participant is disconnected with close code 4008 and a reason.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "metrics.h"
#include "parley/rtc_protocol.h"

namespace parley::server {

class Channel;

// Limits of the per-participant queues.
struct QueueLimits {
  // Bytes the link may hold (written but not yet on the wire) before messages wait here.
  size_t link_high_water_bytes = 64u << 10;
  // Media frames that may wait here, per kind, before the oldest is dropped.
  size_t max_audio_frames = 50;
  size_t max_video_frames = 8;
  // Events (and their bytes) that may wait here before the participant is disconnected.
  size_t max_events = 1024;
  size_t max_event_bytes = 1u << 20;
};

// Where a participant's messages go: a WebSocket connection or an in-process peer.
class Link {
 public:
  virtual ~Link() = default;
  // Bytes handed to the link that it has not delivered yet.
  virtual size_t backlog_bytes() const = 0;
  // Hands one message to the link (never blocks).
  virtual void write(bool text, std::string data) = 0;
  // Ends the link with a close code and reason (idempotent).
  virtual void close(uint16_t code, std::string reason) = 0;
  // Runs `fn` after a short delay on some I/O thread (used to retry a backlogged queue).
  virtual void retry_later(std::function<void()> fn) = 0;
  // "websocket" or "local".
  virtual const char* kind() const = 0;
};

// A joined participant. Thread-safe: any thread may send to it.
class Participant : public std::enable_shared_from_this<Participant> {
 public:
  Participant(std::string channel, uint32_t uid, rtc::Role role, std::unique_ptr<Link> link,
              QueueLimits limits, ServerMetrics& metrics);

  const std::string& channel_name() const { return channel_name_; }
  uint32_t uid() const { return uid_; }
  rtc::Role role() const { return role_; }
  Link& link() { return *link_; }

  // Queues a media frame; the oldest frame of the same kind is dropped when too many wait.
  void send_media(rtc::FrameKind kind, std::string frame);
  // Queues a JSON event; returns false (and disconnects with 4008) when the event queue is full.
  bool send_event(std::string text);
  // Drops what waits here and closes the link (which flushes its own backlog first); later sends
  // are ignored. Idempotent.
  void close(uint16_t code, std::string reason);
  bool closed() const;

  // Bytes waiting here plus those the link holds.
  size_t queued_bytes() const;
  // Frames dropped from this participant's queue.
  uint64_t dropped_frames() const;

  // The channel this participant is in (set by the hub while joined; guarded by the hub).
  std::shared_ptr<Channel> channel;

 private:
  enum class ItemKind { kAudio, kVideo, kEvent };
  struct Item {
    ItemKind kind;
    std::string data;
  };

  void push(Item item);
  void drain();
  void drop_oldest(ItemKind kind);

  const std::string channel_name_;
  const uint32_t uid_;
  const rtc::Role role_;
  std::unique_ptr<Link> link_;
  const QueueLimits limits_;
  ServerMetrics& metrics_;

  mutable std::mutex mu_;
  std::deque<Item> queue_;
  size_t queued_bytes_ = 0;
  size_t audio_waiting_ = 0;
  size_t video_waiting_ = 0;
  size_t events_waiting_ = 0;
  size_t event_bytes_waiting_ = 0;
  uint64_t dropped_ = 0;
  bool draining_ = false;  // one thread at a time moves items to the link
  bool retry_armed_ = false;
  bool closed_ = false;
};

// A channel: at most one user and one agent. Guarded by its own mutex.
class Channel {
 public:
  explicit Channel(std::string name) : name(std::move(name)) {}
  const std::string name;
  std::mutex mu;
  std::shared_ptr<Participant> user;
  std::shared_ptr<Participant> agent;

  // The slot of `role` (call with mu held).
  std::shared_ptr<Participant>& slot(rtc::Role role) {
    return role == rtc::Role::kAgent ? agent : user;
  }
  // The other participant of `p` (locks mu).
  std::shared_ptr<Participant> peer_of(const Participant& p) {
    std::lock_guard lock(mu);
    return p.role() == rtc::Role::kAgent ? user : agent;
  }
};

}  // namespace parley::server
