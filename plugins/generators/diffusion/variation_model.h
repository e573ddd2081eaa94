// The diffusers image-variation models the variation pipeline runs, and what sets them apart:
// the pipeline classes of their folders, the names of two component folders, and how the
// source image becomes the UNet's conditioning.
//
//   Stable Diffusion image variations (lambdalabs/sd-image-variations-diffusers):
//     cond   = image_embeds (CLS token -> post_layernorm -> visual_projection)    [N, 1, P]
//     uncond = zeros                                                               [N, 1, P]
//   Versatile Diffusion (shi-labs/versatile-diffusion, image variation):
//     tokens = visual_projection(post_layernorm(last_hidden_state))                [N, T, P]
//     cond   = tokens / ||tokens[:, 0]|| (every token divided by the CLS token's norm)
//     uncond = the same of the reference's grey image np.zeros((512, 512, 3)) + 0.5 as the
//              feature extractor really treats it: to uint8 127, resized, rescaled by
//              rescale_factor twice, so pixel values ((127 / 255) * rescale_factor - mean) / std
//              (not mid-grey; transformers warns "already rescaled")
//
// Layouts: pixel_values float [N, 3, S, S]; conditioning [N, T, P] (T = 1 for SD; 1 + patches
// for VD: 257 for ViT-L/14 at 224 px), P = the encoder's projection_dim = the UNet's
// cross_attention_dim.
#pragma once

#include "clip_preprocess.h"
#include "clip_vision.h"

#include <torch/types.h>

#include <string>
#include <vector>

namespace mdlab::diffusion {

/// How a model turns CLIP vision outputs into UNet conditioning.
enum class ImageConditioning {
  pooled_embedding,   ///< SD image variations: image_embeds [N, 1, P]; unconditional zeros
  normalised_tokens,  ///< Versatile Diffusion: all projected tokens / CLS norm; grey uncond
};

/// One image-variation model family.
struct VariationModel {
  std::string generator;  ///< the plugin that runs it ("sd_variations")
  std::string title;      ///< for messages ("Stable Diffusion image variations")
  std::vector<std::string> pipeline_classes;  ///< model_index.json `_class_name`s accepted
  std::string hub_name;                       ///< a released folder, for messages
  std::string feature_extractor;              ///< component folder of the CLIP preprocessor
  std::string unet;                           ///< component folder of the denoising UNet
  ImageConditioning conditioning;             ///< how the image conditions the UNet
  double default_guidance;                    ///< the plugin's default guidance_scale
  std::string unconditional;                  ///< the unconditional input, in words
};

/// Stable Diffusion image variations (diffusers' StableDiffusionImageVariationPipeline).
const VariationModel& sd_image_variations();
/// Versatile Diffusion's image variation (diffusers' VersatileDiffusionImageVariationPipeline).
const VariationModel& versatile_diffusion();
/// Every model above (to tell a user which generator a folder is for).
const std::vector<const VariationModel*>& variation_models();

/// The model's conditioning [N, T, P] of CLIP pixel values, computed by `encoder` in its dtype.
torch::Tensor image_conditioning(ClipVisionModelImpl& encoder, const torch::Tensor& pixel_values,
                                 ImageConditioning kind);

/// The pixel values [1, 3, crop_height, crop_width] (fp32) Versatile Diffusion's feature
/// extractor makes of its unconditional grey image (see the top of this file).
torch::Tensor grey_pixel_values(const ClipPreprocessConfig& config);

/// The unconditional conditioning [1, T, P] of the model (on the encoder's device and dtype).
torch::Tensor unconditional_conditioning(ClipVisionModelImpl& encoder,
                                         const ClipPreprocessConfig& config,
                                         ImageConditioning kind);

}  // namespace mdlab::diffusion
