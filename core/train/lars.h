// LARS (layer-wise adaptive rate scaling, You et al. 2017) as the SSL reference code uses it
// (solo-learn's LARS): per parameter tensor, with p the weights and g the gradient,
//   trust = eta * ||p|| / (||g|| + weight_decay * ||p|| + eps)   (when ||p||, ||g|| > 0)
//   [clip_lr: trust = min(trust / lr, 1)]
//   d = trust * (g + weight_decay * p)
// for tensors with `adapt` on; tensors with `adapt` off (biases and norm parameters, via
// ParamGroup::lars_adaptation) take d = g, with no weight decay either. Then SGD momentum:
//   buf = momentum * buf + d   (buf = d at the first step);   p -= lr * buf.
// Optimizer state (momentum buffers) saves and loads with torch::save / torch::load.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/optim/serialize.h>
#include <torch/serialize/archive.h>

namespace mdlab {

/// Options of one LARS parameter group.
struct LarsOptions : public torch::optim::OptimizerCloneableOptions<LarsOptions> {
  /// Options with learning rate `lr`.
  explicit LarsOptions(double lr = 0.1);
  TORCH_ARG(double, lr);                ///< learning rate
  TORCH_ARG(double, momentum) = 0.9;    ///< heavy-ball momentum
  TORCH_ARG(double, weight_decay) = 0;  ///< L2 coefficient (adapted groups only)
  TORCH_ARG(double, eta) = 0.02;        ///< trust coefficient
  TORCH_ARG(double, eps) = 1e-8;        ///< denominator guard
  TORCH_ARG(bool, clip_lr) = false;     ///< clip the trust ratio by the learning rate
  TORCH_ARG(bool, adapt) = true;        ///< apply the trust ratio and weight decay

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
};

/// Momentum buffer of one parameter.
struct LarsParamState : public torch::optim::OptimizerCloneableParamState<LarsParamState> {
  TORCH_ARG(torch::Tensor, momentum_buffer);  ///< running update direction

 public:
  void serialize(torch::serialize::InputArchive& archive) override;
  void serialize(torch::serialize::OutputArchive& archive) const override;
};

/// The LARS optimizer.
class Lars : public torch::optim::Optimizer {
 public:
  /// An optimizer over `groups` (each with its own LarsOptions), defaults for the rest.
  Lars(std::vector<torch::optim::OptimizerParamGroup> groups, LarsOptions defaults);
  /// One update of every parameter with a gradient.
  torch::Tensor step(LossClosure closure = nullptr) override;
  /// Writes options and momentum buffers.
  void save(torch::serialize::OutputArchive& archive) const override;
  /// Reads what save() wrote.
  void load(torch::serialize::InputArchive& archive) override;
};

}  // namespace mdlab
