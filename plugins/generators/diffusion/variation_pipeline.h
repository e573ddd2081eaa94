// The image-variation sampling loop of diffusers' StableDiffusionImageVariationPipeline and
// VersatileDiffusionImageVariationPipeline (variation_model.h says how the two differ):
// CLIP-preprocess each real image, embed it with the CLIP vision encoder, draw initial
// latents, denoise them with the UNet under classifier-free guidance against the model's
// unconditional embedding, decode with the VAE.
//
// Layouts: real images uint8 [3, H, W] RGB (any size, CPU); pixel_values float
// [N, 3, 224, 224]; image embeddings [N, T, P] (T = 1 for SD, all CLIP tokens for VD);
// latents [N, 4, height / 8, width / 8]; decoded images float [N, 3, height, width] in [-1, 1];
// outputs uint8 [N, 3, height, width].
#pragma once

#include "clip_preprocess.h"
#include "clip_vision.h"
#include "guided_sampling.h"
#include "scheduler.h"
#include "unet.h"
#include "vae.h"
#include "variation_model.h"

#include <mdlab/generator.h>

#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mdlab::diffusion {

/// How to run the pipeline.
struct VariationSettings {
  double guidance_scale = 3.0;  ///< classifier-free guidance; <= 1 disables it
  int64_t steps = 50;           ///< denoising steps (PNDM runs steps + 1 UNet calls)
  double strength = 1.0;        ///< < 1: start from the source's VAE latents noised (img2img)
  std::string scheduler;        ///< "" = the folder's; "pndm" | "ddim" | "euler"
  double eta = 0.0;             ///< DDIM's eta (0: deterministic)
  int64_t height = 0;           ///< output height in pixels; 0 = UNet sample size * 8
  int64_t width = 0;            ///< output width in pixels; 0 = UNet sample size * 8
  torch::ScalarType dtype = torch::kFloat;  ///< weights and activations (VAE: see force_upcast)
  torch::Device device = torch::kCPU;       ///< where the networks run
  PreprocessMode preprocess = PreprocessMode::feature_extractor;  ///< CLIP input preparation
};

/// The loaded pipeline. Not thread-safe (the scheduler keeps state during a batch).
class VariationPipeline {
 public:
  /// Loads every component of the diffusers folder `root` of a `model` pipeline (throws naming
  /// the file and the missing / unsupported / inconsistent piece).
  VariationPipeline(const std::filesystem::path& root, const VariationSettings& settings,
                    const VariationModel& model = sd_image_variations());

  /// CLIP pixel values [N, 3, 224, 224] (CPU, fp32) of uint8 [3, H, W] images.
  torch::Tensor preprocess(const std::vector<torch::Tensor>& images) const;
  /// The model's image embeddings [N, T, P] of pixel values (on the pipeline's device and
  /// dtype).
  torch::Tensor embed(const torch::Tensor& pixel_values);
  /// The unconditional embedding [1, T, P] guidance pushes away from (device and dtype as
  /// embed's).
  const torch::Tensor& unconditional() const { return unconditional_; }
  /// Scaled VAE latents [N, 4, h, w] (the posterior means) of uint8 [3, H, W] images fitted
  /// to the output size (shorter side resized, centre crop): where strength < 1 starts.
  torch::Tensor source_latents(const std::vector<torch::Tensor>& images);
  /// Initial latents [N, 4, h, w] (fp32): from the shared stream in one draw, or one draw per
  /// image from its seed; scaled by the scheduler's init_noise_sigma, or with strength < 1
  /// `sources` (source_latents) noised to the first step's level.
  torch::Tensor initial_latents(int64_t n, BatchNoise& noise, const torch::Tensor& sources = {});
  /// Denoised latents of `latents` given `embeddings` [N, T, P]; `observe` sees every step.
  torch::Tensor denoise(const torch::Tensor& embeddings, torch::Tensor latents, BatchNoise& noise,
                        const std::function<void(const StepRecord&)>& observe = {});
  /// VAE decode of denoised latents -> float [N, 3, H, W] in [-1, 1] (before clamping).
  torch::Tensor decode(const torch::Tensor& latents);
  /// Images uint8 [N, 3, H, W] of decoded values: round(clamp(x / 2 + 0.5, 0, 1) * 255).
  static torch::Tensor to_uint8(const torch::Tensor& decoded);
  /// All of the above: variations uint8 [N, 3, height, width] (CPU).
  torch::Tensor generate(const std::vector<torch::Tensor>& images, const NoiseSource& noise);

  /// Settings in force (height / width resolved).
  const VariationSettings& settings() const { return settings_; }
  /// The model family it runs.
  const VariationModel& model() const { return model_; }
  /// The scheduler's name ("pndm", ...).
  std::string scheduler_name() const { return scheduler_->name(); }
  /// Loaded networks, for benchmarks and tests.
  UNet& unet() { return unet_; }
  /// The VAE.
  Vae& vae() { return vae_; }

 private:
  VariationSettings settings_;
  const VariationModel& model_;
  ClipPreprocessConfig preprocess_config_;
  std::shared_ptr<ClipVisionModelImpl> encoder_;
  UNet unet_{nullptr};
  Vae vae_{nullptr};
  std::unique_ptr<Scheduler> scheduler_;
  torch::Tensor unconditional_;
  size_t first_step_ = 0;  // from strength
};

}  // namespace mdlab::diffusion
