#include "random_params.h"

#include "color.h"

#include <mdlab/error.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace mdlab::augment {
namespace {

// Python's int(round(x)) for x >= 0: ties to even (std::nearbyint in the default rounding
// mode would do too; this does not depend on the FPU state).
int round_half_even(double x) {
  const double f = std::floor(x);
  const double d = x - f;
  if (d > 0.5) return static_cast<int>(f) + 1;
  if (d < 0.5) return static_cast<int>(f);
  const int i = static_cast<int>(f);
  return i % 2 == 0 ? i : i + 1;
}

}  // namespace

CropBox resized_crop_fallback(int height, int width, double ratio_min, double ratio_max) {
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int w = width, h = height;
  if (in_ratio < std::min(ratio_min, ratio_max)) {
    h = round_half_even(w / std::min(ratio_min, ratio_max));
  } else if (in_ratio > std::max(ratio_min, ratio_max)) {
    w = round_half_even(h * std::max(ratio_min, ratio_max));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

CropBox sample_resized_crop(int height, int width, double scale_min, double scale_max,
                            double ratio_min, double ratio_max, SampleRng& rng) {
  MDLAB_CHECK(height > 0 && width > 0, "augment: random crop of a {}x{} image", height, width);
  const double area = static_cast<double>(height) * width;
  const double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(scale_min, scale_max);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const int w = round_half_even(std::sqrt(target_area * aspect));
    const int h = round_half_even(std::sqrt(target_area / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int top = static_cast<int>(rng.uniform_int(0, height - h));
      const int left = static_cast<int>(rng.uniform_int(0, width - w));
      return {top, left, h, w};
    }
  }
  return resized_crop_fallback(height, width, ratio_min, ratio_max);
}

JitterParams sample_color_jitter(const JitterStrength& s, SampleRng& rng) {
  JitterParams p;
  for (int i = 3; i > 0; --i) {
    const int j = static_cast<int>(rng.uniform_int(0, i));
    std::swap(p.order[static_cast<size_t>(i)], p.order[static_cast<size_t>(j)]);
  }
  auto factor = [&](double x) {
    return static_cast<float>(rng.uniform(std::max(0.0, 1.0 - x), 1.0 + x));
  };
  p.brightness = factor(s.brightness);
  p.contrast = factor(s.contrast);
  p.saturation = factor(s.saturation);
  p.hue = rng.uniform(-s.hue, s.hue);
  return p;
}

void apply_color_jitter(ImageU8& img, const JitterStrength& s, const JitterParams& p) {
  for (int op : p.order) {
    switch (op) {
      case kBrightness:
        if (s.brightness > 0) adjust_brightness(img, p.brightness);
        break;
      case kContrast:
        if (s.contrast > 0) adjust_contrast(img, p.contrast);
        break;
      case kSaturation:
        if (s.saturation > 0) adjust_saturation(img, p.saturation);
        break;
      case kHue:
        if (s.hue > 0) adjust_hue(img, p.hue);
        break;
      default: MDLAB_THROW("augment: colour jitter op {} is not 0..3", op);
    }
  }
}

}  // namespace mdlab::augment
