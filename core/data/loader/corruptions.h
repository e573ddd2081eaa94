// Image corruptions for robustness evaluation (ImageNet-C style), applied on the fly to
// evaluation images, each at severities 1..5, seeded per image.
//
// Layout: ImageU8 (HWC uint8, 1 or 3 channels), corrupted in place. Parameters are those of
// ImageNet-C (Hendrycks & Dietterich, 2019) for images of 100 px and more, and of CIFAR-10-C
// below (the spatial ones, blur and pixelation, depend on the image size):
//   gaussian_noise  x + N(0, c^2), c = 0.08 0.12 0.18 0.26 0.38 (CIFAR: .04 .06 .08 .09 .10),
//                   x in [0, 1]
//   gaussian_blur   sigma = 1 2 3 4 6 px (CIFAR: .4 .6 .7 .8 1), kernel 2 * ceil(3 sigma) + 1
//   contrast        (x - mean) * c + mean, c = .4 .3 .2 .1 .05 (CIFAR: .75 .5 .4 .3 .15), mean
//                   over the whole image
//   brightness      HSV value + c (hue and saturation kept), c = .1 .2 .3 .4 .5
//   jpeg            JPEG round trip at quality 25 18 15 10 7 (CIFAR: 80 65 58 50 40)
//   pixelate        box down-scaling by c = .6 .5 .4 .3 .25 (CIFAR: .95 .9 .85 .75 .65),
//                   then nearest up-scaling back
// The view's pixels are recovered from the normalised output of the wrapped transform
// exactly (they were bytes), corrupted, and normalised again.
#pragma once

#include "image.h"
#include "loader.h"
#include "normalize.h"
#include "sample_rng.h"

#include <string>
#include <string_view>
#include <vector>

namespace mdlab {

/// The corruptions, by name.
enum class Corruption { kGaussianNoise, kGaussianBlur, kContrast, kBrightness, kJpeg, kPixelate };

/// Names of every corruption, in enum order.
const std::vector<std::string>& corruption_names();

/// Parses a corruption name; throws mdlab::Error listing the names otherwise.
Corruption parse_corruption(std::string_view name);

/// Applies `corruption` at `severity` (1..5) to `image` in place, drawing noise from `rng`.
void corrupt_image(ImageU8& image, Corruption corruption, int severity, SampleRng& rng);

/// A SlotTransform that corrupts the views of another one (see the header comment).
class CorruptedTransform final : public SlotTransform {
 public:
  /// Wraps `base` (not owned; must outlive this), normalised with `mean` / `stddev`.
  CorruptedTransform(const SlotTransform& base, std::vector<double> mean,
                     std::vector<double> stddev, Corruption corruption, int severity);
  DecodeHint decode_hint(int src_w, int src_h) const override;
  int out_size() const override;
  int out_channels(int src_channels) const override;
  void run(const ImageU8& src, SampleRng& rng, float* out_chw) const override;

 private:
  const SlotTransform& base_;
  augment::NormalizeTable table1_;  // 1-channel views
  augment::NormalizeTable table3_;  // 3-channel views
  Corruption corruption_;
  int severity_;
};

}  // namespace mdlab
