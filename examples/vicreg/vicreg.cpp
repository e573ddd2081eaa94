// VICReg (Bardes, Ponce, LeCun, ICLR 2022) as an mdlab method plugin built outside the mdlab
// tree, from the SDK's building blocks only: an expander (mlp_head) on both views; invariance
// (MSE between the views), variance (hinge on each dimension's std) and covariance
// (off-diagonal covariances) terms, the last two over the global batch of every process.
#include <mdlab/error.h>
#include <mdlab/heads.h>
#include <mdlab/losses.h>
#include <mdlab/plugin.h>

#include <torch/torch.h>

namespace {

class Vicreg final : public mdlab::Method {
 public:
  Vicreg(const mdlab::Options& o, mdlab::Context& context)
      : widths_(o.get_int_list("projector")),
        sim_(o.get_float("sim_coeff")),
        std_(o.get_float("std_coeff")),
        cov_(o.get_float("cov_coeff")),
        view_size_(o.get_int("view_size")),
        collectives_(&context.collectives()) {}

  static mdlab::OptionsSchema options_schema() {
    mdlab::OptionsSchema s;
    s.add_int_list("projector", {8192, 8192, 8192}, "Widths of the expander's layers")
        .range(1, 65536);
    s.add_float("sim_coeff", 25.0, "Weight of the invariance term").at_least(0.0);
    s.add_float("std_coeff", 25.0, "Weight of the variance term").at_least(0.0);
    s.add_float("cov_coeff", 1.0, "Weight of the covariance term").at_least(0.0);
    s.add_int("view_size", 224, "Side of both views (0: the dataset's)").range(0, 16384);
    return s;
  }

  // BYOL's asymmetric augmentation pair, as the official code.
  std::vector<mdlab::ViewSlot> view_slots() const override {
    return {{"view1", "", view_size_, "byol1"}, {"view2", "", view_size_, "byol2"}};
  }

  void attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) override {
    backbone_ = register_module("backbone", std::move(backbone));
    mdlab::MlpHeadSpec spec;  // Linear, BatchNorm, ReLU, ..., Linear without bias (official)
    spec.widths = widths_;
    spec.last_bias = false;
    auto generator = context.generator("vicreg.projector");
    projector_ =
        register_module("projector", mdlab::mlp_head(backbone_->feature_dim(), spec, generator));
    auto params = backbone_->parameters();  // the host may have moved the backbone already
    projector_->to(params.empty() ? context.device() : params.front().device());
  }

  std::shared_ptr<mdlab::Backbone> encoder() const override { return backbone_; }

  mdlab::LossOutput compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo&) override {
    MDLAB_CHECK(batch.views.size() == 2, "vicreg: expected 2 views, got {}", batch.views.size());
    auto features = backbone_->forward(batch.views[0]);
    auto x = projector_->forward(features);
    auto y = projector_->forward(backbone_->forward(batch.views[1]));
    auto& all = *collectives_;
    auto invariance = torch::mse_loss(x, y);
    auto variance =
        (mdlab::variance_hinge(x, 1.0, 1e-4, all) + mdlab::variance_hinge(y, 1.0, 1e-4, all)) / 2;
    auto covariance = mdlab::covariance_penalty(x, all) + mdlab::covariance_penalty(y, all);
    return {sim_ * invariance + std_ * variance + cov_ * covariance,
            {{"invariance", invariance.detach()},
             {"variance", variance.detach()},
             {"covariance", covariance.detach()}},
            features,
            {}};
  }

 private:
  std::vector<int64_t> widths_;
  double sim_, std_, cov_;
  int64_t view_size_;
  mdlab::Collectives* collectives_;
  std::shared_ptr<mdlab::Backbone> backbone_;
  torch::nn::Sequential projector_{nullptr};
};

}  // namespace

MDLAB_PLUGIN(Vicreg, mdlab::Method, "vicreg", "1.0.0",
             "VICReg: invariance, variance and covariance terms on an expander (example plugin)")
