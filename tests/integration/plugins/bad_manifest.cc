// A plugin with the right ABI whose only addon has a malformed manifest ("properties" is not an
// object). Parley must report the plugin's path, its name and the manifest error.
#include "parley/addon.h"

namespace {

class Nothing final : public parley::Extension {};

parley::Status register_addons(parley::AddonRegistry& registry) {
  return registry.add<Nothing>(R"json({"name": "bad_manifest", "properties": 7})json");
}

}  // namespace

PARLEY_PLUGIN("bad_manifest", register_addons)
