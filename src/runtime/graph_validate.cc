// Graph validation: resolves ${env:} references and properties against addon manifests, and checks
// that every connection joins a node that sends the message to one that accepts it.
#include <map>
#include <set>

#include "parley/addon.h"
#include "parley/graph.h"

namespace parley {

namespace {

struct Validator {
  GraphSpec& graph;
  const AddonRegistry& registry;
  const EnvLookup& env;
  std::vector<GraphProblem> problems;

  void add(const std::string& path, std::string message) {
    problems.push_back({graph.file, path, std::move(message)});
  }

  // Expands ${env:VAR} and ${env:VAR|default} in one string. Returns nullopt after reporting.
  std::optional<std::string> expand(const std::string& s, const std::string& path) {
    std::string out;
    size_t pos = 0;
    while (true) {
      size_t start = s.find("${env:", pos);
      if (start == std::string::npos) {
        out.append(s, pos, std::string::npos);
        return out;
      }
      size_t end = s.find('}', start);
      if (end == std::string::npos) {
        add(path, "unterminated ${env:...} reference in \"" + s + "\"");
        return std::nullopt;
      }
      out.append(s, pos, start - pos);
      std::string ref = s.substr(start + 6, end - start - 6);
      std::optional<std::string> fallback;
      if (auto bar = ref.find('|'); bar != std::string::npos) {
        fallback = ref.substr(bar + 1);
        ref = ref.substr(0, bar);
      }
      if (ref.empty()) {
        add(path, "empty variable name in ${env:} reference");
        return std::nullopt;
      }
      auto value = env(ref);
      if (value) {
        out += *value;
      } else if (fallback) {
        out += *fallback;
      } else {
        add(path, "environment variable " + ref +
                      " is not set (set it, or give a default with ${env:" + ref + "|default})");
        return std::nullopt;
      }
      pos = end + 1;
    }
  }

  // Expands env references anywhere inside a JSON value.
  bool expand_all(nlohmann::json& v, const std::string& path) {
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      if (s.find("${env:") == std::string::npos) return true;
      auto e = expand(s, path);
      if (!e) return false;
      v = *e;
      return true;
    }
    bool ok = true;
    if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it)
        ok = expand_all(*it, path + "/" + it.key()) && ok;
    } else if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i)
        ok = expand_all(v[i], path + "/" + std::to_string(i)) && ok;
    }
    return ok;
  }

  void check_node_properties(NodeSpec& node, const Addon& addon) {
    const auto& m = addon.manifest;
    const std::string base = node.json_path + "/property";
    nlohmann::json resolved = nlohmann::json::object();
    for (auto it = node.properties.begin(); it != node.properties.end(); ++it) {
      const std::string path = base + "/" + it.key();
      const PropertySpec* spec = m.find_property(it.key());
      if (!spec) {
        std::string known;
        for (const auto& p : m.properties) known += (known.empty() ? "" : ", ") + p.name;
        add(path, "unknown property '" + it.key() + "' for addon '" + m.name +
                      "' (known: " + (known.empty() ? "none" : known) + ")");
        continue;
      }
      nlohmann::json value = *it;
      if (!expand_all(value, path)) continue;
      auto coerced = coerce_property(value, spec->type);
      if (!coerced.is_ok()) {
        add(path,
            "property '" + it.key() + "' of addon '" + m.name + "': " + coerced.status().message());
        continue;
      }
      resolved[it.key()] = std::move(coerced).value();
    }
    for (const auto& spec : m.properties) {
      if (resolved.contains(spec.name) || node.properties.contains(spec.name)) continue;
      if (spec.default_value.is_null()) {
        if (spec.required)
          add(base + "/" + spec.name,
              "missing required property '" + spec.name + "' (" + property_type_name(spec.type) +
                  ") of addon '" + m.name + "'" +
                  (spec.description.empty() ? "" : ": " + spec.description));
        continue;
      }
      nlohmann::json value = spec.default_value;
      const std::string path = base + "/" + spec.name + " (default)";
      if (!expand_all(value, path)) continue;
      auto coerced = coerce_property(value, spec.type);
      if (!coerced.is_ok()) {
        add(path, "default of '" + spec.name + "': " + coerced.status().message());
        continue;
      }
      resolved[spec.name] = std::move(coerced).value();
    }
    node.properties = std::move(resolved);
  }

  static std::string names_of(const std::map<MessageKind, std::vector<std::string>>& m,
                              MessageKind k) {
    auto it = m.find(k);
    if (it == m.end() || it->second.empty()) return "none";
    std::string s;
    for (const auto& n : it->second) s += (s.empty() ? "" : ", ") + n;
    return s;
  }

  void run() {
    std::map<std::string, const Addon*> addons;
    std::set<std::string> seen;
    for (auto& node : graph.nodes) {
      if (!seen.insert(node.name).second) {
        add(node.json_path + "/name", "duplicate node name '" + node.name + "'");
        continue;
      }
      const Addon* addon = registry.find(node.addon);
      if (!addon) {
        std::string known;
        for (const Addon* a : registry.list())
          known += (known.empty() ? "" : ", ") + a->manifest.name;
        add(node.json_path + "/addon",
            "unknown addon '" + node.addon + "' (available: " + known +
                "; out-of-tree addons load from --addon-path or PARLEY_ADDON_PATH)");
        continue;
      }
      addons[node.name] = addon;
      check_node_properties(node, *addon);
    }
    for (const auto& c : graph.connections) {
      const char* kind = message_kind_name(c.kind);
      auto src = addons.find(c.source);
      if (!graph.find_node(c.source)) {
        add(c.json_path, "connection source '" + c.source + "' is not a node of this graph");
        continue;
      }
      for (size_t i = 0; i < c.dests.size(); ++i) {
        const std::string& d = c.dests[i];
        const std::string dest_path = c.json_path + "/dest/" + std::to_string(i);
        if (!graph.find_node(d)) {
          add(dest_path, "destination '" + d + "' is not a node of this graph");
          continue;
        }
        auto dst = addons.find(d);
        if (dst == addons.end()) continue;  // its addon problem is already reported
        const auto& dm = dst->second->manifest;
        if (!dm.accepts(c.kind, c.message_name)) {
          add(dest_path, "node '" + d + "' (addon '" + dm.name + "') does not accept " + kind +
                             " '" + c.message_name + "' (it accepts " + kind + ": " +
                             names_of(dm.in, c.kind) + ")");
        }
      }
      if (src != addons.end() && c.message_name != "*") {
        const auto& sm = src->second->manifest;
        if (!sm.emits(c.kind, c.message_name)) {
          add(c.json_path + "/name",
              "node '" + c.source + "' (addon '" + sm.name + "') never sends " + kind + " '" +
                  c.message_name + "' (it sends " + kind + ": " + names_of(sm.out, c.kind) + ")");
        }
      }
    }
  }
};

}  // namespace

std::vector<GraphProblem> validate_graph(GraphSpec& graph, const AddonRegistry& registry,
                                         const EnvLookup& env) {
  Validator v{graph, registry, env, {}};
  v.run();
  return std::move(v.problems);
}

}  // namespace parley
