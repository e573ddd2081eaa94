// transformers' CLIPVisionModelWithProjection (the image encoder of Stable Diffusion image
// variations and of Versatile Diffusion) with transformers' state-dict names
// (`vision_model.encoder.layers.0.self_attn.q_proj.weight`, `visual_projection.weight`, ...),
// built from its config.json.
//
// Layout: pixel_values float [N, 3, S, S] (S = image_size, CLIP-normalised); hidden states
// [N, 1 + (S / patch)^2, hidden_size] (token 0: the class token); image_embeds
// [N, projection_dim]; projected tokens [N, T, projection_dim].
#pragma once

#include "model_folder.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include <string>
#include <vector>

namespace mdlab::diffusion {

/// The settings of a CLIPVisionConfig (image_encoder/config.json).
struct ClipVisionConfig {
  int64_t hidden_size = 768;              ///< token width
  int64_t intermediate_size = 3072;       ///< MLP width
  int64_t num_hidden_layers = 12;         ///< encoder layers
  int64_t num_attention_heads = 12;       ///< heads per layer
  int64_t image_size = 224;               ///< input side in pixels
  int64_t patch_size = 32;                ///< patch side in pixels
  int64_t projection_dim = 512;           ///< width of image_embeds
  int64_t num_channels = 3;               ///< input channels
  double layer_norm_eps = 1e-5;           ///< LayerNorm eps
  std::string hidden_act = "quick_gelu";  ///< quick_gelu | gelu

  /// transformers' defaults.
  ClipVisionConfig() = default;
  /// Reads and validates config.json (a CLIPVisionConfig, or a CLIPConfig's vision_config).
  explicit ClipVisionConfig(const JsonConfig& config);
};

/// What the encoder returns.
struct ClipVisionOutput {
  torch::Tensor image_embeds;                ///< [N, projection_dim]
  torch::Tensor last_hidden_state;           ///< [N, T, hidden_size]
  torch::Tensor pooler_output;               ///< [N, hidden_size]: post_layernorm(class token)
  std::vector<torch::Tensor> hidden_states;  ///< encoder input and each layer's output (if asked)
};

/// CLIPVisionModelWithProjection.
class ClipVisionModelImpl : public torch::nn::Module {
 public:
  /// The network of `config`, randomly initialised.
  explicit ClipVisionModelImpl(const ClipVisionConfig& config);
  /// The outputs for `pixel_values`; `all_hidden_states` also keeps every layer's output.
  ClipVisionOutput forward(const torch::Tensor& pixel_values, bool all_hidden_states = false);
  /// visual_projection(post_layernorm(h)) of every token of hidden states h [N, T, hidden_size]
  /// -> [N, T, projection_dim] (Versatile Diffusion conditions on all tokens, not just CLS).
  torch::Tensor project_tokens(const torch::Tensor& hidden_states);
  /// The config it was built from.
  const ClipVisionConfig& config() const { return config_; }

 private:
  ClipVisionConfig config_;
  torch::Tensor class_embedding;
  torch::nn::Conv2d patch_embedding{nullptr};
  torch::nn::Embedding position_embedding{nullptr};
  torch::nn::LayerNorm pre_layrnorm{nullptr}, post_layernorm{nullptr};
  torch::nn::ModuleList layers{nullptr};
  torch::nn::Linear visual_projection{nullptr};
};
TORCH_MODULE(ClipVisionModel);

/// The encoder of component folder `dir` in `dtype` on `device`.
std::shared_ptr<ClipVisionModelImpl> load_clip_vision(const std::filesystem::path& dir,
                                                      torch::Device device,
                                                      torch::ScalarType dtype);

}  // namespace mdlab::diffusion
