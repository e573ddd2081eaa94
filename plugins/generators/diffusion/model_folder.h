// Diffusers model folders: `model_index.json` at the root naming the pipeline class and its
// components, one sub-folder per component (unet/, vae/, image_encoder/, scheduler/,
// feature_extractor/) with a `config.json` (or `scheduler_config.json`,
// `preprocessor_config.json`) and weights as `*.safetensors` (diffusers'
// `diffusion_pytorch_model.safetensors`, transformers' `model.safetensors`, optionally a
// dtype variant such as `diffusion_pytorch_model.fp16.safetensors`).
//
// Every error names the file and, for config values, the key.
#pragma once

#include <mdlab/error.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace mdlab::diffusion {

/// A parsed JSON document.
using Json = nlohmann::json;

/// The largest JSON config read (configs are kilobytes; a bigger file is the wrong file).
inline constexpr std::uintmax_t kMaxJsonConfigBytes = 16u << 20;
/// The deepest nesting of arrays and objects accepted in a JSON config.
inline constexpr int kMaxJsonConfigDepth = 64;

/// Bounds on model config sizes: far above any released model, low enough that a typo
/// (1e9 layers) is named before LibTorch tries to allocate it.
inline constexpr int64_t kMaxConfigChannels = 1 << 14;  ///< channels, hidden sizes
inline constexpr int64_t kMaxConfigRepeats = 256;       ///< layers per block, blocks, heads
inline constexpr int64_t kMaxConfigPixels = 1 << 14;    ///< image and sample sizes

/// Parses the JSON file `path`; throws mdlab::Error naming the file (and the byte position of
/// a syntax error) when it is missing, unreadable, not a regular file, larger than
/// kMaxJsonConfigBytes, nested deeper than kMaxJsonConfigDepth or not JSON.
Json read_json_file(const std::filesystem::path& path);

/// A JSON config and the file it came from, with typed lookups that name both on error.
class JsonConfig {
 public:
  JsonConfig() = default;
  /// Reads `path` (see read_json_file); the top level must be an object.
  explicit JsonConfig(const std::filesystem::path& path);
  /// Wraps an already parsed object that came from `path`.
  JsonConfig(Json json, std::filesystem::path path);

  /// True when `key` is present and not null.
  bool has(std::string_view key) const;
  /// The value of `key` converted to T, or `fallback` when absent or null; throws naming the
  /// file and key when the value has another type.
  template <class T>
  T get(std::string_view key, const T& fallback) const {
    if (!has(key)) return fallback;
    return convert<T>(key);
  }
  /// The value of `key` converted to T; throws naming the file and key when absent or of
  /// another type.
  template <class T>
  T require(std::string_view key) const {
    if (!has(key)) fail(key, "is required but missing");
    return convert<T>(key);
  }
  /// `key` as a whole number in [lo, hi], `fallback` when absent; throws naming the file, the
  /// key, the value and the range (model sizes are checked here, before any allocation).
  int64_t get_int(std::string_view key, int64_t fallback, int64_t lo, int64_t hi) const;
  /// The integer list `key` with every entry in [lo, hi], `fallback` when absent.
  std::vector<int64_t> get_ints(std::string_view key, std::vector<int64_t> fallback, int64_t lo,
                                int64_t hi) const;
  /// `key` as a finite number in [lo, hi], `fallback` when absent.
  double get_number(std::string_view key, double fallback, double lo, double hi) const;
  /// The raw JSON value of `key` (null when absent).
  const Json& raw(std::string_view key) const;
  /// The whole document.
  const Json& json() const { return json_; }
  /// The file it came from.
  const std::filesystem::path& path() const { return path_; }
  /// Throws mdlab::Error "<file>: key '<key>' <what>".
  [[noreturn]] void fail(std::string_view key, std::string_view what) const;

 private:
  template <class T>
  T convert(std::string_view key) const {
    const Json& value = raw(key);
    // nlohmann converts 3.5 to the integer 3 without a word: sizes must be whole numbers.
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      check_integer(key, value);
    } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
      if (value.is_array()) {
        for (const auto& item : value) check_integer(key, item);
      }
    } else if constexpr (std::is_floating_point_v<T>) {
      check_finite(key, value);
    }
    try {
      return value.get<T>();
    } catch (const nlohmann::json::exception&) {
      fail(key, "has the wrong type: " + value.dump());
    }
  }
  void check_integer(std::string_view key, const Json& value) const;
  void check_finite(std::string_view key, const Json& value) const;
  Json json_ = Json::object();
  std::filesystem::path path_;
};

/// Path of the weights of the component folder `dir`: the one `*.safetensors` file (for
/// `variant` "fp16": `*.fp16.safetensors`, else the file without a variant). Throws
/// mdlab::Error when there is none, telling the user how to convert pickle `.bin` weights
/// once with the Python libraries when only those exist, or when several candidates exist.
std::filesystem::path find_weights(const std::filesystem::path& dir, std::string_view variant = "");

/// Renames a file tensor name to the module's name ("" drops the tensor).
using NameMap = std::function<std::string(const std::string&)>;

/// Reads the weights of component folder `dir` and copies them into `module` (strict: every
/// module tensor must be present with the same shape; the error names each missing,
/// unexpected or mis-shaped tensor with both shapes and the file). Floating tensors are
/// converted to the module's dtype and device. `rename` maps file names first (old diffusers
/// attention names, for example).
void load_component_weights(torch::nn::Module& module, const std::filesystem::path& dir,
                            const NameMap& rename = {}, std::string_view variant = "");

/// A diffusers pipeline folder.
class ModelFolder {
 public:
  /// Opens `root` and reads its model_index.json; throws when either is missing.
  explicit ModelFolder(std::filesystem::path root);
  /// The root folder.
  const std::filesystem::path& root() const { return root_; }
  /// The pipeline class model_index.json names ("StableDiffusionImageVariationPipeline").
  const std::string& pipeline_class() const { return pipeline_class_; }
  /// The `_class_name` model_index.json gives component `name` ("" when it lists none).
  std::string component_class(std::string_view name) const;
  /// The folder of component `name`; throws naming model_index.json and the expected path
  /// when the folder is missing.
  std::filesystem::path component(std::string_view name) const;
  /// The config of component `name` from `file_name` inside its folder.
  JsonConfig component_config(std::string_view name, std::string_view file_name) const;

 private:
  std::filesystem::path root_;
  JsonConfig index_;
  std::string pipeline_class_;
};

}  // namespace mdlab::diffusion
