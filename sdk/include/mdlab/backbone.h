// Backbone: the encoder SSL trains and evaluators probe.
//
// Layout: forward() takes images [N, C, H, W] float32 (normalised, on the module's device)
// and returns features [N, D] with D = feature_dim(). Parameter and buffer names are those
// of the reference implementation (torchvision for ResNets, DINO for ViTs), so
// named_parameters()/named_buffers() are the reference state_dict keys.
#pragma once

#include <mdlab/export.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>

namespace mdlab {

/// An image encoder; a torch::nn::Module whose parameters are trained by a Method.
class MDLAB_SDK_API Backbone : public torch::nn::Module {
 public:
  ~Backbone() override;
  /// Features [N, D] of images [N, C, H, W].
  virtual torch::Tensor forward(const torch::Tensor& images) = 0;
  /// D, the width of the features.
  virtual int64_t feature_dim() const = 0;
  /// Attention of the last block [N, heads, tokens, tokens] for models that have it.
  virtual std::optional<torch::Tensor> last_attention(const torch::Tensor& images);
};

}  // namespace mdlab
