// The bounded outgoing queue of a hub participant (see participant.h).
#include "participant.h"

#include <algorithm>
#include <vector>

namespace parley::server {

Participant::Participant(std::string channel, uint32_t uid, rtc::Role role,
                         std::unique_ptr<Link> link, QueueLimits limits, ServerMetrics& metrics)
    : channel_name_(std::move(channel)),
      uid_(uid),
      role_(role),
      link_(std::move(link)),
      limits_(limits),
      metrics_(metrics) {}

void Participant::send_media(rtc::FrameKind kind, std::string frame) {
  push(
      Item{kind == rtc::FrameKind::kVideo ? ItemKind::kVideo : ItemKind::kAudio, std::move(frame)});
}

bool Participant::send_event(std::string text) {
  bool full = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    full = events_waiting_ + 1 > limits_.max_events ||
           event_bytes_waiting_ + text.size() > limits_.max_event_bytes;
  }
  if (full) {
    metrics_.error("event_queue_overflow");
    close(rtc::close_code::kEventOverflow, "event queue overflow: over " +
                                               std::to_string(limits_.max_events) +
                                               " events waiting, the client reads too slowly");
    return false;
  }
  push(Item{ItemKind::kEvent, std::move(text)});
  return true;
}

void Participant::push(Item item) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    queued_bytes_ += item.data.size();
    switch (item.kind) {
      case ItemKind::kAudio:
        if (++audio_waiting_ > limits_.max_audio_frames) drop_oldest(ItemKind::kAudio);
        break;
      case ItemKind::kVideo:
        if (++video_waiting_ > limits_.max_video_frames) drop_oldest(ItemKind::kVideo);
        break;
      case ItemKind::kEvent:
        ++events_waiting_;
        event_bytes_waiting_ += item.data.size();
        break;
    }
    queue_.push_back(std::move(item));
    if (draining_) return;  // the thread draining will take it
    draining_ = true;
  }
  drain();
}

// Called with mu_ held, when one more frame of `kind` waits than allowed.
void Participant::drop_oldest(ItemKind kind) {
  auto it =
      std::find_if(queue_.begin(), queue_.end(), [kind](const Item& i) { return i.kind == kind; });
  if (it == queue_.end()) return;
  queued_bytes_ -= it->data.size();
  queue_.erase(it);
  ++dropped_;
  if (kind == ItemKind::kAudio) {
    --audio_waiting_;
    metrics_.audio_frames_dropped.fetch_add(1, std::memory_order_relaxed);
  } else {
    --video_waiting_;
    metrics_.video_frames_dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

// Moves waiting items to the link while its backlog is under the high-water mark. Only one thread
// drains at a time (draining_), which keeps the order; writes happen without the lock held.
void Participant::drain() {
  for (;;) {
    std::vector<Item> batch;
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        draining_ = false;
        return;
      }
      size_t budget = limits_.link_high_water_bytes;
      const size_t backlog = link_->backlog_bytes();
      budget = backlog >= budget ? 0 : budget - backlog;
      while (!queue_.empty()) {
        Item& front = queue_.front();
        // An item bigger than the whole budget still goes when the link is idle.
        if (front.data.size() > budget && !(batch.empty() && backlog == 0)) break;
        budget -= std::min(budget, front.data.size());
        queued_bytes_ -= front.data.size();
        if (front.kind == ItemKind::kAudio) --audio_waiting_;
        if (front.kind == ItemKind::kVideo) --video_waiting_;
        if (front.kind == ItemKind::kEvent) {
          --events_waiting_;
          event_bytes_waiting_ -= front.data.size();
        }
        batch.push_back(std::move(front));
        queue_.pop_front();
      }
      if (batch.empty()) {
        draining_ = false;
        if (!queue_.empty() && !retry_armed_) {
          retry_armed_ = true;
          link_->retry_later([weak = weak_from_this()] {
            auto self = weak.lock();
            if (!self) return;
            {
              std::lock_guard relock(self->mu_);
              self->retry_armed_ = false;
              if (self->draining_ || self->queue_.empty()) return;
              self->draining_ = true;
            }
            self->drain();
          });
        }
        return;
      }
    }
    for (auto& item : batch) link_->write(item.kind == ItemKind::kEvent, std::move(item.data));
  }
}

void Participant::close(uint16_t code, std::string reason) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    queue_.clear();
    queued_bytes_ = audio_waiting_ = video_waiting_ = events_waiting_ = event_bytes_waiting_ = 0;
  }
  link_->close(code, std::move(reason));
}

bool Participant::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

size_t Participant::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_ + link_->backlog_bytes();
}

uint64_t Participant::dropped_frames() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace parley::server
