#include <mdlab/error.h>
#include <mdlab/plugin_checks.h>
#include <mdlab/testing/plugin_under_test.h>

#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>

namespace mdlab::testing {

namespace {

// Never unloaded: a method's vtable lives in the library, and tests drop handles freely.
void keep_loaded(std::shared_ptr<boost::dll::shared_library> library) {
  static auto* kept = new std::vector<std::shared_ptr<boost::dll::shared_library>>();
  kept->push_back(std::move(library));
}

template <class Factory>
const Factory& factory_as(const PluginFactory* factory, const mdlab_plugin_info& info,
                          uint32_t kind) {
  MDLAB_CHECK(info.kind == kind, "plugin '{}' is a {}, not a {}", info.name,
              plugin_kind_name(info.kind), plugin_kind_name(kind));
  const auto* typed = dynamic_cast<const Factory*>(factory);
  MDLAB_CHECK(typed != nullptr, "plugin '{}': its factory is not a {} factory", info.name,
              plugin_kind_name(kind));
  return *typed;
}

}  // namespace

PluginUnderTest::PluginUnderTest(const std::filesystem::path& library) : path_(library) {
  auto lib = std::make_shared<boost::dll::shared_library>();
  try {
    lib->load(library, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    MDLAB_THROW("cannot load {}: {}", library.string(), e.what());
  }
  MDLAB_CHECK(lib->has(MDLAB_PLUGIN_INFO_SYMBOL),
              "{} is not an mdlab plugin: it does not export {} (MDLAB_PLUGIN missing?)",
              library.string(), MDLAB_PLUGIN_INFO_SYMBOL);
  info_ = lib->get<const mdlab_plugin_info*()>(MDLAB_PLUGIN_INFO_SYMBOL)();
  MDLAB_CHECK(info_ != nullptr, "{}: {} returned null", library.string(), MDLAB_PLUGIN_INFO_SYMBOL);
  const std::string why = handshake_problem(*info_);
  MDLAB_CHECK(why.empty(), "{}: {}", library.string(), why);
  MDLAB_CHECK(lib->has(MDLAB_PLUGIN_FACTORY_ALIAS), "{}: no {} alias", library.string(),
              MDLAB_PLUGIN_FACTORY_ALIAS);
  factory_ = lib->get_alias<const PluginFactory* const>(MDLAB_PLUGIN_FACTORY_ALIAS);
  MDLAB_CHECK(factory_ != nullptr, "{}: the factory is null", library.string());
  keep_loaded(std::move(lib));
}

OptionsSchema PluginUnderTest::options_schema() const {
  return factory_->options_schema();
}

Options PluginUnderTest::options(
    const std::vector<std::pair<std::string, OptionValue>>& overrides) const {
  Options given;
  for (const auto& [name, value] : overrides) given.set(name, value);
  return complete_options(options_schema(), given,
                          fmt::format("{} '{}'", plugin_kind_name(info_->kind), info_->name));
}

std::shared_ptr<Method> PluginUnderTest::create_method(const Options& options,
                                                       Context& context) const {
  return factory_as<MethodFactory>(factory_, *info_, MDLAB_PLUGIN_METHOD).create(options, context);
}

std::shared_ptr<Backbone> PluginUnderTest::create_backbone(const Options& options,
                                                           Context& context) const {
  return factory_as<BackboneFactory>(factory_, *info_, MDLAB_PLUGIN_BACKBONE)
      .create(options, context);
}

std::shared_ptr<Evaluator> PluginUnderTest::create_evaluator(const Options& options,
                                                             Context& context) const {
  return factory_as<EvaluatorFactory>(factory_, *info_, MDLAB_PLUGIN_EVALUATOR)
      .create(options, context);
}

std::shared_ptr<Generator> PluginUnderTest::create_generator(const Options& options,
                                                             Context& context) const {
  return factory_as<GeneratorFactory>(factory_, *info_, MDLAB_PLUGIN_GENERATOR)
      .create(options, context);
}

}  // namespace mdlab::testing
