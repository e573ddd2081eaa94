// The sampling options every image-variation generator plugin accepts (guidance, steps,
// strength, scheduler, eta, dtype, batch size, device), declared and read in one place so the
// plugins agree on names, ranges and meaning.
#pragma once

#include <mdlab/context.h>
#include <mdlab/options.h>

#include <torch/types.h>

#include <string>

namespace mdlab::diffusion {

/// A plugin's defaults and wording for the shared options.
struct SamplerDefaults {
  double guidance_scale = 3.0;      ///< classifier-free guidance
  int64_t steps = 50;               ///< denoising steps
  std::string scheduler = "model";  ///< "model" (the folder's) | "pndm" | "ddim" | "euler"
  int64_t batch_size = 4;           ///< images denoised together
  std::string unconditional;        ///< what the unconditional input is, for the docs
};

/// The shared options as read from a plugin's table.
struct SamplerOptions {
  double guidance_scale = 1.0;              ///< <= 1: off
  int64_t steps = 50;                       ///< denoising steps
  double strength = 1.0;                    ///< 1: from pure noise; < 1: from the noised source
  std::string scheduler;                    ///< "" = the folder's; "pndm" | "ddim" | "euler"
  double eta = 0.0;                         ///< DDIM's eta
  torch::ScalarType dtype = torch::kFloat;  ///< networks' dtype
  torch::Device device = torch::kCPU;       ///< where the networks run
  int64_t batch_size = 1;                   ///< preferred batch
};

/// Declares guidance_scale, steps, strength, scheduler, eta, dtype, batch_size and device in
/// `schema`.
void add_sampler_options(OptionsSchema& schema, const SamplerDefaults& defaults);

/// Reads the options add_sampler_options declared (device "" = the context's).
SamplerOptions read_sampler_options(const Options& options, const Context& context);

/// Copies the shared options into a pipeline's settings (VariationSettings, DiffaeSettings:
/// any struct with these members).
template <class Settings>
void apply_sampler_options(const SamplerOptions& from, Settings& to) {
  to.guidance_scale = from.guidance_scale;
  to.steps = from.steps;
  to.strength = from.strength;
  to.scheduler = from.scheduler;
  to.eta = from.eta;
  to.dtype = from.dtype;
  to.device = from.device;
}

}  // namespace mdlab::diffusion
