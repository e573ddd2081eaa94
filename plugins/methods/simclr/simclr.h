// SimCLR (Chen et al. 2020): two views per image through backbone + MLP projector; the
// NT-Xent loss makes each view pick its partner among the 2N - 1 other views of the batch.
//
// Layouts: views [N, C, H, W]; projections [N, proj_output_dim]. Parameter names: the
// backbone's own, then "projector.0" (Linear), "projector.1" (BatchNorm1d, when
// projector_bn), "projector.3" (Linear) — solo-learn's / the paper's projector layout.
//
// Internal header of the simclr plugin, shared with its unit tests.
#pragma once

#include <mdlab/collectives.h>
#include <mdlab/context.h>
#include <mdlab/method.h>
#include <mdlab/options.h>

#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace mdlab::simclr {

/// SimCLR as a Method.
class SimClr final : public mdlab::Method {
 public:
  /// The plugin constructor: options as declared by options_schema().
  SimClr(const mdlab::Options& options, mdlab::Context& context);
  /// The options the plugin accepts.
  static mdlab::OptionsSchema options_schema();
  /// "view1" and "view2" (preset "simclr", 224 px); under mixdiff view1 is real, view2
  /// synthetic.
  std::vector<mdlab::ViewSlot> view_slots() const override;
  /// Keeps `backbone` and builds the projector, initialised from the "simclr.projector"
  /// stream, on the backbone's device.
  void attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) override;
  /// The backbone.
  std::shared_ptr<mdlab::Backbone> encoder() const override { return backbone_; }
  /// Loss "nt_xent"; features of view1 for the online probe.
  mdlab::LossOutput compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo& step) override;
  /// "projector_hidden" (after the hidden layer's ReLU) and "projector" (the output), for
  /// the optional online probes on the projector.
  std::vector<std::pair<std::string, int64_t>> probe_layers() const override;
  /// The projector (null before attach()).
  torch::nn::Sequential& projector() { return projector_; }

 private:
  int64_t hidden_dim_;
  int64_t output_dim_;
  bool projector_bn_;
  double temperature_;
  int64_t view_size_;
  mdlab::Collectives* collectives_;
  std::shared_ptr<mdlab::Backbone> backbone_;
  torch::nn::Sequential projector_{nullptr};
};

}  // namespace mdlab::simclr
