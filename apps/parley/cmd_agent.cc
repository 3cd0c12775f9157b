// `parley agent`: one session's worker. Loads a graph with per-node overrides, points its
// channel_transport at the hub with the server-issued token, runs until SIGTERM, the graph asks to
// stop, or the channel connection ends. `parley serve` spawns it (process isolation); it also runs
// by hand against any server.
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "commands.h"
#include "parley/engine.h"

namespace parley::cli {

namespace {

struct AgentOptions {
  std::string graph_file;
  std::string graph;
  std::string hub;
  std::string channel;
  std::string token;
  std::string properties;
  uint32_t uid = 0;
  bool log_stdout = false;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

Result<GraphSpec> load_agent_graph(const AgentOptions& o) {
  std::vector<GraphProblem> problems;
  auto graphs = load_graph_file(o.graph_file, problems);
  PARLEY_RETURN_IF_ERROR(problems_to_status(problems));
  GraphSpec* chosen = graphs.size() == 1 && o.graph.empty() ? &graphs[0] : nullptr;
  for (auto& g : graphs)
    if (!chosen && g.name == o.graph) chosen = &g;
  if (!chosen) return not_found("no graph '" + o.graph + "' in " + o.graph_file);
  auto overrides = nlohmann::json::parse(o.properties, nullptr, false);
  if (overrides.is_discarded())
    return invalid_argument("--properties (PARLEY_AGENT_PROPERTIES) is not valid JSON");
  PARLEY_RETURN_IF_ERROR(apply_overrides(*chosen, overrides));
  bool has_transport = false;
  for (auto& n : chosen->nodes) {
    if (n.addon != "channel_transport") continue;
    has_transport = true;
    n.properties["url"] = o.hub;
    n.properties["channel"] = o.channel;
    n.properties["token"] = o.token;
    n.properties["uid"] = o.uid;
    n.properties["local"] = false;
  }
  if (!has_transport)
    return invalid_argument("graph '" + chosen->name + "' has no channel_transport node");
  PARLEY_RETURN_IF_ERROR(problems_to_status(validate_graph(*chosen, AddonRegistry::global())));
  return std::move(*chosen);
}

int run_agent(AgentOptions o) {
  // Spawned by a server: die with it, even if it was SIGKILLed.
  if (const char* parent = std::getenv("PARLEY_PARENT_PID"); parent && *parent) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (std::to_string(getppid()) != parent) return 1;
  }
  o.token = o.token.empty() ? env_or("PARLEY_AGENT_TOKEN", "") : o.token;
  o.properties = o.properties.empty() ? env_or("PARLEY_AGENT_PROPERTIES", "{}") : o.properties;
  // Every line names the channel: worker logs of many sessions can be told apart.
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %-5l [" + o.channel + "] [%n] %v");
  if (o.log_stdout)
    spdlog::default_logger()->sinks().push_back(std::make_shared<spdlog::sinks::stdout_sink_mt>());
  if (o.token.empty()) {
    spdlog::error("no token: pass --token or set PARLEY_AGENT_TOKEN");
    return 2;
  }
  auto graph = load_agent_graph(o);
  if (!graph.is_ok()) {
    spdlog::error("agent: {}", graph.status().message());
    return 2;
  }
  spdlog::info("agent pid {} joining channel {}", getpid(), o.channel);
  EngineOptions options;
  options.log_tag = o.channel;
  const auto end = run_graph_to_end("agent", std::move(graph).value(), std::move(options),
                                    std::chrono::milliseconds(0), {1, 1});
  return end.failure;
}

}  // namespace

void add_agent_command(CLI::App& app, CommonOptions& common, SetAction set_action) {
  auto* cmd = app.add_subcommand(
      "agent", "Run one session's graph joined to a hub channel (what `parley serve` spawns)");
  auto o = std::make_shared<AgentOptions>();
  cmd->add_option("--graph-file", o->graph_file, "Graph JSON file")->required();
  cmd->add_option("--graph", o->graph, "Graph name when the file holds several");
  cmd->add_option("--hub", o->hub, "Hub URL, ws://host:port/v1/rtc")->required();
  cmd->add_option("--channel", o->channel, "Channel to join")->required();
  cmd->add_option("--uid", o->uid, "Agent uid (the token carries it too)");
  cmd->add_option("--token", o->token, "Agent token (prefer PARLEY_AGENT_TOKEN: argv is public)");
  cmd->add_option("--properties", o->properties,
                  "Per-node overrides {node:{prop:value}} (or PARLEY_AGENT_PROPERTIES)");
  cmd->add_flag("--log-stdout", o->log_stdout, "Also log to stdout");
  cmd->callback([o, set_action] { set_action([o] { return run_agent(*o); }); });
  (void)common;
}

}  // namespace parley::cli
