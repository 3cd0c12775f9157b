// A plugin as built against a future SDK whose ABI version is 999. Parley must refuse it with a
// message naming both versions instead of calling into code with a different object layout.
#include "parley/addon.h"

#undef PARLEY_ABI_VERSION
#define PARLEY_ABI_VERSION 999

namespace {

// Never called: the ABI check rejects the plugin before registration.
parley::Status register_addons(parley::AddonRegistry&) {
  return parley::internal_error("wrong_abi plugin registered despite its ABI version");
}

}  // namespace

PARLEY_PLUGIN("wrong_abi", register_addons)
