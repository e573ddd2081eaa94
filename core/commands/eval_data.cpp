#include "eval_data.h"

#include "corruptions.h"
#include "data_source.h"
#include "image_decode.h"
#include "loader.h"
#include "subset.h"
#include "synthetic_partners.h"
#include "training_data.h"
#include "view_transform.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>

namespace mdlab {

namespace {

const ViewSlot kEvalSlot{"eval", "", 0, "eval"};

// A pass over a split: the loader (unshuffled, every sample) and the transforms it reads,
// which must outlive it.
class LoaderStream final : public BatchStream {
 public:
  LoaderStream(TrainingData data, const SlotTransform& transform,
               std::unique_ptr<CorruptedTransform> corrupted, LoaderOptions options, int64_t epoch,
               int64_t num_classes)
      : corrupted_(std::move(corrupted)), num_classes_(num_classes) {
    const SlotTransform* t = corrupted_ ? corrupted_.get() : &transform;
    const int64_t n =
        data.indices.empty() ? data.real->size() : static_cast<int64_t>(data.indices.size());
    MDLAB_CHECK(n > 0, "the split is empty ({})", data.real->describe());
    options.batch_size = std::min<int64_t>(options.batch_size, n);
    loader_ =
        std::make_unique<Loader>(std::move(data), std::vector<const SlotTransform*>{t}, options);
    loader_->start_epoch(epoch);
  }
  bool next(torch::Tensor& images, torch::Tensor& labels) override {
    LoaderBatch batch;
    if (!loader_->next(batch)) return false;
    images = batch.views[0];
    labels = batch.labels;
    return true;
  }
  int64_t size() const override { return loader_->num_samples(); }
  int64_t num_classes() const override { return num_classes_; }

 private:
  std::unique_ptr<CorruptedTransform> corrupted_;
  std::unique_ptr<Loader> loader_;
  int64_t num_classes_;
};

}  // namespace

struct CoreEvalData::Split {
  std::string name;
  std::shared_ptr<const DataSource> source;
  std::shared_ptr<const SyntheticPartners> partners;
  std::vector<int64_t> indices;
  OnError on_error = OnError::kError;
  int threads = 1;
  std::unique_ptr<ViewTransform> eval;
  std::unique_ptr<ViewTransform> augment;
};

struct CoreEvalData::ParsedName {
  std::string base;
  bool augment = false;
  bool corrupted = false;
  Corruption corruption = Corruption::kGaussianNoise;
  int severity = 0;
};

CoreEvalData::CoreEvalData(const ValidatedConfig& config, Backbone& encoder, Context& context,
                           EvalDataSettings settings)
    : config_(config), encoder_(encoder), context_(context), settings_(settings) {}

CoreEvalData::~CoreEvalData() = default;

std::vector<std::string> CoreEvalData::splits() const {
  const Options& data = config_.find("data")->options;
  std::vector<std::string> out{"train"};
  if (!data.get_string("test_split").empty()) out.push_back("test");
  if (!config_.find("data.synthetic")->options.get_string("root").empty())
    out.push_back("synthetic");
  const std::string prefix = "datasets.";
  for (const auto* s : config_.find_all("datasets")) {
    if (!s->present || s->path.rfind(prefix, 0) != 0) continue;
    const std::string name = s->path.substr(prefix.size());
    if (!s->options.get_string("train_split").empty()) out.push_back(name + "/train");
    if (!s->options.get_string("test_split").empty()) out.push_back(name + "/test");
  }
  return out;
}

CoreEvalData::ParsedName CoreEvalData::parse(const std::string& split) const {
  ParsedName p;
  const auto at = split.find('@');
  p.base = split.substr(0, at);
  const auto names = splits();
  MDLAB_CHECK(std::find(names.begin(), names.end(), p.base) != names.end(),
              "evaluation data has no split '{}' (available: {}; shift and transfer sets are "
              "declared as [datasets.<name>] tables)",
              p.base, fmt::join(names, ", "));
  if (at == std::string::npos) return p;
  const std::string modifier = split.substr(at + 1);
  if (modifier == "augment") {
    p.augment = true;
    return p;
  }
  const auto colon = modifier.find(':');
  MDLAB_CHECK(colon != std::string::npos,
              "split '{}': modifier '{}' is neither \"augment\" nor <corruption>:<severity> "
              "(corruptions: {})",
              split, modifier, fmt::join(corruption_names(), ", "));
  p.corrupted = true;
  p.corruption = parse_corruption(modifier.substr(0, colon));
  const std::string sev = modifier.substr(colon + 1);
  MDLAB_CHECK(sev.size() == 1 && sev[0] >= '1' && sev[0] <= '5',
              "split '{}': severity '{}' must be 1..5", split, sev);
  p.severity = sev[0] - '0';
  return p;
}

CoreEvalData::Split& CoreEvalData::base_split(const std::string& name) {
  auto found = splits_.find(name);
  if (found != splits_.end()) return *found->second;

  const Options& data = config_.find("data")->options;
  const int channels = static_cast<int>(data.get_int("channels"));
  auto s = std::make_unique<Split>();
  s->name = name;
  int size = settings_.eval_size;
  std::string format = data.get_string("format");
  if (name == "train" || name == "test" || name == "synthetic") {
    const bool test = name == "test";
    s->source = open_data_split(data, data.get_string(test ? "test_split" : "train_split"));
    s->on_error = parse_on_error(data.get_string("on_error"));
    s->threads = worker_count(data);
    const double fraction = data.get_float(test ? "test_fraction" : "fraction");
    if (fraction < 1.0)
      s->indices = stratified_subset_indices(
          *s->source, fraction,
          derive_seed(settings_.seed, test ? "data/test_fraction" : "data/fraction"));
    if (name == "synthetic") {
      const Options& syn = config_.find("data.synthetic")->options;
      SyntheticOptions so;
      so.root = syn.get_string("root");
      so.variations = 1;  // variation 0: one fixed partner per image
      so.on_missing = parse_missing_partner_policy(syn.get_string("on_missing"));
      so.seed = derive_seed(settings_.seed, "data/variation");
      s->partners = std::make_shared<SyntheticPartners>(
          s->source, so,
          [](const std::filesystem::path& file, ImageU8& out, const DecodeHint& hint) {
            decode_image_file(file, out, hint);
          });
    }
  } else {
    const auto slash = name.rfind('/');
    const std::string dataset = name.substr(0, slash);
    const bool test = name.substr(slash + 1) == "test";
    const SectionValues* table = config_.find("datasets." + dataset);
    MDLAB_CHECK(table != nullptr, "no [datasets.{}] table", dataset);
    const Options& o = table->options;
    std::vector<std::string> train_classes;
    if (o.get_string("labels") == "training") train_classes = base_split("train").source->classes();
    s->source = open_data_split(o, o.get_string(test ? "test_split" : "train_split"),
                                std::move(train_classes));
    s->on_error = parse_on_error(o.get_string("on_error"));
    s->threads = worker_count(data);
    const double fraction = o.get_float(test ? "test_fraction" : "fraction");
    if (fraction < 1.0)
      s->indices = stratified_subset_indices(
          *s->source, fraction, derive_seed(settings_.seed, "datasets/" + name + "/fraction"));
    if (o.get_int("size") > 0) size = static_cast<int>(o.get_int("size"));
    format = o.get_string("format");
  }
  // Fixed-size formats are resized to the evaluation size; folders are resized and centre
  // cropped as for validation, unless the training data is itself a fixed-size format: its
  // test images are not cropped, so a folder set beside it (variations of those images, a
  // shift set) is resized only, or a probe would see it zoomed by 1 / 0.875.
  const int natural = dataset_image_size(*s->source, format);
  if (size == 0) size = natural;
  MDLAB_CHECK(size > 0,
              "split '{}': no evaluation size (the method's first view has none and the "
              "dataset's images vary in size); set [data.eval] size",
              name);
  const bool uncropped = natural > 0 || data.get_string("format") != "folder";
  s->eval = std::make_unique<ViewTransform>(
      eval_augment_config(config_, size, channels, uncropped ? "none" : "eval"));
  return *splits_.emplace(name, std::move(s)).first->second;
}

std::unique_ptr<BatchStream> CoreEvalData::open(const std::string& split) {
  const ParsedName p = parse(split);
  Split& s = base_split(p.base);
  TrainingData td;
  td.real = s.source;
  td.synthetic = s.partners;
  td.indices = s.indices;
  td.on_error = s.on_error;
  MixOptions mix;
  if (s.partners) mix.mode = MixMode::kSynthetic;
  td.plan = MixPlan(mix, {kEvalSlot}, 1);
  LoaderOptions lo;
  lo.batch_size = settings_.batch_size;
  lo.threads = s.threads;
  lo.seed = derive_seed(settings_.seed, "eval/" + split);
  lo.shuffle = false;
  lo.drop_last = false;
  lo.pin_memory = context_.device().is_cuda();

  const SlotTransform* transform = s.eval.get();
  int64_t epoch = 0;
  if (p.augment) {
    if (!s.augment) {
      AugmentConfig a = augment_preset("crop_flip");
      const AugmentConfig& e = s.eval->config();
      a.size = e.size;
      a.channels = e.channels;
      a.mean = e.mean;
      a.stddev = e.stddev;
      s.augment = std::make_unique<ViewTransform>(a);
    }
    transform = s.augment.get();
    epoch = augment_passes_++;  // a new draw on every pass
  }
  std::unique_ptr<CorruptedTransform> corrupted;
  if (p.corrupted)
    corrupted = std::make_unique<CorruptedTransform>(
        *transform, s.eval->config().mean, s.eval->config().stddev, p.corruption, p.severity);
  try {
    return std::make_unique<LoaderStream>(std::move(td), *transform, std::move(corrupted), lo,
                                          epoch, static_cast<int64_t>(s.source->classes().size()));
  } catch (const Error& error) {
    MDLAB_THROW("split '{}': {}", split, error.message());
  }
}

std::vector<std::string> CoreEvalData::class_names(const std::string& split) {
  return base_split(parse(split).base).source->classes();
}

Normalization CoreEvalData::normalization(const std::string& split) {
  const AugmentConfig& c = base_split(parse(split).base).eval->config();
  return {c.mean, c.stddev};
}

FeatureSet CoreEvalData::features(const std::string& split) {
  const ParsedName p = parse(split);
  if (!p.augment) {
    auto cached = cache_.find(split);
    if (cached != cache_.end()) return cached->second;
  }
  auto stream = open(split);
  const int64_t total = stream->size();
  ProgressReporter& progress = context_.progress();
  progress.begin(fmt::format("features {}", split),
                 (total + settings_.batch_size - 1) / settings_.batch_size);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> features, labels;
  torch::Tensor images, y;
  int64_t batches = 0;
  while (stream->next(images, y)) {
    features.push_back(
        encoder_.forward(images.to(context_.device(), true)).to(torch::kCPU, torch::kFloat));
    labels.push_back(y.clone());
    progress.update(++batches, "");
  }
  progress.end();
  ++feature_passes_;
  FeatureSet out;
  out.features = torch::cat(features);
  out.labels = torch::cat(labels);
  out.num_classes = stream->num_classes();
  if (!p.augment) cache_[split] = out;
  return out;
}

}  // namespace mdlab
