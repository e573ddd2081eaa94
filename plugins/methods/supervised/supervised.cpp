#include "supervised.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

namespace mdlab::supervised {

Supervised::Supervised(const mdlab::Options& options, mdlab::Context&)
    : num_classes_(options.get_int("num_classes")),
      label_smoothing_(options.get_float("label_smoothing")) {
  MDLAB_CHECK(num_classes_ >= 2, "supervised: num_classes {} is below 2", num_classes_);
  // The schema's range is inclusive; 1 would spread all mass evenly and leave nothing to learn.
  MDLAB_CHECK(label_smoothing_ >= 0.0 && label_smoothing_ < 1.0,
              "supervised: label_smoothing {} is not in [0, 1)", label_smoothing_);
}

mdlab::OptionsSchema Supervised::options_schema() {
  mdlab::OptionsSchema s;
  s.add_int("num_classes", 10, "Number of classes of the labels (the head's outputs)")
      .range(2, 100000);
  s.add_float("label_smoothing", 0.0,
              "Label smoothing of the cross-entropy, in [0, 1) (0: plain cross-entropy)")
      .range(0.0, 1.0);
  return s;
}

std::vector<mdlab::ViewSlot> Supervised::view_slots() const {
  return {{"image", "", 0, "supervised"}};
}

void Supervised::attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) {
  MDLAB_CHECK(backbone != nullptr, "supervised: attach() needs a backbone");
  MDLAB_CHECK(!backbone_, "supervised: attach() called twice");
  backbone_ = register_module("backbone", std::move(backbone));
  const int64_t dim = backbone_->feature_dim();
  MDLAB_CHECK(dim > 0, "supervised: backbone reports feature_dim {}", dim);
  head_ = register_module("head", torch::nn::Linear(dim, num_classes_));

  // PyTorch's default Linear init (U(+-1/sqrt(fan_in)) for weight and bias), drawn from the
  // run's own stream so the head does not depend on the global generator.
  torch::NoGradGuard no_grad;
  auto generator = context.generator("supervised.head");
  const double bound = 1.0 / std::sqrt(static_cast<double>(dim));
  head_->weight.uniform_(-bound, bound, generator);
  head_->bias.uniform_(-bound, bound, generator);

  // Put the head where the backbone lives (the host may have moved it already).
  auto params = backbone_->parameters();
  if (!params.empty())
    head_->to(params.front().device(), params.front().scalar_type());
  else
    head_->to(context.device());
}

torch::Tensor Supervised::logits(const torch::Tensor& images) {
  MDLAB_CHECK(backbone_ && head_, "supervised: used before attach()");
  return head_->forward(backbone_->forward(images));
}

mdlab::LossOutput Supervised::compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo&) {
  MDLAB_CHECK(batch.views.size() == 1, "supervised: expected 1 view (\"image\"), got {}",
              batch.views.size());
  const auto& images = batch.views[0];
  MDLAB_CHECK(images.defined() && images.dim() == 4 && images.size(0) > 0,
              "supervised: the \"image\" view must be a non-empty [N, C, H, W] batch");
  MDLAB_CHECK(
      batch.labels.defined() && batch.labels.dim() == 1 && batch.labels.size(0) == images.size(0),
      "supervised: labels must be [N] for {} images", images.size(0));
  MDLAB_CHECK(backbone_ && head_, "supervised: used before attach()");
  auto features = backbone_->forward(images);
  auto out = head_->forward(features);
  auto labels = batch.labels.to(out.device(), torch::kLong);

  // One host sync for all three checks: a bad label would otherwise surface as an index
  // error deep inside the loss (or a device assert on CUDA).
  auto known = labels.ge(0);
  auto stats = torch::stack({labels.min(), labels.max(), known.sum()}).cpu();
  const int64_t lo = stats[0].item<int64_t>(), hi = stats[1].item<int64_t>();
  const int64_t n_known = stats[2].item<int64_t>();
  MDLAB_CHECK(lo >= -1 && hi < num_classes_,
              "supervised: labels range over [{}, {}] but num_classes is {} (-1 marks unknown)", lo,
              hi, num_classes_);
  MDLAB_CHECK(n_known > 0, "supervised: no labelled image in the batch (all labels are -1)");

  namespace F = torch::nn::functional;
  auto loss = F::cross_entropy(
      out, labels, F::CrossEntropyFuncOptions().ignore_index(-1).label_smoothing(label_smoothing_));

  torch::Tensor accuracy;
  {
    torch::NoGradGuard no_grad;
    auto correct = out.argmax(1).eq(labels).logical_and(known);
    accuracy = correct.sum().to(torch::kFloat) / static_cast<double>(n_known);
  }
  return {loss, {{"ce", loss.detach()}, {"accuracy", accuracy}}, features.detach()};
}

}  // namespace mdlab::supervised
