// WebSocket connections, server or client side, behind one Beast-free interface.
//
// A WsConnection is created by net::Server (after a WsUpgrade was accepted) or by ws_connect().
// Its callbacks run one at a time on the connection's strand (an I/O thread); they must return
// quickly and never block — post blocking work elsewhere and send the results back, since every
// send is thread-safe. Outgoing messages go through a bounded queue with one write in flight, as
// in Beast's chat-multi example. RFC 6455 pings from the peer are answered automatically; the
// connection itself pings on an interval and closes after a number of unanswered pings (the
// SageMaker sidecar's own contract: ping every 60 s, give up after 5 misses).
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it with g++ 12

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "parley/net/http.h"
#include "parley/status.h"

namespace parley::net {

// Close codes of RFC 6455 §7.4.1 that Parley uses.
namespace ws_close {
inline constexpr uint16_t kNormal = 1000;           // done, as agreed
inline constexpr uint16_t kGoingAway = 1001;        // server stopping, or peer gone silent
inline constexpr uint16_t kProtocolError = 1002;    // the peer broke the protocol
inline constexpr uint16_t kUnsupportedData = 1003;  // a message kind this endpoint cannot take
inline constexpr uint16_t kNoStatus = 1005;         // the peer's Close carried no code
inline constexpr uint16_t kAbnormal = 1006;         // the connection dropped without a Close
inline constexpr uint16_t kInvalidPayload = 1007;   // e.g. text that is not UTF-8
inline constexpr uint16_t kPolicy = 1008;           // a rule of the endpoint was broken
inline constexpr uint16_t kTooBig = 1009;           // a message over the size limit
inline constexpr uint16_t kInternalError = 1011;    // the endpoint cannot go on
inline constexpr uint16_t kTryAgainLater = 1013;    // overloaded
}  // namespace ws_close

// How a connection ended.
struct WsCloseInfo {
  // The close code (ws_close::kAbnormal when the TCP connection dropped without a Close).
  uint16_t code = ws_close::kNormal;
  // The close reason, or the transport error.
  std::string reason;
  // True when the peer started the closing handshake (its code is echoed back to it).
  bool by_peer = false;
};

// Limits and keep-alive behaviour of a WebSocket connection.
struct WsOptions {
  // Interval of the pings this side sends; zero disables them.
  std::chrono::milliseconds ping_interval{60000};
  // Unanswered pings in a row after which the connection is closed (1001, NET-0002).
  int max_missed_pongs = 5;
  // Closes the connection (1001) when nothing arrives from the peer for this long; zero = never.
  std::chrono::milliseconds idle_timeout{0};
  // Limit on the opening and closing handshakes; the TCP connection is dropped after it.
  std::chrono::milliseconds handshake_timeout{10000};
  // Largest message accepted (after reassembly of fragments); bigger ones close with 1009.
  size_t max_message_bytes = 16u << 20;
  // Bytes that may wait in the send queue; a send beyond it fails and closes with 1008 (NET-0003).
  size_t max_queued_bytes = 16u << 20;

  // Ok when the limits are positive and consistent; the message names the bad field.
  Status validate() const;
  // One-line description, for logs.
  std::string to_string() const;
};

// Counters of one connection.
struct WsStats {
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  // Bytes waiting in the send queue now.
  size_t queued_bytes = 0;
};

// One open WebSocket connection. Owned by shared_ptr; hold a weak_ptr in anything that may outlive
// the connection. Every method is thread-safe.
class WsConnection : public std::enable_shared_from_this<WsConnection> {
 public:
  virtual ~WsConnection() = default;

  // Queues a text message (UTF-8). Fails with kFailedPrecondition once closing, or kUnavailable
  // when the send queue is full (the connection is then closed with 1008).
  virtual Status send_text(std::string text) = 0;
  // Queues a binary message; fails as send_text() does.
  virtual Status send_binary(std::string data) = 0;
  // Sends what is queued, then starts the closing handshake with `code` and `reason` (at most 123
  // bytes). Later calls are ignored. on_close reports the outcome.
  virtual void close(uint16_t code, std::string reason) = 0;
  // Runs `fn` on the connection's strand, serialised with its callbacks.
  virtual void post(std::function<void()> fn) = 0;
  // The connection's strand, for timers that must run serialised with the callbacks.
  virtual boost::asio::any_io_executor executor() = 0;
  // The HTTP request that opened the connection (server side) or was sent (client side).
  virtual const HttpRequest& request() const = 0;
  // The subprotocol agreed in the handshake, or "".
  virtual const std::string& subprotocol() const = 0;
  // True until a Close was sent or received or the transport failed.
  virtual bool is_open() const = 0;
  // Process-unique id, for logs.
  virtual uint64_t id() const = 0;
  // Current counters.
  virtual WsStats stats() const = 0;
};

// What an application does with a connection. Every callback is optional and runs on the
// connection's strand. After on_close (called exactly once) the callbacks are released, which
// breaks reference cycles through captured shared_ptrs.
struct WsCallbacks {
  // The handshake completed; the connection may send.
  std::function<void(const std::shared_ptr<WsConnection>&)> on_open;
  // A complete text message arrived (fragments already reassembled).
  std::function<void(const std::shared_ptr<WsConnection>&, std::string text)> on_text;
  // A complete binary message arrived.
  std::function<void(const std::shared_ptr<WsConnection>&, std::string data)> on_binary;
  // The connection ended.
  std::function<void(const std::shared_ptr<WsConnection>&, const WsCloseInfo&)> on_close;
};

}  // namespace parley::net
