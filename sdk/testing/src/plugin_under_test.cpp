#include <mdlab/error.h>
#include <mdlab/testing/plugin_under_test.h>
#include <mdlab/version.h>

#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>

#include <cstring>

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
  MDLAB_CHECK(info_->abi_major == MDLAB_SDK_ABI_MAJOR,
              "{}: built against SDK ABI {}, this test kit is ABI {} (rebuild the plugin)",
              library.string(), info_->abi_major, MDLAB_SDK_ABI_MAJOR);
  MDLAB_CHECK(info_->api_minor <= sdk_api_minor(),
              "{}: built against SDK API minor {}, the loaded SDK has {}", library.string(),
              info_->api_minor, sdk_api_minor());
  MDLAB_CHECK(std::strcmp(info_->torch_version, sdk_torch_version()) == 0,
              "{}: built against LibTorch {}, the SDK against {}", library.string(),
              info_->torch_version, sdk_torch_version());
  MDLAB_CHECK(info_->cxx11_abi == sdk_cxx11_abi(),
              "{}: built with _GLIBCXX_USE_CXX11_ABI={}, the SDK with {}", library.string(),
              info_->cxx11_abi, sdk_cxx11_abi());
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
  const OptionsSchema schema = options_schema();
  Options options = default_options(schema);
  for (const auto& [name, value] : overrides) {
    const OptionSpec* spec = schema.find(name);
    MDLAB_CHECK(spec != nullptr, "plugin '{}' has no option '{}' (it has: {})", info_->name, name,
                fmt::join(schema.names(), ", "));
    // Integers stand for floats, as in an experiment file.
    OptionValue v = value;
    if (spec->type == OptionType::Float && option_value_type(v) == OptionType::Int)
      v = static_cast<double>(std::get<int64_t>(v));
    const std::string problem = spec->check(v);
    MDLAB_CHECK(problem.empty(), "plugin '{}' option '{}': {}", info_->name, name, problem);
    options.set(name, std::move(v));
  }
  return options;
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
