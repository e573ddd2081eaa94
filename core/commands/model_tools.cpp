#include "model_tools.h"

#include "experiment.h"
#include "mix_plan.h"
#include "progress.h"
#include "run_context.h"
#include "trainer.h"
#include "training_data.h"
#include "view_transform.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mdlab {

size_t export_backbone(const fs::path& run_dir, const fs::path& out,
                       const PluginRegistry& registry) {
  const fs::path config = run_dir / "config.toml";
  const fs::path weights = latest_checkpoint(run_dir / "checkpoints") / "model.safetensors";
  MDLAB_CHECK(fs::exists(config), "{} is not a run directory (no config.toml)", run_dir.string());
  MDLAB_CHECK(fs::exists(weights), "run {} has no checkpoint ({} is missing)", run_dir.string(),
              weights.string());
  Experiment exp = load_experiment_checked(config, {}, registry);
  const auto* b = exp.config.find("backbone");
  ConsoleProgress progress;
  RunContext context(c10::Device("cpu"), 0, {}, nullptr, progress);
  auto method = build_method(exp, registry, context);
  load_state_dict(*method, read_safetensors(weights).tensors);

  std::map<std::string, std::string> metadata{{"format", "pt"},
                                              {"mdlab_backbone", b->plugin},
                                              {"mdlab_run", fs::absolute(run_dir).string()}};
  for (const auto& [key, value] : b->options.values())
    metadata["mdlab_option." + key] = option_value_to_toml(value);
  auto tensors = state_dict(*method->encoder());
  write_safetensors(out, tensors, metadata);
  return tensors.size();
}

namespace {

// An option value as JSON (the encoder folder's "options").
nlohmann::json option_json(const OptionValue& value) {
  return std::visit([](const auto& v) { return nlohmann::json(v); }, value);
}

// The channels a slot's views have: the pipeline's, else [data] channels, else the first
// training image's.
int view_channels(const AugmentConfig& slot, const Options& data) {
  if (slot.channels != 0) return slot.channels;
  if (data.get_int("channels") != 0) return static_cast<int>(data.get_int("channels"));
  auto source = open_data_split(data, "train");
  MDLAB_CHECK(source->size() > 0, "the training split is empty");
  ImageU8 image;
  source->load(0, image);
  return image.channels;
}

}  // namespace

fs::path export_model(const fs::path& run_dir, const fs::path& out, const PluginRegistry& registry,
                      bool overwrite) {
  const fs::path config = run_dir / "config.toml";
  MDLAB_CHECK(fs::exists(config), "{} is not a run directory (no config.toml)", run_dir.string());
  const fs::path checkpoint = latest_checkpoint(run_dir / "checkpoints");
  const fs::path weights = checkpoint / "model.safetensors";
  MDLAB_CHECK(fs::exists(weights), "run {} has no checkpoint ({} is missing)", run_dir.string(),
              weights.string());
  MDLAB_CHECK(overwrite || !fs::exists(out), "{} exists; choose another --out or pass --overwrite",
              out.string());
  Experiment exp = load_experiment_checked(config, {}, registry);
  const auto* b = exp.config.find("backbone");
  const auto* m = exp.config.find("method");
  ConsoleProgress progress;
  RunContext context(c10::Device("cpu"), 0, {}, nullptr, progress);
  auto method = build_method(exp, registry, context);
  load_state_dict(*method, read_safetensors(weights).tensors);
  method->eval();

  // The encoder's input as the method saw it in training: view slot 0's pipeline.
  const Options& data = exp.config.find("data")->options;
  const auto slots = method->view_slots();
  MDLAB_CHECK(!slots.empty(), "method '{}' has no view slots", m->plugin);
  const AugmentConfig view =
      slot_augment_config(exp.config, slots.front(), static_cast<int>(data.get_int("channels")));
  const int channels = view_channels(view, data);
  auto per_channel = [&](const std::vector<double>& v) {
    return v.size() == 1 ? std::vector<double>(static_cast<size_t>(channels), v.front()) : v;
  };
  auto encoder = method->encoder();
  nlohmann::json options = nlohmann::json::object();
  for (const auto& [key, value] : b->options.values()) options[key] = option_json(value);
  const nlohmann::json encoder_config = {{"_class_name", "mdlab.Backbone"},
                                         {"plugin", b->plugin},
                                         {"options", options},
                                         {"channels", channels},
                                         {"image_size", view.size},
                                         {"feature_dim", encoder->feature_dim()},
                                         {"mean", per_channel(view.mean)},
                                         {"std", per_channel(view.stddev)},
                                         {"mdlab_run", fs::absolute(run_dir).string()},
                                         {"mdlab_checkpoint", checkpoint.filename().string()}};

  // Everything goes into a sibling folder first, renamed into place at the end.
  const fs::path parent = fs::absolute(out).parent_path();
  fs::create_directories(parent);
  const fs::path staging =
      parent / fmt::format(".{}.partial-{}", out.filename().string(), ::getpid());
  fs::remove_all(staging);
  try {
    fs::create_directories(staging / "encoder");
    {
      std::ofstream file(staging / "encoder" / "config.json");
      file << encoder_config.dump(2) << "\n";
      MDLAB_CHECK(file.good(), "{}: cannot write", (staging / "encoder" / "config.json").string());
    }
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (auto& [name, t] : state_dict(*encoder)) tensors.emplace_back(name, t.cpu());
    write_safetensors(staging / "encoder" / "model.safetensors", tensors,
                      {{"format", "pt"}, {"mdlab_backbone", b->plugin}});
    try {
      method->export_model(staging);
    } catch (const Error& e) {
      MDLAB_THROW("method '{}' of run {}: {}", m->plugin, run_dir.string(), e.message());
    }
    MDLAB_CHECK(fs::exists(staging / "model_index.json"),
                "method '{}' wrote no model_index.json into the model folder", m->plugin);
    if (overwrite && fs::exists(out)) fs::remove_all(out);
    fs::rename(staging, out);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    throw;
  }
  return checkpoint;
}

namespace {

// Fixed-width NUL-padded key bytes [N, L]: safetensors holds no strings.
torch::Tensor keys_tensor(const std::vector<std::string>& keys) {
  size_t width = 1;
  for (const auto& k : keys) width = std::max(width, k.size());
  auto out =
      torch::zeros({static_cast<int64_t>(keys.size()), static_cast<int64_t>(width)}, torch::kUInt8);
  auto* p = out.data_ptr<uint8_t>();
  for (size_t i = 0; i < keys.size(); ++i)
    std::memcpy(p + i * width, keys[i].data(), keys[i].size());
  return out;
}

}  // namespace

int64_t embed(const EmbedRequest& request, const PluginRegistry& registry) {
  Experiment exp = load_experiment_checked(request.experiment, request.sets, registry);
  const auto* b = exp.config.find("backbone");
  const Options& e = exp.config.find("experiment")->options;
  const c10::Device device(e.get_string("device"));
  ConsoleProgress progress;
  RunContext context(device, static_cast<uint64_t>(e.get_int("seed")), {}, nullptr, progress);
  auto backbone = registry.create_backbone(b->plugin, b->options, context);
  LoadOptions load;
  load.ignore_prefixes = {"fc.", "head."};
  try {
    load_state_dict(*backbone, read_safetensors(request.weights).tensors, load);
  } catch (const Error& error) {
    MDLAB_THROW("backbone '{}': weights {}: {}", b->plugin, request.weights.string(),
                error.message());
  }
  backbone->to(device);
  backbone->eval();
  torch::NoGradGuard no_grad;

  torch::Tensor labels, keys;
  std::vector<torch::Tensor> features, attention;
  auto forward = [&](const torch::Tensor& x) {
    features.push_back(backbone->forward(x).cpu());
    if (request.attention) {
      auto a = backbone->last_attention(x);
      MDLAB_CHECK(a.has_value(), "backbone '{}' has no attention maps (--attention)", b->plugin);
      attention.push_back(a->cpu());
    }
  };
  int64_t n = 0;
  if (request.input) {
    auto file = read_safetensors(*request.input);
    MDLAB_CHECK(file.contains("x"), "{} has no tensor named 'x' (expected [N, C, H, W])",
                request.input->string());
    auto images = file.at("x").to(torch::kFloat);
    MDLAB_CHECK(images.dim() == 4, "{}: 'x' has shape {}, expected [N, C, H, W]",
                request.input->string(), c10::str(images.sizes()));
    n = images.size(0);
    progress.begin("embed", (n + request.batch_size - 1) / request.batch_size);
    for (int64_t start = 0, batch = 0; start < n; start += request.batch_size, ++batch) {
      forward(images.slice(0, start, std::min(n, start + request.batch_size)).to(device));
      progress.update(batch + 1, "");
    }
  } else {
    // The split through the data pipeline's evaluation transform ([data.eval]).
    const Options& data = exp.config.find("data")->options;
    auto source = open_data_split(data, request.split);
    const int natural = dataset_image_size(*source, data.get_string("format"));
    ViewTransform transform(eval_augment_config(exp.config, natural,
                                                static_cast<int>(data.get_int("channels")),
                                                natural > 0 ? "none" : "eval"));
    TrainingData td;
    td.real = source;
    td.plan = MixPlan(MixOptions{}, {ViewSlot{"eval", "", 0, "eval"}}, 1);
    td.on_error = parse_on_error(data.get_string("on_error"));
    LoaderOptions lo;
    lo.batch_size = std::min<int64_t>(request.batch_size, source->size());
    lo.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    lo.shuffle = false;
    lo.drop_last = false;
    Loader loader(std::move(td), {&transform}, lo);
    progress.begin("embed", loader.steps_per_epoch());
    loader.start_epoch(0);
    LoaderBatch batch;
    std::vector<torch::Tensor> all_labels;
    std::vector<std::string> all_keys;
    while (loader.next(batch)) {
      forward(batch.views[0].to(device));
      all_labels.push_back(batch.labels.clone());
      const auto* idx = batch.indices.data_ptr<int64_t>();
      for (int64_t r = 0; r < batch.indices.size(0); ++r) all_keys.push_back(source->key(idx[r]));
      progress.update(batch.step + 1, "");
    }
    labels = torch::cat(all_labels);
    keys = keys_tensor(all_keys);
    n = labels.size(0);
  }
  progress.end();
  std::vector<std::pair<std::string, torch::Tensor>> out{{"features", torch::cat(features)}};
  if (labels.defined()) out.emplace_back("labels", labels);
  if (keys.defined()) out.emplace_back("keys", keys);
  if (request.attention) out.emplace_back("attention", torch::cat(attention));
  write_safetensors(
      request.out, out,
      {{"mdlab_backbone", b->plugin}, {"mdlab_weights", fs::absolute(request.weights).string()}});
  return n;
}

}  // namespace mdlab
