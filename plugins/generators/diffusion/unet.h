// diffusers' UNet2DConditionModel for the Stable Diffusion 1.x / 2.x block layout, built from
// its config.json, with diffusers' state-dict names.
//
// Layout: sample [N, in_channels, h, w] latents (h, w any size; SD uses image size / 8),
// timesteps [N] (or one value for all), encoder_hidden_states [N, L, cross_attention_dim]
// (image variations: L = 1, the CLIP image embedding), and with class_embed_type "projection"
// class_labels [N, projection_class_embeddings_input_dim] float (a diffusion autoencoder's
// semantic code) -> [N, out_channels, h, w], the prediction (noise for epsilon-prediction
// models).
#pragma once

#include "model_folder.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include <string>
#include <vector>

namespace mdlab::diffusion {

/// The settings of unet/config.json that shape the network. Construction from a JsonConfig
/// rejects options this implementation does not cover (naming file, key and value).
struct UNetConfig {
  int64_t in_channels = 4;                                 ///< latent channels in
  int64_t out_channels = 4;                                ///< prediction channels out
  int64_t sample_size = 64;                                ///< default latent size (image / 8)
  std::vector<std::string> down_block_types;               ///< CrossAttnDownBlock2D | DownBlock2D
  std::string mid_block_type = "UNetMidBlock2DCrossAttn";  ///< the only mid block supported
  std::vector<std::string> up_block_types;                 ///< UpBlock2D | CrossAttnUpBlock2D
  std::vector<int64_t> block_out_channels;                 ///< channels per resolution
  int64_t layers_per_block = 2;         ///< resnets per down block (+1 per up block)
  int64_t downsample_padding = 1;       ///< padding of the stride-2 convs
  double mid_block_scale_factor = 1.0;  ///< output scale of the mid resnets
  int64_t norm_num_groups = 32;         ///< GroupNorm groups
  double norm_eps = 1e-5;               ///< GroupNorm eps of resnets and output
  /// How resnets take the time embedding: "default" (added) or "scale_shift" (adaptive
  /// GroupNorm, see ResnetBlock2D).
  std::string resnet_time_scale_shift = "default";
  std::vector<int64_t> cross_attention_dim;  ///< context width per down block
  std::vector<int64_t> heads;                ///< attention heads per down block
  std::vector<int64_t> transformer_layers;   ///< transformer blocks per down block
  bool use_linear_projection = false;        ///< linear (SD 2) or 1x1 conv (SD 1) proj
  bool upcast_attention = false;             ///< attention in fp32 (SD 2.1)
  bool flip_sin_to_cos = true;               ///< timestep features: cos first
  double freq_shift = 0.0;                   ///< timestep features: frequency shift
  bool center_input_sample = false;          ///< maps sample x to 2x - 1 first
  /// "" (none) or "projection": class_labels through linear, SiLU, linear, added to the time
  /// embedding (diffusers' TimestepEmbedding under `class_embedding`).
  std::string class_embed_type;
  int64_t projection_class_embeddings_input_dim = 0;  ///< class_labels width ("projection")

  /// Defaults of diffusers' UNet2DConditionModel.
  UNetConfig() = default;
  /// Reads and validates unet/config.json.
  explicit UNetConfig(const JsonConfig& config);
};

/// UNet2DConditionModel.
class UNetImpl : public torch::nn::Module {
 public:
  /// The network of `config`, randomly initialised (load weights with load_unet).
  explicit UNetImpl(const UNetConfig& config);
  /// The prediction for `sample` at `timesteps` given `context` and, for class_embed_type
  /// "projection", `class_labels` (see the header comment).
  torch::Tensor forward(const torch::Tensor& sample, const torch::Tensor& timesteps,
                        const torch::Tensor& context, const torch::Tensor& class_labels = {});
  /// The config it was built from.
  const UNetConfig& config() const { return config_; }

 private:
  UNetConfig config_;
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::Linear time_linear_1{nullptr}, time_linear_2{nullptr};
  torch::nn::Linear class_linear_1{nullptr}, class_linear_2{nullptr};
  torch::nn::ModuleList down_blocks{nullptr}, up_blocks{nullptr};
  std::shared_ptr<torch::nn::Module> mid_block;
  torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(UNet);

/// The config.json diffusers writes for `config` (every key this implementation reads).
Json unet_config_json(const UNetConfig& config);

/// The UNet of component folder `dir` (config.json + weights) in `dtype` on `device`.
UNet load_unet(const std::filesystem::path& dir, torch::Device device, torch::ScalarType dtype);

}  // namespace mdlab::diffusion
