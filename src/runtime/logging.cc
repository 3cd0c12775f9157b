// Node loggers over the process's default spdlog sinks.
#include "runtime/logging.h"

#include <spdlog/spdlog.h>

namespace parley::detail {

std::shared_ptr<spdlog::logger> make_node_logger(const std::string& tag, const std::string& node) {
  auto def = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(tag.empty() ? node : tag + "/" + node,
                                                 def->sinks().begin(), def->sinks().end());
  logger->set_level(def->level());
  return logger;
}

}  // namespace parley::detail
