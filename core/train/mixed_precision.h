// Mixed precision for the training step.
//
// "fp32": nothing changes. "bf16": LibTorch's autocast runs eligible ops (convolutions,
// matmuls) in bfloat16 on the step's device type (CPU or CUDA); no loss scaling is needed
// because bf16 keeps fp32's exponent range. "fp16" (CUDA only): autocast to float16 with
// dynamic loss scaling as PyTorch's GradScaler does it: the loss is multiplied by the scale
// before backward, gradients are divided by it before the update, a step whose gradients hold
// inf/NaN is skipped and halves the scale, and every `growth_interval` clean steps double it.
// The scaler's state is part of a checkpoint, so resume stays exact.
#pragma once

#include <c10/core/Device.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mdlab {

/// Enables autocast for one device type while alive; restores the previous state after.
class AutocastGuard {
 public:
  /// Autocast to `dtype` (kBFloat16 or kHalf) on `device`'s type; `enabled` false does nothing.
  AutocastGuard(const c10::Device& device, c10::ScalarType dtype, bool enabled);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::ScalarType::Float;
};

/// Dynamic loss scaling for fp16 training.
class LossScaler {
 public:
  /// A scaler starting at `scale`, doubling after `growth_interval` clean steps.
  explicit LossScaler(double scale = 65536.0, int64_t growth_interval = 2000);
  /// loss * scale.
  torch::Tensor scale(const torch::Tensor& loss) const;
  /// Divides the gradients of `params` by the scale; true when all of them are finite (the
  /// optimizer may step), false when the step must be skipped. Updates the scale.
  bool unscale_and_update(const std::vector<torch::Tensor>& params);
  /// The current scale.
  double current() const { return scale_; }
  /// Clean steps since the last change of scale.
  int64_t growth_tracker() const { return growth_tracker_; }
  /// Restores a saved state.
  void restore(double scale, int64_t growth_tracker);

 private:
  double scale_;
  int64_t growth_interval_;
  int64_t growth_tracker_ = 0;
};

/// Autocast dtype of a precision name ("bf16" -> kBFloat16, "fp16" -> kHalf); kFloat for "fp32".
c10::ScalarType precision_dtype(const std::string& precision);

}  // namespace mdlab
