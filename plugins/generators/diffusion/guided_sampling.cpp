// The guided sampling loop (see guided_sampling.h), step for step as diffusers' pipelines run it.
#include "guided_sampling.h"

#include <mdlab/context.h>
#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

namespace mdlab::diffusion {

torch::ScalarType parse_dtype(const std::string& name) {
  if (name == "fp32" || name == "float32") return torch::kFloat;
  if (name == "fp16" || name == "float16") return torch::kHalf;
  if (name == "bf16" || name == "bfloat16") return torch::kBFloat16;
  MDLAB_THROW("unknown dtype \"{}\" (fp32, fp16 or bf16)", name);
}

BatchNoise::BatchNoise(const NoiseSource& source, int64_t n) : stream_(source.stream), n_(n) {
  if (stream_) return;
  MDLAB_CHECK(static_cast<int64_t>(source.seeds.size()) == n,
              "{} noise seeds for a batch of {} images", source.seeds.size(), n);
  per_image_.reserve(source.seeds.size());
  for (uint64_t seed : source.seeds) per_image_.push_back(make_cpu_generator(seed));
}

torch::Tensor BatchNoise::draw(torch::IntArrayRef shape) {
  MDLAB_CHECK(!shape.empty() && shape[0] == n_, "noise of shape {} for a batch of {}", shape, n_);
  const auto options = torch::TensorOptions().dtype(torch::kFloat);
  if (stream_) return torch::randn(shape, *stream_, options);
  std::vector<int64_t> one(shape.begin(), shape.end());
  one[0] = 1;
  std::vector<torch::Tensor> rows;
  rows.reserve(per_image_.size());
  for (auto& generator : per_image_) rows.push_back(torch::randn(one, generator, options));
  return torch::cat(rows, 0);
}

size_t first_step_for_strength(int64_t steps, double strength) {
  MDLAB_CHECK(strength > 0.0 && strength <= 1.0, "strength must be in (0, 1], got {}", strength);
  const auto run = std::min(steps, static_cast<int64_t>(static_cast<double>(steps) * strength));
  MDLAB_CHECK(run >= 1,
              "strength {} with {} steps runs no denoising step (steps x strength < 1); raise "
              "either",
              strength, steps);
  return static_cast<size_t>(steps - run);
}

torch::Tensor start_sample(const Scheduler& scheduler, const torch::Tensor& noise,
                           const torch::Tensor& x0, size_t first_step) {
  if (first_step == 0) {
    const double sigma = scheduler.init_noise_sigma();
    return sigma == 1.0 ? noise : noise * sigma;
  }
  MDLAB_CHECK(x0.defined(), "a loop starting at step {} needs the clean sample", first_step);
  return scheduler.add_noise(x0.to(noise.device(), torch::kFloat), noise, first_step);
}

namespace {

// Rows of the uncond and cond conditioning stacked as one batch (undefined stays undefined).
torch::Tensor stack_pair(const torch::Tensor& uncond, const torch::Tensor& cond) {
  return cond.defined() ? torch::cat({uncond, cond}) : cond;
}

}  // namespace

torch::Tensor guided_denoise(UNetImpl& unet, Scheduler& scheduler, const Conditioning& cond,
                             const Conditioning& uncond, torch::Tensor sample, BatchNoise& noise,
                             const SamplingSettings& settings,
                             const std::function<void(const StepRecord&)>& observe) {
  torch::NoGradGuard no_grad;
  const bool guidance = settings.guidance_scale > 1.0;
  auto to_unet = [&](const torch::Tensor& t) {
    return t.defined() ? t.to(settings.device, settings.dtype) : t;
  };
  // The batch order is [uncond, cond] as in diffusers.
  const auto context = to_unet(guidance ? stack_pair(uncond.context, cond.context) : cond.context);
  const auto labels =
      to_unet(guidance ? stack_pair(uncond.class_labels, cond.class_labels) : cond.class_labels);
  sample = sample.to(settings.device, torch::kFloat);
  scheduler.set_timesteps(settings.steps);
  const auto& timesteps = scheduler.timesteps();
  MDLAB_CHECK(settings.first_step < timesteps.size(), "the loop starts at step {} of {}",
              settings.first_step, timesteps.size());
  // The per-image generators live on the CPU (the same draws on every device). On CUDA the
  // draw goes through page-locked memory and an asynchronous copy: a plain copy from pageable
  // memory would make the host wait for the queued UNet kernels at every step (DDIM, eta > 0).
  const bool cuda = settings.device.is_cuda();
  const NoiseFn step_noise = [&](torch::IntArrayRef shape) {
    auto drawn = noise.draw(shape);
    return cuda ? drawn.pin_memory().to(settings.device, /*non_blocking=*/true)
                : drawn.to(settings.device);
  };
  for (size_t i = settings.first_step; i < timesteps.size(); ++i) {
    auto input = guidance ? torch::cat({sample, sample}) : sample;
    input = scheduler.scale_model_input(input, i);
    auto t = torch::full({input.size(0)}, timesteps[i],
                         torch::TensorOptions().dtype(torch::kFloat).device(settings.device));
    auto output = unet.forward(input.to(settings.dtype), t, context, labels).to(torch::kFloat);
    torch::Tensor prediction = output;
    if (guidance) {
      auto halves = output.chunk(2);
      prediction = halves[0] + settings.guidance_scale * (halves[1] - halves[0]);
    }
    auto next = scheduler.step(prediction, i, sample, step_noise);
    if (observe) observe(StepRecord{i, timesteps[i], input, prediction, output, next});
    sample = next;
  }
  return sample;
}

}  // namespace mdlab::diffusion
