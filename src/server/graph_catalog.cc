// Graph directory scanning and per-session graph resolution (see graph_catalog.h).
#include "graph_catalog.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace parley::server {

namespace fs = std::filesystem;

namespace {

bool has_transport(const GraphSpec& g) {
  return std::any_of(g.nodes.begin(), g.nodes.end(),
                     [](const NodeSpec& n) { return n.addon == kTransportAddon; });
}

}  // namespace

void GraphCatalog::refresh() {
  std::error_code ec;
  std::map<std::string, CachedFile> seen;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
    const std::string path = entry.path().string();
    const auto mtime = entry.last_write_time(ec);
    auto it = files_.find(path);
    if (it != files_.end() && it->second.mtime == mtime) {
      seen.emplace(path, std::move(it->second));
      continue;
    }
    std::vector<GraphProblem> problems;
    CachedFile f{mtime, load_graph_file(path, problems)};
    for (const auto& p : problems) spdlog::warn("graphs: {}", p.to_string());
    seen.emplace(path, std::move(f));
  }
  if (ec) spdlog::warn("graphs: cannot read directory {}: {}", dir_, ec.message());
  files_ = std::move(seen);
}

std::vector<GraphEntry> GraphCatalog::list() {
  std::lock_guard lock(mu_);
  refresh();
  std::vector<GraphEntry> out;
  for (const auto& [path, f] : files_)
    for (const auto& g : f.graphs) out.push_back({g.name, g.description, path, has_transport(g)});
  std::sort(out.begin(), out.end(),
            [](const GraphEntry& a, const GraphEntry& b) { return a.name < b.name; });
  return out;
}

std::optional<GraphSpec> GraphCatalog::resolve(const std::string& name,
                                               const nlohmann::json& overrides,
                                               const AddonRegistry& registry, GraphError& error) {
  std::optional<GraphSpec> graph;
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    refresh();
    for (const auto& [path, f] : files_) {
      for (const auto& g : f.graphs) {
        names.push_back(g.name);
        if (g.name == name && !graph) graph = g;
      }
    }
  }
  if (!graph) {
    std::sort(names.begin(), names.end());
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    error = {"unknown_graph", "graph '" + name + "' is not in " + dir_ +
                                  " (known graphs: " + (known.empty() ? "none" : known) + ")"};
    return std::nullopt;
  }
  if (!has_transport(*graph)) {
    error = {"not_an_agent_graph", "graph '" + name + "' has no " + kTransportAddon +
                                       " node, so it cannot join a channel"};
    return std::nullopt;
  }
  if (Status s = apply_overrides(*graph, overrides); !s.is_ok()) {
    error = {s.code() == StatusCode::kNotFound ? "unknown_node" : "invalid_properties",
             s.message()};
    return std::nullopt;
  }
  if (Status s = problems_to_status(validate_graph(*graph, registry)); !s.is_ok()) {
    error = {"invalid_properties", s.message()};
    return std::nullopt;
  }
  return graph;
}

}  // namespace parley::server
