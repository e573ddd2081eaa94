// A plugin library under test, loaded as the host loads it: the C handshake is read and
// checked (ABI major, API minor, LibTorch, C++ ABI) before the factory is touched, and the
// library stays loaded for the life of the process (objects it made may outlive any handle).
//
//   mdlab::testing::PluginUnderTest plugin(MDLAB_TEST_PLUGIN);  // set by mdlab_add_plugin_test
//   mdlab::testing::TestContext context;
//   auto method = plugin.create_method(plugin.options({{"sim_coeff", 10.0}}), context);
#pragma once

#include <mdlab/options.h>
#include <mdlab/plugin.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mdlab::testing {

/// One loaded plugin library.
class PluginUnderTest {
 public:
  /// Loads `library` and checks its handshake; throws mdlab::Error saying what differs.
  explicit PluginUnderTest(const std::filesystem::path& library);
  /// The handshake (name, kind, versions).
  const mdlab_plugin_info& info() const { return *info_; }
  /// The options the plugin accepts.
  OptionsSchema options_schema() const;
  /// The schema's defaults with `overrides` applied and checked as a run checks them
  /// (complete_options of plugin_checks.h: unknown keys listing the known ones, types, ranges,
  /// choices, required options).
  Options options(const std::vector<std::pair<std::string, OptionValue>>& overrides = {}) const;
  /// A new method; throws unless the plugin is a method.
  std::shared_ptr<Method> create_method(const Options& options, Context& context) const;
  /// A new backbone; throws unless the plugin is a backbone.
  std::shared_ptr<Backbone> create_backbone(const Options& options, Context& context) const;
  /// A new evaluator; throws unless the plugin is an evaluator.
  std::shared_ptr<Evaluator> create_evaluator(const Options& options, Context& context) const;
  /// A new generator; throws unless the plugin is a generator.
  std::shared_ptr<Generator> create_generator(const Options& options, Context& context) const;

 private:
  std::filesystem::path path_;
  const mdlab_plugin_info* info_ = nullptr;
  const PluginFactory* factory_ = nullptr;
};

}  // namespace mdlab::testing
