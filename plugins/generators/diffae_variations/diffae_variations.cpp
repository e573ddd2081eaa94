// The generator plugin "diffae_variations": variations from a diffusion autoencoder folder
// written by `mdlab export-model` from a diffae run. The semantic encoder is rebuilt from the
// backbone plugin its config names (through the context), then each image's code is decoded
// with fresh noise by the conditional UNet under classifier-free guidance.
#include "diffae.h"
#include "sampler_options.h"

#include <mdlab/context.h>
#include <mdlab/error.h>
#include <mdlab/generator.h>
#include <mdlab/options.h>
#include <mdlab/plugin.h>
#include <mdlab/state_dict.h>

#include <fmt/format.h>

#include <memory>

namespace mdlab::diffusion {

class DiffaeVariations final : public Generator {
 public:
  DiffaeVariations(const Options& options, Context& context)
      : batch_size_(options.get_int("batch_size")) {
    const SamplerOptions sampler = read_sampler_options(options, context);
    DiffaeSettings s;
    apply_sampler_options(sampler, s);
    const std::string model = options.get_string("model");
    MDLAB_CHECK(!model.empty(),
                "diffae_variations: `model` must name a folder written by `mdlab export-model`");
    const EncoderConfig spec = DiffaePipeline::encoder_config(model);
    const auto encoder_dir = std::filesystem::path(model) / "encoder";
    std::shared_ptr<Backbone> encoder;
    try {
      encoder = context.create_plugin_backbone(spec.plugin, spec.options);
    } catch (const Error& e) {
      MDLAB_THROW("{}: {}", (encoder_dir / "config.json").string(), e.message());
    }
    load_component_weights(*encoder, encoder_dir);
    pipeline_ = std::make_unique<DiffaePipeline>(model, std::move(encoder), s);
    context.log(LogLevel::Info,
                fmt::format("diffae_variations: {} ({} encoder, {}x{} px, {} channel(s)) on {} "
                            "({}), {} scheduler, {} steps, strength {}, guidance {}",
                            model, spec.plugin, spec.image_size, spec.image_size, spec.channels,
                            s.device.str(), options.get_string("dtype"),
                            pipeline_->scheduler_name(), s.steps, s.strength, s.guidance_scale));
  }

  static OptionsSchema options_schema() {
    OptionsSchema s;
    s.add_required("model", OptionType::String,
                   "Model folder written by `mdlab export-model` from a diffae run "
                   "(model_index.json, encoder/, unet/, scheduler/)");
    add_sampler_options(s, {1.0, 20, "ddim", 64, "the zero code"});
    return s;
  }

  torch::Tensor generate(const std::vector<torch::Tensor>& images,
                         const NoiseSource& noise) override {
    return pipeline_->generate(images, noise);
  }

  int64_t preferred_batch_size() const override { return batch_size_; }

  std::pair<int64_t, int64_t> output_size() const override {
    const int64_t s = pipeline_->encoder_spec().image_size;
    return {s, s};
  }

 private:
  int64_t batch_size_;
  std::unique_ptr<DiffaePipeline> pipeline_;
};

}  // namespace mdlab::diffusion

MDLAB_PLUGIN(mdlab::diffusion::DiffaeVariations, mdlab::Generator, "diffae_variations", "1.0.0",
             "Variations from a diffusion autoencoder trained with the diffae method (exported "
             "by `mdlab export-model`)")
