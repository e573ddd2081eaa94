// The CLIP image preprocessing of an image-variation pipeline's feature extractor
// (transformers' CLIPImageProcessor): shortest side to `size` with PIL's antialiased resampling,
// centre crop, rescale to [0, 1], normalise with the CLIP mean and std. Or the model card's
// alternative, `squash`: the whole image to size x size with torch's bicubic interpolation
// (no antialias), then the same normalisation.
//
// Layout: images uint8 [3, H, W] RGB (CHW); pil_resize works on uint8 [H, W, C] (HWC) as PIL
// does; outputs float [3, S, S] on the CPU.
#pragma once

#include "model_folder.h"

#include <torch/types.h>

#include <array>

namespace mdlab::diffusion {

/// PIL's resampling filters that CLIP processors use.
enum class PilFilter { bilinear = 2, bicubic = 3 };

/// How images are prepared for the CLIP encoder.
enum class PreprocessMode {
  feature_extractor,  ///< the pipeline's CLIPImageProcessor (shortest side, crop)
  squash,             ///< the model card's: resize to size x size, no antialias, no crop
};

/// The settings of preprocessor_config.json.
struct ClipPreprocessConfig {
  bool do_resize = true;                    ///< resize the shortest side to `shortest_edge`
  int64_t shortest_edge = 224;              ///< its target
  PilFilter resample = PilFilter::bicubic;  ///< PIL filter of the resize
  bool do_center_crop = true;               ///< crop crop_height x crop_width at the centre
  int64_t crop_height = 224;                ///< crop rows
  int64_t crop_width = 224;                 ///< crop columns
  bool do_rescale = true;                   ///< multiply by rescale_factor
  double rescale_factor = 1.0 / 255.0;      ///< usually 1/255
  bool do_normalize = true;                 ///< subtract mean, divide by std
  std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};  ///< CLIP's mean
  std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};  ///< CLIP's std

  /// CLIP's defaults.
  ClipPreprocessConfig() = default;
  /// Reads preprocessor_config.json in the legacy (`"size": 224`) or current
  /// (`{"shortest_edge": 224}`) format.
  explicit ClipPreprocessConfig(const JsonConfig& config);
};

/// PIL 9's Image.resize of a uint8 [H, W, C] image to out_h x out_w: separable, antialiased
/// (the filter support grows with the downscale factor), fixed-point coefficients with 22
/// fractional bits, rounding and clipping to uint8 after each pass -- bit-exact with PIL.
torch::Tensor pil_resize(const torch::Tensor& hwc, int64_t out_w, int64_t out_h, PilFilter filter);

/// transformers' center_crop of a uint8 [H, W, C] image to crop_h x crop_w: top-left at
/// ((H - crop_h) // 2, (W - crop_w) // 2); an image smaller than the crop is zero-padded around
/// its centre first. Returns a view when no padding is needed.
torch::Tensor center_crop(const torch::Tensor& hwc, int64_t crop_h, int64_t crop_w);

/// CLIP pixel values float [3, S, S] of a uint8 [3, H, W] RGB image.
torch::Tensor clip_preprocess(const torch::Tensor& chw, const ClipPreprocessConfig& config,
                              PreprocessMode mode);

}  // namespace mdlab::diffusion
