// Momentum encoders (BYOL, DINO, MoCo): the cosine momentum schedule, the exponential
// moving average of one parameter list into another, and MomentumEncoder, which keeps target
// networks following their online twins.
#pragma once

#include <mdlab/backbone.h>
#include <mdlab/context.h>
#include <mdlab/export.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string_view>
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

/// Copies `from`'s parameters and buffers into `to`, pairing them in registration order (as
/// to.load_state_dict(from.state_dict())). Throws mdlab::Error naming `what` and both sides
/// when the counts, names or shapes differ (the two must be one architecture).
MDLAB_SDK_API void copy_module_state(const torch::nn::Module& from, torch::nn::Module& to,
                                     std::string_view what);

/// The backbone of a target network for `online` (BYOL's target, DINO's teacher): a new one
/// from Context::create_backbone(), checked to be another object of the same feature width.
/// Its weights are its own until MomentumEncoder::follow() copies the online ones. Throws
/// mdlab::Error naming `what` ("byol target") when the context cannot make a fitting one.
MDLAB_SDK_API std::shared_ptr<Backbone> create_twin_backbone(Context& context,
                                                             const Backbone& online,
                                                             std::string_view what);

/// Target networks that follow online ones by EMA (BYOL's target network, DINO's teacher,
/// MoCo's key encoder). Usage, in Method::attach and after_optimizer_step:
///   momentum_.follow(*backbone_, *target_backbone_, "backbone");
///   momentum_.update(cosine_momentum(base, step.step, step.total_steps));
/// Target buffers (BatchNorm statistics) are copied once and then left to the target's own
/// forward passes, as in BYOL and DINO.
class MDLAB_SDK_API MomentumEncoder {
 public:
  /// Makes `target` a copy of `online` (copy_module_state), turns its parameters' gradients
  /// off, and adds the pair to those update() moves. Both stay owned by the caller, which
  /// registers them as submodules as usual.
  void follow(const torch::nn::Module& online, torch::nn::Module& target, std::string_view what);
  /// target = m * target + (1 - m) * online over every followed pair's parameters.
  void update(double m);
  /// True before the first follow().
  bool empty() const { return target_.empty(); }

 private:
  std::vector<torch::Tensor> online_;
  std::vector<torch::Tensor> target_;
};

}  // namespace mdlab
