// DeepgramSocket: the WebSocket connection of a Deepgram-protocol addon (deepgram_asr,
// deepgram_tts), seen from the node's executor.
//
// It opens the connection with net::ws_connect (Beast stays in src/net), posts every event of it
// to the node's executor so the addon needs no locks, drops the events of a connection the addon
// already gave up, reconnects with exponential backoff when asked, and closes whatever is still
// open when the node goes away — even a connection whose opening arrives after deinit.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/extension.h"
#include "parley/net/client.h"

namespace parley::deepgram {

// The URL of a Deepgram endpoint. `base` is a ws:// or wss:// URL: either a full endpoint
// (wss://api.deepgram.com/v1/listen, with or without a query) or only a scheme and host
// (ws://127.0.0.1:8080), to which `default_path` is appended. `params` are added to the query
// unless the URL already sets them (so the URL can carry parameters the properties do not name).
// The error says what is wrong with `base`.
Result<std::string> endpoint_url(const std::string& base, std::string_view default_path,
                                 const std::vector<net::QueryParam>& params);

// Options shared by both addons' properties: the key and the connection timings.
struct SocketConfig {
  // Full URL, from endpoint_url().
  std::string url;
  // Sent as `Authorization: Token KEY`; empty sends no Authorization (a parley model-serve).
  std::string api_key;
  std::chrono::milliseconds connect_timeout{10000};
  // First reconnect delay, doubled after every failure up to reconnect_max.
  std::chrono::milliseconds reconnect_initial{250};
  std::chrono::milliseconds reconnect_max{8000};

  // Ok when the timings are positive and ordered; the message names the property.
  Status validate() const;
};

// What the addon hears from its connection. Every handler runs on the node's executor.
struct SocketHandlers {
  // A connection opened (after connect_first() has reported it, for the first one).
  std::function<void()> on_open;
  // A text (JSON) message arrived.
  std::function<void(std::string text)> on_text;
  // A binary message arrived.
  std::function<void(std::string data)> on_binary;
  // An open connection ended (the peer closed it, or the transport failed).
  std::function<void(const net::WsCloseInfo& info)> on_closed;
  // connect() failed; the message names the URL and the cause (an HTTP refusal carries the
  // status and the server's reason). The first connection's failure goes to connect_first().
  std::function<void(const Status& why)> on_failed;
};

// One connection at a time, reopened on request. Lives on (and is only used from) the node's
// executor; create it in on_init, after the node's Context is usable.
class DeepgramSocket {
 public:
  DeepgramSocket(Context& ctx, SocketConfig config, SocketHandlers handlers);
  // Closes the connection (1000) and stops delivering its events.
  ~DeepgramSocket();
  DeepgramSocket(const DeepgramSocket&) = delete;
  DeepgramSocket& operator=(const DeepgramSocket&) = delete;

  // Opens the first connection (from on_init): `done` gets ok once it is open, or the failure,
  // which fails the node's start with the server's reason. Later connections are logged as
  // "connected again".
  void connect_first(Done done);
  // Starts opening a connection unless one is open or opening; cancels a scheduled reconnect.
  void connect();
  // Schedules connect() after the current backoff delay (then doubles it); returns the delay.
  // The backoff starts again from reconnect_initial once a connection opens.
  std::chrono::milliseconds reconnect_later();
  // Ends the current connection with `code` (its remaining events are not delivered) and cancels
  // a scheduled reconnect.
  void close(uint16_t code = net::ws_close::kNormal, std::string reason = "");

  // True while a connection is open and usable.
  bool is_open() const { return conn_ != nullptr; }
  // True while connect() is waiting for the outcome.
  bool is_connecting() const { return connecting_; }
  // True while a reconnect is scheduled.
  bool reconnect_pending() const { return reconnect_timer_ != 0; }
  // Sends on the open connection; failed_precondition when none is open.
  Status send_text(std::string text);
  Status send_binary(std::string data);

  const std::string& url() const { return config_.url; }

  // Shared with the I/O callbacks (defined in the .cc).
  struct Link;

 private:
  void opened(uint64_t generation, std::shared_ptr<net::WsConnection> conn);
  void failed(uint64_t generation, const Status& why);
  void ended(uint64_t generation, const net::WsCloseInfo& info);

  Context& ctx_;
  SocketConfig config_;
  SocketHandlers handlers_;
  std::shared_ptr<Link> link_;
  // Bumped by every connect() and close(): events of older connections are dropped.
  uint64_t generation_ = 0;
  std::shared_ptr<net::WsConnection> conn_;
  bool connecting_ = false;
  std::chrono::milliseconds backoff_;
  TimerId reconnect_timer_ = 0;
  Done first_done_;  // connect_first()'s, until the first connection opens or fails
};

// The "type" of a Deepgram JSON message, or "" when `text` is not a JSON object with one;
// `out` receives the parsed message.
std::string message_type(const std::string& text, nlohmann::json& out);

}  // namespace parley::deepgram
