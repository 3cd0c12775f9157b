// The process-global registry of hubs that accept in-process attachments, keyed by channel.
#include "parley/rtc_local.h"

#include <map>
#include <mutex>

namespace parley::rtc {

namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::weak_ptr<LocalHub>, std::less<>> hubs;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void publish_local_hub(const std::string& channel, std::weak_ptr<LocalHub> hub) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.hubs[channel] = std::move(hub);
}

void withdraw_local_hub(const std::string& channel) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.hubs.erase(channel);
}

std::shared_ptr<LocalHub> find_local_hub(const std::string& channel) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.hubs.find(channel);
  return it == r.hubs.end() ? nullptr : it->second.lock();
}

}  // namespace parley::rtc
