#include "training_data.h"

#include "augment_config.h"
#include "config_error.h"
#include "data_source.h"
#include "image_decode.h"
#include "mix_plan.h"
#include "subset.h"
#include "synthetic_partners.h"

#include <mdlab/context.h>
#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

namespace mdlab {
namespace {

const char* const kAugmentPrefix = "data.augment.";

// The [data.augment.<name>] tables present, by name.
std::map<std::string, const SectionValues*> augment_tables(const ValidatedConfig& config) {
  std::map<std::string, const SectionValues*> tables;
  for (const auto* s : config.find_all("data.augment"))
    if (s->path.rfind(kAugmentPrefix, 0) == 0 && s->present)
      tables[s->path.substr(std::string(kAugmentPrefix).size())] = s;
  return tables;
}

AugmentConfig layered_config(const std::vector<const SectionValues*>& layers,
                             std::string_view default_preset, int default_size,
                             int default_channels) {
  // The most specific table naming a preset wins; the keys of every layer then apply in
  // order, general to specific.
  std::string preset;
  for (const auto* t : layers)
    if (t && t->options.has("preset") && !t->options.get_string("preset").empty())
      preset = t->options.get_string("preset");
  if (preset.empty()) preset = std::string(default_preset);
  if (preset.empty()) preset = "none";
  AugmentConfig c = augment_preset(preset);
  if (default_size > 0) c.size = default_size;
  c.channels = default_channels;
  for (const auto* t : layers)
    if (t) apply_augment_overrides(t->options, c);
  validate(c);
  return c;
}

int data_channels(const ValidatedConfig& config) {
  return static_cast<int>(config.find("data")->options.get_int("channels"));
}

MixOptions mix_options(const Options& data) {
  MixOptions o;
  o.mode = parse_mix_mode(data.get_string("mix"));
  o.switch_epoch = data.get_int("switch_epoch");
  const auto& split = data.get_int_list("crop_split");
  MDLAB_CHECK(split.size() == 4 &&
                  std::all_of(split.begin(), split.end(), [](int64_t v) { return v >= 0; }),
              "[data] crop_split needs 4 non-negative counts [real global, real local, "
              "synthetic global, synthetic local], got {} values",
              split.size());
  o.crop_split = {split[0], split[1], split[2], split[3]};
  return o;
}

}  // namespace

int worker_count(const Options& data) {
  const int64_t w = data.get_int("workers");
  if (w >= 0) return static_cast<int>(w);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

AugmentConfig slot_augment_config(const ValidatedConfig& config, const ViewSlot& slot,
                                  int default_channels, int dataset_size) {
  const auto tables = augment_tables(config);
  auto table = [&](const std::string& name) -> const SectionValues* {
    auto it = tables.find(name);
    return it == tables.end() ? nullptr : it->second;
  };
  std::vector<const SectionValues*> layers{table("all")};
  if (!slot.group.empty()) layers.push_back(table(slot.group));
  layers.push_back(table(slot.name));
  const int size = slot.default_size > 0 ? static_cast<int>(slot.default_size) : dataset_size;
  return layered_config(layers, slot.augment, size, default_channels);
}

AugmentConfig eval_augment_config(const ValidatedConfig& config, int size, int default_channels,
                                  std::string_view default_preset) {
  const SectionValues* eval = config.find("data.eval");
  std::vector<const SectionValues*> layers{eval && eval->present ? eval : nullptr};
  // The size follows the slot unless [data.eval] gives one.
  return layered_config(layers, default_preset, size, default_channels);
}

int dataset_image_size(const DataSource& source, const std::string& format) {
  if (format == "folder" || source.size() == 0) return 0;
  ImageU8 first;
  source.load(0, first);
  return std::min(first.height, first.width);
}

void check_augment_tables(const ValidatedConfig& config, const std::vector<ViewSlot>& slots) {
  std::vector<std::string> known{"all"};
  for (const auto& s : slots)
    if (!s.group.empty() && std::find(known.begin(), known.end(), s.group) == known.end())
      known.push_back(s.group);
  for (const auto& s : slots) known.push_back(s.name);
  std::vector<ConfigIssue> issues;
  for (const auto& [name, section] : augment_tables(config)) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    ConfigIssue issue;
    issue.source = section->where.path ? *section->where.path : std::string();
    issue.line = section->where.begin.line;
    issue.column = section->where.begin.column;
    issue.key = section->path;
    issue.message = fmt::format("[{}] names no view slot of the method; known: {}", section->path,
                                fmt::join(known, ", "));
    issues.push_back(std::move(issue));
  }
  if (!issues.empty()) throw ConfigError(std::move(issues));
}

std::shared_ptr<const DataSource> open_data_split(const Options& data, const std::string& split,
                                                  std::vector<std::string> train_classes) {
  SourceRequest request;
  request.format = data.get_string("format");
  request.root = data.get_string("root");
  request.split = split;
  request.class_list = data.get_string("class_list");
  request.train_classes = std::move(train_classes);
  request.on_error = data.get_string("on_error");
  return std::shared_ptr<const DataSource>(open_source(request));
}

TrainingPipeline build_training_pipeline(const ValidatedConfig& config,
                                         const std::vector<ViewSlot>& slots,
                                         const DataRunSettings& run) {
  const Options& data = config.find("data")->options;
  const Options& synthetic = config.find("data.synthetic")->options;
  check_augment_tables(config, slots);
  TrainingPipeline p;

  p.train_source = open_data_split(data, data.get_string("train_split"));
  p.classes = p.train_source->classes();
  p.summary.push_back(p.train_source->describe());
  const std::string test_split = data.get_string("test_split");
  if (!test_split.empty()) {
    p.test_source = open_data_split(data, test_split);
    p.summary.push_back(p.test_source->describe());
  }

  const int channels = data_channels(config);
  const int natural = dataset_image_size(*p.train_source, data.get_string("format"));
  std::vector<const SlotTransform*> train_t, eval_t;
  const bool on_device = data.get_string("augment_on") == "device";
  for (const auto& slot : slots) {
    const AugmentConfig augment = slot_augment_config(config, slot, channels, natural);
    p.train_transforms.push_back(std::make_unique<ViewTransform>(augment, on_device));
    if (on_device) p.train_finishers.push_back(std::make_unique<BatchAugment>(augment));
    train_t.push_back(p.train_transforms.back().get());
    p.summary.push_back(
        fmt::format("augment {}: {}", slot.name, describe(p.train_transforms.back()->config())));
    const int size = p.train_transforms.back()->out_size();
    p.eval_transforms.push_back(std::make_unique<ViewTransform>(
        eval_augment_config(config, size, channels, natural == size ? "none" : "eval")));
    eval_t.push_back(p.eval_transforms.back().get());
  }
  p.summary.push_back(fmt::format("eval transform: {}", describe(p.eval_transforms[0]->config())));
  if (on_device)
    p.summary.push_back(
        "augment_on = device: the loader threads decode and crop, the training device does "
        "the rest of each training view");

  TrainingData train;
  train.real = p.train_source;
  train.plan = MixPlan(mix_options(data), slots, run.epochs);
  train.on_error = parse_on_error(data.get_string("on_error"));
  const double fraction = data.get_float("fraction");
  if (fraction < 1.0)
    train.indices = stratified_subset_indices(*p.train_source, fraction,
                                              derive_seed(run.seed, "data/fraction"));
  if (train.plan.needs_synthetic()) {
    const std::string root = synthetic.get_string("root");
    MDLAB_CHECK(!root.empty(),
                "[data] mix = \"{}\" reads synthetic images: set [data.synthetic] root to the "
                "mirror tree of the training images",
                data.get_string("mix"));
    SyntheticOptions so;
    so.root = root;
    so.variations = static_cast<int>(synthetic.get_int("variations"));
    so.on_missing = parse_missing_partner_policy(synthetic.get_string("on_missing"));
    so.seed = derive_seed(run.seed, "data/variation");
    so.used = train.indices;
    train.synthetic = std::make_shared<SyntheticPartners>(
        p.train_source, so,
        [](const std::filesystem::path& file, ImageU8& out, const DecodeHint& hint) {
          decode_image_file(file, out, hint);
        });
    p.summary.push_back(train.synthetic->describe());
  }
  p.summary.push_back(train.plan.describe());

  LoaderOptions lo;
  lo.batch_size = run.batch_size;
  lo.threads = worker_count(data);
  lo.prefetch_batches = static_cast<int>(data.get_int("prefetch"));
  lo.seed = derive_seed(run.seed, "data/loader");
  lo.pin_memory = run.pin_memory;
  lo.rank = run.rank;
  lo.world_size = run.world_size;
  p.train = std::make_unique<Loader>(std::move(train), train_t, lo);
  p.summary.push_back(p.train->describe());

  if (p.test_source) {
    TrainingData test;
    test.real = p.test_source;
    // Validation views are always real images. Augmented: the training transforms, then the
    // probes' plain view in a slot of slot 0's group.
    std::vector<ViewSlot> test_slots = slots;
    std::vector<const SlotTransform*> test_t = eval_t;
    if (run.validation == ValidationViews::Augmented) {
      test_slots.push_back({"probe_view", slots[0].group, slots[0].default_size, "none"});
      test_t = train_t;
      test_t.push_back(eval_t[0]);
    }
    test.plan = MixPlan(MixOptions{}, test_slots, run.epochs);
    test.on_error = parse_on_error(data.get_string("on_error"));
    const double test_fraction = data.get_float("test_fraction");
    if (test_fraction < 1.0)
      test.indices = stratified_subset_indices(*p.test_source, test_fraction,
                                               derive_seed(run.seed, "data/test_fraction"));
    LoaderOptions to = lo;
    to.seed = derive_seed(run.seed, "data/validation");
    to.shuffle = false;
    to.drop_last = false;
    to.batch_size = std::min<int64_t>(
        run.batch_size,
        test.indices.empty() ? p.test_source->size() : static_cast<int64_t>(test.indices.size()));
    p.test = std::make_unique<Loader>(std::move(test), test_t, to);
    if (run.validation == ValidationViews::Augmented)
      p.summary.push_back(
          "validation: each slot's training augmentation with a fixed seed (probes: plain views)");
  }
  return p;
}

}  // namespace mdlab
