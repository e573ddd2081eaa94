// The Generator plugins over the variation pipeline (sd_variations, versatile_diffusion): one
// class, its options declared once, so every image-variation model takes the same options with
// the same names and meanings; a plugin names its VariationModel and registers.
#pragma once

#include "variation_model.h"
#include "variation_pipeline.h"

#include <mdlab/context.h>
#include <mdlab/generator.h>
#include <mdlab/options.h>

#include <memory>
#include <utility>
#include <vector>

namespace mdlab::diffusion {

/// A Generator running a VariationPipeline of one model family.
class VariationGenerator : public Generator {
 public:
  /// Reads the options variation_generator_options declared and loads the `model` folder.
  VariationGenerator(const Options& options, Context& context, const VariationModel& model);

  /// Variations uint8 [N, 3, height, width] of uint8 [3, H, W] images.
  torch::Tensor generate(const std::vector<torch::Tensor>& images,
                         const NoiseSource& noise) override;
  /// The `batch_size` option.
  int64_t preferred_batch_size() const override { return batch_size_; }
  /// {height, width} of the outputs.
  std::pair<int64_t, int64_t> output_size() const override;

 private:
  int64_t batch_size_;
  std::unique_ptr<VariationPipeline> pipeline_;
};

/// The options of a `model` generator: model, the shared sampler options, height, width,
/// preprocess.
OptionsSchema variation_generator_options(const VariationModel& model);

}  // namespace mdlab::diffusion
