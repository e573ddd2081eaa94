// The generator plugin "sd_variations": diffusers' StableDiffusionImageVariationPipeline run
// natively (CLIP image embedding -> UNet denoising with classifier-free guidance -> VAE).
#include "variation_generator.h"

#include <mdlab/plugin.h>

namespace mdlab::diffusion {

class SdVariations final : public VariationGenerator {
 public:
  SdVariations(const Options& options, Context& context)
      : VariationGenerator(options, context, sd_image_variations()) {}
  static OptionsSchema options_schema() {
    return variation_generator_options(sd_image_variations());
  }
};

}  // namespace mdlab::diffusion

MDLAB_PLUGIN(mdlab::diffusion::SdVariations, mdlab::Generator, "sd_variations", "1.0.0",
             "Stable Diffusion image variations (diffusers StableDiffusionImageVariationPipeline "
             "folders), run natively")
