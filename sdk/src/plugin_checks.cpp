#include <mdlab/error.h>
#include <mdlab/plugin_checks.h>
#include <mdlab/version.h>

#include <fmt/format.h>

#include <variant>
#include <vector>

namespace mdlab {

std::string handshake_problem(const mdlab_plugin_info& info) {
  if (info.abi_major != MDLAB_SDK_ABI_MAJOR)
    return fmt::format(
        "SDK ABI mismatch: plugin built for mdlab SDK ABI {}, this mdlab provides "
        "ABI {}; rebuild the plugin against this SDK",
        info.abi_major, MDLAB_SDK_ABI_MAJOR);
  if (info.struct_size < sizeof(mdlab_plugin_info))
    return fmt::format("handshake struct is {} bytes, this mdlab expects {} for ABI {}",
                       info.struct_size, sizeof(mdlab_plugin_info), MDLAB_SDK_ABI_MAJOR);
  if (info.api_minor > MDLAB_SDK_API_MINOR)
    return fmt::format(
        "SDK API too old: plugin needs SDK API {}.{}, this mdlab provides {}.{}; "
        "update mdlab",
        info.abi_major, info.api_minor, MDLAB_SDK_ABI_MAJOR, MDLAB_SDK_API_MINOR);
  const std::string torch_version = info.torch_version ? info.torch_version : "";
  if (torch_version != sdk_torch_version())
    return fmt::format(
        "LibTorch mismatch: plugin built against LibTorch {}, this mdlab uses "
        "LibTorch {}",
        torch_version.empty() ? "(none)" : torch_version, sdk_torch_version());
  if (info.cxx11_abi != sdk_cxx11_abi())
    return fmt::format(
        "libstdc++ ABI mismatch: plugin built with _GLIBCXX_USE_CXX11_ABI={}, "
        "this mdlab with _GLIBCXX_USE_CXX11_ABI={}",
        info.cxx11_abi, sdk_cxx11_abi());
  if (std::string_view(plugin_kind_name(info.kind)) == "unknown")
    return fmt::format(
        "unknown plugin kind {} (this mdlab knows 1..4: backbone, method, "
        "generator, evaluator)",
        info.kind);
  if (info.name == nullptr || *info.name == '\0') return "plugin has an empty name";
  return "";
}

Options complete_options(const OptionsSchema& schema, const Options& given, std::string_view who) {
  Options out = default_options(schema);
  for (const auto& [key, value] : given.values()) {
    const OptionSpec* spec = schema.find(key);
    if (spec == nullptr) {
      std::string known;
      for (const auto& n : schema.names()) known += (known.empty() ? "" : ", ") + n;
      MDLAB_THROW("{} has no option '{}' (options: {})", who, key, known);
    }
    OptionValue v = value;
    if (spec->type == OptionType::Float && std::holds_alternative<int64_t>(v)) {
      v = static_cast<double>(std::get<int64_t>(v));
    } else if (spec->type == OptionType::FloatList &&
               std::holds_alternative<std::vector<int64_t>>(v)) {
      const auto& ints = std::get<std::vector<int64_t>>(v);
      v = std::vector<double>(ints.begin(), ints.end());
    }
    const std::string problem = spec->check(v);
    MDLAB_CHECK(problem.empty(), "{} option '{}': {}", who, key, problem);
    out.set(key, std::move(v));
  }
  for (const auto& spec : schema.specs())
    MDLAB_CHECK(out.has(spec.name), "{}: option '{}' is required", who, spec.name);
  return out;
}

}  // namespace mdlab
