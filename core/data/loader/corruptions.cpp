#include "corruptions.h"

#include "blur.h"
#include "image_decode.h"
#include "image_encode.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace mdlab {
namespace {

// Images smaller than this (on their shorter side) take CIFAR-10-C's parameters.
constexpr int kSmallImage = 100;

using Levels = std::array<double, 5>;

struct Parameters {
  Levels large;  // ImageNet-C
  Levels small;  // CIFAR-10-C
};

const Parameters& parameters(Corruption c) {
  static const Parameters noise{{0.08, 0.12, 0.18, 0.26, 0.38}, {0.04, 0.06, 0.08, 0.09, 0.10}};
  static const Parameters blur{{1, 2, 3, 4, 6}, {0.4, 0.6, 0.7, 0.8, 1.0}};
  static const Parameters contrast{{0.4, 0.3, 0.2, 0.1, 0.05}, {0.75, 0.5, 0.4, 0.3, 0.15}};
  static const Parameters brightness{{0.1, 0.2, 0.3, 0.4, 0.5}, {0.05, 0.1, 0.15, 0.2, 0.3}};
  static const Parameters jpeg{{25, 18, 15, 10, 7}, {80, 65, 58, 50, 40}};
  static const Parameters pixelate{{0.6, 0.5, 0.4, 0.3, 0.25}, {0.95, 0.9, 0.85, 0.75, 0.65}};
  switch (c) {
    case Corruption::kGaussianNoise: return noise;
    case Corruption::kGaussianBlur: return blur;
    case Corruption::kContrast: return contrast;
    case Corruption::kBrightness: return brightness;
    case Corruption::kJpeg: return jpeg;
    case Corruption::kPixelate: return pixelate;
  }
  return noise;
}

uint8_t to_byte(double v) {
  return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
}

// A standard normal draw (Box-Muller on two uniforms in (0, 1]).
double normal(SampleRng& rng) {
  const double u1 = 1.0 - rng.uniform();
  const double u2 = rng.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

void add_noise(ImageU8& img, double c, SampleRng& rng) {
  for (auto& v : img.data) v = to_byte(v + 255.0 * c * normal(rng));
}

void blur(ImageU8& img, double sigma) {
  int k = 2 * static_cast<int>(std::ceil(3 * sigma)) + 1;
  // A kernel wider than the image reflects past the far edge; keep it inside.
  const int limit = std::min(img.height, img.width);
  if (k > limit) k = limit % 2 ? limit : limit - 1;
  if (k < 3) return;
  ImageU8 out;
  augment::gaussian_blur(img, k, sigma, out);
  img = std::move(out);
}

void contrast(ImageU8& img, double c) {
  double mean = 0;
  for (uint8_t v : img.data) mean += v;
  mean /= static_cast<double>(img.data.size());
  for (auto& v : img.data) v = to_byte((v - mean) * c + mean);
}

void brightness(ImageU8& img, double c) {
  if (img.channels == 1) {
    for (auto& v : img.data) v = to_byte(std::min(v / 255.0 + c, 1.0) * 255.0);
    return;
  }
  // With hue and saturation fixed, RGB scales with the HSV value V = max(r, g, b).
  for (size_t i = 0; i < img.data.size(); i += 3) {
    uint8_t* p = &img.data[i];
    const double v = std::max({p[0], p[1], p[2]}) / 255.0;
    if (v == 0) {
      const uint8_t gray = to_byte(std::min(c, 1.0) * 255.0);
      p[0] = p[1] = p[2] = gray;
      continue;
    }
    const double scale = std::min(v + c, 1.0) / v;
    for (int k = 0; k < 3; ++k) p[k] = to_byte(p[k] * scale);
  }
}

void jpeg(ImageU8& img, int quality) {
  const std::vector<uint8_t> bytes = encode_jpeg(img, quality);
  ImageU8 out;
  decode_image_memory(bytes.data(), bytes.size(), "<jpeg corruption>", out);
  img = std::move(out);
}

void pixelate(ImageU8& img, double c) {
  const int h = img.height, w = img.width, ch = img.channels;
  const int sh = std::max(1, static_cast<int>(h * c)), sw = std::max(1, static_cast<int>(w * c));
  // Box filter down to sh x sw: each small pixel averages the source pixels it covers.
  std::vector<double> small(static_cast<size_t>(sh) * sw * ch, 0.0);
  std::vector<double> weight(static_cast<size_t>(sh) * sw, 0.0);
  for (int y = 0; y < h; ++y) {
    const int sy = std::min(sh - 1, y * sh / h);
    for (int x = 0; x < w; ++x) {
      const int sx = std::min(sw - 1, x * sw / w);
      const size_t s = static_cast<size_t>(sy) * sw + sx;
      weight[s] += 1;
      for (int k = 0; k < ch; ++k) small[s * ch + k] += img.row(y)[x * ch + k];
    }
  }
  for (int y = 0; y < h; ++y) {
    const int sy = std::min(sh - 1, y * sh / h);
    for (int x = 0; x < w; ++x) {
      const int sx = std::min(sw - 1, x * sw / w);
      const size_t s = static_cast<size_t>(sy) * sw + sx;
      for (int k = 0; k < ch; ++k) img.row(y)[x * ch + k] = to_byte(small[s * ch + k] / weight[s]);
    }
  }
}

}  // namespace

const std::vector<std::string>& corruption_names() {
  static const std::vector<std::string> names{"gaussian_noise", "gaussian_blur", "contrast",
                                              "brightness",     "jpeg",          "pixelate"};
  return names;
}

Corruption parse_corruption(std::string_view name) {
  const auto& names = corruption_names();
  auto it = std::find(names.begin(), names.end(), name);
  MDLAB_CHECK(it != names.end(), "unknown corruption '{}' (choose from: {})", name,
              fmt::join(names, ", "));
  return static_cast<Corruption>(it - names.begin());
}

void corrupt_image(ImageU8& image, Corruption corruption, int severity, SampleRng& rng) {
  MDLAB_CHECK(severity >= 1 && severity <= 5, "corruption severity {} is outside 1..5", severity);
  if (image.empty()) return;
  const Parameters& p = parameters(corruption);
  const bool small = std::min(image.height, image.width) < kSmallImage;
  const double c = (small ? p.small : p.large)[static_cast<size_t>(severity - 1)];
  switch (corruption) {
    case Corruption::kGaussianNoise: add_noise(image, c, rng); break;
    case Corruption::kGaussianBlur: blur(image, c); break;
    case Corruption::kContrast: contrast(image, c); break;
    case Corruption::kBrightness: brightness(image, c); break;
    case Corruption::kJpeg: jpeg(image, static_cast<int>(c)); break;
    case Corruption::kPixelate: pixelate(image, c); break;
  }
}

CorruptedTransform::CorruptedTransform(const SlotTransform& base, std::vector<double> mean,
                                       std::vector<double> stddev, Corruption corruption,
                                       int severity)
    : base_(base),
      table1_(augment::make_normalize_table(mean, stddev, 1)),
      table3_(augment::make_normalize_table(mean, stddev, 3)),
      corruption_(corruption),
      severity_(severity) {
  MDLAB_CHECK(severity >= 1 && severity <= 5, "corruption severity {} is outside 1..5", severity);
}

DecodeHint CorruptedTransform::decode_hint(int src_w, int src_h) const {
  return base_.decode_hint(src_w, src_h);
}

int CorruptedTransform::out_size() const {
  return base_.out_size();
}

int CorruptedTransform::out_channels(int src_channels) const {
  return base_.out_channels(src_channels);
}

void CorruptedTransform::run(const ImageU8& src, SampleRng& rng, float* out_chw) const {
  base_.run(src, rng, out_chw);
  const int s = base_.out_size();
  const int ch = base_.out_channels(src.channels);
  const augment::NormalizeTable& table = ch == 1 ? table1_ : table3_;
  const size_t plane = static_cast<size_t>(s) * s;
  // Back to the bytes: the table is increasing, so the nearest entry is the byte written.
  ImageU8 img;
  img.resize(s, s, ch);
  for (int c = 0; c < ch; ++c) {
    const float* tab = table.value[c];
    for (size_t i = 0; i < plane; ++i) {
      const float x = out_chw[c * plane + i];
      const int v = static_cast<int>(std::upper_bound(tab, tab + 256, x) - tab);
      int best = std::clamp(v, 0, 255);
      if (best > 0 && std::abs(tab[best - 1] - x) <= std::abs(tab[best] - x)) --best;
      img.data[i * ch + c] = static_cast<uint8_t>(best);
    }
  }
  corrupt_image(img, corruption_, severity_, rng);
  augment::write_chw(img, table, out_chw);
}

}  // namespace mdlab
