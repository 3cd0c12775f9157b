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
// say: text to a WAV file through graphs/say.json (eSpeak NG).
void add_say_command(CLI::App& app, CommonOptions& common, SetAction set_action);
// transcribe: a WAV file to text (wav_source → webrtc_vad → pocketsphinx_asr).
void add_transcribe_command(CLI::App& app, CommonOptions& common, SetAction set_action);
// serve, agent, loadgen: the session server, its worker and its load generator.
void add_server_commands(CLI::App& app, CommonOptions& common, SetAction set_action);
// model-serve and listen: the speech model server and its Deepgram-protocol client.
void add_model_server_commands(CLI::App& app, CommonOptions& common, SetAction set_action);
// listen: streams a WAV file to a /v1/listen endpoint (registered by add_model_server_commands).
void add_listen_command(CLI::App& app, SetAction set_action);

}  // namespace parley::cli
