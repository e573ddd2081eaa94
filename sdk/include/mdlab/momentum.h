// Momentum encoders (BYOL, DINO, MoCo): the cosine momentum schedule and the exponential
// moving average of one parameter list into another.
#pragma once

#include <mdlab/export.h>

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace mdlab {

/// The momentum at `step` of `total_steps`: a cosine from `base` (step 0) towards 1 (reached
/// at step total_steps), 1 - (1 - base) (cos(pi step / total) + 1) / 2, as BYOL's schedule and
/// DINO's utils.cosine_scheduler(base, 1, ...). Steps past the end give the last value.
MDLAB_SDK_API double cosine_momentum(double base, int64_t step, int64_t total_steps);

/// target = m * target + (1 - m) * source, element-wise over two lists of equally shaped
/// tensors (one fused update per list on CUDA); no autograd.
MDLAB_SDK_API void ema_update(std::vector<torch::Tensor>& target,
                              const std::vector<torch::Tensor>& source, double m);

}  // namespace mdlab
