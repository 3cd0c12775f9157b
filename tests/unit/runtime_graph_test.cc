// Graph loading and validation: every mistake is reported with file, JSON path and expectation.
#include <gtest/gtest.h>

#include <fstream>

#include "parley/addon.h"
#include "parley/graph.h"
#include "test_addons.h"

namespace parley {
namespace {

class GraphTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::register_test_addons(registry_);
    (void)registry_.add(*Manifest::parse(R"({"name": "typed", "properties": {
        "rate": {"type": "int", "default": 16000},
        "gain": {"type": "number", "default": 1.0},
        "voice": {"type": "string", "required": true},
        "on": {"type": "bool", "default": false}},
      "in": {"data": ["text_data"]}, "out": {"data": ["asr_result"]}})"),
                        [] { return std::make_unique<Extension>(); });
  }
  std::vector<GraphProblem> check(const std::string& text, EnvLookup env = nullptr) {
    std::vector<GraphProblem> problems;
    auto graphs = parse_graph_document(nlohmann::json::parse(text), "g.json", problems);
    if (!env) env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    for (auto& g : graphs) {
      auto more = validate_graph(g, registry_, env);
      problems.insert(problems.end(), more.begin(), more.end());
      graphs_.push_back(g);
    }
    return problems;
  }
  static std::string all(const std::vector<GraphProblem>& ps) {
    std::string s;
    for (const auto& p : ps) s += p.to_string() + "\n";
    return s;
  }
  AddonRegistry registry_;
  std::vector<GraphSpec> graphs_;
};

TEST_F(GraphTest, ValidGraphResolvesDefaultsAndCoercesTypes) {
  auto problems = check(
      R"({"nodes": [{"name": "t", "addon": "typed", "property": {"voice": "en", "rate": "8000"}}]})");
  ASSERT_TRUE(problems.empty()) << all(problems);
  const auto& props = graphs_[0].nodes[0].properties;
  EXPECT_EQ(props["rate"], 8000);
  EXPECT_EQ(props["gain"], 1.0);
  EXPECT_EQ(props["on"], false);
  EXPECT_EQ(graphs_[0].name, "g");  // named after the file
}

TEST_F(GraphTest, ReportsEveryProblemWithPath) {
  auto problems = check(R"({"nodes": [
      {"name": "a", "addon": "nope"},
      {"name": "t", "addon": "typed", "property": {"rate": "fast", "colour": 1}},
      {"name": "t", "addon": "recorder"}],
    "connections": [
      {"extension": "t", "data": [{"name": "asr_result", "dest": [{"extension": "ghost"}]}]},
      {"extension": "t", "data": [{"name": "pcm", "dest": [{"extension": "t"}]}]}]})");
  const std::string text = all(problems);
  EXPECT_NE(text.find("g.json: /nodes/0/addon: unknown addon 'nope'"), std::string::npos) << text;
  EXPECT_NE(text.find("/nodes/1/property/rate: property 'rate' of addon 'typed': expected int, got "
                      "string \"fast\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("/nodes/1/property/colour: unknown property 'colour'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("/nodes/1/property/voice: missing required property 'voice'"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("/nodes/2/name: duplicate node name 't'"), std::string::npos) << text;
  EXPECT_NE(text.find("/connections/0/data/0/dest/0: destination 'ghost' is not a node"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("node 't' (addon 'typed') never sends data 'pcm' (it sends data: asr_result)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("node 't' (addon 'typed') does not accept data 'pcm' (it accepts data: text_data)"),
      std::string::npos)
      << text;
}

TEST_F(GraphTest, ExpandsEnvironmentReferences) {
  auto env = [](const std::string& k) -> std::optional<std::string> {
    if (k == "VOICE") return "en-gb";
    if (k == "RATE") return "22050";
    return std::nullopt;
  };
  auto problems = check(R"({"nodes": [{"name": "t", "addon": "typed", "property":
      {"voice": "${env:VOICE}", "rate": "${env:RATE}", "gain": "${env:GAIN|0.5}"}}]})",
                        env);
  ASSERT_TRUE(problems.empty()) << all(problems);
  EXPECT_EQ(graphs_[0].nodes[0].properties["voice"], "en-gb");
  EXPECT_EQ(graphs_[0].nodes[0].properties["rate"], 22050);
  EXPECT_EQ(graphs_[0].nodes[0].properties["gain"], 0.5);

  graphs_.clear();
  problems = check(
      R"({"nodes": [{"name": "t", "addon": "typed", "property": {"voice": "${env:MISSING}"}}]})",
      env);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].message.find("environment variable MISSING is not set"), std::string::npos);
}

TEST_F(GraphTest, PredefinedGraphsAndOverrides) {
  auto problems = check(R"({"predefined_graphs": [
      {"name": "one", "auto_start": true, "graph": {"nodes": [{"name": "r", "addon": "recorder"}]}},
      {"name": "two", "nodes": [{"name": "p", "addon": "producer"}]}]})");
  ASSERT_TRUE(problems.empty()) << all(problems);
  ASSERT_EQ(graphs_.size(), 2u);
  EXPECT_EQ(graphs_[1].name, "two");
  ASSERT_TRUE(apply_override(graphs_[1], "p.count=7").is_ok());
  EXPECT_EQ(graphs_[1].nodes[0].properties["count"], 7);
  EXPECT_FALSE(apply_override(graphs_[1], "ghost.count=7").is_ok());
  EXPECT_FALSE(apply_override(graphs_[1], "nodot=7").is_ok());
}

TEST_F(GraphTest, UnknownKeysAreNotIgnored) {
  auto problems = check(R"({"nodes": [{"name": "r", "addon": "recorder", "propery": {}}]})");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].json_path, "/nodes/0/propery");
}

TEST_F(GraphTest, LoadGraphFileReportsJsonSyntaxErrors) {
  const std::string path = ::testing::TempDir() + "/broken.json";
  std::ofstream(path) << "{\"nodes\": [ {\"name\": \"x\", }";
  auto g = load_graph(path, "", {}, registry_);
  ASSERT_FALSE(g.is_ok());
  EXPECT_NE(g.status().message().find("invalid JSON"), std::string::npos) << g.status().message();
  EXPECT_NE(g.status().message().find("broken.json"), std::string::npos);
}

TEST(ManifestTest, RejectsBadManifests) {
  EXPECT_FALSE(Manifest::parse("{}").is_ok());
  auto bad_type = Manifest::parse(R"({"name": "x", "properties": {"a": {"type": "float128"}}})");
  ASSERT_FALSE(bad_type.is_ok());
  EXPECT_NE(bad_type.status().message().find("unknown type 'float128'"), std::string::npos);
  auto bad_default =
      Manifest::parse(R"({"name": "x", "properties": {"a": {"type": "int", "default": "z"}}})");
  EXPECT_FALSE(bad_default.is_ok());
}

}  // namespace
}  // namespace parley
