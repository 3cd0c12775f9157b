// Graph documents: parsing TEN-style graph JSON into GraphSpecs, and selecting/overriding graphs.
#include <fstream>
#include <set>
#include <sstream>

#include "parley/addon.h"
#include "parley/graph.h"

namespace parley {

namespace {

void problem(std::vector<GraphProblem>& out, const std::string& file, std::string path,
             std::string message) {
  out.push_back({file, std::move(path), std::move(message)});
}

// Reports keys of `obj` that are not in `allowed`: nothing in a graph is silently ignored.
void check_keys(const nlohmann::json& obj, std::initializer_list<const char*> allowed,
                const std::string& file, const std::string& path, std::vector<GraphProblem>& out) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) {
      std::string list;
      for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
      problem(out, file, path + "/" + it.key(),
              "unknown key '" + it.key() + "' (expected one of: " + list + ")");
    }
  }
}

void parse_nodes(const nlohmann::json& nodes, const std::string& file, const std::string& base,
                 GraphSpec& g, std::vector<GraphProblem>& out) {
  if (!nodes.is_array()) {
    problem(out, file, base + "/nodes", "expected an array of nodes");
    return;
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string path = base + "/nodes/" + std::to_string(i);
    const auto& n = nodes[i];
    if (!n.is_object()) {
      problem(out, file, path, "expected a node object {\"name\", \"addon\", \"property\"}");
      continue;
    }
    check_keys(n, {"type", "name", "addon", "property", "extension_group", "app"}, file, path, out);
    if (n.contains("type") && n["type"] != "extension") {
      problem(out, file, path + "/type", "only nodes of type \"extension\" are supported");
    }
    NodeSpec node;
    node.json_path = path;
    if (!n.contains("name") || !n["name"].is_string() || n["name"].get<std::string>().empty()) {
      problem(out, file, path + "/name", "expected a non-empty string node name");
      continue;
    }
    node.name = n["name"].get<std::string>();
    if (!n.contains("addon") || !n["addon"].is_string()) {
      problem(out, file, path + "/addon", "expected the addon name as a string");
      continue;
    }
    node.addon = n["addon"].get<std::string>();
    if (n.contains("property")) {
      if (!n["property"].is_object()) {
        problem(out, file, path + "/property", "expected an object of properties");
      } else {
        node.properties = n["property"];
      }
    }
    g.nodes.push_back(std::move(node));
  }
}

void parse_connections(const nlohmann::json& conns, const std::string& file,
                       const std::string& base, GraphSpec& g, std::vector<GraphProblem>& out) {
  if (conns.is_null()) return;
  if (!conns.is_array()) {
    problem(out, file, base + "/connections", "expected an array of connections");
    return;
  }
  for (size_t i = 0; i < conns.size(); ++i) {
    const std::string path = base + "/connections/" + std::to_string(i);
    const auto& c = conns[i];
    if (!c.is_object() || !c.contains("extension") || !c["extension"].is_string()) {
      problem(out, file, path, "expected {\"extension\": <source node>, <kind>: [...]}");
      continue;
    }
    check_keys(c,
               {"extension", "cmd", "data", "audio_frame", "video_frame", "app", "extension_group"},
               file, path, out);
    const std::string source = c["extension"].get<std::string>();
    for (const char* kind_key : {"cmd", "data", "audio_frame", "video_frame"}) {
      if (!c.contains(kind_key)) continue;
      const auto kind = *parse_message_kind(kind_key);
      const auto& flows = c[kind_key];
      const std::string kpath = path + "/" + kind_key;
      if (!flows.is_array()) {
        problem(out, file, kpath, "expected an array of {\"name\", \"dest\"} flows");
        continue;
      }
      for (size_t f = 0; f < flows.size(); ++f) {
        const std::string fpath = kpath + "/" + std::to_string(f);
        const auto& flow = flows[f];
        if (!flow.is_object()) {
          problem(out, file, fpath, "expected {\"name\": ..., \"dest\": [...]}");
          continue;
        }
        check_keys(flow, {"name", "names", "dest"}, file, fpath, out);
        std::vector<std::string> names;
        if (flow.contains("name") && flow["name"].is_string()) {
          names.push_back(flow["name"].get<std::string>());
        } else if (flow.contains("names") && flow["names"].is_array()) {
          for (const auto& n : flow["names"])
            if (n.is_string()) names.push_back(n.get<std::string>());
        }
        if (names.empty()) {
          problem(out, file, fpath + "/name", "expected the message name as a string");
          continue;
        }
        if (!flow.contains("dest") || !flow["dest"].is_array() || flow["dest"].empty()) {
          problem(out, file, fpath + "/dest",
                  "expected a non-empty array of {\"extension\": <node>}");
          continue;
        }
        std::vector<std::string> dests;
        for (size_t d = 0; d < flow["dest"].size(); ++d) {
          const auto& dj = flow["dest"][d];
          if (dj.is_object() && dj.contains("extension") && dj["extension"].is_string()) {
            dests.push_back(dj["extension"].get<std::string>());
          } else {
            problem(out, file, fpath + "/dest/" + std::to_string(d),
                    "expected {\"extension\": <node name>}");
          }
        }
        for (const auto& name : names) g.connections.push_back({source, kind, name, dests, fpath});
      }
    }
  }
}

GraphSpec parse_one(const nlohmann::json& body, const std::string& file, const std::string& base,
                    std::vector<GraphProblem>& out) {
  GraphSpec g;
  g.file = file;
  if (body.contains("nodes")) {
    parse_nodes(body["nodes"], file, base, g, out);
  } else {
    problem(out, file, base + "/nodes", "missing: a graph needs a \"nodes\" array");
  }
  if (body.contains("connections")) parse_connections(body["connections"], file, base, g, out);
  return g;
}

}  // namespace

std::string GraphProblem::to_string() const {
  return file + ": " + (json_path.empty() ? "/" : json_path) + ": " + message;
}

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

const NodeSpec* GraphSpec::find_node(std::string_view node) const {
  for (const auto& n : nodes)
    if (n.name == node) return &n;
  return nullptr;
}

NodeSpec* GraphSpec::find_node(std::string_view node) {
  for (auto& n : nodes)
    if (n.name == node) return &n;
  return nullptr;
}

std::vector<GraphSpec> parse_graph_document(const nlohmann::json& doc, const std::string& file,
                                            std::vector<GraphProblem>& problems) {
  std::vector<GraphSpec> graphs;
  if (!doc.is_object()) {
    problem(problems, file, "", "expected a JSON object with \"nodes\" or \"predefined_graphs\"");
    return graphs;
  }
  if (doc.contains("predefined_graphs")) {
    check_keys(doc, {"predefined_graphs", "description", "_ten", "ten"}, file, "", problems);
    const auto& list = doc["predefined_graphs"];
    if (!list.is_array()) {
      problem(problems, file, "/predefined_graphs", "expected an array of graphs");
      return graphs;
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string path = "/predefined_graphs/" + std::to_string(i);
      const auto& entry = list[i];
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
        problem(problems, file, path, "expected {\"name\": ..., \"graph\": {...}}");
        continue;
      }
      check_keys(
          entry,
          {"name", "description", "auto_start", "singleton", "graph", "nodes", "connections"}, file,
          path, problems);
      GraphSpec g = entry.contains("graph")
                        ? parse_one(entry["graph"], file, path + "/graph", problems)
                        : parse_one(entry, file, path, problems);
      g.name = entry["name"].get<std::string>();
      g.description = entry.value("description", "");
      graphs.push_back(std::move(g));
    }
    return graphs;
  }
  check_keys(doc, {"name", "description", "nodes", "connections"}, file, "", problems);
  GraphSpec g = parse_one(doc, file, "", problems);
  g.name = doc.value("name", "");
  if (g.name.empty()) {
    // Name a single-graph file after the file ("graphs/echo.json" → "echo").
    auto slash = file.find_last_of('/');
    std::string base = slash == std::string::npos ? file : file.substr(slash + 1);
    auto dot = base.rfind('.');
    g.name = dot == std::string::npos ? base : base.substr(0, dot);
  }
  g.description = doc.value("description", "");
  graphs.push_back(std::move(g));
  return graphs;
}

std::vector<GraphSpec> load_graph_file(const std::string& path,
                                       std::vector<GraphProblem>& problems) {
  std::ifstream in(path);
  if (!in) {
    problem(problems, path, "", "cannot open the graph file");
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::parse_error& e) {
    problem(problems, path, "", std::string("invalid JSON: ") + e.what());
    return {};
  }
  return parse_graph_document(doc, path, problems);
}

Status apply_override(GraphSpec& graph, const std::string& assignment) {
  const auto eq = assignment.find('=');
  const auto dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq || dot == 0 ||
      dot + 1 == eq) {
    return invalid_argument("override '" + assignment + "' must look like node.property=value");
  }
  const std::string node = assignment.substr(0, dot);
  const std::string prop = assignment.substr(dot + 1, eq - dot - 1);
  const std::string text = assignment.substr(eq + 1);
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded()) value = text;  // plain words are strings
  NodeSpec* n = graph.find_node(node);
  if (!n)
    return not_found("override '" + assignment + "': graph '" + graph.name + "' has no node '" +
                     node + "'");
  n->properties[prop] = value;
  return Status::ok();
}

Status apply_overrides(GraphSpec& graph, const nlohmann::json& overrides) {
  if (overrides.is_null()) return Status::ok();
  if (!overrides.is_object())
    return invalid_argument("properties must be an object {node: {property: value}}");
  for (auto it = overrides.begin(); it != overrides.end(); ++it) {
    NodeSpec* n = graph.find_node(it.key());
    if (!n)
      return not_found("properties: graph '" + graph.name + "' has no node '" + it.key() + "'");
    if (!it->is_object()) return invalid_argument("properties." + it.key() + " must be an object");
    for (auto p = it->begin(); p != it->end(); ++p) n->properties[p.key()] = *p;
  }
  return Status::ok();
}

Status problems_to_status(const std::vector<GraphProblem>& problems) {
  if (problems.empty()) return Status::ok();
  std::string msg =
      std::to_string(problems.size()) + (problems.size() == 1 ? " problem" : " problems");
  for (const auto& p : problems) msg += "\n  " + p.to_string();
  return invalid_argument(msg);
}

Result<GraphSpec> load_graph(const std::string& path, const std::string& graph_name,
                             const std::vector<std::string>& overrides,
                             const AddonRegistry& registry, const EnvLookup& env) {
  std::vector<GraphProblem> problems;
  auto graphs = load_graph_file(path, problems);
  PARLEY_RETURN_IF_ERROR(problems_to_status(problems));
  GraphSpec* chosen = nullptr;
  if (graph_name.empty()) {
    if (graphs.size() == 1) chosen = &graphs[0];
  } else {
    for (auto& g : graphs)
      if (g.name == graph_name) chosen = &g;
  }
  if (!chosen) {
    std::string names;
    for (const auto& g : graphs) names += (names.empty() ? "" : ", ") + g.name;
    return not_found(path + ": " +
                     (graph_name.empty() ? "holds several graphs; pick one with --graph NAME"
                                         : "has no graph named '" + graph_name + "'") +
                     " (graphs: " + names + ")");
  }
  for (const auto& o : overrides) PARLEY_RETURN_IF_ERROR(apply_override(*chosen, o));
  problems = validate_graph(*chosen, registry, env);
  PARLEY_RETURN_IF_ERROR(problems_to_status(problems));
  return std::move(*chosen);
}

}  // namespace parley
