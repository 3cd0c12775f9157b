// Addon registry: named extension factories, built in or loaded from shared libraries.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "parley/extension.h"
#include "parley/manifest.h"
#include "parley/status.h"

// Version of the plugin interface. A plugin built against another version is refused with a
// message naming both versions. Bump it whenever extension.h, message.h or addon.h change layout.
#define PARLEY_ABI_VERSION 1

namespace parley {

// Creates one extension instance.
using ExtensionFactory = std::function<std::unique_ptr<Extension>()>;

// A registered addon.
struct Addon {
  Manifest manifest;
  ExtensionFactory factory;
  std::string origin;  // "built-in" or the shared library's path
};

// Thread-safe registry of addons by name.
class AddonRegistry {
 public:
  // The process-wide registry that graphs resolve addons in.
  static AddonRegistry& global();

  // Registers an addon; fails if the name is taken or the manifest is invalid.
  Status add(Manifest manifest, ExtensionFactory factory, std::string origin = "built-in");
  // Registers `T` under the manifest given as JSON text.
  template <class T>
  Status add(std::string_view manifest_json, std::string origin = "built-in") {
    auto manifest = Manifest::parse(manifest_json);
    if (!manifest.is_ok()) return manifest.status();
    return add(
        std::move(manifest).value(), [] { return std::make_unique<T>(); }, std::move(origin));
  }
  // The addon, or nullptr.
  const Addon* find(std::string_view name) const;
  // All addons sorted by name.
  std::vector<const Addon*> list() const;

  // Loads one plugin library and registers its addons. The error names the file and the cause
  // (dlopen failure, missing entry point, ABI mismatch, bad manifest).
  Status load_plugin(const std::string& path);
  // Loads every `*.so` in each directory of a ':'-separated path. Returns one status per failure;
  // a failing plugin never stops the others from loading.
  std::vector<Status> load_path(const std::string& search_path);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Addon>, std::less<>> addons_;
  std::string loading_origin_;  // origin recorded for addons registered during load_plugin
};

// Registers every addon compiled into Parley (generated at build time). Safe to call repeatedly.
void register_builtin_addons(AddonRegistry& registry);

// What a plugin library exports through `parley_plugin_info`.
struct PluginInfo {
  int abi_version;
  const char* name;
  Status (*register_addons)(AddonRegistry& registry);
};

}  // namespace parley

// Declares a plugin library's entry point. `fn` is `parley::Status fn(parley::AddonRegistry&)`.
#define PARLEY_PLUGIN(plugin_name, fn)                                            \
  extern "C" __attribute__((visibility("default"))) const ::parley::PluginInfo*   \
  parley_plugin_info() {                                                          \
    static const ::parley::PluginInfo info{PARLEY_ABI_VERSION, plugin_name, &fn}; \
    return &info;                                                                 \
  }
