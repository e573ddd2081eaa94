// The generator plugin "versatile_diffusion": the image-variation part of Versatile Diffusion
// (diffusers' VersatileDiffusionImageVariationPipeline) run natively: every CLIP token,
// projected and divided by the class token's norm, conditions the UNet; guidance pushes away
// from a grey image's tokens.
#include "variation_generator.h"

#include <mdlab/plugin.h>

namespace mdlab::diffusion {

class VersatileDiffusion final : public VariationGenerator {
 public:
  VersatileDiffusion(const Options& options, Context& context)
      : VariationGenerator(options, context, versatile_diffusion()) {}
  static OptionsSchema options_schema() {
    return variation_generator_options(versatile_diffusion());
  }
};

}  // namespace mdlab::diffusion

MDLAB_PLUGIN(mdlab::diffusion::VersatileDiffusion, mdlab::Generator, "versatile_diffusion", "1.0.0",
             "Versatile Diffusion image variations (shi-labs/versatile-diffusion folders), run "
             "natively")
