// Plugins: the C handshake and the registration macro.
//
// A plugin is a shared library exporting two symbols:
//  1. `mdlab_plugin_get_info`, an extern "C" function returning a plain C struct
//     (mdlab_plugin_info). The host reads it with no C++ involved and refuses the library
//     unless ABI major, API minor, LibTorch version and _GLIBCXX_USE_CXX11_ABI agree.
//  2. `mdlab_plugin_factory`, a Boost.DLL alias of the plugin's factory object, used only
//     after the handshake passed.
// MDLAB_PLUGIN(...) writes both. One plugin per library.
#pragma once

#include <mdlab/backbone.h>
#include <mdlab/context.h>
#include <mdlab/evaluator.h>
#include <mdlab/export.h>
#include <mdlab/generator.h>
#include <mdlab/method.h>
#include <mdlab/options.h>
#include <mdlab/version.h>

#include <torch/version.h>

#include <boost/dll/alias.hpp>

#include <cstdint>
#include <memory>
#include <type_traits>

extern "C" {

/// Kind of a plugin, as stored in the handshake.
typedef enum mdlab_plugin_kind {
  MDLAB_PLUGIN_BACKBONE = 1,   ///< implements mdlab::Backbone
  MDLAB_PLUGIN_METHOD = 2,     ///< implements mdlab::Method
  MDLAB_PLUGIN_GENERATOR = 3,  ///< implements mdlab::Generator
  MDLAB_PLUGIN_EVALUATOR = 4,  ///< implements mdlab::Evaluator
} mdlab_plugin_kind;

/// The handshake a plugin returns. `abi_major` stays the first member in every version so
/// any host can read it; fields after `struct_size` exist in ABI major 1.
typedef struct mdlab_plugin_info {
  uint32_t abi_major;         ///< MDLAB_SDK_ABI_MAJOR the plugin was built with
  uint32_t struct_size;       ///< sizeof(mdlab_plugin_info) in the plugin
  uint32_t api_minor;         ///< MDLAB_SDK_API_MINOR the plugin was built with
  uint32_t kind;              ///< a mdlab_plugin_kind
  const char* name;           ///< registry key ("resnet"); unique among loaded plugins
  const char* version;        ///< the plugin's own version ("1.0.0")
  const char* summary;        ///< one-line description
  const char* torch_version;  ///< LibTorch version built against ("1.13.0")
  int32_t cxx11_abi;          ///< _GLIBCXX_USE_CXX11_ABI built with
  const char* compiler;       ///< compiler that built it ("gcc 12.2.0")
} mdlab_plugin_info;

/// Signature of the handshake function.
typedef const mdlab_plugin_info* (*mdlab_plugin_get_info_fn)(void);

}  // extern "C"

/// Name of the handshake symbol.
#define MDLAB_PLUGIN_INFO_SYMBOL "mdlab_plugin_get_info"
/// Name of the factory alias.
#define MDLAB_PLUGIN_FACTORY_ALIAS "mdlab_plugin_factory"

namespace mdlab {

/// Human name of a kind ("backbone", ...), "unknown" otherwise.
MDLAB_SDK_API const char* plugin_kind_name(uint32_t kind);

/// What every factory offers: the options it accepts.
class MDLAB_SDK_API PluginFactory {
 public:
  virtual ~PluginFactory();
  /// The options the plugin accepts.
  virtual OptionsSchema options_schema() const = 0;
};

/// Creates backbones.
class MDLAB_SDK_API BackboneFactory : public PluginFactory {
 public:
  ~BackboneFactory() override;
  /// A new backbone configured by validated `options`.
  virtual std::shared_ptr<Backbone> create(const Options& options, Context& context) const = 0;
};

/// Creates methods.
class MDLAB_SDK_API MethodFactory : public PluginFactory {
 public:
  ~MethodFactory() override;
  /// A new method configured by validated `options`.
  virtual std::shared_ptr<Method> create(const Options& options, Context& context) const = 0;
};

/// Creates generators.
class MDLAB_SDK_API GeneratorFactory : public PluginFactory {
 public:
  ~GeneratorFactory() override;
  /// A new generator configured by validated `options`.
  virtual std::shared_ptr<Generator> create(const Options& options, Context& context) const = 0;
};

/// Creates evaluators.
class MDLAB_SDK_API EvaluatorFactory : public PluginFactory {
 public:
  ~EvaluatorFactory() override;
  /// A new evaluator configured by validated `options`.
  virtual std::shared_ptr<Evaluator> create(const Options& options, Context& context) const = 0;
};

namespace detail {

template <class Interface> struct PluginTraits;
template <> struct PluginTraits<Backbone> {
  using Factory = BackboneFactory;
  static constexpr uint32_t kind = MDLAB_PLUGIN_BACKBONE;
};
template <> struct PluginTraits<Method> {
  using Factory = MethodFactory;
  static constexpr uint32_t kind = MDLAB_PLUGIN_METHOD;
};
template <> struct PluginTraits<Generator> {
  using Factory = GeneratorFactory;
  static constexpr uint32_t kind = MDLAB_PLUGIN_GENERATOR;
};
template <> struct PluginTraits<Evaluator> {
  using Factory = EvaluatorFactory;
  static constexpr uint32_t kind = MDLAB_PLUGIN_EVALUATOR;
};

// The factory for an implementation: Impl(const Options&, Context&) and a static
// Impl::options_schema().
template <class Impl, class Interface>
class FactoryFor final : public PluginTraits<Interface>::Factory {
 public:
  OptionsSchema options_schema() const override { return Impl::options_schema(); }
  std::shared_ptr<Interface> create(const Options& options, Context& context) const override {
    return std::make_shared<Impl>(options, context);
  }
};

#define MDLAB_DETAIL_STR2(x) #x
#define MDLAB_DETAIL_STR(x) MDLAB_DETAIL_STR2(x)
/// Compiler name and version of this translation unit.
#define MDLAB_DETAIL_COMPILER \
  "gcc " MDLAB_DETAIL_STR(__GNUC__) "." MDLAB_DETAIL_STR(__GNUC_MINOR__) "." MDLAB_DETAIL_STR(__GNUC_PATCHLEVEL__)

}  // namespace detail
}  // namespace mdlab

/// Registers `Impl` (implementing `Interface`, one of mdlab::Backbone, Method, Generator,
/// Evaluator) as the plugin of this library under the registry key `name_literal`.
/// `Impl` needs a constructor (const mdlab::Options&, mdlab::Context&) and a static
/// `mdlab::OptionsSchema options_schema()`.
#define MDLAB_PLUGIN(Impl, Interface, name_literal, version_literal, summary_literal)          \
  static_assert(std::is_base_of_v<Interface, Impl>,                                           \
                "MDLAB_PLUGIN: " #Impl " must derive from " #Interface);                      \
  static_assert(std::is_constructible_v<Impl, const ::mdlab::Options&, ::mdlab::Context&>,    \
                "MDLAB_PLUGIN: " #Impl " needs a constructor (const Options&, Context&)");   \
  namespace mdlab_plugin_registration {                                                       \
  static const ::mdlab::detail::FactoryFor<Impl, Interface> factory_instance{};               \
  static const ::mdlab::PluginFactory* const factory_pointer = &factory_instance;             \
  }                                                                                           \
  extern "C" MDLAB_PLUGIN_EXPORT const mdlab_plugin_info* mdlab_plugin_get_info(void) {       \
    static const mdlab_plugin_info info = {                                                   \
        MDLAB_SDK_ABI_MAJOR,                                                                  \
        static_cast<uint32_t>(sizeof(mdlab_plugin_info)),                                     \
        MDLAB_SDK_API_MINOR,                                                                  \
        ::mdlab::detail::PluginTraits<Interface>::kind,                                       \
        name_literal,                                                                         \
        version_literal,                                                                      \
        summary_literal,                                                                      \
        MDLAB_DETAIL_STR(TORCH_VERSION_MAJOR) "." MDLAB_DETAIL_STR(                           \
            TORCH_VERSION_MINOR) "." MDLAB_DETAIL_STR(TORCH_VERSION_PATCH),                   \
        _GLIBCXX_USE_CXX11_ABI,                                                               \
        MDLAB_DETAIL_COMPILER};                                                               \
    return &info;                                                                             \
  }                                                                                           \
  BOOST_DLL_ALIAS(mdlab_plugin_registration::factory_pointer, mdlab_plugin_factory)
