#include "simclr.h"

#include <mdlab/error.h>
#include <mdlab/heads.h>
#include <mdlab/losses.h>

#include <torch/torch.h>

namespace mdlab::simclr {

SimClr::SimClr(const mdlab::Options& options, mdlab::Context& context)
    : hidden_dim_(options.get_int("proj_hidden_dim")),
      output_dim_(options.get_int("proj_output_dim")),
      projector_bn_(options.get_bool("projector_bn")),
      temperature_(options.get_float("temperature")),
      view_size_(options.get_int("view_size")),
      collectives_(&context.collectives()) {
  MDLAB_CHECK(temperature_ > 0, "simclr: temperature {} is not positive", temperature_);
}

mdlab::OptionsSchema SimClr::options_schema() {
  mdlab::OptionsSchema s;
  s.add_int("proj_hidden_dim", 2048, "Hidden width of the projector MLP").range(1, 65536);
  s.add_int("proj_output_dim", 128, "Output width of the projector (the NT-Xent space)")
      .range(1, 65536);
  s.add_bool("projector_bn", true, "BatchNorm1d after the projector's hidden layer");
  s.add_float("temperature", 0.2, "NT-Xent temperature (the paper's range: 0.1-0.5)")
      .range(1e-4, 100.0);
  s.add_int("view_size", 224,
            "Side of both views in pixels (0: the dataset's image size); [data.augment.*] "
            "tables override it")
      .range(0, 16384);
  return s;
}

std::vector<mdlab::ViewSlot> SimClr::view_slots() const {
  return {{"view1", "", view_size_, "simclr"}, {"view2", "", view_size_, "simclr"}};
}

void SimClr::attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) {
  MDLAB_CHECK(backbone != nullptr, "simclr: attach() needs a backbone");
  MDLAB_CHECK(!backbone_, "simclr: attach() called twice");
  backbone_ = register_module("backbone", std::move(backbone));
  const int64_t dim = backbone_->feature_dim();
  MDLAB_CHECK(dim > 0, "simclr: backbone reports feature_dim {}", dim);
  auto generator = context.generator("simclr.projector");
  // Linear, BatchNorm (or an identity, so names stay those of the reference layout), ReLU,
  // Linear.
  mdlab::MlpHeadSpec spec;
  spec.widths = {hidden_dim_, output_dim_};
  spec.batch_norm = projector_bn_;
  spec.keep_norm_slot = true;
  projector_ = register_module("projector", mdlab::mlp_head(dim, spec, generator));
  auto params = backbone_->parameters();
  projector_->to(params.empty() ? context.device() : params.front().device());
}

mdlab::LossOutput SimClr::compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo&) {
  MDLAB_CHECK(batch.views.size() == 2, "simclr: expected 2 views (view1, view2), got {}",
              batch.views.size());
  MDLAB_CHECK(batch.views[0].dim() == 4 && batch.views[0].size(0) == batch.views[1].size(0),
              "simclr: views must be [N, C, H, W] with one N, got {} and {}",
              c10::str(batch.views[0].sizes()), c10::str(batch.views[1].sizes()));
  MDLAB_CHECK(backbone_ && projector_, "simclr: used before attach()");
  const int64_t n = batch.views[0].size(0);
  torch::Tensor f0, f1;
  if (batch.views[0].sizes() == batch.views[1].sizes()) {
    // One pass for both views: BatchNorm statistics then cover the 2N images, as in the
    // reference implementations that concatenate the views.
    auto f = backbone_->forward(torch::cat({batch.views[0], batch.views[1]}));
    f0 = f.narrow(0, 0, n);
    f1 = f.narrow(0, n, n);
  } else {
    f0 = backbone_->forward(batch.views[0]);
    f1 = backbone_->forward(batch.views[1]);
  }
  // The projector layer by layer, keeping the hidden activations for the probes.
  torch::Tensor h = torch::cat({f0, f1}), hidden;
  size_t layer = 0;
  for (auto& module : *projector_) {
    h = module.forward(h);
    if (++layer == 3) hidden = h;  // Linear, BatchNorm (or identity), ReLU
  }
  auto loss = nt_xent(h.narrow(0, 0, n), h.narrow(0, n, n), temperature_, *collectives_);
  mdlab::LossOutput out;
  out.loss = loss;
  out.terms.emplace_back("nt_xent", loss.detach());
  out.features = f0;
  out.probe_features.emplace_back("projector_hidden", hidden.narrow(0, 0, n));
  out.probe_features.emplace_back("projector", h.narrow(0, 0, n));
  return out;
}

std::vector<std::pair<std::string, int64_t>> SimClr::probe_layers() const {
  return {{"projector_hidden", hidden_dim_}, {"projector", output_dim_}};
}

}  // namespace mdlab::simclr
