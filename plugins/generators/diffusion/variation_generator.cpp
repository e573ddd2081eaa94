#include "variation_generator.h"

#include "sampler_options.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mdlab::diffusion {

VariationGenerator::VariationGenerator(const Options& options, Context& context,
                                       const VariationModel& model)
    : batch_size_(options.get_int("batch_size")) {
  const SamplerOptions sampler = read_sampler_options(options, context);
  VariationSettings s;
  apply_sampler_options(sampler, s);
  s.height = options.get_int("height");
  s.width = options.get_int("width");
  s.preprocess = options.get_string("preprocess") == "squash" ? PreprocessMode::squash
                                                              : PreprocessMode::feature_extractor;
  const std::string folder = options.get_string("model");
  MDLAB_CHECK(!folder.empty(),
              "{}: `model` must name a diffusers folder of {} (safetensors weights)",
              model.generator, model.hub_name);
  pipeline_ = std::make_unique<VariationPipeline>(folder, s, model);
  context.log(LogLevel::Info,
              fmt::format("{}: {} on {} ({}), {} scheduler, {} steps, strength {}, guidance {}, "
                          "{}x{}",
                          model.generator, folder, s.device.str(), options.get_string("dtype"),
                          pipeline_->scheduler_name(), s.steps, s.strength, s.guidance_scale,
                          pipeline_->settings().width, pipeline_->settings().height));
}

torch::Tensor VariationGenerator::generate(const std::vector<torch::Tensor>& images,
                                           const NoiseSource& noise) {
  return pipeline_->generate(images, noise);
}

std::pair<int64_t, int64_t> VariationGenerator::output_size() const {
  return {pipeline_->settings().height, pipeline_->settings().width};
}

OptionsSchema variation_generator_options(const VariationModel& model) {
  OptionsSchema s;
  s.add_required("model", OptionType::String,
                 fmt::format("Diffusers folder of {} (model_index.json; image_encoder/, {}/, vae/, "
                             "scheduler/, {}/; safetensors weights), e.g. {}",
                             model.title, model.unet, model.feature_extractor, model.hub_name));
  add_sampler_options(s, {model.default_guidance, 50, "model", 4, model.unconditional});
  s.add_int("height", 512, "Output height in pixels (multiple of 8; 0: the model's size)")
      .range(0, 8192);
  s.add_int("width", 512, "Output width in pixels (multiple of 8; 0: the model's size)")
      .range(0, 8192);
  s.add_string("preprocess", "feature_extractor",
               "CLIP input: the pipeline's feature extractor (shortest side to 224, PIL "
               "bicubic, centre crop), or the whole image squashed to 224x224 (torch bicubic, no "
               "antialias; the SD image-variations model card's)")
      .one_of({"feature_extractor", "squash"});
  return s;
}

}  // namespace mdlab::diffusion
