// diffusers' AutoencoderKL (the Stable Diffusion VAE) built from its config.json, with
// diffusers' state-dict names; the old attention names of early checkpoints (query, key,
// value, proj_attn) load too.
//
// Layout: images [N, in_channels, H, W] in [-1, 1]; latents [N, latent_channels, H / f, W / f]
// with f = 2^(levels - 1), unscaled (the pipeline multiplies by scaling_factor after encoding
// and divides before decoding).
#pragma once

#include "model_folder.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/types.h>

#include <string>
#include <vector>

namespace mdlab::diffusion {

/// The settings of vae/config.json.
struct VaeConfig {
  int64_t in_channels = 3;                  ///< image channels
  int64_t out_channels = 3;                 ///< decoded image channels
  int64_t latent_channels = 4;              ///< latent channels
  std::vector<int64_t> block_out_channels;  ///< channels per resolution level
  int64_t layers_per_block = 1;             ///< resnets per encoder level (+1 in the decoder)
  int64_t norm_num_groups = 32;             ///< GroupNorm groups
  double scaling_factor = 0.18215;          ///< latent scale used by the pipelines
  bool force_upcast = true;                 ///< run in fp32 when the pipeline is fp16

  /// diffusers' defaults.
  VaeConfig() = default;
  /// Reads and validates vae/config.json (block types must be DownEncoderBlock2D /
  /// UpDecoderBlock2D; names file and key otherwise).
  explicit VaeConfig(const JsonConfig& config);
  /// Spatial down-scaling factor between images and latents.
  int64_t scale_factor() const { return int64_t{1} << (block_out_channels.size() - 1); }
};

/// AutoencoderKL: encoder + quant_conv, post_quant_conv + decoder.
class VaeImpl : public torch::nn::Module {
 public:
  /// The network of `config`, randomly initialised.
  explicit VaeImpl(const VaeConfig& config);
  /// The mean and log-variance [N, latent_channels, h, w] each of the posterior of `images`.
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& images);
  /// Images [N, out_channels, H, W] (about [-1, 1]) of unscaled `latents`.
  torch::Tensor decode(const torch::Tensor& latents);
  /// The config it was built from.
  const VaeConfig& config() const { return config_; }

 private:
  VaeConfig config_;
  std::shared_ptr<torch::nn::Module> encoder, decoder;
  torch::nn::Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};
};
TORCH_MODULE(Vae);

/// Maps the attention names of pre-0.14 diffusers VAE checkpoints to the current ones.
std::string vae_current_name(const std::string& name);

/// The VAE of component folder `dir` in `dtype` on `device`.
Vae load_vae(const std::filesystem::path& dir, torch::Device device, torch::ScalarType dtype);

}  // namespace mdlab::diffusion
