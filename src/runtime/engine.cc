// Engine: builds nodes and routes from a GraphSpec and drives the lifecycle
// configure → init → start → stop → deinit, draining in-flight work on the way down.
#include "parley/engine.h"

#include <future>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "runtime/engine_impl.h"

namespace parley {
namespace detail {

namespace asio = boost::asio;

// ---- Node lifecycle (runs on the node's strand) ----

void Node::begin_init(std::function<void(Status)> done) {
  post_fn([this, done = std::move(done)] {
    state_ = NodeState::kInitializing;
    auto fired = std::make_shared<std::atomic<bool>>(false);
    Done on_done = [this, fired, done](Status s) {
      if (fired->exchange(true)) return;
      post_fn([this, s, done] {
        state_ = NodeState::kInitialized;
        done(s.is_ok() ? s
                       : Status(s.code(),
                                "node '" + spec_.name + "' failed to initialise: " + s.message()));
      });
    };
    try {
      ext_->on_init(*this, on_done);
    } catch (const std::exception& e) {
      engine_->callback_errors.fetch_add(1, std::memory_order_relaxed);
      on_done(internal_error(std::string("on_init threw: ") + e.what()));
    }
  });
}

void Node::begin_start(std::function<void()> done) {
  post_fn([this, done = std::move(done)] {
    state_ = NodeState::kStarted;
    guarded("on_start", [&] { ext_->on_start(*this); });
    // Messages that arrived before start are delivered now, in arrival order.
    while (!pending_.empty() && state_ == NodeState::kStarted) {
      auto msg = std::move(pending_.front());
      pending_.pop_front();
      dispatch(std::move(msg));
    }
    done();
  });
}

void Node::begin_stop(std::function<void()> done) {
  post_fn([this, done = std::move(done)] {
    if (state_ == NodeState::kCreated || state_ == NodeState::kDeinitialized) {
      done();
      return;
    }
    state_ = NodeState::kStopping;
    auto fired = std::make_shared<std::atomic<bool>>(false);
    auto finished = std::make_shared<bool>(false);  // touched only on the strand
    auto timer = std::make_shared<asio::steady_timer>(strand_, engine_->options().stop_timeout);
    auto finish = [this, finished, done, timer] {
      if (*finished) return;
      *finished = true;
      timer->cancel();
      stop_waiter_ = nullptr;
      state_ = NodeState::kStopped;
      done();
    };
    // The node is stopped once its extension says so AND its blocking work has come back, so the
    // results of work in flight are still delivered (drain) rather than dropped.
    Done on_done = [this, fired, finish](Status s) {
      if (fired->exchange(true)) return;
      post_fn([this, s, finish] {
        if (!s.is_ok()) logger_->warn("stopped with an error: {}", s.to_string());
        if (blocking_inflight_ > 0) {
          stop_waiter_ = finish;
          return;
        }
        finish();
      });
    };
    engine_->hold();
    timer->async_wait([this, finish](boost::system::error_code ec) {
      if (!ec) {
        logger_->warn("did not finish stopping within {} ms; deinitialising anyway",
                      engine_->options().stop_timeout.count());
        finish();
      }
      engine_->release();
    });
    try {
      ext_->on_stop(*this, on_done);
    } catch (const std::exception& e) {
      engine_->callback_errors.fetch_add(1, std::memory_order_relaxed);
      on_done(internal_error(std::string("on_stop threw: ") + e.what()));
    }
  });
}

void Node::begin_deinit(std::function<void()> done) {
  post_fn([this, done = std::move(done)] {
    // Every command this node still waits on gets its one final result before deinit.
    std::vector<uint64_t> ids;
    for (auto& [id, p] : pending_cmds_) ids.push_back(id);
    for (uint64_t id : ids) complete_cmd(id, cancelled("graph stopped before a result arrived"));
    if (state_ != NodeState::kCreated) guarded("on_deinit", [&] { ext_->on_deinit(*this); });
    for (auto& [id, t] : timers_) t.timer->cancel();
    timers_.clear();
    state_ = NodeState::kDeinitialized;
    pending_.clear();
    for (auto& r : routes_) {
      r.by_name.clear();
      r.wildcard.clear();
    }
    done();
  });
}

// ---- EngineImpl ----

Status EngineImpl::build(const AddonRegistry& registry) {
  for (const auto& spec : graph_.nodes) {
    const Addon* addon = registry.find(spec.addon);
    if (!addon) return not_found("node '" + spec.name + "': unknown addon '" + spec.addon + "'");
    auto node = std::make_shared<Node>(shared_from_this(), spec, *addon);
    by_name_[spec.name] = node.get();
    nodes_.push_back(std::move(node));
  }
  for (const auto& c : graph_.connections) {
    Node* src = find(c.source);
    if (!src) return not_found("connection source '" + c.source + "' is not a node");
    for (const auto& d : c.dests) {
      Node* dst = find(d);
      if (!dst) return not_found("connection destination '" + d + "' is not a node");
      src->add_route(c.kind, c.message_name, dst);
    }
  }
  for (auto& n : nodes_) PARLEY_RETURN_IF_ERROR(n->configure());
  return Status::ok();
}

Node* EngineImpl::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

void EngineImpl::release() {
  if (inflight_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    {
      std::lock_guard lock(idle_mu_);
      idle_cv_.notify_all();
    }
    // Nothing is in flight and every node is deinitialised: the stop is complete.
    if (deinit_done_.load(std::memory_order_acquire) && !finished_.exchange(true)) finish_stop();
  }
}

void EngineImpl::wait_idle() {
  std::unique_lock lock(idle_mu_);
  idle_cv_.wait(lock, [&] { return inflight_.load(std::memory_order_acquire) == 0; });
}

void EngineImpl::start(std::function<void(Status)> done) {
  {
    std::lock_guard lock(lifecycle_mu_);
    if (phase_ != Phase::kIdle) {
      done(failed_precondition("engine was already started"));
      return;
    }
    phase_ = Phase::kStarting;
  }
  auto self = shared_from_this();
  auto finish = [self, done](Status s) {
    bool stop_now;
    {
      std::lock_guard lock(self->lifecycle_mu_);
      self->phase_ = Phase::kRunning;
      stop_now = self->stop_requested_;
    }
    done(s);
    if (stop_now) self->begin_stop();
  };
  if (nodes_.empty()) {
    finish(Status::ok());
    return;
  }
  struct InitState {
    std::mutex mu;
    size_t remaining;
    Status first_error;
  };
  auto st = std::make_shared<InitState>();
  st->remaining = nodes_.size();
  auto after_init = [self, st, finish](Status s) {
    bool last;
    {
      std::lock_guard lock(st->mu);
      if (!s.is_ok() && st->first_error.is_ok()) st->first_error = s;
      last = --st->remaining == 0;
    }
    if (!last) return;
    if (!st->first_error.is_ok()) {
      finish(st->first_error);
      return;
    }
    auto started = std::make_shared<std::atomic<size_t>>(self->nodes_.size());
    for (auto& n : self->nodes_) {
      n->begin_start([started, finish] {
        if (started->fetch_sub(1) == 1) finish(Status::ok());
      });
    }
  };
  for (auto& n : nodes_) n->begin_init(after_init);
}

void EngineImpl::stop(std::function<void()> done) {
  {
    std::lock_guard lock(lifecycle_mu_);
    if (phase_ == Phase::kStopped) {
      // fall through to run `done` outside the lock
    } else {
      stop_waiters_.push_back(std::move(done));
      if (phase_ == Phase::kStopping || stop_requested_) return;
      stop_requested_ = true;
      if (phase_ == Phase::kStarting) return;  // start's completion begins the stop
      phase_ = Phase::kStopping;
      done = nullptr;
    }
  }
  if (done) {
    done();
    return;
  }
  begin_stop();
}

void EngineImpl::begin_stop() {
  {
    std::lock_guard lock(lifecycle_mu_);
    phase_ = Phase::kStopping;
  }
  accepting_.store(false, std::memory_order_release);
  auto self = shared_from_this();
  if (nodes_.empty()) {
    hold();
    deinit_done_.store(true);
    release();
    return;
  }
  auto remaining = std::make_shared<std::atomic<size_t>>(nodes_.size());
  // Stop every node (they drain: messages keep flowing between stopping nodes), and only then
  // deinitialise them, so work in flight between two nodes is not lost.
  for (auto& n : nodes_) {
    n->begin_stop([self, remaining] {
      if (remaining->fetch_sub(1) != 1) return;
      auto left = std::make_shared<std::atomic<size_t>>(self->nodes_.size());
      for (auto& m : self->nodes_) {
        m->begin_deinit([self, left] {
          if (left->fetch_sub(1) == 1) self->deinit_done_.store(true, std::memory_order_release);
        });
      }
    });
  }
}

void EngineImpl::finish_stop() {
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lock(lifecycle_mu_);
    phase_ = Phase::kStopped;
    waiters.swap(stop_waiters_);
  }
  for (auto& w : waiters)
    if (w) w();
}

void EngineImpl::release_nodes() {
  nodes_.clear();
  by_name_.clear();
}

}  // namespace detail
}  // namespace parley

namespace parley {

Engine::Engine(std::shared_ptr<detail::EngineImpl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Engine>> Engine::create(GraphSpec graph, std::shared_ptr<Runtime> runtime,
                                               EngineOptions options,
                                               const AddonRegistry& registry) {
  auto impl = std::make_shared<detail::EngineImpl>(std::move(graph), std::move(runtime),
                                                   std::move(options));
  Status s = impl->build(registry);
  if (!s.is_ok()) {
    impl->release_nodes();
    return s;
  }
  return std::unique_ptr<Engine>(new Engine(impl));
}

Engine::~Engine() {
  stop_sync();
  impl_->release_nodes();
}

void Engine::start(std::function<void(Status)> done) { impl_->start(std::move(done)); }

Status Engine::start_sync() {
  std::promise<Status> p;
  auto f = p.get_future();
  impl_->start([&p](Status s) { p.set_value(std::move(s)); });
  return f.get();
}

void Engine::stop(std::function<void()> done) { impl_->stop(std::move(done)); }

void Engine::stop_sync() {
  std::promise<void> p;
  auto f = p.get_future();
  impl_->stop([&p] { p.set_value(); });
  f.get();
  impl_->wait_idle();
}

Status Engine::inject(const std::string& node, std::unique_ptr<Message> msg) {
  detail::Node* n = impl_->find(node);
  if (!n) return not_found("graph '" + impl_->graph().name + "' has no node '" + node + "'");
  if (!impl_->accepting())
    return failed_precondition("graph '" + impl_->graph().name + "' is stopping");
  if (msg->kind() == MessageKind::kCmd || msg->kind() == MessageKind::kCmdResult)
    return invalid_argument("use inject_cmd to send a command");
  n->enqueue(std::move(msg));
  return Status::ok();
}

Status Engine::inject_cmd(const std::string& node, std::unique_ptr<Cmd> cmd,
                          ResultHandler on_result, std::chrono::milliseconds timeout) {
  detail::Node* n = impl_->find(node);
  if (!n) return not_found("graph '" + impl_->graph().name + "' has no node '" + node + "'");
  if (!impl_->accepting())
    return failed_precondition("graph '" + impl_->graph().name + "' is stopping");
  n->deliver_external_cmd(std::move(cmd), std::move(on_result), timeout);
  return Status::ok();
}

const GraphSpec& Engine::graph() const { return impl_->graph(); }

EngineStats Engine::stats() const {
  EngineStats s;
  s.delivered = impl_->delivered.load();
  s.dropped_no_route = impl_->dropped_no_route.load();
  s.dropped_stopped = impl_->dropped_stopped.load();
  s.callback_errors = impl_->callback_errors.load();
  return s;
}

Runtime& Engine::runtime() { return impl_->runtime(); }

}  // namespace parley
