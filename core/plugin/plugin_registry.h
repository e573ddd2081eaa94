// Plugin discovery, the C handshake, and the registry of loaded plugins.
//
// Search order: the build's (or install's) plugin directory next to the executable, then each
// entry of MDLAB_PLUGIN_PATH (':'-separated), then each --plugin-path. Files named
// `mdlab_plugin_*.so` are candidates. A candidate is refused, with a message naming both sides
// of any mismatch, when it is not a loadable shared object, lacks the handshake symbol, was
// built for another SDK ABI major / a newer API minor / another LibTorch / another libstdc++
// ABI, lacks the factory alias, or repeats a name already registered (the message names both
// files; the first one found stays). Refusals are collected, never fatal: good plugins load.
//
// Libraries are never unloaded: objects they create may live anywhere in the host, and
// LibTorch users register global state that must outlive them (the llama.cpp rule).
#pragma once

#include <mdlab/plugin.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace boost::dll {
class shared_library;
}

namespace mdlab {

/// A plugin that passed the handshake.
struct LoadedPlugin {
  std::filesystem::path file;              ///< the shared library
  uint32_t kind = 0;                       ///< mdlab_plugin_kind
  std::string name;                        ///< registry key
  std::string version;                     ///< the plugin's own version
  std::string summary;                     ///< one-line description
  std::string torch_version;               ///< LibTorch it was built against
  std::string compiler;                    ///< compiler that built it
  uint32_t abi_major = 0;                  ///< SDK ABI major it was built with
  uint32_t api_minor = 0;                  ///< SDK API minor it was built with
  const PluginFactory* factory = nullptr;  ///< factory inside the library (kind-specific type)
  std::shared_ptr<boost::dll::shared_library> library;  ///< keeps the library mapped
};

/// A candidate file that was refused, and why.
struct PluginProblem {
  std::filesystem::path file;  ///< the refused file
  std::string message;         ///< full reason, naming both sides of a mismatch
};

/// The folder of the running executable (from /proc/self/exe; empty when unknown): where
/// the plugins and the shared files of an installed or built tree are found, beside it.
std::filesystem::path executable_dir();

/// The directories searched by default: the plugin dir next to the executable, then
/// MDLAB_PLUGIN_PATH; `extra` (--plugin-path) is appended.
std::vector<std::filesystem::path> default_plugin_dirs(
    const std::vector<std::filesystem::path>& extra);

/// Loaded plugins by name, with the refusals met while loading.
class PluginRegistry {
 public:
  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(PluginRegistry&&) noexcept;
  PluginRegistry& operator=(PluginRegistry&&) noexcept;

  /// Loads every candidate of each directory, in order (missing directories are skipped).
  void load_directories(const std::vector<std::filesystem::path>& dirs);
  /// Loads one file; false (and a problem recorded) when refused.
  bool load_file(const std::filesystem::path& file);

  /// Every plugin, sorted by kind then name.
  std::vector<const LoadedPlugin*> all() const;
  /// Plugins of one kind, sorted by name.
  std::vector<const LoadedPlugin*> of_kind(uint32_t kind) const;
  /// The plugin `name` of `kind`, or nullptr.
  const LoadedPlugin* find(uint32_t kind, std::string_view name) const;
  /// The plugin `name` of any kind, or nullptr.
  const LoadedPlugin* find_any(std::string_view name) const;
  /// Refusals, in the order met.
  const std::vector<PluginProblem>& problems() const noexcept { return problems_; }

  /// A new backbone from plugin `name`; throws mdlab::Error when there is none.
  std::shared_ptr<Backbone> create_backbone(std::string_view name, const Options& options,
                                            Context& context) const;
  /// `given` checked against the options schema of plugin `name` of `kind` (unknown keys,
  /// types, ranges, choices; integers where floats are declared are converted) with the
  /// schema's defaults filled in; throws mdlab::Error naming the plugin and the key. For
  /// options that come from a file other than an experiment (an exported model's config).
  Options complete_options(uint32_t kind, std::string_view name, const Options& given) const;
  /// A new method from plugin `name`.
  std::shared_ptr<Method> create_method(std::string_view name, const Options& options,
                                        Context& context) const;
  /// A new generator from plugin `name`.
  std::shared_ptr<Generator> create_generator(std::string_view name, const Options& options,
                                              Context& context) const;
  /// A new evaluator from plugin `name`.
  std::shared_ptr<Evaluator> create_evaluator(std::string_view name, const Options& options,
                                              Context& context) const;

 private:
  const LoadedPlugin& require(uint32_t kind, std::string_view name) const;
  void refuse(const std::filesystem::path& file, std::string message);

  std::vector<std::unique_ptr<LoadedPlugin>> plugins_;
  std::vector<PluginProblem> problems_;
  std::vector<std::filesystem::path> seen_files_;
};

}  // namespace mdlab
