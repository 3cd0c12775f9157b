// Manifest parsing and property type coercion.
#include "parley/manifest.h"

#include <charconv>
#include <cmath>

namespace parley {

namespace {

std::optional<PropertyType> parse_type(const std::string& t) {
  if (t == "string") return PropertyType::kString;
  if (t == "int" || t == "int64" || t == "int32" || t == "integer") return PropertyType::kInt;
  if (t == "number" || t == "float64" || t == "float32" || t == "double")
    return PropertyType::kNumber;
  if (t == "bool" || t == "boolean") return PropertyType::kBool;
  if (t == "object") return PropertyType::kObject;
  if (t == "array") return PropertyType::kArray;
  if (t == "any") return PropertyType::kAny;
  return std::nullopt;
}

std::string describe(const nlohmann::json& v) {
  std::string text = v.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return std::string(v.type_name()) + " " + text;
}

Status parse_messages(const nlohmann::json& j, const char* field,
                      std::map<MessageKind, std::vector<std::string>>& out) {
  if (j.is_null()) return Status::ok();
  if (!j.is_object())
    return invalid_argument(std::string("'") + field + "' must be an object keyed by message kind");
  for (auto it = j.begin(); it != j.end(); ++it) {
    auto kind = parse_message_kind(it.key());
    if (!kind)
      return invalid_argument(
          std::string("'") + field + "." + it.key() +
          "': unknown message kind (expected cmd, data, audio_frame, video_frame)");
    if (!it->is_array())
      return invalid_argument(std::string("'") + field + "." + it.key() +
                              "' must be an array of names");
    for (const auto& n : *it) {
      if (!n.is_string())
        return invalid_argument(std::string("'") + field + "." + it.key() + "' must hold strings");
      out[*kind].push_back(n.get<std::string>());
    }
  }
  return Status::ok();
}

bool list_has(const std::map<MessageKind, std::vector<std::string>>& m, MessageKind kind,
              std::string_view name) {
  auto it = m.find(kind);
  if (it == m.end()) return false;
  for (const auto& n : it->second)
    if (n == "*" || n == name) return true;
  return false;
}

}  // namespace

const char* property_type_name(PropertyType type) {
  switch (type) {
    case PropertyType::kString:
      return "string";
    case PropertyType::kInt:
      return "int";
    case PropertyType::kNumber:
      return "number";
    case PropertyType::kBool:
      return "bool";
    case PropertyType::kObject:
      return "object";
    case PropertyType::kArray:
      return "array";
    case PropertyType::kAny:
      return "any";
  }
  return "any";
}

Result<Manifest> Manifest::parse(std::string_view json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument("manifest is not a JSON object");
  Manifest m;
  if (!j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty())
    return invalid_argument("manifest needs a non-empty string 'name'");
  m.name = j["name"].get<std::string>();
  m.description = j.value("description", "");
  if (j.contains("properties")) {
    const auto& props = j["properties"];
    if (!props.is_object())
      return invalid_argument("manifest '" + m.name + "': 'properties' must be an object");
    for (auto it = props.begin(); it != props.end(); ++it) {
      PropertySpec p;
      p.name = it.key();
      if (!it->is_object() || !it->contains("type") || !(*it)["type"].is_string())
        return invalid_argument("manifest '" + m.name + "': property '" + p.name +
                                "' needs an object with a string 'type'");
      auto type = parse_type((*it)["type"].get<std::string>());
      if (!type)
        return invalid_argument("manifest '" + m.name + "': property '" + p.name +
                                "' has unknown type '" + (*it)["type"].get<std::string>() + "'");
      p.type = *type;
      p.required = it->value("required", false);
      p.description = it->value("description", "");
      if (it->contains("default")) {
        p.default_value = (*it)["default"];
        // Defaults that reference the environment are checked when the graph is resolved.
        const bool env_ref = p.default_value.is_string() &&
                             p.default_value.get<std::string>().find("${env:") != std::string::npos;
        if (!env_ref) {
          auto coerced = coerce_property(p.default_value, p.type);
          if (!coerced.is_ok())
            return invalid_argument("manifest '" + m.name + "': default of '" + p.name +
                                    "': " + coerced.status().message());
        }
      }
      m.properties.push_back(std::move(p));
    }
  }
  PARLEY_RETURN_IF_ERROR(parse_messages(j.value("in", nlohmann::json()), "in", m.in)
                             .with_context("manifest '" + m.name + "'"));
  PARLEY_RETURN_IF_ERROR(parse_messages(j.value("out", nlohmann::json()), "out", m.out)
                             .with_context("manifest '" + m.name + "'"));
  return m;
}

const PropertySpec* Manifest::find_property(std::string_view name) const {
  for (const auto& p : properties)
    if (p.name == name) return &p;
  return nullptr;
}

bool Manifest::accepts(MessageKind kind, std::string_view name) const {
  return list_has(in, kind, name);
}

bool Manifest::emits(MessageKind kind, std::string_view name) const {
  return list_has(out, kind, name);
}

nlohmann::json Manifest::to_json() const {
  nlohmann::json j = {{"name", name}, {"description", description}};
  nlohmann::json props = nlohmann::json::object();
  for (const auto& p : properties) {
    nlohmann::json pj = {{"type", property_type_name(p.type)}};
    if (!p.default_value.is_null()) pj["default"] = p.default_value;
    if (p.required) pj["required"] = true;
    if (!p.description.empty()) pj["description"] = p.description;
    props[p.name] = pj;
  }
  j["properties"] = props;
  for (auto [field, map] : {std::pair{"in", &in}, std::pair{"out", &out}}) {
    nlohmann::json mj = nlohmann::json::object();
    for (const auto& [kind, names] : *map) mj[message_kind_name(kind)] = names;
    j[field] = mj;
  }
  return j;
}

Result<nlohmann::json> coerce_property(const nlohmann::json& value, PropertyType type) {
  auto mismatch = [&] {
    return invalid_argument(std::string("expected ") + property_type_name(type) + ", got " +
                            describe(value));
  };
  switch (type) {
    case PropertyType::kAny:
      return value;
    case PropertyType::kString:
      if (value.is_string()) return value;
      if (value.is_number() || value.is_boolean()) return nlohmann::json(value.dump());
      return mismatch();
    case PropertyType::kInt: {
      if (value.is_number_integer()) return value;
      if (value.is_number_float()) {
        double d = value.get<double>();
        if (std::floor(d) == d && std::fabs(d) < 9.2e18)
          return nlohmann::json(static_cast<int64_t>(d));
        return mismatch();
      }
      if (value.is_string()) {
        const std::string s = value.get<std::string>();
        int64_t v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) return nlohmann::json(v);
      }
      return mismatch();
    }
    case PropertyType::kNumber: {
      if (value.is_number()) return value;
      if (value.is_string()) {
        const std::string s = value.get<std::string>();
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size()) return nlohmann::json(d);
      }
      return mismatch();
    }
    case PropertyType::kBool:
      if (value.is_boolean()) return value;
      if (value.is_string()) {
        const std::string s = value.get<std::string>();
        if (s == "true" || s == "1" || s == "yes" || s == "on") return nlohmann::json(true);
        if (s == "false" || s == "0" || s == "no" || s == "off") return nlohmann::json(false);
      }
      return mismatch();
    case PropertyType::kObject:
      if (value.is_object()) return value;
      return mismatch();
    case PropertyType::kArray:
      if (value.is_array()) return value;
      return mismatch();
  }
  return mismatch();
}

}  // namespace parley
