// Entry point of the minimal_extension plugin: registers its two addons when Parley loads it.
#include "parley/addon.h"

parley::Status register_uppercase(parley::AddonRegistry& registry);
parley::Status register_text_source(parley::AddonRegistry& registry);

namespace {

// Called once by Parley after it has checked the plugin's ABI version.
parley::Status register_addons(parley::AddonRegistry& registry) {
  if (parley::Status s = register_uppercase(registry); !s.is_ok()) return s;
  return register_text_source(registry);
}

}  // namespace

PARLEY_PLUGIN("minimal_extension", register_addons)
