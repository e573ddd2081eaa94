// Barlow Twins (Zbontar et al. 2021): the cross-correlation matrix of the two branches'
// embeddings, each normalised by BatchNorm1d without affine parameters, is pushed to the
// identity: loss = sum_i (c_ii - 1)^2 + lambda * sum_{i != j} c_ij^2.
//
// Layouts: views [N, C, H, W]; embeddings [N, D]; c [D, D]. Parameter names are those of the
// official code: "projector.0" (Linear, no bias), "projector.1" (BatchNorm1d), "projector.2"
// (ReLU), ... "projector.<last>" (Linear, no bias), and "bn" (the affine-free BatchNorm1d,
// whose running statistics are buffers "bn.running_mean", "bn.running_var",
// "bn.num_batches_tracked").
//
// Several processes: the normalisation uses the statistics of the global batch and c is
// summed over ranks, both through autograd-correct all-reduces (collectives.h), so gradients
// are those of one process on the global batch (times the world size, which data-parallel
// averaging removes) — not shrunk by the world size as in libraries that all-reduce without
// autograd.
//
// Internal header of the barlow_twins plugin, shared with its unit tests.
#pragma once

#include <mdlab/batch_norm.h>
#include <mdlab/collectives.h>
#include <mdlab/context.h>
#include <mdlab/method.h>
#include <mdlab/options.h>

#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace mdlab::barlow_twins {

/// The loss terms of one batch.
struct BarlowLoss {
  torch::Tensor loss;      ///< scale * (on_diag + lambda * off_diag)
  torch::Tensor on_diag;   ///< sum_i (c_ii - 1)^2
  torch::Tensor off_diag;  ///< sum_{i != j} c_ij^2
};

/// The loss of embeddings `z1`, `z2` ([B, D] each, this rank's rows) with `lambda` and
/// `scale`: c = cross_correlation of the batch-standardised embeddings (losses.h),
/// on_diag = sum (c_ii - 1)^2, off_diag = sum of the squared off_diagonal(c).
BarlowLoss barlow_loss(const torch::Tensor& z1, const torch::Tensor& z2, double lambda,
                       double scale, Collectives& collectives);

/// Barlow Twins as a Method.
class BarlowTwins final : public mdlab::Method {
 public:
  /// The plugin constructor: options as declared by options_schema().
  BarlowTwins(const mdlab::Options& options, mdlab::Context& context);
  /// The options the plugin accepts.
  static mdlab::OptionsSchema options_schema();
  /// "view1" (preset "byol1": always blurred, never solarized) and "view2" ("byol2": rarely
  /// blurred, solarized with p 0.2), the official asymmetric pair; under mixdiff view1 is
  /// real, view2 synthetic.
  std::vector<mdlab::ViewSlot> view_slots() const override;
  /// Keeps `backbone`; builds the projector (from the "barlow_twins.projector" stream) and
  /// the affine-free normalisation, on the backbone's device.
  void attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) override;
  /// The backbone.
  std::shared_ptr<mdlab::Backbone> encoder() const override { return backbone_; }
  /// Loss with terms "on_diag" and "off_diag"; features of view1 for the online probe.
  mdlab::LossOutput compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo& step) override;
  /// "projector_hidden<k>" (after each hidden layer's ReLU) and "projector" (the embedding),
  /// for the optional online probes on the projector.
  std::vector<std::pair<std::string, int64_t>> probe_layers() const override;
  /// The projector (null before attach()).
  torch::nn::Sequential& projector() { return projector_; }

 private:
  std::vector<int64_t> sizes_;
  double lambda_;
  double scale_;
  int64_t view_size_;
  mdlab::Collectives* collectives_;
  std::shared_ptr<mdlab::Backbone> backbone_;
  torch::nn::Sequential projector_{nullptr};
  mdlab::BatchNorm bn_{nullptr};
};

}  // namespace mdlab::barlow_twins
