// The image-variation loop (see variation_pipeline.h), step for step as diffusers runs it.
#include "variation_pipeline.h"

#include "image_fit.h"

#include <mdlab/context.h>
#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>

namespace mdlab::diffusion {

namespace {

void check_folder_class(const ModelFolder& folder, const VariationModel& model) {
  const auto& cls = folder.pipeline_class();
  const auto accepts = [&](const VariationModel& m) {
    return std::find(m.pipeline_classes.begin(), m.pipeline_classes.end(), cls) !=
           m.pipeline_classes.end();
  };
  if (accepts(model)) return;
  const auto index = (folder.root() / "model_index.json").string();
  for (const VariationModel* other : variation_models()) {
    MDLAB_CHECK(!accepts(*other),
                "{}: model_index.json names the pipeline class \"{}\": a {} folder, which the "
                "{} generator runs (set [generator] name = \"{}\"); the {} generator runs {} "
                "folders such as {}",
                index, cls, other->title, other->generator, other->generator, model.generator,
                fmt::join(model.pipeline_classes, " or "), model.hub_name);
  }
  MDLAB_THROW(
      "{}: model_index.json names the pipeline class \"{}\"; the {} generator runs {} "
      "folders (e.g. {})",
      index, cls, model.generator, fmt::join(model.pipeline_classes, " or "), model.hub_name);
}

// The UNet attends to the projected image tokens: the two widths must agree, named in both
// files before any weights are read.
void check_projection_width(const ModelFolder& folder, const VariationModel& model) {
  const JsonConfig encoder_json = folder.component_config("image_encoder", "config.json");
  const JsonConfig unet_json = folder.component_config(model.unet, "config.json");
  const int64_t projection = ClipVisionConfig(encoder_json).projection_dim;
  for (int64_t width : UNetConfig(unet_json).cross_attention_dim) {
    if (width != projection) {
      encoder_json.fail("projection_dim",
                        fmt::format("is {} but {} has cross_attention_dim {}: the UNet attends "
                                    "to the projected image embedding, so the two must be equal",
                                    projection, unet_json.path().string(), width));
    }
  }
}

}  // namespace

VariationPipeline::VariationPipeline(const std::filesystem::path& root,
                                     const VariationSettings& settings, const VariationModel& model)
    : settings_(settings), model_(model) {
  MDLAB_CHECK(!(settings_.device.is_cpu() && settings_.dtype == torch::kHalf),
              "dtype fp16 needs a CUDA device (LibTorch's CPU kernels lack fp16 convolutions); "
              "use fp32 or bf16 on the CPU");
  MDLAB_CHECK(settings_.steps >= 1, "steps must be at least 1, got {}", settings_.steps);
  ModelFolder folder(root);
  check_folder_class(folder, model_);
  check_projection_width(folder, model_);
  preprocess_config_ = ClipPreprocessConfig(
      folder.component_config(model_.feature_extractor, "preprocessor_config.json"));
  encoder_ = load_clip_vision(folder.component("image_encoder"), settings_.device, settings_.dtype);
  unconditional_ = unconditional_conditioning(*encoder_, preprocess_config_, model_.conditioning);
  unet_ = load_unet(folder.component(model_.unet), settings_.device, settings_.dtype);
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
  first_step_ = first_step_for_strength(settings_.steps, settings_.strength);
  if (first_step_ > 0) {
    // Fails now, not at the first batch, for a scheduler that cannot start part-way.
    scheduler_->set_timesteps(settings_.steps);
    scheduler_->add_noise(torch::zeros({1}), torch::zeros({1}), first_step_);
  }
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
  return image_conditioning(*encoder_, pixel_values.to(settings_.device, settings_.dtype),
                            model_.conditioning);
}

torch::Tensor VariationPipeline::source_latents(const std::vector<torch::Tensor>& images) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> pixels;
  pixels.reserve(images.size());
  for (const auto& image : images) {
    pixels.push_back(fit_image(image.to(torch::kFloat), settings_.height, settings_.width));
  }
  // diffusers' VaeImageProcessor: [0, 255] -> [-1, 1]; the posterior mean (its "argmax" mode),
  // so the source adds no randomness beyond the seeded noise.
  auto x = torch::stack(pixels) / 127.5 - 1.0;
  auto dtype = vae_->parameters().front().scalar_type();
  auto mean = vae_->encode(x.to(settings_.device, dtype)).first.to(torch::kFloat);
  return mean * vae_->config().scaling_factor;
}

torch::Tensor VariationPipeline::initial_latents(int64_t n, BatchNoise& noise,
                                                 const torch::Tensor& sources) {
  const int64_t factor = vae_->config().scale_factor();
  auto drawn = noise.draw(
      {n, unet_->config().in_channels, settings_.height / factor, settings_.width / factor});
  // Euler's initial sigma depends on the step count: the schedule must exist first.
  scheduler_->set_timesteps(settings_.steps);
  return start_sample(*scheduler_, drawn, sources, first_step_);
}

torch::Tensor VariationPipeline::denoise(const torch::Tensor& embeddings, torch::Tensor latents,
                                         BatchNoise& noise,
                                         const std::function<void(const StepRecord&)>& observe) {
  auto context = embeddings.to(settings_.device, settings_.dtype);
  const Conditioning cond{context, {}};
  const Conditioning uncond{unconditional_.expand({context.size(0), -1, -1}), {}};
  const SamplingSettings run{settings_.guidance_scale, settings_.steps, settings_.dtype,
                             settings_.device, first_step_};
  return guided_denoise(*unet_, *scheduler_, cond, uncond, std::move(latents), noise, run, observe);
}

torch::Tensor VariationPipeline::decode(const torch::Tensor& latents) {
  torch::NoGradGuard no_grad;
  return vae_->decode(latents / vae_->config().scaling_factor).to(torch::kFloat);
}

torch::Tensor VariationPipeline::to_uint8(const torch::Tensor& decoded) {
  // diffusers: (x / 2 + 0.5).clamp(0, 1), then numpy's round(x * 255) (half to even) in fp32.
  // NaN would become 0 in uint8: a black image recorded as generated.
  MDLAB_CHECK(torch::isfinite(decoded).all().item<bool>(),
              "the denoised images hold NaN or infinite values: the model's weights or config "
              "are degenerate (or fp16 overflowed; try dtype = \"fp32\" or \"bf16\")");
  auto unit = (decoded.to(torch::kFloat) / 2 + 0.5).clamp(0, 1);
  return (unit * 255).round().to(torch::kUInt8).cpu();
}

torch::Tensor VariationPipeline::generate(const std::vector<torch::Tensor>& images,
                                          const NoiseSource& noise) {
  const auto n = static_cast<int64_t>(images.size());
  MDLAB_CHECK(n > 0, "generate() needs at least one image");
  BatchNoise batch_noise(noise, n);
  auto embeddings = embed(preprocess(images));
  auto latents =
      initial_latents(n, batch_noise, first_step_ > 0 ? source_latents(images) : torch::Tensor());
  latents = denoise(embeddings, latents, batch_noise);
  return to_uint8(decode(latents));
}

}  // namespace mdlab::diffusion
