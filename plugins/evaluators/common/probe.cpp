#include "probe.h"

#include <mdlab/error.h>

#include <cmath>

namespace mdlab::eval {

Accuracy accuracy(const torch::Tensor& logits, const torch::Tensor& labels) {
  Accuracy a;
  a.samples = logits.size(0);
  if (a.samples == 0) return a;
  const int64_t k = std::min<int64_t>(5, logits.size(1));
  const torch::Tensor top = std::get<1>(logits.topk(k, 1));
  const torch::Tensor hit = top.eq(labels.to(top.device()).view({-1, 1}));
  a.correct = hit.select(1, 0).sum().item<int64_t>();
  a.correct5 = hit.any(1).sum().item<int64_t>();
  a.top1 = static_cast<double>(a.correct) / static_cast<double>(a.samples);
  a.top5 = static_cast<double>(a.correct5) / static_cast<double>(a.samples);
  return a;
}

int64_t steps_for_epochs(int64_t n, int64_t batch_size, int64_t epochs) {
  return epochs * ((n + batch_size - 1) / batch_size);
}

void check_feature_set(const FeatureSet& set, const std::string& what) {
  MDLAB_CHECK(set.features.defined() && set.features.dim() == 2 && set.features.size(0) > 0,
              "{} has no samples (an empty split cannot be measured)", what);
  MDLAB_CHECK(set.labels.defined() && set.labels.numel() == set.features.size(0),
              "{}: {} labels for {} feature rows", what,
              set.labels.defined() ? set.labels.numel() : 0, set.features.size(0));
  const int64_t lo = set.labels.min().item<int64_t>(), hi = set.labels.max().item<int64_t>();
  MDLAB_CHECK(lo >= 0 && hi < set.num_classes,
              "{}: labels span [{}, {}] but the split has {} classes (unlabelled samples "
              "cannot be measured)",
              what, lo, hi, set.num_classes);
}

FeatureSet extract_features(Backbone& encoder, EvalData& data, const std::string& split,
                            c10::Device device) {
  torch::NoGradGuard no_grad;
  auto stream = data.open(split);
  std::vector<torch::Tensor> features, labels;
  torch::Tensor x, y;
  while (stream->next(x, y)) {
    features.push_back(encoder.forward(x.to(device)).to(torch::kCPU, torch::kFloat));
    labels.push_back(y.clone());
  }
  MDLAB_CHECK(!features.empty(), "split '{}' is empty", split);
  return {torch::cat(features), torch::cat(labels), stream->num_classes()};
}

LinearProbe::LinearProbe(int64_t dim, int64_t classes, ProbeSettings settings, uint64_t seed,
                         c10::Device device)
    : settings_(std::move(settings)), device_(device), generator_(make_cpu_generator(seed)) {
  MDLAB_CHECK(settings_.optimizer == "adamw" || settings_.optimizer == "sgd",
              "probe optimizer '{}' is neither \"adamw\" nor \"sgd\"", settings_.optimizer);
  MDLAB_CHECK(settings_.schedule == "constant" || settings_.schedule == "cosine",
              "probe schedule '{}' is neither \"constant\" nor \"cosine\"", settings_.schedule);
  MDLAB_CHECK(settings_.feature_norm == "none" || settings_.feature_norm == "l2" ||
                  settings_.feature_norm == "standardize",
              "probe feature_norm '{}' is not one of none, l2, standardize",
              settings_.feature_norm);
  MDLAB_CHECK(dim > 0 && classes > 1,
              "a probe needs features (got width {}) and at least 2 "
              "classes (got {})",
              dim, classes);
  MDLAB_CHECK(settings_.batch_size > 0, "probe batch_size must be positive");
  weight_ = (torch::randn({classes, dim}, generator_, torch::kFloat) * 0.01)
                .to(device_)
                .set_requires_grad(true);
  bias_ = torch::zeros({classes}, torch::TensorOptions(device_)).set_requires_grad(true);
  std::vector<torch::Tensor> params{weight_, bias_};
  if (settings_.optimizer == "adamw") {
    optimizer_ = std::make_unique<torch::optim::AdamW>(
        params, torch::optim::AdamWOptions(settings_.lr).weight_decay(settings_.weight_decay));
  } else {
    optimizer_ =
        std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(settings_.lr)
                                                        .momentum(settings_.momentum)
                                                        .weight_decay(settings_.weight_decay));
  }
}

torch::Tensor LinearProbe::prepare(const torch::Tensor& features) {
  torch::Tensor x = features.to(device_, torch::kFloat);
  if (settings_.feature_norm == "l2")
    return torch::nn::functional::normalize(x,
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
  if (settings_.feature_norm == "standardize") {
    if (!mean_.defined()) {
      mean_ = x.mean(0, true);
      std_ = x.std(0, false, true).clamp_min(1e-6);
    }
    return (x - mean_) / std_;
  }
  return x;
}

void LinearProbe::train(const torch::Tensor& features, const torch::Tensor& labels, int64_t steps,
                        int64_t total_steps, const std::function<void(int64_t)>& on_step) {
  // Evaluations run under NoGradGuard (the encoder is frozen); the probe itself learns.
  torch::AutoGradMode grad_on(true);
  const int64_t n = features.size(0);
  MDLAB_CHECK(n > 0 && labels.numel() == n, "probe: {} feature rows for {} labels", n,
              labels.numel());
  torch::Tensor x = prepare(features);
  torch::Tensor y = labels.to(device_, torch::kLong);
  if (!order_.defined() || order_.size(0) != n) {
    order_ = torch::randperm(n, generator_, torch::kLong);
    cursor_ = 0;
  }
  for (int64_t s = 0; s < steps; ++s) {
    if (cursor_ >= n) {
      order_ = torch::randperm(n, generator_, torch::kLong);
      cursor_ = 0;
      ++epoch_;
    }
    const int64_t end = std::min(n, cursor_ + settings_.batch_size);
    const torch::Tensor idx = order_.slice(0, cursor_, end).to(device_);
    cursor_ = end;
    if (settings_.schedule == "cosine" && total_steps > 0) {
      const double lr =
          settings_.lr * 0.5 *
          (1.0 + std::cos(M_PI * static_cast<double>(step_) / static_cast<double>(total_steps)));
      for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
    }
    optimizer_->zero_grad();
    const torch::Tensor logits = torch::addmm(bias_, x.index_select(0, idx), weight_.t());
    torch::nn::functional::cross_entropy(logits, y.index_select(0, idx)).backward();
    optimizer_->step();
    ++step_;
    if (on_step) on_step(step_);
  }
}

Accuracy LinearProbe::evaluate(const torch::Tensor& features, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  const torch::Tensor x = prepare(features);
  Accuracy total;
  const int64_t chunk = 4096;
  for (int64_t i = 0; i < x.size(0); i += chunk) {
    const torch::Tensor logits = torch::addmm(bias_, x.slice(0, i, i + chunk), weight_.t());
    const Accuracy a = accuracy(logits, labels.slice(0, i, i + chunk));
    total.samples += a.samples;
    total.correct += a.correct;
    total.correct5 += a.correct5;
  }
  if (total.samples > 0) {
    total.top1 = static_cast<double>(total.correct) / static_cast<double>(total.samples);
    total.top5 = static_cast<double>(total.correct5) / static_cast<double>(total.samples);
  }
  return total;
}

}  // namespace mdlab::eval
