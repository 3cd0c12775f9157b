// The graphs a session may run: every graph in every *.json file of the graph directory, found by
// name, re-read when a file changes, and resolved for one session (overrides applied, validated).
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parley/addon.h"
#include "parley/graph.h"

namespace parley::server {

// One graph as /v1/api/graphs lists it.
struct GraphEntry {
  std::string name;
  std::string description;
  std::string file;
  // True when the graph has a channel_transport node, i.e. can serve a session.
  bool agent = false;
};

// Why a graph could not be resolved for a session; `code` is the API's stable error code.
struct GraphError {
  std::string code;  // "unknown_graph", "unknown_node", "invalid_properties", "not_an_agent_graph"
  std::string message;
};

// Graphs of one directory. Thread-safe; reads files (call off the I/O threads).
class GraphCatalog {
 public:
  explicit GraphCatalog(std::string dir) : dir_(std::move(dir)) {}

  // Every graph of the directory, sorted by name (files that fail to parse are logged and skipped).
  std::vector<GraphEntry> list();
  // The graph `name` with the per-node `overrides` ({node: {property: value}}) applied and
  // validated against `registry`; `error` says what is wrong otherwise.
  std::optional<GraphSpec> resolve(const std::string& name, const nlohmann::json& overrides,
                                   const AddonRegistry& registry, GraphError& error);
  const std::string& dir() const { return dir_; }

 private:
  struct CachedFile {
    std::filesystem::file_time_type mtime;
    std::vector<GraphSpec> graphs;
  };
  // Re-reads changed files; returns the graphs of every file. Called with mu_ held.
  void refresh();

  const std::string dir_;
  std::mutex mu_;
  std::map<std::string, CachedFile> files_;
};

// Name of the addon that connects a graph to the hub.
inline constexpr const char* kTransportAddon = "channel_transport";

}  // namespace parley::server
