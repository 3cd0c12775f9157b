// `parley run`, `parley graph validate` and `parley addons`.
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "commands.h"
#include "parley/addon.h"
#include "parley/engine.h"

namespace parley::cli {

namespace {

int run_graph(const std::string& file, const std::string& graph_name,
              const std::vector<std::string>& sets, double duration_s) {
  auto graph = load_graph(file, graph_name, sets, AddonRegistry::global());
  if (!graph.is_ok()) {
    std::cerr << "parley run: " << graph.status().message() << "\n";
    return 2;
  }
  const auto end =
      run_graph_to_end("run", std::move(graph).value(), {},
                       std::chrono::milliseconds(static_cast<int64_t>(duration_s * 1000)));
  if (end.failure) return end.failure;
  spdlog::info("stopped: {} messages delivered, {} without a route, {} extension errors",
               end.stats.delivered, end.stats.dropped_no_route, end.stats.callback_errors);
  return end.stats.callback_errors > 0 ? 1 : 0;
}

int validate(const std::string& file, const std::vector<std::string>& sets) {
  std::vector<GraphProblem> problems;
  auto graphs = load_graph_file(file, problems);
  for (auto& g : graphs) {
    for (const auto& s : sets) {
      if (Status st = apply_override(g, s); !st.is_ok())
        problems.push_back({file, "", st.message()});
    }
    auto more = validate_graph(g, AddonRegistry::global());
    problems.insert(problems.end(), more.begin(), more.end());
  }
  if (problems.empty()) {
    std::cout << file << ": ok (" << graphs.size()
              << (graphs.size() == 1 ? " graph: " : " graphs: ");
    for (size_t i = 0; i < graphs.size(); ++i)
      std::cout << (i ? ", " : "") << graphs[i].name << " [" << graphs[i].nodes.size() << " nodes]";
    std::cout << ")\n";
    return 0;
  }
  for (const auto& p : problems) std::cout << p.to_string() << "\n";
  std::cout << problems.size() << (problems.size() == 1 ? " problem" : " problems") << " in "
            << file << "\n";
  return 1;
}

int list_addons(bool as_json) {
  auto addons = AddonRegistry::global().list();
  if (as_json) {
    nlohmann::json j = nlohmann::json::array();
    for (const Addon* a : addons) {
      auto m = a->manifest.to_json();
      m["origin"] = a->origin;
      j.push_back(m);
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  for (const Addon* a : addons) {
    const auto& m = a->manifest;
    std::cout << m.name << (a->origin == "built-in" ? "" : "  (from " + a->origin + ")") << "\n  "
              << m.description << "\n";
    for (const auto& p : m.properties) {
      std::cout << "    " << p.name << ": " << property_type_name(p.type);
      if (!p.default_value.is_null()) std::cout << " = " << p.default_value.dump();
      if (p.required) std::cout << " (required)";
      if (!p.description.empty()) std::cout << "  — " << p.description;
      std::cout << "\n";
    }
    for (auto [label, map] : {std::pair{"in ", &m.in}, std::pair{"out", &m.out}}) {
      std::cout << "    " << label << ":";
      if (map->empty()) std::cout << " (none)";
      for (const auto& [kind, names] : *map) {
        std::cout << " " << message_kind_name(kind) << "[";
        for (size_t i = 0; i < names.size(); ++i) std::cout << (i ? "," : "") << names[i];
        std::cout << "]";
      }
      std::cout << "\n";
    }
  }
  return 0;
}

}  // namespace

void add_graph_commands(CLI::App& app, CommonOptions& common,
                        std::function<void(std::function<int()>)> set_action) {
  auto* run = app.add_subcommand("run", "Run a graph until it finishes or Ctrl-C");
  auto file = std::make_shared<std::string>();
  auto graph = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto duration = std::make_shared<double>(0);
  run->add_option("file", *file, "Graph JSON file")->required();
  run->add_option("--graph", *graph, "Graph name when the file holds several");
  run->add_option("--set", *sets, "Property override node.property=value (repeatable)");
  run->add_option("--duration", *duration, "Stop after this many seconds (0 = run until done)");
  run->callback([=] { set_action([=] { return run_graph(*file, *graph, *sets, *duration); }); });

  auto* graph_cmd = app.add_subcommand("graph", "Graph tools");
  graph_cmd->require_subcommand(1);
  auto* val = graph_cmd->add_subcommand("validate", "Check a graph file and print every problem");
  auto vfile = std::make_shared<std::string>();
  auto vsets = std::make_shared<std::vector<std::string>>();
  val->add_option("file", *vfile, "Graph JSON file")->required();
  val->add_option("--set", *vsets, "Property override node.property=value (repeatable)");
  val->callback([=] { set_action([=] { return validate(*vfile, *vsets); }); });

  auto* addons = app.add_subcommand("addons", "List available addons with their manifests");
  auto json = std::make_shared<bool>(false);
  addons->add_flag("--json", *json, "Print manifests as JSON");
  addons->callback([=] { set_action([=] { return list_addons(*json); }); });
  (void)common;
}

}  // namespace parley::cli
