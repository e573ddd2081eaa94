#include "sampler_options.h"

#include "guided_sampling.h"

#include <fmt/format.h>

namespace mdlab::diffusion {

void add_sampler_options(OptionsSchema& s, const SamplerDefaults& d) {
  s.add_float("guidance_scale", d.guidance_scale,
              fmt::format("Classifier-free guidance scale (the unconditional input is {}); <= 1 "
                          "turns guidance off (one UNet call per step instead of two)",
                          d.unconditional))
      .at_least(0.0);
  s.add_int("steps", d.steps, "Denoising steps").range(1, 1000);
  s.add_float("strength", 1.0,
              "How far from the source a variation starts (diffusers' img2img strength): 1 "
              "denoises pure noise; s < 1 noises the source to the level of the last "
              "floor(steps * s) steps and runs only those, keeping more of its layout (DDIM or "
              "Euler)")
      .range(0.0, 1.0);
  s.add_string("scheduler", d.scheduler,
               "Sampler: the folder's scheduler_config.json class (\"model\"), or PNDM (PLMS), "
               "DDIM, Euler with the folder's noise schedule")
      .one_of({"model", "pndm", "ddim", "euler"});
  s.add_float("eta", 0.0, "DDIM eta (0: deterministic DDIM)").range(0.0, 1.0);
  s.add_string("dtype", "fp32", "Weights and activations (fp16 needs CUDA)")
      .one_of({"fp32", "fp16", "bf16"});
  s.add_int("batch_size", d.batch_size, "Images denoised together").range(1, 4096);
  s.add_string("device", "", "Device of the networks (\"\": the file's `device`)");
}

SamplerOptions read_sampler_options(const Options& options, const Context& context) {
  SamplerOptions s;
  s.guidance_scale = options.get_float("guidance_scale");
  s.steps = options.get_int("steps");
  s.strength = options.get_float("strength");
  first_step_for_strength(s.steps, s.strength);  // refuses 0 and a strength that runs no step
  const auto scheduler = options.get_string("scheduler");
  s.scheduler = scheduler == "model" ? "" : scheduler;
  s.eta = options.get_float("eta");
  s.dtype = parse_dtype(options.get_string("dtype"));
  const auto device = options.get_string("device");
  s.device = device.empty() ? context.device() : torch::Device(device);
  s.batch_size = options.get_int("batch_size");
  return s;
}

}  // namespace mdlab::diffusion
