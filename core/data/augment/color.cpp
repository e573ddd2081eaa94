#include "color.h"

#include <mdlab/error.h>

#include <cmath>
#include <cstddef>

namespace mdlab::augment {
namespace {

inline uint8_t clip8(int v) {
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

size_t pixel_count(const ImageU8& img) {
  return static_cast<size_t>(img.height) * img.width;
}

}  // namespace

int mean_gray_level(const ImageU8& img) {
  const size_t n = pixel_count(img);
  if (n == 0) return 0;
  uint64_t sum = 0;
  const uint8_t* p = img.data.data();
  if (img.channels == 3) {
    for (size_t i = 0; i < n; ++i, p += 3) sum += gray_level(p[0], p[1], p[2]);
  } else {
    for (size_t i = 0; i < n; ++i) sum += p[i];
  }
  // ImageStat's mean is a double; the +0.5 and int() round it half up.
  return static_cast<int>(static_cast<double>(sum) / static_cast<double>(n) + 0.5);
}

void apply_lut(ImageU8& img, const uint8_t* lut) {
  for (uint8_t& v : img.data) v = lut[v];
}

void adjust_brightness(ImageU8& img, float factor) {
  uint8_t lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = blend(0, v, factor);
  apply_lut(img, lut);
}

void adjust_contrast(ImageU8& img, float factor) {
  const int mean = mean_gray_level(img);
  uint8_t lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = blend(mean, v, factor);
  apply_lut(img, lut);
}

void adjust_saturation(ImageU8& img, float factor) {
  if (img.channels != 3) return;  // the gray image is its own degenerate
  uint8_t* p = img.data.data();
  const size_t n = pixel_count(img);
  for (size_t i = 0; i < n; ++i, p += 3) {
    const int l = gray_level(p[0], p[1], p[2]);
    p[0] = blend(l, p[0], factor);
    p[1] = blend(l, p[1], factor);
    p[2] = blend(l, p[2], factor);
  }
}

uint8_t hue_shift(double hue) {
  // numpy's uint8(x) of a float: truncate toward zero, then wrap modulo 256.
  return static_cast<uint8_t>(static_cast<int>(hue * 255.0));
}

// The float/double mix below is Pillow's (Convert.c, "following colorsys.py"): the
// intermediate types decide the rounding of H and S, so they are kept exactly.
void rgb_to_hsv(const uint8_t* rgb, uint8_t* hsv) {
  const uint8_t r = rgb[0], g = rgb[1], b = rgb[2];
  const uint8_t maxc = std::max(r, std::max(g, b));
  const uint8_t minc = std::min(r, std::min(g, b));
  hsv[2] = maxc;
  if (minc == maxc) {
    hsv[0] = 0;
    hsv[1] = 0;
    return;
  }
  const float cr = static_cast<float>(maxc - minc);
  const float s = cr / static_cast<float>(maxc);
  const float rc = static_cast<float>(maxc - r) / cr;
  const float gc = static_cast<float>(maxc - g) / cr;
  const float bc = static_cast<float>(maxc - b) / cr;
  float h;
  if (r == maxc) {
    h = bc - gc;
  } else if (g == maxc) {
    h = static_cast<float>(2.0 + rc - bc);
  } else {
    h = static_cast<float>(4.0 + gc - rc);
  }
  h = static_cast<float>(std::fmod(h / 6.0 + 1.0, 1.0));
  hsv[0] = clip8(static_cast<int>(h * 255.0));
  hsv[1] = clip8(static_cast<int>(s * 255.0));
}

void hsv_to_rgb(const uint8_t* hsv, uint8_t* rgb) {
  const uint8_t h = hsv[0], s = hsv[1], v = hsv[2];
  if (s == 0) {
    rgb[0] = rgb[1] = rgb[2] = v;
    return;
  }
  const double h6 = static_cast<double>(static_cast<float>(h)) * 6.0 / 255.0;
  const int i = static_cast<int>(std::floor(h6));
  const float f = static_cast<float>(h6 - static_cast<float>(i));
  const float fs = static_cast<float>(static_cast<float>(s) / 255.0);
  const double vd = static_cast<float>(v);
  const uint8_t p = clip8(static_cast<int>(std::round(vd * (1.0 - fs))));
  const uint8_t q = clip8(static_cast<int>(std::round(vd * (1.0 - fs * f))));  // float product
  const uint8_t t = clip8(static_cast<int>(std::round(vd * (1.0 - fs * (1.0 - f)))));
  switch (i % 6) {
    case 0: rgb[0] = v, rgb[1] = t, rgb[2] = p; break;
    case 1: rgb[0] = q, rgb[1] = v, rgb[2] = p; break;
    case 2: rgb[0] = p, rgb[1] = v, rgb[2] = t; break;
    case 3: rgb[0] = p, rgb[1] = q, rgb[2] = v; break;
    case 4: rgb[0] = t, rgb[1] = p, rgb[2] = v; break;
    default: rgb[0] = v, rgb[1] = p, rgb[2] = q; break;
  }
}

void adjust_hue(ImageU8& img, double hue) {
  MDLAB_CHECK(hue >= -0.5 && hue <= 0.5, "augment: hue shift {} is not in [-0.5, 0.5]", hue);
  if (img.channels != 3) return;  // PIL returns gray images unchanged
  const uint8_t shift = hue_shift(hue);
  uint8_t* p = img.data.data();
  const size_t n = pixel_count(img);
  uint8_t hsv[3];
  for (size_t i = 0; i < n; ++i, p += 3) {
    rgb_to_hsv(p, hsv);
    hsv[0] = static_cast<uint8_t>(hsv[0] + shift);
    hsv_to_rgb(hsv, p);
  }
}

void to_grayscale(ImageU8& img, int out_channels) {
  MDLAB_CHECK(out_channels == 1 || out_channels == 3, "augment: grayscale to {} channels (1 or 3)",
              out_channels);
  const size_t n = pixel_count(img);
  if (img.channels == 3) {
    uint8_t* d = img.data.data();
    if (out_channels == 1) {
      // In place, forward: pixel i is written at i, read at 3i >= i.
      for (size_t i = 0; i < n; ++i) d[i] = gray_level(d[3 * i], d[3 * i + 1], d[3 * i + 2]);
      img.resize(img.height, img.width, 1);
    } else {
      for (size_t i = 0; i < n; ++i, d += 3) d[0] = d[1] = d[2] = gray_level(d[0], d[1], d[2]);
    }
    return;
  }
  if (out_channels == 3) {
    img.resize(img.height, img.width, 3);
    uint8_t* d = img.data.data();
    // Backward: pixel i moves to 3i >= i, so later pixels go first.
    for (size_t i = n; i-- > 0;) d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = d[i];
  }
}

void solarize_lut(int threshold, uint8_t* lut) {
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<uint8_t>(v < threshold ? v : 255 - v);
}

void solarize(ImageU8& img, int threshold) {
  uint8_t lut[256];
  solarize_lut(threshold, lut);
  apply_lut(img, lut);
}

}  // namespace mdlab::augment
