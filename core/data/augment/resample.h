// Resampling with PIL's antialiased bilinear filter: the filter behind torchvision's
// RandomResizedCrop and Resize on PIL images, i.e. what every reference SSL pipeline uses.
//
// Semantics (Pillow 9.4 `Image.resize(size, BILINEAR)` on a crop, re-implemented):
// - Separable: a horizontal pass into an 8-bit intermediate, then a vertical pass; each pass
//   is skipped when its axis keeps its size (it would be the identity).
// - Per axis, output sample `o` is centred at `(o + 0.5) * scale` (scale = in / out); the
//   triangle filter's support is 1 input pixel, widened to `scale` when downscaling (the
//   antialiasing); the taps cover input pixels [center - support, center + support)
//   rounded, clamped to the crop (no padding: edge taps are renormalised).
// - Weights are computed in double, normalised to sum 1, then rounded to 22-bit fixed point;
//   sums start at 0.5 (1 << 21) and are shifted back and clamped to [0, 255].
// The results are bit-identical to Pillow's (tests/unit/augment checks against torchvision).
//
// Images are ImageU8: HWC, uint8, 1 or 3 channels. Boxes are in source pixels and must lie
// inside the source (a random crop always does; padding is center_crop's business).
#pragma once

#include "image.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace mdlab::augment {

/// A rectangle of an image, in pixels.
struct CropBox {
  int top = 0;     ///< first row
  int left = 0;    ///< first column
  int height = 0;  ///< rows
  int width = 0;   ///< columns
};

/// The fixed-point filter of one axis: for each output sample, the first input index, the
/// number of taps and `taps` coefficients (PIL's layout).
struct ResampleAxis {
  int in_size = 0;              ///< input extent the taps are clamped to
  int out_size = 0;             ///< output samples
  int taps = 0;                 ///< coefficient slots per output sample
  std::vector<int> first;       ///< first input index per output sample
  std::vector<int> count;       ///< used taps per output sample (<= taps)
  std::vector<int32_t> coeffs;  ///< out_size * taps weights, 22-bit fixed point
  /// The coefficients split for 16-bit multiply-adds (3-channel horizontal pass with AVX2;
  /// layout in resample.cpp), `madd_groups` groups of 4 taps per output sample; empty when
  /// not computed.
  std::vector<int16_t> madd;
  int madd_groups = 0;  ///< groups of 4 taps per output sample in `madd`
};

/// Reusable buffers of the resampling functions (a worker keeps one; no allocation once
/// they have grown to the largest sizes seen).
struct ResampleScratch {
  ResampleAxis horizontal;      ///< filter of the horizontal pass
  ResampleAxis vertical;        ///< filter of the vertical pass
  std::vector<double> weights;  ///< double weights of one axis before fixed-point rounding
  std::vector<int32_t> row;     ///< vertical-pass accumulators of one output row
  ImageU8 intermediate;         ///< output of the horizontal pass
  ImageU8 whole;                ///< a whole resized image (a centre crop that pads)
};

/// Computes the filter that resamples `in_size` input samples to `out_size` outputs.
void compute_resample_axis(int in_size, int out_size, ResampleAxis& axis,
                           std::vector<double>& weights);

/// Crops `box` out of `src` and resizes it to out_h x out_w with PIL's bilinear filter:
/// torchvision `F.resized_crop(img, top, left, height, width, [out_h, out_w])` on a PIL
/// image. `dst` must not alias `src`. Throws mdlab::Error for a box outside the image.
void resized_crop(const ImageU8& src, int top, int left, int height, int width, int out_h,
                  int out_w, ImageU8& dst, ResampleScratch& scratch);

/// resized_crop with temporary buffers (tests, one-off use).
void resized_crop(const ImageU8& src, int top, int left, int height, int width, int out_h,
                  int out_w, ImageU8& dst);

/// Resizes the whole of `src` to out_h x out_w (PIL bilinear). `dst` must not alias `src`.
void resize(const ImageU8& src, int out_h, int out_w, ImageU8& dst, ResampleScratch& scratch);

/// Output shape {height, width} of torchvision `Resize(size)` (an int: the shorter side
/// becomes `size`, the longer `int(size * long / short)`, truncated as Python's int() does).
std::pair<int, int> shorter_side_shape(int height, int width, int size);

/// torchvision `F.resize(img, size)` with an int size on a PIL image: the shorter side
/// becomes `size`, aspect kept (shorter_side_shape), PIL bilinear.
void resize_shorter(const ImageU8& src, int size, ImageU8& dst, ResampleScratch& scratch);

/// resize_shorter with temporary buffers.
void resize_shorter(const ImageU8& src, int size, ImageU8& dst);

/// Resamples the crop `box` of `src` to a virtual out_h x out_w image and writes the part
/// `window` of it (in output pixels, inside it) to `dst`: the primitive behind the functions
/// above.
void resample_window(const ImageU8& src, const CropBox& box, int out_h, int out_w,
                     const CropBox& window, ImageU8& dst, ResampleScratch& scratch);

}  // namespace mdlab::augment
