#include "color.h"

#include <mdlab/error.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

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

namespace {

// Pillow's conversions as tables, built once from rgb_to_hsv / hsv_to_rgb themselves so they
// are bit-identical by construction; the per-pixel float divisions, fmod and rounding calls
// made the hue step the most expensive augmentation.
//
// H depends only on the differences from the largest channel (d = maxc - channel), and the
// channel holding the maximum is one of three cases (r first, then g, then b, as the
// branches test them): hue[case][d_a][d_b] over the other two channels. S depends on
// (maxc - minc, maxc). The inverse needs, per (h, s), the sector and the factors of p, q, t.
struct HueTables {
  std::vector<uint8_t> hue;         // [3][256][256]
  std::vector<uint8_t> saturation;  // [256 (maxc - minc)][256 (maxc)]
  std::vector<uint8_t> p;           // [256 s][256 v]
  std::vector<float> q_factor;      // [256 h][256 s]: fs * f, in float as Pillow computes it
  std::vector<double> t_factor;     // [256 h][256 s]: 1.0 - fs * (1.0 - f)
  uint8_t sector[256];              // i % 6 of h

  HueTables() : hue(3 * 65536), saturation(65536), p(65536), q_factor(65536), t_factor(65536) {
    uint8_t rgb[3], hsv[3];
    for (int a = 0; a < 256; ++a) {
      for (int b = 0; b < 256; ++b) {
        // Case 0 (r is the maximum): g = 255 - a, b = 255 - b.
        rgb[0] = 255, rgb[1] = static_cast<uint8_t>(255 - a),
        rgb[2] = static_cast<uint8_t>(255 - b);
        rgb_to_hsv(rgb, hsv);
        hue[(0 * 256 + a) * 256 + b] = hsv[0];
        // Case 1 (g is the maximum, r below it): r = 255 - a, b = 255 - b.
        rgb[0] = static_cast<uint8_t>(255 - a), rgb[1] = 255,
        rgb[2] = static_cast<uint8_t>(255 - b);
        rgb_to_hsv(rgb, hsv);
        hue[(1 * 256 + a) * 256 + b] = hsv[0];
        // Case 2 (b is the maximum, r and g below it): r = 255 - a, g = 255 - b.
        rgb[0] = static_cast<uint8_t>(255 - a), rgb[1] = static_cast<uint8_t>(255 - b),
        rgb[2] = 255;
        rgb_to_hsv(rgb, hsv);
        hue[(2 * 256 + a) * 256 + b] = hsv[0];
      }
    }
    for (int cr = 1; cr < 256; ++cr) {
      for (int maxc = cr; maxc < 256; ++maxc) {
        rgb[0] = static_cast<uint8_t>(maxc), rgb[1] = static_cast<uint8_t>(maxc - cr),
        rgb[2] = rgb[1];
        rgb_to_hsv(rgb, hsv);
        saturation[cr * 256 + maxc] = hsv[1];
      }
    }
    for (int h = 0; h < 256; ++h) {
      const double h6 = static_cast<double>(static_cast<float>(h)) * 6.0 / 255.0;
      const int i = static_cast<int>(std::floor(h6));
      const float f = static_cast<float>(h6 - static_cast<float>(i));
      sector[h] = static_cast<uint8_t>(i % 6);
      for (int sat = 0; sat < 256; ++sat) {
        const float fs = static_cast<float>(static_cast<float>(sat) / 255.0);
        q_factor[h * 256 + sat] = fs * f;
        t_factor[h * 256 + sat] = 1.0 - fs * (1.0 - f);
      }
    }
    for (int sat = 0; sat < 256; ++sat) {
      for (int v = 0; v < 256; ++v) {
        hsv[0] = 0, hsv[1] = static_cast<uint8_t>(sat), hsv[2] = static_cast<uint8_t>(v);
        hsv_to_rgb(hsv, rgb);
        p[sat * 256 + v] = sat == 0 ? static_cast<uint8_t>(v) : rgb[2];  // sector 0: (v, t, p)
      }
    }
  }
};

const HueTables& hue_tables() {
  static const HueTables tables;
  return tables;
}

inline uint8_t round_byte(double x) {
  return clip8(static_cast<int>(std::round(x)));
}

}  // namespace

void adjust_hue(ImageU8& img, double hue) {
  MDLAB_CHECK(hue >= -0.5 && hue <= 0.5, "augment: hue shift {} is not in [-0.5, 0.5]", hue);
  if (img.channels != 3) return;  // PIL returns gray images unchanged
  const uint8_t shift = hue_shift(hue);
  const HueTables& t = hue_tables();
  uint8_t* px = img.data.data();
  const size_t n = pixel_count(img);
  for (size_t i = 0; i < n; ++i, px += 3) {
    const uint8_t r = px[0], g = px[1], b = px[2];
    const uint8_t maxc = std::max(r, std::max(g, b));
    const uint8_t minc = std::min(r, std::min(g, b));
    if (minc == maxc) continue;  // S = 0: the pixel comes back unchanged
    size_t index;
    if (r == maxc) {
      index = (0u * 256 + (maxc - g)) * 256 + (maxc - b);
    } else if (g == maxc) {
      index = (1u * 256 + (maxc - r)) * 256 + (maxc - b);
    } else {
      index = (2u * 256 + (maxc - r)) * 256 + (maxc - g);
    }
    const uint8_t h = static_cast<uint8_t>(t.hue[index] + shift);
    const uint8_t s = t.saturation[(maxc - minc) * 256 + maxc];
    const uint8_t v = maxc;
    if (s == 0) {
      px[0] = px[1] = px[2] = v;
      continue;
    }
    const double vd = static_cast<double>(v);
    const uint8_t p = t.p[s * 256 + v];
    const uint8_t q = round_byte(vd * (1.0 - t.q_factor[h * 256 + s]));
    const uint8_t u = round_byte(vd * t.t_factor[h * 256 + s]);
    switch (t.sector[h]) {
      case 0: px[0] = v, px[1] = u, px[2] = p; break;
      case 1: px[0] = q, px[1] = v, px[2] = p; break;
      case 2: px[0] = p, px[1] = v, px[2] = u; break;
      case 3: px[0] = p, px[1] = q, px[2] = v; break;
      case 4: px[0] = u, px[1] = p, px[2] = v; break;
      default: px[0] = v, px[1] = p, px[2] = q; break;
    }
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
