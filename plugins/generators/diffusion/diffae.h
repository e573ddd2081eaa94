// Diffusion autoencoders (Preechakul et al., CVPR 2022) on the diffusion library: a semantic
// encoder (any Backbone plugin) maps an image to a code z [N, D]; a UNet2DConditionModel
// denoises pixels given z, twice: as class_labels through the "projection" class embedding
// (added to the time embedding, so every ResNet block sees it) and as a one-token
// encoder_hidden_states [N, 1, D] for the cross-attention blocks. A variation of an image is
// its code with fresh noise; classifier-free guidance uses the zero code as the unconditional
// input (the model is trained with the code dropped to zeros at a given rate).
//
// The pieces shared by the `diffae` method (training) and the `diffae_variations` generator
// (sampling), and the model folder they exchange:
//   model_index.json                 _class_name "DiffAEVariationPipeline"
//   encoder/config.json              backbone plugin, its options, channels, image_size,
//                                    mean, std, feature_dim (written by `mdlab export-model`)
//   encoder/model.safetensors        the backbone's state dict
//   unet/config.json                 diffusers UNet2DConditionModel config
//   unet/diffusion_pytorch_model.safetensors
//   scheduler/scheduler_config.json  diffusers DDIMScheduler config (the training schedule)
//
// Layouts: pixels in the model's space are float [N, C, S, S] in [-1, 1] (C = 1 gray or 3
// RGB, S = image_size); codes [N, D] float32.
#pragma once

#include "guided_sampling.h"
#include "model_folder.h"
#include "scheduler.h"
#include "unet.h"

#include <mdlab/backbone.h>
#include <mdlab/generator.h>
#include <mdlab/options.h>

#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace mdlab::diffusion {

/// The pipeline class name in model_index.json.
inline constexpr const char* kDiffaePipelineClass = "DiffAEVariationPipeline";

/// The shape of a diffusion autoencoder's denoiser.
struct DiffaeDenoiserSpec {
  int64_t channels = 3;                                   ///< image channels (1 or 3)
  int64_t image_size = 32;                                ///< S
  int64_t code_dim = 512;                                 ///< D, the encoder's feature width
  std::vector<int64_t> block_out_channels{64, 128, 256};  ///< channels per resolution
  std::vector<int64_t> attention{0, 1, 1};  ///< 1: the level has (cross-)attention blocks
  int64_t layers_per_block = 1;             ///< ResNet blocks per down level
  int64_t heads = 4;                        ///< attention heads
  int64_t norm_num_groups = 32;             ///< GroupNorm groups
  /// "default" or "scale_shift" (UNetConfig::resnet_time_scale_shift)
  std::string resnet_time_scale_shift = "default";
};

/// The UNet2DConditionModel config of `spec`; throws mdlab::Error naming the field that does
/// not fit (channels not divisible by groups or heads, lengths that disagree).
UNetConfig diffae_unet_config(const DiffaeDenoiserSpec& spec);

/// The training noise schedule of a diffusion autoencoder.
struct DiffaeNoiseSpec {
  int64_t num_train_timesteps = 1000;       ///< T
  std::string beta_schedule = "linear";     ///< linear | scaled_linear | squaredcos_cap_v2
  double beta_start = 1e-4;                 ///< first beta (linear schedules)
  double beta_end = 0.02;                   ///< last beta (linear schedules)
  std::string prediction_type = "epsilon";  ///< epsilon | v_prediction | sample
};

/// The diffusers DDIMScheduler config of `spec` (what scheduler/scheduler_config.json holds).
Json diffae_scheduler_json(const DiffaeNoiseSpec& spec);

/// x_t and the UNet's regression target for clean `x0` [N, ...], `noise` like x0 and integer
/// `timesteps` [N] (device of x0): x_t = sqrt(a_t) x0 + sqrt(1 - a_t) noise; the target is
/// the noise (epsilon), sqrt(a_t) noise - sqrt(1 - a_t) x0 (v_prediction) or x0 (sample).
struct NoisedSample {
  torch::Tensor noisy;   ///< x_t
  torch::Tensor target;  ///< what the UNet should predict
};
NoisedSample add_training_noise(const NoiseSchedule& schedule, const torch::Tensor& x0,
                                const torch::Tensor& noise, const torch::Tensor& timesteps);

/// encoder/config.json: how to rebuild the semantic encoder and feed it.
struct EncoderConfig {
  std::string plugin;          ///< backbone plugin name ("resnet")
  Options options;             ///< its options (values as written; the host completes them)
  int64_t channels = 3;        ///< input channels (1: gray by PIL's luma weights)
  int64_t image_size = 0;      ///< input side S
  int64_t feature_dim = 0;     ///< code width D
  std::vector<double> mean;    ///< input normalisation (x / 255 - mean) / std, per channel
  std::vector<double> stddev;  ///< (1 value or `channels` values)

  /// Reads and validates `config` (names the file and key on error).
  static EncoderConfig read(const JsonConfig& config);
  /// The JSON document read() accepts.
  Json to_json() const;
};

/// How a DiffaePipeline samples.
struct DiffaeSettings {
  double guidance_scale = 1.0;              ///< classifier-free guidance; <= 1 disables it
  int64_t steps = 20;                       ///< denoising steps
  double strength = 1.0;                    ///< < 1: start from the noised source (img2img)
  std::string scheduler = "ddim";           ///< "" = the folder's; "pndm" | "ddim" | "euler"
  double eta = 0.0;                         ///< DDIM's eta
  torch::ScalarType dtype = torch::kFloat;  ///< UNet and encoder dtype
  torch::Device device = torch::kCPU;       ///< where the networks run
};

/// Variations from an exported diffusion autoencoder folder. Not thread-safe.
class DiffaePipeline {
 public:
  /// Loads unet/ and scheduler/ of `root` and checks `encoder` (built by the caller from
  /// encoder_config(root), weights loaded) against them; throws naming the file and key.
  DiffaePipeline(const std::filesystem::path& root, std::shared_ptr<Backbone> encoder,
                 const DiffaeSettings& settings);
  /// The encoder config of the folder `root` (model_index.json checked first).
  static EncoderConfig encoder_config(const std::filesystem::path& root);

  /// Images uint8 [3, H, W] RGB -> float [N, C, S, S] in [0, 1]: gray by PIL's luma weights
  /// when C is 1, the shorter side resized to S (bilinear, antialiased) and centre-cropped.
  torch::Tensor preprocess(const std::vector<torch::Tensor>& images) const;
  /// Codes [N, D] of preprocessed images.
  torch::Tensor encode(const torch::Tensor& unit_images);
  /// Denoised samples [N, C, S, S] in the model's space of `codes` (one draw per image from
  /// `noise` for the start, plus DDIM's eta noise). With strength < 1 the start is `sources`
  /// (model space, [N, C, S, S]) noised to the first step's level.
  torch::Tensor sample(const torch::Tensor& codes, BatchNoise& noise,
                       const torch::Tensor& sources = {},
                       const std::function<void(const StepRecord&)>& observe = {});
  /// Model-space samples -> uint8 [N, 3, S, S] (gray repeated), CPU.
  static torch::Tensor to_uint8(const torch::Tensor& samples);
  /// All of the above.
  torch::Tensor generate(const std::vector<torch::Tensor>& images, const NoiseSource& noise);

  /// The encoder's config.
  const EncoderConfig& encoder_spec() const { return encoder_config_; }
  /// The UNet.
  UNet& unet() { return unet_; }
  /// The sampler's name.
  std::string scheduler_name() const { return scheduler_->name(); }
  /// Settings in force.
  const DiffaeSettings& settings() const { return settings_; }

 private:
  DiffaeSettings settings_;
  EncoderConfig encoder_config_;
  std::shared_ptr<Backbone> encoder_;
  UNet unet_{nullptr};
  std::unique_ptr<Scheduler> scheduler_;
  size_t first_step_ = 0;  // from strength
};

/// Options as JSON values (what encoder/config.json stores under "options").
Json options_to_json(const Options& options);
/// JSON values back to options (numbers with a fraction become floats; arrays take the type
/// of their items, an empty array an empty int list: the host converts it to the declared
/// list type); throws naming the file and key for other JSON.
Options options_from_json(const JsonConfig& config, std::string_view key);

}  // namespace mdlab::diffusion
