// In-process attachment to the channel hub, for agents that run as engines inside the server
// (thread isolation): the same join, token check, queueing and relaying as /v1/rtc, without a
// socket. The server publishes its hub under a session's channel; the agent's channel_transport
// (property "local": true) finds it here by channel and attaches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "parley/status.h"

namespace parley::rtc {

// What the hub delivers to a locally attached participant. Called from hub threads (never with a
// hub lock held); implementations hand the message to their own executor and return at once.
class LocalPeer {
 public:
  virtual ~LocalPeer() = default;
  // A JSON text event (the same text a WebSocket participant receives).
  virtual void deliver_text(std::string text) = 0;
  // A binary media frame (rtc_protocol.h framing).
  virtual void deliver_binary(std::string frame) = 0;
  // The hub ended the attachment (code and reason as a WebSocket close would carry them).
  virtual void closed(uint16_t code, std::string reason) = 0;
};

// The participant's side of an attachment. Thread-safe.
class LocalAttachment {
 public:
  virtual ~LocalAttachment() = default;
  // Sends a JSON text event into the channel.
  virtual void send_text(std::string text) = 0;
  // Sends a binary media frame into the channel.
  virtual void send_binary(std::string frame) = 0;
  // Reports that the peer finished handling `bytes` of delivered messages; the hub uses it to
  // bound what is in flight towards this participant, as a socket's send buffer would.
  virtual void consumed(size_t bytes) = 0;
  // Leaves the channel; `closed` is not called for a leave the participant started.
  virtual void leave(std::string reason) = 0;
};

// A hub that accepts local attachments.
class LocalHub {
 public:
  virtual ~LocalHub() = default;
  // Joins `channel` with `token` (checked as for /v1/rtc). On success the peer receives the
  // `joined` event before this returns.
  virtual Result<std::shared_ptr<LocalAttachment>> attach(const std::string& channel,
                                                          const std::string& token,
                                                          std::shared_ptr<LocalPeer> peer) = 0;
};

// Makes `hub` findable under `channel` (replacing an earlier entry). Thread-safe.
void publish_local_hub(const std::string& channel, std::weak_ptr<LocalHub> hub);
// Removes the entry for `channel`. Thread-safe.
void withdraw_local_hub(const std::string& channel);
// The hub published under `channel`, or nullptr. Thread-safe.
std::shared_ptr<LocalHub> find_local_hub(const std::string& channel);

}  // namespace parley::rtc
