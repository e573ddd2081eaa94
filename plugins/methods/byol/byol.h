// BYOL (Grill et al. 2020): an online network (backbone, projector, predictor) regresses the
// projection a target network (backbone, projector) makes of the other view; the target
// follows the online weights by EMA with a cosine momentum schedule, and gets no gradient.
//   loss = mean_i [ ||p1_i/|p1_i| - t2_i/|t2_i| ||^2 + ||p2_i/|p2_i| - t1_i/|t1_i| ||^2 ]
// with p = predictor(projector(backbone(view))), t = target_projector(target_backbone(view)),
// as the official code's regression_loss summed over the two orderings.
//
// Layouts: views [N, C, H, W]; features [N, D]; projections and predictions [N, P]. Child
// names: "backbone", "projector", "predictor" (Linear "0", BatchNorm "1", ReLU "2", Linear
// "3" for the default [4096, 256]), "target_backbone", "target_projector".
//
// Written against the public SDK only (heads.h, losses.h, momentum.h); internal header of
// the byol plugin, shared with its unit tests.
#pragma once

#include <mdlab/context.h>
#include <mdlab/method.h>
#include <mdlab/momentum.h>
#include <mdlab/options.h>

#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mdlab::byol {

/// The loss of one batch and its two halves.
struct ByolLoss {
  torch::Tensor loss;     ///< one_two + two_one
  torch::Tensor one_two;  ///< view 1's prediction against view 2's target projection
  torch::Tensor two_one;  ///< view 2's prediction against view 1's target projection
};

/// BYOL's loss of online predictions `p1`, `p2` and target projections `t1`, `t2` ([N, P]
/// each; the targets are detached here).
ByolLoss byol_loss(const torch::Tensor& p1, const torch::Tensor& p2, const torch::Tensor& t1,
                   const torch::Tensor& t2);

/// BYOL as a Method.
class Byol final : public mdlab::Method {
 public:
  /// The plugin constructor: options as declared by options_schema().
  Byol(const mdlab::Options& options, mdlab::Context& context);
  /// The options the plugin accepts.
  static mdlab::OptionsSchema options_schema();
  /// "view1" (preset "byol1": always blurred, never solarized) and "view2" ("byol2": blurred
  /// with p 0.1, solarized with p 0.2), BYOL's asymmetric pair; under mixdiff view2 is
  /// synthetic.
  std::vector<mdlab::ViewSlot> view_slots() const override;
  /// Keeps `backbone`; builds the projector and predictor ("byol.projector",
  /// "byol.predictor" streams) and the target network (Context::create_backbone() and a
  /// projector copied from the online one), on the backbone's device.
  void attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) override;
  /// The online backbone.
  std::shared_ptr<mdlab::Backbone> encoder() const override { return backbone_; }
  /// Loss with terms "one_two", "two_one" and "target_momentum" (the momentum the update
  /// after this step uses); features and projection of view 1 for the online probes.
  mdlab::LossOutput compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo& step) override;
  /// target = m * target + (1 - m) * online, m = cosine_momentum(base_momentum, step).
  void after_optimizer_step(const mdlab::StepInfo& step) override;
  /// "projector": the online projection, for the optional online probe on it.
  std::vector<std::pair<std::string, int64_t>> probe_layers() const override;

 private:
  std::vector<int64_t> projector_widths_;
  std::vector<int64_t> predictor_widths_;
  double base_momentum_;
  int64_t view_size_;
  std::shared_ptr<mdlab::Backbone> backbone_;
  torch::nn::Sequential projector_{nullptr};
  torch::nn::Sequential predictor_{nullptr};
  std::shared_ptr<mdlab::Backbone> target_backbone_;
  torch::nn::Sequential target_projector_{nullptr};
  mdlab::MomentumEncoder momentum_;  // target <- online
};

}  // namespace mdlab::byol
