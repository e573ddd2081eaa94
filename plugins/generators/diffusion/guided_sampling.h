// The classifier-free-guided sampling loop shared by the image-variation pipelines (Stable
// Diffusion image variations, diffusion-autoencoder variations), and the per-image noise it
// draws from.
//
// Layouts: latents (or pixels, for pixel-space models) [N, C, h, w] float32; conditioning as
// the UNet takes it (encoder_hidden_states [N, L, D], class_labels [N, P]). With guidance the
// UNet sees one batch [uncond; cond] of 2N rows, as diffusers' pipelines build it.
#pragma once

#include "scheduler.h"
#include "unet.h"

#include <mdlab/generator.h>

#include <torch/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mdlab::diffusion {

/// What the loop did at one step (for parity tests and debugging).
struct StepRecord {
  size_t index;               ///< step number in loop order
  double timestep;            ///< the UNet's timestep
  torch::Tensor unet_input;   ///< after scale_model_input ([2N] with guidance: uncond, cond)
  torch::Tensor noise_pred;   ///< the guided prediction passed to the scheduler
  torch::Tensor unet_output;  ///< the raw UNet output ([2N] with guidance)
  torch::Tensor latents_out;  ///< the scheduler's prev_sample
};

/// The random numbers of one batch: one CPU generator per image (seeded from its seed) or the
/// caller's shared stream. Draws are fp32 on the CPU, like diffusers' randn_tensor with a CPU
/// generator, and move to the device afterwards.
class BatchNoise {
 public:
  /// For a batch of `n` images.
  BatchNoise(const NoiseSource& source, int64_t n);
  /// Standard normal noise of `shape` ([n, ...]): image i's rows from image i's generator.
  torch::Tensor draw(torch::IntArrayRef shape);

 private:
  std::vector<at::Generator> per_image_;
  std::optional<at::Generator> stream_;
  int64_t n_;
};

/// What a UNet call is conditioned on.
struct Conditioning {
  torch::Tensor context;       ///< encoder_hidden_states [N, L, D]
  torch::Tensor class_labels;  ///< [N, P] for class_embed_type "projection"; undefined otherwise
};

/// How to run the loop.
struct SamplingSettings {
  double guidance_scale = 1.0;              ///< prediction uncond + s (cond - uncond); <= 1: off
  int64_t steps = 50;                       ///< the scheduler's set_timesteps(steps)
  torch::ScalarType dtype = torch::kFloat;  ///< the UNet's dtype (samples stay fp32)
  torch::Device device = torch::kCPU;       ///< where the UNet runs
  size_t first_step = 0;                    ///< loop step to start at (strength < 1)
};

/// The loop step at which a run of `steps` steps starts for `strength` in (0, 1] (diffusers'
/// img2img: the last floor(steps * strength) steps run); throws when no step would run.
size_t first_step_for_strength(int64_t steps, double strength);

/// The start of a loop of `steps` (after set_timesteps) at `first_step`: pure noise scaled by
/// the scheduler's init_noise_sigma at step 0, else `x0` (in the UNet's space) noised to that
/// step's level with `noise`.
torch::Tensor start_sample(const Scheduler& scheduler, const torch::Tensor& noise,
                           const torch::Tensor& x0, size_t first_step);

/// Denoises `sample` (start_sample's) with `unet` under `scheduler` from loop step
/// settings.first_step, given `cond` (and `uncond` when guided); stochastic steps draw from
/// `noise`; `observe` sees every step. Returns the final sample (fp32, on the settings' device).
torch::Tensor guided_denoise(UNetImpl& unet, Scheduler& scheduler, const Conditioning& cond,
                             const Conditioning& uncond, torch::Tensor sample, BatchNoise& noise,
                             const SamplingSettings& settings,
                             const std::function<void(const StepRecord&)>& observe = {});

/// The dtype named `name` ("fp32" | "fp16" | "bf16"); throws otherwise.
torch::ScalarType parse_dtype(const std::string& name);

}  // namespace mdlab::diffusion
