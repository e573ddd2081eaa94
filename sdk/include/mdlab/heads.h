// Projection and prediction heads as small composable blocks (lightly's ProjectionHead
// style): an MLP described by its layer widths, with optional BatchNorm and the activation in
// between, built with the reference implementations' child names ("0", "1", ...), so weights
// exchange with them through safetensors, and initialised from a seeded generator (the
// method's Context::generator stream), so a run's weights depend only on its seed.
//
// Layout of the built torch::nn::Sequential, for widths {h1, ..., hk, out}:
//   Linear(in, h1) [BatchNorm(h1) | Identity] Act ... Linear(hk, out) [BatchNorm(out)]
// with children numbered from 0. Input [N, in], output [N, out].
#pragma once

#include <mdlab/export.h>

#include <ATen/core/Generator.h>
#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mdlab {

/// How an MLP head is built.
struct MDLAB_SDK_API MlpHeadSpec {
  std::vector<int64_t> widths;   ///< output width of each Linear; the last is the head's
  bool bias = true;              ///< biases on the hidden Linears
  bool last_bias = true;         ///< a bias on the last Linear
  bool batch_norm = true;        ///< BatchNorm (mdlab::BatchNorm) after each hidden Linear
  bool keep_norm_slot = false;   ///< without batch_norm, an Identity in its place (stable names)
  bool last_batch_norm = false;  ///< BatchNorm after the last Linear too
  bool last_batch_norm_affine = true;  ///< that BatchNorm's weight and bias
  std::string activation = "relu";     ///< after each hidden layer: "relu" or "gelu"
};

/// The MLP of `spec` reading `in` features. Each Linear's weight, then its bias, is drawn
/// from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with `generator`, in layer order (PyTorch's
/// default Linear init, reproducibly). Throws mdlab::Error for an empty width list, a width
/// below 1 or an unknown activation.
MDLAB_SDK_API torch::nn::Sequential mlp_head(int64_t in, const MlpHeadSpec& spec,
                                             at::Generator& generator);

}  // namespace mdlab
