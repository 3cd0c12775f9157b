// The channel hub's membership and relaying (see hub.h); the WebSocket and in-process links are in
// hub_links.cc.
#include "hub.h"

#include <spdlog/spdlog.h>

namespace parley::server {

namespace {

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string error_event(std::string_view code, std::string_view message) {
  return nlohmann::json{{"type", rtc::event::kError}, {"code", code}, {"message", message}}.dump();
}

bool is_reserved(const std::string& type) {
  return type == rtc::event::kJoined || type == rtc::event::kLeft || type == rtc::event::kError ||
         type == rtc::event::kPong;
}

}  // namespace

Status HubOptions::validate() const {
  if (queues.link_high_water_bytes == 0 || queues.max_audio_frames == 0 ||
      queues.max_video_frames == 0 || queues.max_events == 0 || queues.max_event_bytes == 0)
    return invalid_argument("hub queue limits must all be > 0");
  if (join_timeout.count() <= 0) return invalid_argument("hub join_timeout must be > 0");
  return Status::ok();
}

Hub::Hub(boost::asio::io_context& io, const TokenSigner& signer, HubOptions options,
         ServerMetrics& metrics)
    : io_(io), signer_(signer), options_(std::move(options)), metrics_(metrics) {}

std::optional<TokenClaims> Hub::authorize(const std::string& channel, const std::string& token,
                                          uint16_t& close_code, std::string& reason) {
  if (draining_) {
    close_code = net::ws_close::kGoingAway;
    reason = "server shutting down";
    return std::nullopt;
  }
  if (token.empty()) {
    metrics_.error("token_missing");
    close_code = rtc::close_code::kBadToken;
    reason = "no token: pass ?token= or send {\"type\":\"join\",\"token\":...} first";
    return std::nullopt;
  }
  TokenVerdict v = signer_.verify(token, channel);
  if (!v.ok()) {
    metrics_.error(std::string("token_") + token_error_name(v.error));
    close_code = rtc::close_code::kBadToken;
    reason = v.message;
    return std::nullopt;
  }
  return v.claims;
}

bool Hub::join(const std::shared_ptr<Participant>& p, uint16_t& close_code, std::string& reason) {
  std::shared_ptr<Participant> replaced, peer;
  {
    std::lock_guard lock(mu_);
    auto& ch = channels_[p->channel_name()];
    if (!ch) ch = std::make_shared<Channel>(p->channel_name());
    std::lock_guard ch_lock(ch->mu);
    auto& slot = ch->slot(p->role());
    if (slot && slot->uid() != p->uid()) {
      close_code = rtc::close_code::kRoleTaken;
      reason = "channel '" + p->channel_name() + "' already has a " + rtc::role_name(p->role()) +
               " (uid " + std::to_string(slot->uid()) + ")";
      return false;
    }
    replaced = std::move(slot);
    slot = p;
    p->channel = ch;
    peer = p->role() == rtc::Role::kAgent ? ch->user : ch->agent;
  }
  metrics_.joins.fetch_add(1, std::memory_order_relaxed);
  if (replaced) {
    replaced->close(rtc::close_code::kReplaced,
                    "replaced: uid " + std::to_string(p->uid()) + " joined again");
  } else {
    metrics_.participants.fetch_add(1, std::memory_order_relaxed);
  }
  spdlog::debug("hub: {} uid {} joined channel {} over {}", rtc::role_name(p->role()), p->uid(),
                p->channel_name(), p->link().kind());
  announce_join(p, peer);
  if (observer_.on_joined) observer_.on_joined(p->channel_name(), p->uid(), p->role());
  return true;
}

void Hub::announce_join(const std::shared_ptr<Participant>& p,
                        const std::shared_ptr<Participant>& peer) {
  nlohmann::json self = {{"type", rtc::event::kJoined},       {"self", true},
                         {"channel", p->channel_name()},      {"uid", p->uid()},
                         {"role", rtc::role_name(p->role())}, {"server_time_ms", unix_now_ms()}};
  auto& list = self["participants"] = nlohmann::json::array();
  list.push_back({{"uid", p->uid()}, {"role", rtc::role_name(p->role())}});
  if (peer) list.push_back({{"uid", peer->uid()}, {"role", rtc::role_name(peer->role())}});
  p->send_event(self.dump());
  if (peer) {
    peer->send_event(nlohmann::json{{"type", rtc::event::kJoined},
                                    {"self", false},
                                    {"channel", p->channel_name()},
                                    {"uid", p->uid()},
                                    {"role", rtc::role_name(p->role())}}
                         .dump());
  }
}

void Hub::leave(const std::shared_ptr<Participant>& p, const std::string& reason) {
  auto ch = p->channel;
  if (!ch) return;
  bool removed = false;
  std::shared_ptr<Participant> peer;
  {
    std::lock_guard lock(mu_);
    std::lock_guard ch_lock(ch->mu);
    auto& slot = ch->slot(p->role());
    if (slot == p) {
      slot.reset();
      removed = true;
    }
    peer = p->role() == rtc::Role::kAgent ? ch->user : ch->agent;
    if (!ch->user && !ch->agent) {
      auto it = channels_.find(ch->name);
      if (it != channels_.end() && it->second == ch) channels_.erase(it);
    }
  }
  p->close(net::ws_close::kNormal, reason);
  if (!removed) return;
  metrics_.participants.fetch_sub(1, std::memory_order_relaxed);
  spdlog::debug("hub: {} uid {} left channel {}: {}", rtc::role_name(p->role()), p->uid(),
                p->channel_name(), reason);
  if (peer) {
    peer->send_event(nlohmann::json{
        {"type", rtc::event::kLeft},
        {"channel", p->channel_name()},
        {"uid", p->uid()},
        {"role", rtc::role_name(p->role())},
        {"reason",
         reason}}.dump());
  }
  if (observer_.on_left) observer_.on_left(p->channel_name(), p->uid(), p->role(), reason);
}

void Hub::on_binary(const std::shared_ptr<Participant>& p, std::string data) {
  if (p->closed() || !p->channel) return;
  auto frame = rtc::decode_frame(data);
  if (!frame.is_ok()) {
    metrics_.error("bad_frame");
    p->send_event(error_event("bad_frame", frame.status().message()));
    return;
  }
  auto peer = p->channel->peer_of(*p);
  if (!peer) {
    metrics_.frames_without_peer.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto kind = frame->header.kind;
  (kind == rtc::FrameKind::kVideo ? metrics_.video_frames_relayed : metrics_.audio_frames_relayed)
      .fetch_add(1, std::memory_order_relaxed);
  peer->send_media(kind, std::move(data));
}

void Hub::on_text(const std::shared_ptr<Participant>& p, const std::string& text) {
  if (p->closed() || !p->channel) return;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    metrics_.error("bad_event");
    p->send_event(error_event("bad_event",
                              "a text message must be a JSON object with a string "
                              "\"type\" (see docs/protocol.md)"));
    return;
  }
  const std::string type = j["type"].get<std::string>();
  if (type == rtc::event::kPing) {
    nlohmann::json pong = {{"type", rtc::event::kPong}, {"server_time_ms", unix_now_ms()}};
    if (j.contains("id")) pong["id"] = j["id"];
    p->send_event(pong.dump());
    return;
  }
  if (type == rtc::event::kJoin) {
    p->send_event(error_event("already_joined", "this connection already joined a channel"));
    return;
  }
  if (is_reserved(type)) {
    metrics_.error("bad_event");
    p->send_event(error_event("reserved_event", "'" + type + "' events are sent by the hub only"));
    return;
  }
  if (p->role() == rtc::Role::kAgent &&
      (type == rtc::event::kTranscript || type == rtc::event::kMetrics) &&
      observer_.on_agent_event) {
    observer_.on_agent_event(p->channel_name(), j);
    metrics_.events_recorded.fetch_add(1, std::memory_order_relaxed);
  }
  if (auto peer = p->channel->peer_of(*p)) {
    metrics_.events_relayed.fetch_add(1, std::memory_order_relaxed);
    peer->send_event(text);
  }
}

void Hub::kick(const std::string& channel, rtc::Role role, uint32_t uid, uint16_t code,
               const std::string& reason) {
  std::shared_ptr<Participant> p;
  {
    std::lock_guard lock(mu_);
    auto it = channels_.find(channel);
    if (it == channels_.end()) return;
    std::lock_guard ch_lock(it->second->mu);
    p = it->second->slot(role);
  }
  if (!p || p->uid() != uid) return;
  p->close(code, reason);
  leave(p, reason);
}

bool Hub::send_event_to(const std::string& channel, rtc::Role role, const nlohmann::json& event) {
  std::shared_ptr<Participant> p;
  {
    std::lock_guard lock(mu_);
    auto it = channels_.find(channel);
    if (it == channels_.end()) return false;
    std::lock_guard ch_lock(it->second->mu);
    p = it->second->slot(role);
  }
  return p && p->send_event(event.dump());
}

std::vector<ParticipantInfo> Hub::participants(const std::string& channel) const {
  std::vector<std::shared_ptr<Participant>> ps;
  {
    std::lock_guard lock(mu_);
    auto it = channels_.find(channel);
    if (it == channels_.end()) return {};
    std::lock_guard ch_lock(it->second->mu);
    for (auto& p : {it->second->user, it->second->agent})
      if (p) ps.push_back(p);
  }
  std::vector<ParticipantInfo> out;
  for (auto& p : ps)
    out.push_back({p->uid(), p->role(), p->link().kind(), p->queued_bytes(), p->dropped_frames()});
  return out;
}

size_t Hub::channel_count() const {
  std::lock_guard lock(mu_);
  return channels_.size();
}

}  // namespace parley::server
