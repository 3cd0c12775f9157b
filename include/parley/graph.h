// Graph specs: loading graph JSON, ${env:} expansion, overrides and strict validation.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "parley/message.h"
#include "parley/status.h"

namespace parley {

class AddonRegistry;

// One node: an instance of an addon with its properties.
struct NodeSpec {
  std::string name;
  std::string addon;
  nlohmann::json properties = nlohmann::json::object();
  std::string json_path;  // where it was declared, e.g. "/nodes/2"
};

// Messages of one kind and name from `source` go to every node in `dests` ("*" = any name).
struct ConnectionSpec {
  std::string source;
  MessageKind kind = MessageKind::kData;
  std::string message_name;
  std::vector<std::string> dests;
  std::string json_path;
};

// A whole graph, as loaded from a file (or built in code).
struct GraphSpec {
  std::string name;
  std::string description;
  std::string file;  // source file, for error messages
  std::vector<NodeSpec> nodes;
  std::vector<ConnectionSpec> connections;

  // The node with that name, or nullptr.
  const NodeSpec* find_node(std::string_view node) const;
  NodeSpec* find_node(std::string_view node);
};

// One thing wrong with a graph: where (file and JSON path) and what was expected.
struct GraphProblem {
  std::string file;
  std::string json_path;
  std::string message;
  // "file: /json/path: message".
  std::string to_string() const;
};

// Looks up an environment variable; replaceable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// The process environment.
EnvLookup process_env();

// Parses a graph document: either one graph ({"nodes":..., "connections":...}) or several
// ({"predefined_graphs": [{"name":..., "graph": {...}}]}). Structural problems are appended to
// `problems`; the graphs that could be read are returned.
std::vector<GraphSpec> parse_graph_document(const nlohmann::json& doc, const std::string& file,
                                            std::vector<GraphProblem>& problems);
// Reads and parses a graph file (JSON syntax errors become problems with line and column).
std::vector<GraphSpec> load_graph_file(const std::string& path,
                                       std::vector<GraphProblem>& problems);

// Applies a "node.property=value" override; the value is JSON if it parses as JSON, else a string.
Status apply_override(GraphSpec& graph, const std::string& assignment);
// Applies {"node": {"property": value}} overrides; unknown nodes are an error.
Status apply_overrides(GraphSpec& graph, const nlohmann::json& overrides);

// Checks a graph against the registry and resolves it in place: ${env:VAR} / ${env:VAR|default}
// expanded, defaults filled in, loosely typed values coerced. Returns every problem found:
// unknown addon, duplicate node, unknown source or destination, missing/unknown/mistyped
// property, a message the source never sends or the destination does not accept.
std::vector<GraphProblem> validate_graph(GraphSpec& graph, const AddonRegistry& registry,
                                         const EnvLookup& env = process_env());

// Joins problems into one Status (ok when there are none).
Status problems_to_status(const std::vector<GraphProblem>& problems);

// Loads `path`, picks the graph named `graph_name` (or the only / first auto-start one when
// empty), applies overrides and validates. The error lists every problem.
Result<GraphSpec> load_graph(const std::string& path, const std::string& graph_name,
                             const std::vector<std::string>& overrides,
                             const AddonRegistry& registry, const EnvLookup& env = process_env());

}  // namespace parley
