// The image-variation model families (see variation_model.h).
#include "variation_model.h"

#include <mdlab/error.h>

#include <torch/torch.h>

namespace mdlab::diffusion {

const VariationModel& sd_image_variations() {
  static const VariationModel model{"sd_variations",
                                    "Stable Diffusion image variations",
                                    {"StableDiffusionImageVariationPipeline"},
                                    "lambdalabs/sd-image-variations-diffusers",
                                    "feature_extractor",
                                    "unet",
                                    ImageConditioning::pooled_embedding,
                                    3.0,  // the model card's (diffusers' default is 7.5)
                                    "the zero image embedding"};
  return model;
}

const VariationModel& versatile_diffusion() {
  // The hub folder shi-labs/versatile-diffusion is saved as the all-task
  // VersatileDiffusionPipeline; its image-variation part reads the same components.
  static const VariationModel model{
      "versatile_diffusion",
      "Versatile Diffusion image variations",
      {"VersatileDiffusionImageVariationPipeline", "VersatileDiffusionPipeline"},
      "shi-labs/versatile-diffusion",
      "image_feature_extractor",
      "image_unet",
      ImageConditioning::normalised_tokens,
      7.5,  // diffusers' default
      "the tokens of a constant grey image, as the reference computes them"};
  return model;
}

const std::vector<const VariationModel*>& variation_models() {
  static const std::vector<const VariationModel*> models{&sd_image_variations(),
                                                         &versatile_diffusion()};
  return models;
}

torch::Tensor image_conditioning(ClipVisionModelImpl& encoder, const torch::Tensor& pixel_values,
                                 ImageConditioning kind) {
  torch::NoGradGuard no_grad;
  auto out = encoder.forward(pixel_values);
  if (kind == ImageConditioning::pooled_embedding) return out.image_embeds.unsqueeze(1);
  auto tokens = encoder.project_tokens(out.last_hidden_state);
  // diffusers: embeds / torch.norm(embeds[:, 0:1], dim=-1, keepdim=True).
  return tokens / tokens.slice(1, 0, 1).norm(2, -1, true);
}

torch::Tensor grey_pixel_values(const ClipPreprocessConfig& config) {
  // The reference feeds the float64 array zeros((512, 512, 3)) + 0.5. transformers' resize
  // converts a float image in [0, 1] to PIL as uint8(0.5 * 255) = 127, resizes it (a constant
  // stays constant) and rescales the result by 1 / 255 to float32; do_rescale then multiplies
  // by rescale_factor a second time. Without do_resize the array keeps its 0.5.
  float value = config.do_resize ? static_cast<float>(127.0 / 255.0) : 0.5f;
  if (config.do_rescale) value = static_cast<float>(value * config.rescale_factor);
  // The grey image is 512 x 512: its size after resizing and cropping.
  const int64_t side = config.do_resize ? config.shortest_edge : 512;
  const int64_t height = config.do_center_crop ? config.crop_height : side;
  const int64_t width = config.do_center_crop ? config.crop_width : side;
  auto pixels = torch::full({1, 3, height, width}, value);
  if (config.do_normalize) {
    const auto mean = torch::tensor({config.mean[0], config.mean[1], config.mean[2]});
    const auto std = torch::tensor({config.std[0], config.std[1], config.std[2]});
    pixels = (pixels - mean.view({1, 3, 1, 1})) / std.view({1, 3, 1, 1});
  }
  return pixels;
}

torch::Tensor unconditional_conditioning(ClipVisionModelImpl& encoder,
                                         const ClipPreprocessConfig& config,
                                         ImageConditioning kind) {
  const torch::Tensor weights = encoder.parameters().front();
  if (kind == ImageConditioning::pooled_embedding) {
    return torch::zeros({1, 1, encoder.config().projection_dim}, weights.options());
  }
  return image_conditioning(encoder,
                            grey_pixel_values(config).to(weights.device(), weights.dtype()), kind);
}

}  // namespace mdlab::diffusion
