// DINO's projection head (DINOHead of facebookresearch/dino vision_transformer.py): an MLP
// (Linear-[BN]-GELU repeated, then Linear to the bottleneck), L2 normalisation, and a
// weight-normalised Linear(bottleneck, out_dim, bias=False) whose per-row norms (weight_g) start
// at 1 and, with norm_last_layer, stay 1 (weight_g not trained).
//
// Internal header of the dino plugin, shared with its unit tests. Submodules and parameters
// carry DINO's names, so named_parameters() are DINO's state_dict keys: "mlp.0.weight",
// "mlp.0.bias", ... ("mlp.weight"/"mlp.bias" when nlayers is 1), "last_layer.weight_g" [out, 1],
// "last_layer.weight_v" [out, bottleneck].
// Layouts: input features [N, in_dim]; bottleneck [N, bottleneck_dim] (unit rows); output
// logits [N, out_dim].
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

namespace mdlab::dino {

/// Shape of a DinoHead; mirrors the plugin's head options.
struct DinoHeadConfig {
  int64_t in_dim = 384;          ///< width of the backbone features
  int64_t out_dim = 65536;       ///< number of prototypes K (logits per image)
  int64_t hidden_dim = 2048;     ///< width of the hidden MLP layers
  int64_t bottleneck_dim = 256;  ///< width before the L2 normalisation
  int64_t nlayers = 3;          ///< Linear layers of the MLP (1: a single Linear to the bottleneck)
  bool use_bn = false;          ///< BatchNorm1d after each hidden Linear
  bool norm_last_layer = true;  ///< keep the last layer's row norms fixed at 1
};

/// The weight-normalised last layer: weight = weight_g * weight_v / ||weight_v|| (row-wise),
/// as torch.nn.utils.weight_norm(nn.Linear(in, out, bias=False)) with dim 0.
class WeightNormLinearImpl : public torch::nn::Module {
 public:
  /// A layer mapping `in` to `out` features, weight_g = 1, weight_v uninitialised.
  WeightNormLinearImpl(int64_t in, int64_t out);
  /// x [N, in] -> [N, out].
  torch::Tensor forward(const torch::Tensor& x);
  /// The effective weight [out, in] (with autograd to weight_g and weight_v).
  torch::Tensor weight() const;

  torch::Tensor weight_g;  ///< row norms [out, 1]
  torch::Tensor weight_v;  ///< direction [out, in]
};
TORCH_MODULE(WeightNormLinear);

/// DINO's projection head.
class DinoHeadImpl : public torch::nn::Module {
 public:
  /// A head shaped by `config`, initialised as DINO does (trunc-normal std 0.02 MLP weights,
  /// zero biases, PyTorch's default uniform for weight_v, weight_g = 1) from `generator`.
  DinoHeadImpl(const DinoHeadConfig& config, at::Generator& generator);
  /// Logits [N, out_dim] of features [N, in_dim].
  torch::Tensor forward(const torch::Tensor& x);
  /// The configuration the head was built with.
  const DinoHeadConfig& config() const { return config_; }

  torch::nn::Sequential mlp{nullptr};     ///< the MLP when nlayers > 1 (null otherwise)
  torch::nn::Linear mlp_single{nullptr};  ///< the MLP when nlayers == 1 (null otherwise)
  WeightNormLinear last_layer{nullptr};   ///< the weight-normalised prototypes

 private:
  DinoHeadConfig config_;
};
TORCH_MODULE(DinoHead);

}  // namespace mdlab::dino
