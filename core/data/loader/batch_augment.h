// BatchAugment: the second half of a deferred view pipeline (view_transform.h), run on a
// whole batch with LibTorch operations on whatever device the batch lives on. The loader's
// workers only decode and crop; flip, colour jitter, grayscale, blur, solarize and the
// normalisation run here, batched — on a GPU that moves most of the per-view arithmetic off
// the CPU, which is what limits the two-view throughput (performance.md, "move uint8 crops to
// the device").
//
// Input: the crops, uint8 [B, C, S, S] (CHW per sample, C = 1 or 3), and the workers' draws,
// float64 [B, view_param::count] on the CPU (view_transform.h). Output: float32 [B, C, S, S]
// on the crops' device, normalised with the pipeline's mean and std.
//
// Semantics are the CPU pipeline's, op by op (color.h, blur.h, normalize.h): the blends, gray
// levels, the contrast mean and PIL's 8-bit HSV round trip of the hue are computed with the
// same float32 / float64 operations, so those steps give the CPU path's bytes. The blur is
// torchvision's sum in float32 done as two 1-D passes (as the CPU path), with all taps and
// without fused multiply-adds, so a value that lies within float rounding of a .5 boundary can
// round the other way: at most one level, on a few bytes in 100,000 (tests/unit/loader).
#pragma once

#include "augment_config.h"

#include <torch/types.h>

namespace mdlab {

/// The device half of one deferred view slot.
class BatchAugment {
 public:
  /// Validates `config` (throws mdlab::Error naming the bad key) and builds its tables.
  explicit BatchAugment(AugmentConfig config);
  /// The pipeline.
  const AugmentConfig& config() const { return config_; }
  /// Finishes the views of `crops` (uint8 [B, C, S, S], any device) with the draws in
  /// `params` (float64 [B, view_param::count], CPU or the crops' device). Throws
  /// mdlab::Error for a shape or dtype that does not fit.
  torch::Tensor operator()(const torch::Tensor& crops, const torch::Tensor& params) const;

 private:
  AugmentConfig config_;
  torch::Tensor table1_;  // float32 [1, 256]: normalised value per byte, 1-channel views (CPU)
  torch::Tensor table3_;  // float32 [3, 256]: per channel and byte, 3-channel views (CPU)
};

}  // namespace mdlab
