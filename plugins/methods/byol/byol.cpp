#include "byol.h"

#include <mdlab/error.h>
#include <mdlab/heads.h>
#include <mdlab/losses.h>

#include <torch/torch.h>

namespace mdlab::byol {

ByolLoss byol_loss(const torch::Tensor& p1, const torch::Tensor& p2, const torch::Tensor& t1,
                   const torch::Tensor& t2) {
  ByolLoss out;
  out.one_two = mdlab::normalized_mse(p1, t2.detach());
  out.two_one = mdlab::normalized_mse(p2, t1.detach());
  out.loss = out.one_two + out.two_one;
  return out;
}

Byol::Byol(const mdlab::Options& options, mdlab::Context&)
    : projector_widths_(options.get_int_list("projector")),
      predictor_widths_(options.get_int_list("predictor")),
      base_momentum_(options.get_float("base_momentum")),
      view_size_(options.get_int("view_size")) {
  MDLAB_CHECK(!projector_widths_.empty() && !predictor_widths_.empty(),
              "byol: `projector` and `predictor` need at least one layer width each");
  MDLAB_CHECK(predictor_widths_.back() == projector_widths_.back(),
              "byol: the predictor's output width {} must equal the projection width {} (the "
              "last entries of `predictor` and `projector`)",
              predictor_widths_.back(), projector_widths_.back());
}

mdlab::OptionsSchema Byol::options_schema() {
  mdlab::OptionsSchema s;
  s.add_int_list("projector", {4096, 256},
                 "Widths of the projector's layers (Linear, then BatchNorm1d + ReLU between "
                 "layers); the last is the projection width")
      .range(1, 65536);
  s.add_int_list("predictor", {4096, 256},
                 "Widths of the predictor's layers, the same MLP on the projection; the last "
                 "must equal the projection width")
      .range(1, 65536);
  s.add_float("base_momentum", 0.996,
              "Target EMA momentum at step 0, raised to 1 by a cosine over the run (BYOL's "
              "tau_base)")
      .range(0.0, 1.0);
  s.add_int("view_size", 224,
            "Side of both views in pixels (0: the dataset's image size); [data.augment.*] "
            "tables override it")
      .range(0, 16384);
  return s;
}

std::vector<mdlab::ViewSlot> Byol::view_slots() const {
  return {{"view1", "", view_size_, "byol1"}, {"view2", "", view_size_, "byol2"}};
}

void Byol::attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) {
  MDLAB_CHECK(backbone != nullptr, "byol: attach() needs a backbone");
  MDLAB_CHECK(!backbone_, "byol: attach() called twice");
  const int64_t dim = backbone->feature_dim();
  MDLAB_CHECK(dim > 0, "byol: backbone reports feature_dim {}", dim);
  auto target = mdlab::create_twin_backbone(context, *backbone, "byol target");

  // Haiku's MLP as the official code: biases everywhere, BatchNorm + ReLU between layers.
  mdlab::MlpHeadSpec projector;
  projector.widths = projector_widths_;
  mdlab::MlpHeadSpec predictor = projector;
  predictor.widths = predictor_widths_;
  auto projector_generator = context.generator("byol.projector");
  auto predictor_generator = context.generator("byol.predictor");
  auto target_generator = context.generator("byol.target_projector");  // overwritten below
  backbone_ = register_module("backbone", std::move(backbone));
  projector_ = register_module("projector", mdlab::mlp_head(dim, projector, projector_generator));
  predictor_ = register_module(
      "predictor", mdlab::mlp_head(projector_widths_.back(), predictor, predictor_generator));
  target_backbone_ = register_module("target_backbone", std::move(target));
  target_projector_ =
      register_module("target_projector", mdlab::mlp_head(dim, projector, target_generator));

  auto params = backbone_->parameters();
  const auto device = params.empty() ? context.device() : params.front().device();
  for (auto* head : {&projector_, &predictor_, &target_projector_}) (*head)->to(device);
  target_backbone_->to(device);
  momentum_.follow(*backbone_, *target_backbone_, "byol target backbone");
  momentum_.follow(*projector_, *target_projector_, "byol target projector");
}

mdlab::LossOutput Byol::compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo& step) {
  MDLAB_CHECK(backbone_, "byol: compute_loss() before attach()");
  MDLAB_CHECK(batch.views.size() == 2, "byol: expected 2 views (view1, view2), got {}",
              batch.views.size());
  MDLAB_CHECK(batch.views[0].dim() == 4 && batch.views[0].size(0) == batch.views[1].size(0),
              "byol: views must be [N, C, H, W] with one N, got {} and {}",
              c10::str(batch.views[0].sizes()), c10::str(batch.views[1].sizes()));
  // Each view goes through each network on its own: BatchNorm statistics are per view.
  auto f1 = backbone_->forward(batch.views[0]);
  auto z1 = projector_->forward(f1);
  auto z2 = projector_->forward(backbone_->forward(batch.views[1]));
  torch::Tensor t1, t2;
  {
    torch::NoGradGuard no_grad;
    t1 = target_projector_->forward(target_backbone_->forward(batch.views[0]));
    t2 = target_projector_->forward(target_backbone_->forward(batch.views[1]));
  }
  auto terms = byol_loss(predictor_->forward(z1), predictor_->forward(z2), t1, t2);
  mdlab::LossOutput out;
  out.loss = terms.loss;
  out.terms = {{"one_two", terms.one_two.detach()},
               {"two_one", terms.two_one.detach()},
               {"target_momentum",
                torch::full({}, mdlab::cosine_momentum(base_momentum_, step.step, step.total_steps),
                            terms.loss.options())}};
  out.features = f1;
  out.probe_features = {{"projector", z1}};
  return out;
}

void Byol::after_optimizer_step(const mdlab::StepInfo& step) {
  if (momentum_.empty()) return;
  momentum_.update(mdlab::cosine_momentum(base_momentum_, step.step, step.total_steps));
}

std::vector<std::pair<std::string, int64_t>> Byol::probe_layers() const {
  return {{"projector", projector_widths_.back()}};
}

}  // namespace mdlab::byol
