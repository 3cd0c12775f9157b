// Registration of the `parley` subcommands; each adds itself to the CLI11 app.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace parley::cli {

struct CommonOptions;

// Receives the action a parsed subcommand wants to run (after logging and addons are set up).
using SetAction = std::function<void(std::function<int()>)>;

// run, graph validate, addons.
void add_graph_commands(CLI::App& app, CommonOptions& common, SetAction set_action);

}  // namespace parley::cli
