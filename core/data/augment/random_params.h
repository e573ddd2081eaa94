// Random parameters of the augmentations, drawn as torchvision 0.14 documents them but from a
// SampleRng (never torch's generator), so a view depends only on its (seed, epoch, key, slot).
#pragma once

#include "image.h"
#include "resample.h"
#include "sample_rng.h"

#include <array>

namespace mdlab::augment {

/// torchvision `RandomResizedCrop.get_params`: up to 10 attempts, each drawing an area
/// fraction uniform in [scale_min, scale_max) and a log-uniform aspect ratio (w / h) in
/// [ratio_min, ratio_max); w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio))
/// (Python's round, half to even); the first attempt with 0 < w <= width and 0 < h <= height
/// wins and its position is uniform (top, then left). Draws per attempt: area, log ratio;
/// then top, left for the winner. Without a winner: resized_crop_fallback.
CropBox sample_resized_crop(int height, int width, double scale_min, double scale_max,
                            double ratio_min, double ratio_max, SampleRng& rng);

/// RandomResizedCrop's fallback: the central crop of the whole image, narrowed to the ratio
/// range (w = round(h * ratio_max) when wider, h = round(w / ratio_min) when taller), at
/// ((height - h) // 2, (width - w) // 2).
CropBox resized_crop_fallback(int height, int width, double ratio_min, double ratio_max);

/// The four ColorJitter ops, by their index in ColorJitterParams::order.
enum JitterOp : int { kBrightness = 0, kContrast = 1, kSaturation = 2, kHue = 3 };

/// ColorJitter strengths: factors uniform in [max(0, 1 - x), 1 + x] for brightness,
/// contrast and saturation, hue uniform in [-hue, hue]; a zero strength disables the op
/// (torchvision keeps None and skips it).
struct JitterStrength {
  double brightness = 0.0;  ///< >= 0
  double contrast = 0.0;    ///< >= 0
  double saturation = 0.0;  ///< >= 0
  double hue = 0.0;         ///< in [0, 0.5]
};

/// One draw of `ColorJitter.get_params`.
struct JitterParams {
  std::array<int, 4> order{0, 1, 2, 3};  ///< JitterOp indices, in application order
  float brightness = 1.0f;               ///< brightness factor
  float contrast = 1.0f;                 ///< contrast factor
  float saturation = 1.0f;               ///< saturation factor
  double hue = 0.0;                      ///< hue shift in [-0.5, 0.5]
};

/// Draws ColorJitter's parameters: a uniform permutation of the four ops (Fisher-Yates,
/// uniform_int(0, i) for i = 3, 2, 1), then the brightness, contrast, saturation and hue
/// values, always all four (a disabled op draws too, so streams keep their layout).
JitterParams sample_color_jitter(const JitterStrength& strength, SampleRng& rng);

/// Applies the enabled ops of `strength` in `params.order` with `params`' values.
void apply_color_jitter(ImageU8& img, const JitterStrength& strength, const JitterParams& params);

}  // namespace mdlab::augment
