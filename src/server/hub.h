// The channel hub: the server's "RTC network". Participants join a channel with a token over
// /v1/rtc (WebSocket) or in-process (rtc_local.h); binary media frames and JSON events are relayed
// between the user and the agent of a channel, each through the receiver's bounded queue
// (participant.h). Transcript and metrics events from agents are handed to an observer that
// records them. Framing and events: include/parley/rtc_protocol.h and docs/protocol.md.
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it with g++ 12

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics.h"
#include "parley/net/server.h"
#include "parley/rtc_local.h"
#include "parley/server/token.h"
#include "participant.h"

namespace parley::server {

// Limits of the hub.
struct HubOptions {
  QueueLimits queues;
  // How long a connection may stay open without joining.
  std::chrono::milliseconds join_timeout{10000};

  Status validate() const;
};

// Notifications from the hub; called from any thread, never with a hub lock held.
struct HubObserver {
  // A participant joined `channel`.
  std::function<void(const std::string& channel, uint32_t uid, rtc::Role role)> on_joined;
  // A participant left `channel` (closed, dropped, kicked or replaced).
  std::function<void(const std::string& channel, uint32_t uid, rtc::Role role,
                     const std::string& reason)>
      on_left;
  // An agent sent a transcript or metrics event (already parsed).
  std::function<void(const std::string& channel, const nlohmann::json& event)> on_agent_event;
};

// A joined participant as /v1/api/sessions shows it.
struct ParticipantInfo {
  uint32_t uid = 0;
  rtc::Role role = rtc::Role::kUser;
  std::string transport;  // "websocket" or "local"
  size_t queued_bytes = 0;
  uint64_t dropped_frames = 0;
};

// The hub. Create with std::make_shared; all methods are thread-safe.
class Hub : public rtc::LocalHub, public std::enable_shared_from_this<Hub> {
 public:
  Hub(boost::asio::io_context& io, const TokenSigner& signer, HubOptions options,
      ServerMetrics& metrics);

  // Sets the observer (before the hub is used).
  void set_observer(HubObserver observer) { observer_ = std::move(observer); }
  // Handles a /v1/rtc upgrade request: accepts it and runs the join protocol.
  void accept(net::WsUpgrade upgrade);
  // rtc::LocalHub: joins in-process.
  Result<std::shared_ptr<rtc::LocalAttachment>> attach(
      const std::string& channel, const std::string& token,
      std::shared_ptr<rtc::LocalPeer> peer) override;

  // From now on joins are refused (close 1001); participants already joined stay.
  void set_draining() { draining_ = true; }
  // Disconnects the participant of `role` in `channel`, if it has `uid`, with `code` and `reason`.
  void kick(const std::string& channel, rtc::Role role, uint32_t uid, uint16_t code,
            const std::string& reason);
  // Sends a JSON event to the participant of `role` in `channel`; false when there is none.
  bool send_event_to(const std::string& channel, rtc::Role role, const nlohmann::json& event);
  // Participants of `channel` (empty when nobody is joined).
  std::vector<ParticipantInfo> participants(const std::string& channel) const;
  // Channels with at least one participant.
  size_t channel_count() const;

  // Used by the hub's connection handlers (hub.cc, hub_links.cc), not by other callers.
  // Checks a token for `channel` (empty: the token's own); on failure sets the close code and
  // reason to send.
  std::optional<TokenClaims> authorize(const std::string& channel, const std::string& token,
                                       uint16_t& close_code, std::string& reason);
  // Puts `p` in its channel's slot and announces it; on failure sets the close code and reason.
  bool join(const std::shared_ptr<Participant>& p, uint16_t& close_code, std::string& reason);
  void leave(const std::shared_ptr<Participant>& p, const std::string& reason);
  void on_text(const std::shared_ptr<Participant>& p, const std::string& text);
  void on_binary(const std::shared_ptr<Participant>& p, std::string data);
  boost::asio::io_context& io() { return io_; }
  const HubOptions& options() const { return options_; }
  bool draining() const { return draining_; }
  ServerMetrics& metrics() { return metrics_; }

 private:
  void announce_join(const std::shared_ptr<Participant>& p,
                     const std::shared_ptr<Participant>& peer);

  boost::asio::io_context& io_;
  const TokenSigner& signer_;
  const HubOptions options_;
  ServerMetrics& metrics_;
  HubObserver observer_;
  std::atomic<bool> draining_{false};
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Channel>, std::less<>> channels_;
};

}  // namespace parley::server
