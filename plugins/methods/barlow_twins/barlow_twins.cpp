#include "barlow_twins.h"

#include <mdlab/error.h>
#include <mdlab/heads.h>
#include <mdlab/losses.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

namespace mdlab::barlow_twins {

BarlowLoss barlow_loss(const torch::Tensor& z1, const torch::Tensor& z2, double lambda,
                       double scale, Collectives& collectives) {
  MDLAB_CHECK(z1.dim() == 2 && z1.sizes() == z2.sizes(),
              "barlow_twins: needs two [B, D] embeddings of one shape, got {} and {}",
              c10::str(z1.sizes()), c10::str(z2.sizes()));
  const double eps = 1e-5;  // BatchNorm1d's default
  auto c = cross_correlation(standardize_over_batch(z1, eps, collectives),
                             standardize_over_batch(z2, eps, collectives), collectives);
  BarlowLoss out;
  out.on_diag = (torch::diagonal(c) - 1.0).pow(2).sum();
  out.off_diag = off_diagonal(c).pow(2).sum();
  out.loss = scale * (out.on_diag + lambda * out.off_diag);
  return out;
}

BarlowTwins::BarlowTwins(const mdlab::Options& options, mdlab::Context& context)
    : sizes_(options.get_int_list("projector")),
      lambda_(options.get_float("lambda")),
      scale_(options.get_float("scale_loss")),
      view_size_(options.get_int("view_size")),
      collectives_(&context.collectives()) {
  MDLAB_CHECK(!sizes_.empty(), "barlow_twins: `projector` needs at least one layer width");
  for (int64_t s : sizes_)
    MDLAB_CHECK(s > 0, "barlow_twins: projector width {} is not positive", s);
}

mdlab::OptionsSchema BarlowTwins::options_schema() {
  mdlab::OptionsSchema s;
  s.add_int_list("projector", {8192, 8192, 8192},
                 "Widths of the projector's layers (Linear without bias, then BatchNorm1d + "
                 "ReLU between layers), as the official `--projector 8192-8192-8192`")
      .range(1, 65536);
  s.add_float("lambda", 0.0051, "Weight of the off-diagonal (redundancy reduction) term")
      .range(0.0, 100.0);
  s.add_float("scale_loss", 1.0, "Multiplier of the whole loss (solo-learn's scale_loss)")
      .range(1e-6, 1e6);
  s.add_int("view_size", 224,
            "Side of both views in pixels (0: the dataset's image size); [data.augment.*] "
            "tables override it")
      .range(0, 16384);
  return s;
}

std::vector<mdlab::ViewSlot> BarlowTwins::view_slots() const {
  return {{"view1", "", view_size_, "byol1"}, {"view2", "", view_size_, "byol2"}};
}

void BarlowTwins::attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) {
  MDLAB_CHECK(backbone != nullptr, "barlow_twins: attach() needs a backbone");
  MDLAB_CHECK(!backbone_, "barlow_twins: attach() called twice");
  backbone_ = register_module("backbone", std::move(backbone));
  const int64_t dim = backbone_->feature_dim();
  MDLAB_CHECK(dim > 0, "barlow_twins: backbone reports feature_dim {}", dim);
  auto generator = context.generator("barlow_twins.projector");
  // Linear (no bias), BatchNorm, ReLU, ..., Linear (no bias), as the official code.
  mdlab::MlpHeadSpec spec;
  spec.widths = sizes_;
  spec.bias = false;
  spec.last_bias = false;
  projector_ = register_module("projector", mdlab::mlp_head(dim, spec, generator));
  const int64_t in = sizes_.back();
  mdlab::BatchNormOptions bn_options(in);
  bn_options.affine = false;
  bn_ = register_module("bn", mdlab::BatchNorm(bn_options));
  auto params = backbone_->parameters();
  const auto device = params.empty() ? context.device() : params.front().device();
  projector_->to(device);
  bn_->to(device);
}

mdlab::LossOutput BarlowTwins::compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo&) {
  MDLAB_CHECK(batch.views.size() == 2, "barlow_twins: expected 2 views (view1, view2), got {}",
              batch.views.size());
  MDLAB_CHECK(batch.views[0].dim() == 4 && batch.views[0].size(0) == batch.views[1].size(0),
              "barlow_twins: views must be [N, C, H, W] with one N, got {} and {}",
              c10::str(batch.views[0].sizes()), c10::str(batch.views[1].sizes()));
  MDLAB_CHECK(backbone_ && projector_, "barlow_twins: used before attach()");
  // Each branch goes through the network on its own, as in the official code: BatchNorm
  // statistics are those of one branch.
  auto f1 = backbone_->forward(batch.views[0]);
  auto f2 = backbone_->forward(batch.views[1]);
  // Branch 1 layer by layer, keeping the hidden activations for the probes.
  std::vector<std::pair<std::string, torch::Tensor>> probe_features;
  torch::Tensor z1 = f1;
  size_t layer = 0;
  for (auto& module : *projector_) {
    z1 = module.forward(z1);
    if (++layer % 3 == 0)  // Linear, BatchNorm, ReLU
      probe_features.emplace_back(fmt::format("projector_hidden{}", layer / 3 - 1), z1);
  }
  probe_features.emplace_back("projector", z1);
  auto z2 = projector_->forward(f2);
  auto terms = barlow_loss(z1, z2, lambda_, scale_, *collectives_);
  if (is_training()) {
    // The running statistics of the official affine-free BatchNorm (not used by the loss,
    // kept so the weights match the reference module's state dict).
    torch::NoGradGuard no_grad;
    for (const auto* z : {&z1, &z2}) {
      torch::Tensor mean, var;
      standardize_over_batch(z->detach(), 1e-5, *collectives_, &mean, &var);
      const double m = 0.1;
      bn_->running_mean.mul_(1 - m).add_(mean, m);
      bn_->running_var.mul_(1 - m).add_(var, m);
      bn_->num_batches_tracked.add_(1);
    }
  }
  mdlab::LossOutput out;
  out.loss = terms.loss;
  out.terms.emplace_back("on_diag", terms.on_diag.detach());
  out.terms.emplace_back("off_diag", terms.off_diag.detach());
  out.features = f1;
  out.probe_features = std::move(probe_features);
  return out;
}

std::vector<std::pair<std::string, int64_t>> BarlowTwins::probe_layers() const {
  std::vector<std::pair<std::string, int64_t>> layers;
  for (size_t i = 0; i + 1 < sizes_.size(); ++i)
    layers.emplace_back(fmt::format("projector_hidden{}", i), sizes_[i]);
  layers.emplace_back("projector", sizes_.back());
  return layers;
}

}  // namespace mdlab::barlow_twins
