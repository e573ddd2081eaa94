#include "fid_evaluator.h"

#include "diversity.h"
#include "frechet.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace mdlab::fid {

namespace {

constexpr const char* kRandomWeightsNote =
    "random Inception weights (weights = \"\"): FID not comparable with published numbers";

// Normalised images [B, C, H, W] back to pixels in [0, 1], 3 channels.
torch::Tensor to_pixels(const torch::Tensor& images, const Normalization& norm,
                        const std::string& split) {
  MDLAB_CHECK(images.dim() == 4, "fid: split '{}' yields images [{}], expected [N, C, H, W]", split,
              fmt::join(images.sizes(), ", "));
  const int64_t c = images.size(1);
  MDLAB_CHECK(c == 1 || c == 3, "fid: split '{}' has {} channels; the Inception needs 1 or 3",
              split, c);
  MDLAB_CHECK(
      norm.mean.size() == static_cast<size_t>(c) && norm.stddev.size() == static_cast<size_t>(c),
      "fid: split '{}' has {} channels but its normalisation has {} means and {} "
      "standard deviations",
      split, c, norm.mean.size(), norm.stddev.size());
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(images.device());
  const auto mean = torch::tensor(std::vector<double>(norm.mean), opts).view({1, c, 1, 1});
  const auto stddev = torch::tensor(std::vector<double>(norm.stddev), opts).view({1, c, 1, 1});
  // Clamped: an image file holds [0, 1]; rounding of the normalisation, or a corruption that
  // overshoots, should not reach the Inception as pixels no real image has.
  auto pixels = images.to(torch::kFloat32).mul(stddev).add_(mean).clamp_(0, 1);
  // Grey images as pytorch-fid reads them through PIL's convert("RGB"): R = G = B.
  return c == 1 ? pixels.expand({-1, 3, -1, -1}) : pixels;
}

}  // namespace

// What one pass over a split accumulates.
struct FidEvaluator::SplitStats {
  MomentAccumulator moments;       // of the Inception features
  DiversityAccumulator diversity;  // of the Inception features (diversity_embedding = inception)
  int64_t images = 0;
};

FidEvaluator::FidEvaluator(const Options& options, Context& context)
    : real_(options.get_string("real")),
      synthetic_(options.get_string("synthetic")),
      diversity_embedding_(options.get_string("diversity_embedding")),
      features_(options.get_string("features")),
      max_images_(options.get_int("max_images")),
      batch_size_(options.get_int("batch_size")) {
  MDLAB_CHECK(max_images_ >= 0, "fid: max_images = {} is negative", max_images_);
  MDLAB_CHECK(batch_size_ >= 1, "fid: batch_size = {} is below 1", batch_size_);
  MDLAB_CHECK(diversity_embedding_ == "inception" || diversity_embedding_ == "encoder",
              "fid: diversity_embedding = '{}' is not one of: inception, encoder",
              diversity_embedding_);
  inception_ = InceptionV3(context.generator("fid/inception"));
  const std::string& weights = options.get_string("weights");
  random_weights_ = weights.empty() && features_ == "inception";
  if (features_ == "encoder") {
    MDLAB_CHECK(weights.empty(),
                "fid: weights = \"{}\" is an Inception file, unused with "
                "features = \"encoder\"",
                weights);
  } else if (random_weights_) {
    context.log(LogLevel::Warning,
                "fid: no Inception weights given (weights = \"\"): the network is random, so "
                "its FID values are not comparable with published numbers (use the FID "
                "Inception weights, pt_inception-2015-12-05, as safetensors)");
  } else {
    const int64_t loaded = inception_->load_weights(weights);
    context.log(LogLevel::Info,
                fmt::format("fid: loaded {} Inception tensors from {}", loaded, weights));
  }
  inception_->to(context.device());
  inception_->eval();
}

OptionsSchema FidEvaluator::options_schema() {
  OptionsSchema s;
  s.add_string("real", "train", "Split of real images (the reference set)");
  s.add_string("synthetic", "synthetic", "Split of synthetic images compared with `real`");
  s.add_int("max_images", 0, "Images read from each split, the first ones (0: all)")
      .range(0, int64_t{1} << 40);
  s.add_int("batch_size", 50, "Images per Inception forward pass").range(1, 4096);
  s.add_string("weights", "",
               "Safetensors file of the FID Inception (pytorch-fid's pt_inception-2015-12-05, "
               "torchvision names); empty: random weights, FIDs not comparable with published "
               "numbers");
  s.add_string("diversity_embedding", "inception",
               "Embedding of the diversity columns: Inception pool3 features, or the features "
               "of the encoder under evaluation (always the encoder's with features = "
               "\"encoder\")")
      .one_of({"inception", "encoder"});
  s.add_string("features", "inception",
               "Feature space of the Frechet distance: pytorch-fid's Inception pool3, or the "
               "features of the encoder under evaluation (a domain FID, such as one in the "
               "space of a classifier trained on the dataset, as small-image studies use)")
      .one_of({"inception", "encoder"});
  return s;
}

int64_t FidEvaluator::images_to_use(const BatchStream& stream, const std::string& split) const {
  const int64_t n = max_images_ > 0 ? std::min(stream.size(), max_images_) : stream.size();
  MDLAB_CHECK(n >= 2,
              "fid: split '{}' has {} image(s) to use; FID needs at least 2 per split (a "
              "covariance)",
              split, n);
  return n;
}

FidEvaluator::SplitStats FidEvaluator::scan(BatchStream& stream, const Normalization& norm,
                                            const std::string& split, Context& context) {
  const c10::Device device = context.device();
  const int64_t total = images_to_use(stream, split);

  SplitStats stats;
  const bool inception_diversity = diversity_embedding_ == "inception";
  auto run = [&](const torch::Tensor& pixels) {
    const auto features = inception_->forward(pixels.to(device));
    stats.moments.add(features);
    if (inception_diversity) stats.diversity.add(features);
    stats.images += pixels.size(0);
    context.progress().update(stats.images, "");
  };

  context.progress().begin(fmt::format("fid: Inception features of '{}'", split), total);
  // The stream's batches have its own size; regroup them into batch_size images per pass.
  std::vector<torch::Tensor> pending;
  int64_t pending_count = 0, read = 0;
  torch::Tensor images, labels;
  while ((max_images_ == 0 || read < max_images_) && stream.next(images, labels)) {
    if (max_images_ > 0) images = images.slice(0, 0, max_images_ - read);
    read += images.size(0);
    pending.push_back(to_pixels(images, norm, split));
    pending_count += images.size(0);
    if (pending_count < batch_size_) continue;
    auto all = torch::cat(pending);
    pending.clear();
    int64_t begin = 0;
    for (; begin + batch_size_ <= all.size(0); begin += batch_size_)
      run(all.slice(0, begin, begin + batch_size_));
    pending_count = all.size(0) - begin;
    if (pending_count > 0) pending.push_back(all.slice(0, begin));
  }
  if (pending_count > 0) run(torch::cat(pending));
  context.progress().end();
  // The stream may deliver fewer images than it announced.
  MDLAB_CHECK(stats.images >= 2,
              "fid: split '{}' delivered {} image(s); FID needs at least 2 per split", split,
              stats.images);
  return stats;
}

EvalResult FidEvaluator::evaluate(Backbone&, EvalData& data, Context& context) {
  torch::NoGradGuard no_grad;
  inception_->to(context.device());
  inception_->eval();
  // Both splits opened and checked before the first Inception pass, so a bad configuration
  // fails in seconds rather than after the real split's features.
  auto real_stream = data.open(real_);
  images_to_use(*real_stream, real_);
  auto synthetic_stream = data.open(synthetic_);
  images_to_use(*synthetic_stream, synthetic_);
  SplitStats real, synthetic;
  if (features_ == "encoder") {
    // The encoder's cached features of each split (the first max_images rows).
    auto encoded = [&](const std::string& split, SplitStats& stats) {
      auto f = data.features(split).features;
      if (max_images_ > 0) f = f.slice(0, 0, max_images_);
      stats.moments.add(f.to(torch::kDouble));
      // No Inception pass here: the diversity is of these features whatever
      // diversity_embedding says (the log and the schema say so).
      if (diversity_embedding_ == "inception") stats.diversity.add(f);
      stats.images = f.size(0);
    };
    real_stream.reset();
    synthetic_stream.reset();
    encoded(real_, real);
    encoded(synthetic_, synthetic);
  } else {
    real = scan(*real_stream, data.normalization(real_), real_, context);
    real_stream.reset();
    synthetic = scan(*synthetic_stream, data.normalization(synthetic_), synthetic_, context);
  }
  const double fid = frechet_distance(real.moments, synthetic.moments);

  auto diversity = [&](SplitStats& stats, const std::string& split) {
    if (diversity_embedding_ == "inception") return stats.diversity.mean_cosine_distance();
    auto features = data.features(split).features;
    if (max_images_ > 0) features = features.slice(0, 0, max_images_);
    MDLAB_CHECK(features.size(0) >= 2,
                "fid: split '{}' has {} encoder feature row(s); diversity needs at least 2", split,
                features.size(0));
    return mean_pairwise_cosine_distance(features);
  };
  const double diversity_real = diversity(real, real_);
  const double diversity_synthetic = diversity(synthetic, synthetic_);

  Table table;
  table.name = "quality";
  table.rows = {fmt::format("{} vs {}", real_, synthetic_)};
  table.columns = {"fid", "diversity_real", "diversity_synthetic", "images_real",
                   "images_synthetic"};
  table.values = {{fid, diversity_real, diversity_synthetic, static_cast<double>(real.images),
                   static_cast<double>(synthetic.images)}};
  if (random_weights_) table.notes = {kRandomWeightsNote};
  context.log(
      LogLevel::Info,
      fmt::format("fid: {} vs {}: FID {:.4f} ({} features; {} and {} images), diversity "
                  "{:.4f} and {:.4f} ({} embedding)",
                  real_, synthetic_, fid, features_, real.images, synthetic.images, diversity_real,
                  diversity_synthetic, features_ == "encoder" ? "encoder" : diversity_embedding_));
  EvalResult result;
  result.tables.push_back(std::move(table));
  return result;
}

}  // namespace mdlab::fid
