// The supervised baseline: a linear classifier on the backbone's features trained with
// cross-entropy (optionally label-smoothed) on one view per image.
//
// Internal header of the supervised plugin, shared with its unit tests.
#pragma once

#include <mdlab/context.h>
#include <mdlab/method.h>
#include <mdlab/options.h>

#include <torch/nn/modules/linear.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace mdlab::supervised {

/// Cross-entropy training of backbone + linear head.
class Supervised final : public mdlab::Method {
 public:
  /// The plugin constructor: options as declared by options_schema().
  Supervised(const mdlab::Options& options, mdlab::Context& context);

  /// The options the plugin accepts.
  static mdlab::OptionsSchema options_schema();

  /// One slot, "image", at the dataset's size.
  std::vector<mdlab::ViewSlot> view_slots() const override;
  /// Keeps `backbone` as submodule "backbone" and builds "head" (Linear(D, num_classes)) on
  /// the backbone's device, initialised from the context's "supervised.head" stream.
  void attach(std::shared_ptr<mdlab::Backbone> backbone, mdlab::Context& context) override;
  /// The backbone.
  std::shared_ptr<mdlab::Backbone> encoder() const override { return backbone_; }
  /// Loss "ce" and top-1 "accuracy" of the batch; labels -1 are left out of both.
  mdlab::LossOutput compute_loss(const mdlab::Batch& batch, const mdlab::StepInfo& step) override;

  /// Class scores [N, num_classes] of images [N, C, H, W].
  torch::Tensor logits(const torch::Tensor& images);
  /// The classifier head (null before attach()).
  torch::nn::Linear& head() { return head_; }

 private:
  int64_t num_classes_;
  double label_smoothing_;
  std::shared_ptr<mdlab::Backbone> backbone_;
  torch::nn::Linear head_{nullptr};
};

}  // namespace mdlab::supervised
