// Node: one extension instance on its own strand — delivery, commands, timers, blocking work.
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "runtime/engine_impl.h"
#include "runtime/logging.h"

namespace parley::detail {

namespace asio = boost::asio;

namespace {
size_t kind_index(MessageKind kind) { return static_cast<size_t>(kind); }

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}
}  // namespace

Node::Node(std::shared_ptr<EngineImpl> engine, NodeSpec spec, const Addon& addon)
    : engine_(std::move(engine)),
      spec_(std::move(spec)),
      addon_(addon),
      strand_(asio::make_strand(engine_->runtime().io())),
      logger_(make_node_logger(engine_->options().log_tag, spec_.name)) {}

Node::~Node() = default;

const std::string& Node::graph_name() const { return engine_->graph().name; }
Runtime& Node::runtime() { return engine_->runtime(); }

Status Node::configure() {
  ext_ = addon_.factory();
  if (!ext_) return internal_error("addon '" + spec_.addon + "' factory returned no extension");
  Status status;
  try {
    status = ext_->on_configure(*this);
  } catch (const std::exception& e) {
    status = internal_error(std::string("on_configure threw: ") + e.what());
  }
  if (!status.is_ok()) {
    return Status(status.code(), "node '" + spec_.name + "' (addon '" + spec_.addon +
                                     "') rejected its configuration: " + status.message());
  }
  return Status::ok();
}

void Node::add_route(MessageKind kind, const std::string& name, Node* dest) {
  auto& route = routes_[kind_index(kind)];
  auto& list = name == "*" ? route.wildcard : route.by_name[name];
  for (Node* n : list)
    if (n == dest) return;
  list.push_back(dest);
}

template <class Fn>
void Node::for_each_dest(MessageKind kind, const std::string& name, Fn&& fn) const {
  const auto& route = routes_[kind_index(kind)];
  if (!route.by_name.empty()) {
    auto it = route.by_name.find(name);
    if (it != route.by_name.end())
      for (Node* n : it->second) fn(n);
  }
  for (Node* n : route.wildcard) fn(n);
}

bool Node::has_destination(MessageKind kind, const std::string& name) const {
  bool any = false;
  for_each_dest(kind, name, [&](Node*) { any = true; });
  return any;
}

void Node::enqueue(std::unique_ptr<Message> msg) {
  engine_->hold();
  asio::post(strand_, [this, m = std::move(msg)]() mutable {
    handle(std::move(m));
    engine_->release();
  });
}

void Node::post_fn(std::function<void()> fn) {
  engine_->hold();
  asio::post(strand_, [this, fn = std::move(fn)] {
    if (state_ == NodeState::kDeinitialized) {
      logger_->debug("dropping a posted task: node is deinitialised");
    } else {
      guarded("posted task", fn);
    }
    engine_->release();
  });
}

void Node::handle(std::unique_ptr<Message> msg) {
  switch (state_) {
    case NodeState::kCreated:
    case NodeState::kInitializing:
    case NodeState::kInitialized:
      pending_.push_back(std::move(msg));  // delivered right after on_start
      return;
    case NodeState::kStarted:
    case NodeState::kStopping:
    case NodeState::kStopped:
      dispatch(std::move(msg));
      return;
    case NodeState::kDeinitialized:
      engine_->dropped_stopped.fetch_add(1, std::memory_order_relaxed);
      if (msg->kind() == MessageKind::kCmd) {
        auto& cmd = static_cast<Cmd&>(*msg);
        if (auto reply = cmd.take_reply())
          reply->reply(cmd.name(), failed_precondition("node '" + spec_.name + "' has stopped"),
                       {});
      }
      return;
  }
}

void Node::dispatch(std::unique_ptr<Message> msg) {
  engine_->delivered.fetch_add(1, std::memory_order_relaxed);
  switch (msg->kind()) {
    case MessageKind::kCmd: {
      std::unique_ptr<Cmd> cmd(static_cast<Cmd*>(msg.release()));
      guarded("on_cmd", [&] { ext_->on_cmd(*this, std::move(cmd)); });
      return;
    }
    case MessageKind::kData: {
      std::unique_ptr<Data> data(static_cast<Data*>(msg.release()));
      guarded("on_data", [&] { ext_->on_data(*this, std::move(data)); });
      return;
    }
    case MessageKind::kAudioFrame: {
      std::unique_ptr<AudioFrame> frame(static_cast<AudioFrame*>(msg.release()));
      guarded("on_audio_frame", [&] { ext_->on_audio_frame(*this, std::move(frame)); });
      return;
    }
    case MessageKind::kVideoFrame: {
      std::unique_ptr<VideoFrame> frame(static_cast<VideoFrame*>(msg.release()));
      guarded("on_video_frame", [&] { ext_->on_video_frame(*this, std::move(frame)); });
      return;
    }
    case MessageKind::kCmdResult:
      return;  // results travel through CmdReply, never as routed messages
  }
}

bool Node::send(std::unique_ptr<Message> msg) {
  if (msg->kind() == MessageKind::kCmd || msg->kind() == MessageKind::kCmdResult) {
    logger_->error("send() got a {}; use send_cmd / return_result", message_kind_name(msg->kind()));
    return false;
  }
  if (state_ == NodeState::kDeinitialized) return false;
  msg->set_source(spec_.name);
  Node* dests[16];
  size_t count = 0;
  std::vector<Node*> many;
  for_each_dest(msg->kind(), msg->name(), [&](Node* n) {
    if (count < 16)
      dests[count] = n;
    else
      many.push_back(n);
    ++count;
  });
  if (count == 0) {
    engine_->dropped_no_route.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (count > 16) many.insert(many.begin(), dests, dests + 16);
  Node* const* list = count > 16 ? many.data() : dests;
  // Fan-out clones metadata only; the payload Buffer is shared.
  for (size_t i = 0; i + 1 < count; ++i) list[i]->enqueue(msg->clone());
  list[count - 1]->enqueue(std::move(msg));
  return true;
}

void Node::send_cmd(std::unique_ptr<Cmd> cmd, ResultHandler on_result,
                    std::chrono::milliseconds timeout) {
  const uint64_t id = engine_->next_cmd_id();
  cmd->set_id(id);
  cmd->set_source(spec_.name);
  std::vector<Node*> dests;
  for_each_dest(MessageKind::kCmd, cmd->name(), [&](Node* n) {
    if (cmd->dest().empty() || n->node_name() == cmd->dest()) dests.push_back(n);
  });

  PendingCmd pending;
  pending.name = cmd->name();
  pending.handler = std::move(on_result);
  for (Node* d : dests) pending.waiting_on.push_back(d->node_name());
  if (dests.empty()) {
    pending.first_error =
        not_found("node '" + spec_.name + "' has no destination for cmd '" + cmd->name() + "'" +
                  (cmd->dest().empty() ? "" : " to node '" + cmd->dest() + "'") +
                  ": add a connection for it in the graph");
  }
  if (timeout.count() > 0 && !dests.empty()) {
    pending.timer = std::make_unique<asio::steady_timer>(strand_, timeout);
    engine_->hold();
    pending.timer->async_wait([this, id, timeout](boost::system::error_code ec) {
      if (!ec) {
        auto it = pending_cmds_.find(id);
        if (it != pending_cmds_.end()) {
          complete_cmd(id, deadline_exceeded("no result for cmd '" + it->second.name + "' from " +
                                             join_names(it->second.waiting_on) + " within " +
                                             std::to_string(timeout.count()) + " ms"));
        }
      }
      engine_->release();
    });
  }
  pending_cmds_.emplace(id, std::move(pending));
  if (dests.empty()) {
    post_fn([this, id] { complete_cmd(id, pending_cmds_.at(id).first_error); });
    return;
  }

  std::weak_ptr<Node> weak_self = weak_from_this();
  auto deliver = [weak_self](std::unique_ptr<CmdResult> result, const std::string& from) {
    auto self = weak_self.lock();
    if (!self) return;
    self->post_fn([self = self.get(), r = std::shared_ptr<CmdResult>(std::move(result)), from] {
      self->on_cmd_result(std::make_unique<CmdResult>(*r), from);
    });
  };
  for (size_t i = 0; i < dests.size(); ++i) {
    std::unique_ptr<Cmd> copy;
    if (i + 1 < dests.size()) {
      copy.reset(static_cast<Cmd*>(cmd->clone().release()));
      copy->set_id(id);
    } else {
      copy = std::move(cmd);
    }
    copy->set_reply(std::make_shared<CmdReply>(dests[i]->node_name(), id, deliver));
    dests[i]->enqueue(std::move(copy));
  }
}

void Node::on_cmd_result(std::unique_ptr<CmdResult> result, const std::string& from) {
  auto it = pending_cmds_.find(result->cmd_id());
  if (it == pending_cmds_.end()) {
    logger_->debug("late result for cmd '{}' from '{}' ignored (already completed)", result->name(),
                   from);
    return;
  }
  auto& p = it->second;
  auto w = std::find(p.waiting_on.begin(), p.waiting_on.end(), from);
  if (w != p.waiting_on.end()) p.waiting_on.erase(w);
  if (!result->ok() && p.first_error.is_ok()) p.first_error = result->status();
  if (p.detail.is_null() && !result->detail().is_null()) p.detail = result->detail();
  if (p.waiting_on.empty()) complete_cmd(result->cmd_id(), p.first_error);
}

void Node::complete_cmd(uint64_t id, Status status) {
  auto it = pending_cmds_.find(id);
  if (it == pending_cmds_.end()) return;
  PendingCmd p = std::move(it->second);
  pending_cmds_.erase(it);
  if (p.timer) p.timer->cancel();
  auto result = std::make_unique<CmdResult>(p.name, id, std::move(status), std::move(p.detail));
  if (p.handler) guarded("cmd result handler", [&] { p.handler(std::move(result)); });
}

void Node::return_result(std::unique_ptr<Cmd> cmd, Status status, nlohmann::json detail) {
  auto reply = cmd->take_reply();
  if (!reply) {
    logger_->warn("return_result for cmd '{}' that has no sender (already answered or never sent)",
                  cmd->name());
    return;
  }
  reply->reply(cmd->name(), std::move(status), std::move(detail));
}

void Node::deliver_external_cmd(std::unique_ptr<Cmd> cmd, ResultHandler on_result,
                                std::chrono::milliseconds timeout) {
  struct Once {
    std::mutex mu;
    ResultHandler handler;
    std::unique_ptr<asio::steady_timer> timer;
  };
  auto once = std::make_shared<Once>();
  once->handler = std::move(on_result);
  auto finish = [once](std::unique_ptr<CmdResult> r) {
    ResultHandler h;
    {
      std::lock_guard lock(once->mu);
      h = std::move(once->handler);
      once->handler = nullptr;
      if (once->timer) once->timer->cancel();
    }
    if (h) h(std::move(r));
  };
  const uint64_t id = engine_->next_cmd_id();
  cmd->set_id(id);
  const std::string name = cmd->name();
  if (timeout.count() > 0) {
    std::lock_guard lock(once->mu);
    once->timer = std::make_unique<asio::steady_timer>(engine_->runtime().io(), timeout);
    once->timer->async_wait(
        [finish, name, id, node = spec_.name, timeout](boost::system::error_code ec) {
          if (ec) return;
          finish(std::make_unique<CmdResult>(
              name, id,
              deadline_exceeded("no result for cmd '" + name + "' from '" + node + "' within " +
                                std::to_string(timeout.count()) + " ms")));
        });
  }
  cmd->set_reply(std::make_shared<CmdReply>(
      spec_.name, id,
      [finish](std::unique_ptr<CmdResult> r, const std::string&) { finish(std::move(r)); }));
  enqueue(std::move(cmd));
}

TimerId Node::set_timer(std::chrono::milliseconds delay, std::function<void()> fn, bool repeat) {
  const TimerId id = next_timer_++;
  Timer t;
  t.timer = std::make_unique<asio::steady_timer>(strand_, delay);
  t.fn = std::move(fn);
  t.period = repeat ? delay : std::chrono::milliseconds(0);
  timers_.emplace(id, std::move(t));
  arm_timer(id);
  return id;
}

void Node::arm_timer(TimerId id) {
  auto& t = timers_.at(id);
  engine_->hold();
  t.timer->async_wait([this, id](boost::system::error_code ec) {
    auto it = timers_.find(id);
    if (!ec && it != timers_.end() && state_ != NodeState::kDeinitialized) {
      auto fn = it->second.fn;  // the callback may cancel or add timers
      if (it->second.period.count() > 0) {
        it->second.timer->expires_at(it->second.timer->expiry() + it->second.period);
        arm_timer(id);
      } else {
        timers_.erase(it);
      }
      guarded("timer callback", fn);
    }
    engine_->release();
  });
}

void Node::cancel_timer(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  it->second.timer->cancel();
  timers_.erase(it);
}

Poster Node::poster() {
  std::weak_ptr<Node> weak = weak_from_this();
  return [weak](std::function<void()> fn) {
    auto self = weak.lock();
    if (!self) return false;
    self->post_fn(std::move(fn));
    return true;
  };
}

void Node::run_blocking(std::function<void()> work, std::function<void()> done) {
  engine_->hold();
  ++blocking_inflight_;
  asio::post(engine_->runtime().compute(), [this, work = std::move(work), done = std::move(done)] {
    guarded("blocking work", work);
    asio::post(strand_, [this, done] {
      if (state_ != NodeState::kDeinitialized && done) guarded("blocking work completion", done);
      if (--blocking_inflight_ == 0 && stop_waiter_) {
        auto waiter = std::move(stop_waiter_);
        waiter();
      }
      engine_->release();
    });
  });
}

void Node::metric(std::string_view name, double value, const nlohmann::json& labels) {
  const auto& hook = engine_->options().metrics;
  if (!hook) return;
  nlohmann::json l = labels.is_object() ? labels : nlohmann::json::object();
  l["node"] = spec_.name;
  l["graph"] = engine_->graph().name;
  hook(name, value, l);
}

void Node::stop_graph(std::string reason) {
  logger_->info("asks the graph to stop: {}", reason);
  if (engine_->options().on_stop_requested) engine_->options().on_stop_requested(reason);
}

}  // namespace parley::detail
