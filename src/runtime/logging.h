// Logging setup: node loggers that tag every line with the node (and session) name.
#pragma once

#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace parley::detail {

// A logger sharing the default logger's sinks and level, named "<tag>/<node>" or "<node>".
std::shared_ptr<spdlog::logger> make_node_logger(const std::string& tag, const std::string& node);

}  // namespace parley::detail
