// The generator plugin "sd_variations": diffusers' StableDiffusionImageVariationPipeline run
// natively (CLIP image embedding -> UNet denoising with classifier-free guidance -> VAE).
#include "sampler_options.h"
#include "variation_pipeline.h"

#include <mdlab/context.h>
#include <mdlab/error.h>
#include <mdlab/generator.h>
#include <mdlab/options.h>
#include <mdlab/plugin.h>

#include <fmt/format.h>

#include <memory>

namespace mdlab::diffusion {

class SdVariations final : public Generator {
 public:
  SdVariations(const Options& options, Context& context)
      : batch_size_(options.get_int("batch_size")) {
    const SamplerOptions sampler = read_sampler_options(options, context);
    VariationSettings s;
    s.guidance_scale = sampler.guidance_scale;
    s.steps = sampler.steps;
    s.strength = sampler.strength;
    s.scheduler = sampler.scheduler;
    s.eta = sampler.eta;
    s.height = options.get_int("height");
    s.width = options.get_int("width");
    s.dtype = sampler.dtype;
    s.device = sampler.device;
    s.preprocess = options.get_string("preprocess") == "squash" ? PreprocessMode::squash
                                                                : PreprocessMode::feature_extractor;
    const std::string model = options.get_string("model");
    MDLAB_CHECK(!model.empty(),
                "sd_variations: `model` must name a diffusers folder of "
                "lambdalabs/sd-image-variations-diffusers (safetensors weights)");
    pipeline_ = std::make_unique<VariationPipeline>(model, s);
    context.log(
        LogLevel::Info,
        fmt::format(
            "sd_variations: {} on {} ({}), {} scheduler, {} steps, strength {}, guidance {}, "
            "{}x{}",
            model, s.device.str(), options.get_string("dtype"), pipeline_->scheduler_name(),
            s.steps, s.strength, s.guidance_scale, pipeline_->settings().width,
            pipeline_->settings().height));
  }

  static OptionsSchema options_schema() {
    OptionsSchema s;
    s.add_required("model", OptionType::String,
                   "Diffusers folder of the model (model_index.json, unet/, vae/, image_encoder/, "
                   "scheduler/, feature_extractor/; safetensors weights)");
    add_sampler_options(s, {3.0, 50, "model", 4, "the zero image embedding"});
    s.add_int("height", 512, "Output height in pixels (multiple of 8; 0: the model's size)")
        .range(0, 8192);
    s.add_int("width", 512, "Output width in pixels (multiple of 8; 0: the model's size)")
        .range(0, 8192);
    s.add_string("preprocess", "feature_extractor",
                 "CLIP input: the pipeline's feature extractor (shortest side to 224, PIL "
                 "bicubic, centre crop) or the model card's squash to 224x224 (no antialias)")
        .one_of({"feature_extractor", "squash"});
    return s;
  }

  torch::Tensor generate(const std::vector<torch::Tensor>& images,
                         const NoiseSource& noise) override {
    return pipeline_->generate(images, noise);
  }

  int64_t preferred_batch_size() const override { return batch_size_; }

  std::pair<int64_t, int64_t> output_size() const override {
    return {pipeline_->settings().height, pipeline_->settings().width};
  }

 private:
  int64_t batch_size_;
  std::unique_ptr<VariationPipeline> pipeline_;
};

}  // namespace mdlab::diffusion

MDLAB_PLUGIN(mdlab::diffusion::SdVariations, mdlab::Generator, "sd_variations", "1.0.0",
             "Stable Diffusion image variations (diffusers StableDiffusionImageVariationPipeline "
             "folders), run natively")
