// Manifest: what an addon declares about itself — typed properties and the messages in and out.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "parley/message.h"
#include "parley/status.h"

namespace parley {

// JSON type a property must have.
enum class PropertyType { kString, kInt, kNumber, kBool, kObject, kArray, kAny };

// "string", "int", "number", "bool", "object", "array", "any".
const char* property_type_name(PropertyType type);

// One declared property of an addon.
struct PropertySpec {
  std::string name;
  PropertyType type = PropertyType::kAny;
  nlohmann::json default_value;  // null: no default
  bool required = false;         // must be given in the graph when there is no default
  std::string description;
};

// Everything an addon declares. Parsed from JSON of this shape:
//   {"name": "echo", "description": "...",
//    "properties": {"gain": {"type": "number", "default": 1.0, "description": "..."}},
//    "in":  {"audio_frame": ["pcm_frame"], "cmd": ["flush"]},
//    "out": {"audio_frame": ["pcm_frame"]}}
// A message name "*" means any name of that kind.
struct Manifest {
  std::string name;
  std::string description;
  std::vector<PropertySpec> properties;
  std::map<MessageKind, std::vector<std::string>> in;
  std::map<MessageKind, std::vector<std::string>> out;

  // Parses and checks a manifest; the error says which field is wrong.
  static Result<Manifest> parse(std::string_view json_text);
  // The declared property, or nullptr.
  const PropertySpec* find_property(std::string_view name) const;
  // True when the addon declares it consumes / produces this message.
  bool accepts(MessageKind kind, std::string_view name) const;
  bool emits(MessageKind kind, std::string_view name) const;
  // Back to the JSON shape above (used by `parley addons --json`).
  nlohmann::json to_json() const;
};

// Checks `value` against `type`, converting loosely typed input (strings from the command line or
// the environment) where the conversion is exact: "42" → 42 for int, "true" → true for bool.
// The error says what was expected and what was found.
Result<nlohmann::json> coerce_property(const nlohmann::json& value, PropertyType type);

}  // namespace parley
