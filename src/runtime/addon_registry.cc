// AddonRegistry: built-in registration and plugin loading with dlopen.
#include <dirent.h>
#include <dlfcn.h>

#include <spdlog/spdlog.h>
#include <algorithm>

#include "parley/addon.h"

namespace parley {

AddonRegistry& AddonRegistry::global() {
  static AddonRegistry* registry =
      new AddonRegistry();  // never destroyed: plugins may outlive exit
  return *registry;
}

Status AddonRegistry::add(Manifest manifest, ExtensionFactory factory, std::string origin) {
  if (!factory) return invalid_argument("addon '" + manifest.name + "' has no factory");
  std::lock_guard lock(mu_);
  if (!loading_origin_.empty()) origin = loading_origin_;
  auto it = addons_.find(manifest.name);
  if (it != addons_.end()) {
    return Status(
        StatusCode::kAlreadyExists,
        "addon '" + manifest.name + "' is already registered (from " + it->second->origin + ")");
  }
  std::string name = manifest.name;
  addons_.emplace(name, std::make_unique<Addon>(
                            Addon{std::move(manifest), std::move(factory), std::move(origin)}));
  return Status::ok();
}

const Addon* AddonRegistry::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = addons_.find(name);
  return it == addons_.end() ? nullptr : it->second.get();
}

std::vector<const Addon*> AddonRegistry::list() const {
  std::lock_guard lock(mu_);
  std::vector<const Addon*> out;
  for (const auto& [name, addon] : addons_) out.push_back(addon.get());
  return out;
}

Status AddonRegistry::load_plugin(const std::string& path) {
  // RTLD_LOCAL keeps each plugin's own symbols apart; libparley is shared, so all see one runtime.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    return unavailable("plugin '" + path + "' failed to load: " + (err ? err : "unknown error"));
  }
  using InfoFn = const PluginInfo* (*)();
  auto info_fn = reinterpret_cast<InfoFn>(dlsym(handle, "parley_plugin_info"));
  if (!info_fn) {
    dlclose(handle);
    return invalid_argument("plugin '" + path +
                            "' has no parley_plugin_info entry point (declare one with "
                            "PARLEY_PLUGIN in the library)");
  }
  const PluginInfo* info = info_fn();
  if (!info || info->abi_version != PARLEY_ABI_VERSION) {
    const int got = info ? info->abi_version : -1;
    dlclose(handle);
    return failed_precondition("plugin '" + path + "' was built for Parley ABI version " +
                               std::to_string(got) + ", this Parley has ABI version " +
                               std::to_string(PARLEY_ABI_VERSION) +
                               ": rebuild the plugin against this Parley's SDK");
  }
  {
    std::lock_guard lock(mu_);
    loading_origin_ = path;
  }
  Status s = info->register_addons ? info->register_addons(*this)
                                   : invalid_argument("plugin registers nothing");
  {
    std::lock_guard lock(mu_);
    loading_origin_.clear();
  }
  // The handle stays open for the life of the process: extensions' code lives in it.
  if (!s.is_ok())
    return s.with_context("plugin '" + path + "' (" + (info->name ? info->name : "unnamed") + ")");
  return Status::ok();
}

std::vector<Status> AddonRegistry::load_path(const std::string& search_path) {
  std::vector<Status> errors;
  size_t start = 0;
  while (start <= search_path.size()) {
    size_t end = search_path.find(':', start);
    if (end == std::string::npos) end = search_path.size();
    std::string dir = search_path.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) continue;
    DIR* d = opendir(dir.c_str());
    if (!d) {
      errors.push_back(not_found("addon path directory '" + dir + "' cannot be read"));
      continue;
    }
    std::vector<std::string> files;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 3 && name.compare(name.size() - 3, 3, ".so") == 0)
        files.push_back(dir + "/" + name);
    }
    closedir(d);
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      Status s = load_plugin(f);
      if (!s.is_ok()) errors.push_back(s);
    }
  }
  return errors;
}

}  // namespace parley
