#include "view_transform.h"

#include "blur.h"
#include "color.h"
#include "geometry.h"
#include "random_params.h"
#include "resample.h"

#include <mdlab/error.h>

#include <algorithm>
#include <utility>

namespace mdlab {
namespace {

// Per-thread buffers: after the first few samples a worker no longer allocates.
struct Scratch {
  augment::ResampleScratch resample;
  augment::BlurScratch blur;
  ImageU8 a;
  ImageU8 b;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

ViewTransform::ViewTransform(AugmentConfig config) : config_(std::move(config)) {
  validate(config_);
  table1_ = augment::make_normalize_table(config_.mean, config_.stddev, 1);
  table3_ = augment::make_normalize_table(config_.mean, config_.stddev, 3);
  augment::solarize_lut(config_.solarize_threshold, solarize_lut_);
}

DecodeHint ViewTransform::decode_hint(int, int) const {
  return {};
}

int ViewTransform::out_size() const {
  return config_.size;
}

int ViewTransform::out_channels(int src_channels) const {
  return config_.channels == 0 ? src_channels : config_.channels;
}

void ViewTransform::run(const ImageU8& src, SampleRng& rng, float* out_chw) const {
  const AugmentConfig& c = config_;
  MDLAB_CHECK(!src.empty() && (src.channels == 1 || src.channels == 3),
              "augment: cannot transform a {}x{} image with {} channel(s)", src.height, src.width,
              src.channels);
  Scratch& s = scratch();
  ImageU8* img = &s.a;
  ImageU8* other = &s.b;

  if (c.crop == CropMode::Random) {
    const augment::CropBox box = augment::sample_resized_crop(
        src.height, src.width, c.scale_min, c.scale_max, c.ratio_min, c.ratio_max, rng);
    augment::resized_crop(src, box.top, box.left, box.height, box.width, c.size, c.size, *img,
                          s.resample);
  } else {
    augment::resize_shorter_center_crop(src, center_resize_size(c), c.size, *img, s.resample);
  }
  const int channels = out_channels(src.channels);
  if (channels == 1 && img->channels == 3) augment::to_grayscale(*img, 1);

  const bool flip = rng.bernoulli(c.flip_p);
  const bool jitter = rng.bernoulli(c.jitter_p);
  const augment::JitterStrength strength{c.brightness, c.contrast, c.saturation, c.hue};
  const augment::JitterParams jitter_params = augment::sample_color_jitter(strength, rng);
  if (jitter) augment::apply_color_jitter(*img, strength, jitter_params);

  // Grayscale keeps the output's channel count: the single plane is replicated on writing.
  if (rng.bernoulli(c.grayscale_p) && img->channels == 3) augment::to_grayscale(*img, 1);

  const bool blur = rng.bernoulli(c.blur_p);
  const double sigma = rng.uniform(c.sigma_min, c.sigma_max);
  if (blur) {
    const int side = std::min(img->height, img->width);
    const int k = augment::blur_kernel_size(c.blur_kernel, side, sigma, c.blur_kernel_size);
    augment::gaussian_blur(*img, k, sigma, *other, s.blur);
    std::swap(img, other);
  }
  const bool solarize = rng.bernoulli(c.solarize_p);
  augment::write_chw(*img, channels == 1 ? table1_ : table3_, out_chw, flip,
                     solarize ? solarize_lut_ : nullptr);
}

}  // namespace mdlab
