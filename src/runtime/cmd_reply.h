// CmdReply: the one-shot channel carrying a command's result back to whoever sent it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "parley/message.h"

namespace parley::detail {

// Delivers exactly one CmdResult for one command instance at one destination node. Whatever
// happens — an answer, the command being dropped unanswered, an exception — the sender gets one
// result; later attempts are ignored.
class CmdReply {
 public:
  using Deliver = std::function<void(std::unique_ptr<CmdResult>, const std::string& dest_node)>;

  CmdReply(std::string dest_node, uint64_t cmd_id, Deliver deliver)
      : dest_node_(std::move(dest_node)), cmd_id_(cmd_id), deliver_(std::move(deliver)) {}

  // Sends the result; returns false when one was already sent.
  bool reply(const std::string& cmd_name, Status status, nlohmann::json detail) {
    if (done_.exchange(true)) return false;
    auto result =
        std::make_unique<CmdResult>(cmd_name, cmd_id_, std::move(status), std::move(detail));
    result->set_source(dest_node_);
    deliver_(std::move(result), dest_node_);
    return true;
  }

  // Called when the Cmd is destroyed unanswered: the sender gets an error naming the node.
  void dropped(const std::string& cmd_name) {
    const bool unwinding = std::uncaught_exceptions() > 0;
    reply(cmd_name,
          internal_error("node '" + dest_node_ + "' " +
                         (unwinding ? "threw an exception while handling" : "dropped") + " cmd '" +
                         cmd_name + "' without returning a result"),
          {});
  }

  const std::string& dest_node() const { return dest_node_; }

 private:
  std::atomic<bool> done_{false};
  std::string dest_node_;
  uint64_t cmd_id_;
  Deliver deliver_;
};

}  // namespace parley::detail
