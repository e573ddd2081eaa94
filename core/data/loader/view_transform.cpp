#include "view_transform.h"

#include "blur.h"
#include "color.h"
#include "geometry.h"
#include "normalize.h"
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

augment::JitterStrength jitter_strength(const AugmentConfig& c) {
  return {c.brightness, c.contrast, c.saturation, c.hue};
}

}  // namespace

ViewTransform::ViewTransform(AugmentConfig config, bool deferred)
    : config_(std::move(config)), deferred_(deferred) {
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

int ViewTransform::deferred_params() const {
  return deferred_ ? view_param::count : 0;
}

ImageU8& ViewTransform::crop(const ImageU8& src, SampleRng& rng) const {
  const AugmentConfig& c = config_;
  MDLAB_CHECK(!src.empty() && (src.channels == 1 || src.channels == 3),
              "augment: cannot transform a {}x{} image with {} channel(s)", src.height, src.width,
              src.channels);
  Scratch& s = scratch();
  if (c.crop == CropMode::Random) {
    const augment::CropBox box = augment::sample_resized_crop(
        src.height, src.width, c.scale_min, c.scale_max, c.ratio_min, c.ratio_max, rng);
    augment::resized_crop(src, box.top, box.left, box.height, box.width, c.size, c.size, s.a,
                          s.resample);
  } else {
    augment::resize_shorter_center_crop(src, center_resize_size(c), c.size, s.a, s.resample);
  }
  if (out_channels(src.channels) == 1 && s.a.channels == 3) augment::to_grayscale(s.a, 1);
  return s.a;
}

ViewTransform::Draws ViewTransform::draw(SampleRng& rng) const {
  const AugmentConfig& c = config_;
  Draws d;
  d.flip = rng.bernoulli(c.flip_p);
  d.jitter = rng.bernoulli(c.jitter_p);
  d.jitter_params = augment::sample_color_jitter(jitter_strength(c), rng);
  d.grayscale = rng.bernoulli(c.grayscale_p);
  d.blur = rng.bernoulli(c.blur_p);
  d.sigma = rng.uniform(c.sigma_min, c.sigma_max);
  d.solarize = rng.bernoulli(c.solarize_p);
  return d;
}

void ViewTransform::run(const ImageU8& src, SampleRng& rng, float* out_chw) const {
  const AugmentConfig& c = config_;
  Scratch& s = scratch();
  ImageU8* img = &crop(src, rng);
  ImageU8* other = &s.b;
  const Draws d = draw(rng);
  if (d.jitter) augment::apply_color_jitter(*img, jitter_strength(c), d.jitter_params);
  // Grayscale keeps the output's channel count: the single plane is replicated on writing.
  if (d.grayscale && img->channels == 3) augment::to_grayscale(*img, 1);
  if (d.blur) {
    const int side = std::min(img->height, img->width);
    const int k = augment::blur_kernel_size(c.blur_kernel, side, d.sigma, c.blur_kernel_size);
    augment::gaussian_blur(*img, k, d.sigma, *other, s.blur);
    std::swap(img, other);
  }
  const int channels = out_channels(src.channels);
  augment::write_chw(*img, channels == 1 ? table1_ : table3_, out_chw, d.flip,
                     d.solarize ? solarize_lut_ : nullptr);
}

void ViewTransform::run_deferred(const ImageU8& src, SampleRng& rng, uint8_t* out_chw,
                                 double* params) const {
  const AugmentConfig& c = config_;
  const ImageU8& img = crop(src, rng);
  const Draws d = draw(rng);
  // A gray crop is replicated into a 3-channel output here: every later op leaves three
  // equal channels equal, which matches run()'s replication when writing.
  augment::split_planes(img, out_channels(src.channels), out_chw);
  namespace vp = view_param;
  params[vp::flip] = d.flip;
  params[vp::jitter] = d.jitter;
  for (int i = 0; i < 4; ++i) params[vp::order + i] = d.jitter_params.order[static_cast<size_t>(i)];
  params[vp::brightness] = d.jitter_params.brightness;
  params[vp::contrast] = d.jitter_params.contrast;
  params[vp::saturation] = d.jitter_params.saturation;
  params[vp::hue_shift] = augment::hue_shift(d.jitter_params.hue);
  params[vp::grayscale] = d.grayscale;
  params[vp::blur] = d.blur;
  params[vp::sigma] = d.sigma;
  params[vp::kernel] = augment::blur_kernel_size(c.blur_kernel, std::min(img.height, img.width),
                                                 d.sigma, c.blur_kernel_size);
  params[vp::solarize] = d.solarize;
}

}  // namespace mdlab
