// The image-variation loop (see variation_pipeline.h), step for step as diffusers runs it.
#include "variation_pipeline.h"

#include <mdlab/context.h>
#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

namespace mdlab::diffusion {

namespace {

void check_folder_class(const ModelFolder& folder) {
  const auto& cls = folder.pipeline_class();
  MDLAB_CHECK(cls == "StableDiffusionImageVariationPipeline",
              "{}: model_index.json names the pipeline class \"{}\"; the sd_variations generator "
              "runs StableDiffusionImageVariationPipeline folders (e.g. "
              "lambdalabs/sd-image-variations-diffusers)",
              (folder.root() / "model_index.json").string(), cls);
}

}  // namespace

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

VariationPipeline::VariationPipeline(const std::filesystem::path& root,
                                     const VariationSettings& settings)
    : settings_(settings) {
  MDLAB_CHECK(!(settings_.device.is_cpu() && settings_.dtype == torch::kHalf),
              "dtype fp16 needs a CUDA device (LibTorch's CPU kernels lack fp16 convolutions); "
              "use fp32 or bf16 on the CPU");
  MDLAB_CHECK(settings_.steps >= 1, "steps must be at least 1, got {}", settings_.steps);
  ModelFolder folder(root);
  check_folder_class(folder);
  preprocess_config_ = ClipPreprocessConfig(
      folder.component_config("feature_extractor", "preprocessor_config.json"));
  encoder_ = load_clip_vision(folder.component("image_encoder"), settings_.device, settings_.dtype);
  unet_ = load_unet(folder.component("unet"), settings_.device, settings_.dtype);
  const JsonConfig vae_config = folder.component_config("vae", "config.json");
  // diffusers keeps such VAEs in fp32 under fp16 pipelines: SD's decoder overflows in fp16.
  const bool upcast = settings_.dtype == torch::kHalf && vae_config.get<bool>("force_upcast", true);
  vae_ =
      load_vae(folder.component("vae"), settings_.device, upcast ? torch::kFloat : settings_.dtype);
  SchedulerOptions scheduler_options;
  scheduler_options.eta = settings_.eta;
  scheduler_ = make_scheduler(folder.component_config("scheduler", "scheduler_config.json"),
                              settings_.scheduler, scheduler_options);

  const int64_t factor = vae_->config().scale_factor();
  const int64_t default_size = unet_->config().sample_size * factor;
  if (settings_.height == 0) settings_.height = default_size;
  if (settings_.width == 0) settings_.width = default_size;
  MDLAB_CHECK(settings_.height % factor == 0 && settings_.width % factor == 0 &&
                  settings_.height > 0 && settings_.width > 0,
              "output size {}x{} must be positive multiples of {} (the VAE's scale factor)",
              settings_.width, settings_.height, factor);
}

torch::Tensor VariationPipeline::preprocess(const std::vector<torch::Tensor>& images) const {
  std::vector<torch::Tensor> pixels;
  pixels.reserve(images.size());
  for (const auto& image : images) {
    MDLAB_CHECK(image.dim() == 3 && image.size(0) == 3 && image.scalar_type() == torch::kUInt8,
                "images must be uint8 [3, H, W] RGB, got {} {}", c10::toString(image.scalar_type()),
                image.sizes());
    pixels.push_back(clip_preprocess(image, preprocess_config_, settings_.preprocess));
  }
  return torch::stack(pixels);
}

torch::Tensor VariationPipeline::embed(const torch::Tensor& pixel_values) {
  torch::NoGradGuard no_grad;
  auto out = encoder_->forward(pixel_values.to(settings_.device, settings_.dtype));
  return out.image_embeds.unsqueeze(1);
}

torch::Tensor VariationPipeline::initial_latents(int64_t n, BatchNoise& noise) {
  const int64_t factor = vae_->config().scale_factor();
  auto latents = noise.draw(
      {n, unet_->config().in_channels, settings_.height / factor, settings_.width / factor});
  // Euler's initial sigma depends on the step count: the schedule must exist first.
  scheduler_->set_timesteps(settings_.steps);
  const double sigma = scheduler_->init_noise_sigma();
  return sigma == 1.0 ? latents : latents * sigma;
}

torch::Tensor VariationPipeline::denoise(const torch::Tensor& embeddings, torch::Tensor latents,
                                         BatchNoise& noise,
                                         const std::function<void(const StepRecord&)>& observe) {
  torch::NoGradGuard no_grad;
  const bool guidance = settings_.guidance_scale > 1.0;
  auto context = embeddings.to(settings_.device, settings_.dtype);
  // Classifier-free guidance: this model's unconditional input is the zero embedding;
  // the batch order is [uncond, cond] as in diffusers.
  if (guidance) context = torch::cat({torch::zeros_like(context), context});
  latents = latents.to(settings_.device, torch::kFloat);
  scheduler_->set_timesteps(settings_.steps);
  const auto& timesteps = scheduler_->timesteps();
  // The per-image generators live on the CPU (the same draws on every device). On CUDA the
  // draw goes through page-locked memory and an asynchronous copy: a plain copy from pageable
  // memory would make the host wait for the queued UNet kernels at every step (DDIM, eta > 0).
  const bool cuda = settings_.device.is_cuda();
  const NoiseFn step_noise = [&](torch::IntArrayRef shape) {
    auto drawn = noise.draw(shape);
    return cuda ? drawn.pin_memory().to(settings_.device, /*non_blocking=*/true)
                : drawn.to(settings_.device);
  };
  for (size_t i = 0; i < timesteps.size(); ++i) {
    auto input = guidance ? torch::cat({latents, latents}) : latents;
    input = scheduler_->scale_model_input(input, i);
    auto t = torch::full({input.size(0)}, timesteps[i],
                         torch::TensorOptions().dtype(torch::kFloat).device(settings_.device));
    auto output = unet_->forward(input.to(settings_.dtype), t, context).to(torch::kFloat);
    torch::Tensor prediction = output;
    if (guidance) {
      auto halves = output.chunk(2);
      prediction = halves[0] + settings_.guidance_scale * (halves[1] - halves[0]);
    }
    auto next = scheduler_->step(prediction, i, latents, step_noise);
    if (observe) observe(StepRecord{i, timesteps[i], input, prediction, output, next});
    latents = next;
  }
  return latents;
}

torch::Tensor VariationPipeline::decode(const torch::Tensor& latents) {
  torch::NoGradGuard no_grad;
  return vae_->decode(latents / vae_->config().scaling_factor).to(torch::kFloat);
}

torch::Tensor VariationPipeline::to_uint8(const torch::Tensor& decoded) {
  // diffusers: (x / 2 + 0.5).clamp(0, 1), then numpy's round(x * 255) (half to even) in fp32.
  auto unit = (decoded.to(torch::kFloat) / 2 + 0.5).clamp(0, 1);
  return (unit * 255).round().to(torch::kUInt8).cpu();
}

torch::Tensor VariationPipeline::generate(const std::vector<torch::Tensor>& images,
                                          const NoiseSource& noise) {
  const auto n = static_cast<int64_t>(images.size());
  MDLAB_CHECK(n > 0, "generate() needs at least one image");
  BatchNoise batch_noise(noise, n);
  auto embeddings = embed(preprocess(images));
  auto latents = initial_latents(n, batch_noise);
  latents = denoise(embeddings, latents, batch_noise);
  return to_uint8(decode(latents));
}

}  // namespace mdlab::diffusion
