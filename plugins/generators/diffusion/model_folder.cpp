// Diffusers folder reading: JSON configs with located errors, weight discovery and loading.
#include "model_folder.h"

#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;

namespace mdlab::diffusion {

namespace {

// Thrown from the parser callback to stop at the first too-deep value.
struct TooDeep {
  size_t depth;
};

}  // namespace

Json read_json_file(const fs::path& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  MDLAB_CHECK(!ec && fs::exists(status), "{}: cannot open the JSON file (missing or unreadable)",
              path.string());
  // Devices and pipes (/dev/zero) would be read without end.
  MDLAB_CHECK(fs::is_regular_file(status), "{}: not a regular file", path.string());
  const auto bytes = fs::file_size(path, ec);
  MDLAB_CHECK(!ec && bytes <= kMaxJsonConfigBytes,
              "{}: {} bytes; JSON configs are at most {} bytes (is this the right file?)",
              path.string(), bytes, kMaxJsonConfigBytes);
  std::ifstream in(path, std::ios::binary);
  MDLAB_CHECK(in.good(), "{}: cannot open the JSON file (missing or unreadable)", path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  const Json::parser_callback_t limit_depth = [](int depth, Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        depth >= kMaxJsonConfigDepth) {
      throw TooDeep{static_cast<size_t>(depth) + 1};
    }
    return true;
  };
  try {
    return Json::parse(buffer.str(), limit_depth);
  } catch (const nlohmann::json::parse_error& e) {
    MDLAB_THROW("{}: not valid JSON (byte {}): {}", path.string(), e.byte, e.what());
  } catch (const nlohmann::json::exception& e) {
    // out_of_range for numbers beyond a double (333E3333...), among others.
    MDLAB_THROW("{}: not readable JSON: {}", path.string(), e.what());
  } catch (const TooDeep& e) {
    MDLAB_THROW("{}: arrays and objects nested {} deep; configs nest at most {} deep",
                path.string(), e.depth, kMaxJsonConfigDepth);
  }
}

JsonConfig::JsonConfig(const fs::path& path) : JsonConfig(read_json_file(path), path) {}

JsonConfig::JsonConfig(Json json, fs::path path) : json_(std::move(json)), path_(std::move(path)) {
  MDLAB_CHECK(json_.is_object(), "{}: the top level is not a JSON object", path_.string());
}

bool JsonConfig::has(std::string_view key) const {
  auto it = json_.find(std::string(key));
  return it != json_.end() && !it->is_null();
}

const Json& JsonConfig::raw(std::string_view key) const {
  static const Json null_value;
  auto it = json_.find(std::string(key));
  return it == json_.end() ? null_value : *it;
}

void JsonConfig::fail(std::string_view key, std::string_view what) const {
  MDLAB_THROW("{}: key '{}' {}", path_.string(), key, what);
}

int64_t JsonConfig::get_int(std::string_view key, int64_t fallback, int64_t lo, int64_t hi) const {
  const auto value = get<int64_t>(key, fallback);
  if (value < lo || value > hi) fail(key, fmt::format("= {} is outside [{}, {}]", value, lo, hi));
  return value;
}

std::vector<int64_t> JsonConfig::get_ints(std::string_view key, std::vector<int64_t> fallback,
                                          int64_t lo, int64_t hi) const {
  auto values = get<std::vector<int64_t>>(key, std::move(fallback));
  for (int64_t v : values) {
    if (v < lo || v > hi) {
      fail(key, fmt::format("has the entry {} outside [{}, {}]", v, lo, hi));
    }
  }
  return values;
}

double JsonConfig::get_number(std::string_view key, double fallback, double lo, double hi) const {
  const auto value = get<double>(key, fallback);
  if (!(value >= lo && value <= hi)) {
    fail(key, fmt::format("= {} is outside [{}, {}]", value, lo, hi));
  }
  return value;
}

void JsonConfig::check_integer(std::string_view key, const Json& value) const {
  if (value.is_number_integer()) return;
  if (value.is_number_float()) {
    const double x = value.get<double>();
    // Whole numbers written as floats (4.0) are accepted, as Python's int() of them would be.
    if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 9.0e15) return;
    fail(key, fmt::format("must be a whole number, got {}", value.dump()));
  }
  // Other types: the conversion names them.
}

void JsonConfig::check_finite(std::string_view key, const Json& value) const {
  if (value.is_number() && !std::isfinite(value.get<double>())) {
    fail(key, fmt::format("must be a finite number, got {}", value.dump()));
  }
}

namespace {

// "diffusion_pytorch_model.fp16.safetensors" -> "fp16"; "model.safetensors" -> "".
std::string variant_of(const fs::path& file) {
  const std::string stem = file.stem().string();  // drops ".safetensors"
  const auto dot = stem.rfind('.');
  return dot == std::string::npos ? std::string() : stem.substr(dot + 1);
}

}  // namespace

fs::path find_weights(const fs::path& dir, std::string_view variant) {
  MDLAB_CHECK(fs::is_directory(dir), "{}: the component folder does not exist", dir.string());
  std::vector<fs::path> candidates;
  std::vector<fs::path> pickles;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const auto ext = entry.path().extension().string();
    if (ext == ".safetensors" && variant_of(entry.path()) == variant) {
      candidates.push_back(entry.path());
    } else if (ext == ".bin" || ext == ".ckpt" || ext == ".pt" || ext == ".pth") {
      pickles.push_back(entry.path());
    }
  }
  std::sort(candidates.begin(), candidates.end());
  if (candidates.size() == 1) return candidates.front();
  if (candidates.size() > 1) {
    std::vector<std::string> names;
    for (const auto& c : candidates) names.push_back(c.filename().string());
    MDLAB_THROW("{}: several weight files match ({}); sharded weights are not supported, keep one",
                dir.string(), fmt::join(names, ", "));
  }
  const std::string wanted =
      variant.empty() ? std::string("*.safetensors") : fmt::format("*.{}.safetensors", variant);
  if (!pickles.empty()) {
    MDLAB_THROW(
        "{}: no {} weights, only pickle weights ({}). mdlab reads safetensors only (pickle files "
        "can run code when loaded). Convert the folder once with the Python libraries, e.g.\n"
        "  python3 -c \"from diffusers import DiffusionPipeline as P; "
        "P.from_pretrained('{}').save_pretrained('{}-st', safe_serialization=True)\"\n"
        "and point mdlab at the new folder.",
        dir.string(), wanted, pickles.front().filename().string(), dir.parent_path().string(),
        dir.parent_path().string());
  }
  MDLAB_THROW("{}: no {} weight file in the component folder", dir.string(), wanted);
}

void load_component_weights(torch::nn::Module& module, const fs::path& dir, const NameMap& rename,
                            std::string_view variant) {
  const fs::path file = find_weights(dir, variant);
  SafetensorsFile weights = read_safetensors(file);
  std::map<std::string, torch::Tensor> tensors;
  for (auto& [name, tensor] : weights.tensors) {
    std::string target = rename ? rename(name) : name;
    if (target.empty()) continue;
    tensors.emplace(std::move(target), tensor);
  }
  try {
    load_state_dict(module, tensors);
  } catch (const Error& e) {
    MDLAB_THROW("{}: the weights do not fit the model built from config.json: {}", file.string(),
                e.message());
  }
}

ModelFolder::ModelFolder(fs::path root) : root_(std::move(root)) {
  MDLAB_CHECK(fs::is_directory(root_), "{}: the model folder does not exist", root_.string());
  const fs::path index = root_ / "model_index.json";
  MDLAB_CHECK(fs::is_regular_file(index),
              "{}: not a diffusers model folder (no model_index.json; expected the folder "
              "written by save_pretrained, with unet/, vae/, ... inside)",
              root_.string());
  index_ = JsonConfig(index);
  pipeline_class_ = index_.require<std::string>("_class_name");
}

std::string ModelFolder::component_class(std::string_view name) const {
  const Json& entry = index_.raw(name);
  if (!entry.is_array() || entry.size() != 2 || !entry[1].is_string()) return "";
  return entry[1].get<std::string>();
}

fs::path ModelFolder::component(std::string_view name) const {
  const fs::path dir = root_ / std::string(name);
  MDLAB_CHECK(fs::is_directory(dir), "{}: component '{}' is missing: expected the folder {} ({})",
              index_.path().string(), name, dir.string(),
              index_.has(name) ? fmt::format("key '{}' = {}", name, index_.raw(name).dump())
                               : fmt::format("and no key '{}' either", name));
  return dir;
}

JsonConfig ModelFolder::component_config(std::string_view name, std::string_view file_name) const {
  const fs::path file = component(name) / std::string(file_name);
  MDLAB_CHECK(fs::is_regular_file(file), "{}: component '{}' has no {} (expected {})",
              root_.string(), name, file_name, file.string());
  return JsonConfig(file);
}

}  // namespace mdlab::diffusion
