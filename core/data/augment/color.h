// Colour ops, in place, with the semantics of torchvision 0.14's PIL path (Pillow 9.4):
// brightness, contrast and saturation are ImageEnhance blends, hue is a shift of H in PIL's
// 8-bit HSV, grayscale is PIL's "L" conversion, solarize is ImageOps.solarize.
//
// Blend (PIL's Image.blend(degenerate, image, factor)): out = degenerate + factor *
// (image - degenerate) in single precision, truncated toward zero, clamped to [0, 255].
// Gray level (PIL's ITU-R 601-2 luma in 16-bit fixed point):
//   L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
//
// Images are ImageU8: HWC, uint8, 1 or 3 channels. On 1-channel images saturation and hue
// do nothing (PIL returns the image), brightness, contrast and solarize work on the gray
// level.
#pragma once

#include "image.h"

#include <cstdint>

namespace mdlab::augment {

/// PIL's gray level of an RGB pixel.
inline uint8_t gray_level(uint8_t r, uint8_t g, uint8_t b) {
  return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

/// One PIL blend of `degenerate` toward `value` by `factor` (see the header comment).
inline uint8_t blend(int degenerate, int value, float factor) {
  const float v = static_cast<float>(degenerate) + factor * static_cast<float>(value - degenerate);
  return v <= 0.0f ? 0 : (v >= 255.0f ? 255 : static_cast<uint8_t>(v));
}

/// Rounded mean gray level, PIL's `int(ImageStat.Stat(img.convert("L")).mean[0] + 0.5)`:
/// the constant of the contrast blend.
int mean_gray_level(const ImageU8& img);

/// Applies a 256-entry table to every byte.
void apply_lut(ImageU8& img, const uint8_t* lut);

/// torchvision `adjust_brightness(img, factor)`: blend with black.
void adjust_brightness(ImageU8& img, float factor);

/// torchvision `adjust_contrast(img, factor)`: blend with the mean gray level.
void adjust_contrast(ImageU8& img, float factor);

/// torchvision `adjust_saturation(img, factor)`: blend with the pixel's own gray level.
void adjust_saturation(ImageU8& img, float factor);

/// torchvision `adjust_hue(img, hue)`, hue in [-0.5, 0.5]: RGB -> PIL HSV, H += uint8(hue *
/// 255) (numpy's cast: truncated toward zero, wrapped mod 256), HSV -> RGB. The round trip
/// is lossy even for a zero shift, as in PIL. Throws mdlab::Error outside [-0.5, 0.5].
void adjust_hue(ImageU8& img, double hue);

/// The 8-bit hue shift adjust_hue adds to H for `hue`.
uint8_t hue_shift(double hue);

/// PIL's RGB -> HSV of one pixel (H, S, V each 0..255).
void rgb_to_hsv(const uint8_t* rgb, uint8_t* hsv);

/// PIL's HSV -> RGB of one pixel.
void hsv_to_rgb(const uint8_t* hsv, uint8_t* rgb);

/// torchvision `rgb_to_grayscale(img, out_channels)`: the gray level, then 1 channel or 3
/// equal ones. A 1-channel input is already gray (copied to 3 channels when asked).
void to_grayscale(ImageU8& img, int out_channels);

/// torchvision `solarize(img, threshold)`: every value >= threshold becomes 255 - value.
void solarize(ImageU8& img, int threshold);

/// The table of solarize(threshold).
void solarize_lut(int threshold, uint8_t* lut);

}  // namespace mdlab::augment
