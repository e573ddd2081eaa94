#include "blur.h"

#include <mdlab/error.h>

#include <algorithm>
#include <cmath>

namespace mdlab::augment {
namespace {

// torch's "reflect" padding index, generalised to margins wider than the image.
int mirror(int i, int n) {
  if (n == 1) return 0;
  const int period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

// Round half to even for 0 <= v < 2^22 without a libm call: adding 1.5 * 2^23 leaves no
// fraction bits, so the FPU's default rounding (to nearest, ties to even) does the work.
// This is torch.round's rounding, and the loop stays vectorisable.
inline float round_half_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

}  // namespace

std::string_view blur_kernel_rule_name(BlurKernelRule rule) {
  switch (rule) {
    case BlurKernelRule::SimClr: return "simclr";
    case BlurKernelRule::Sigma: return "sigma";
    case BlurKernelRule::Fixed: return "fixed";
  }
  return "?";
}

int blur_kernel_size(BlurKernelRule rule, int side, double sigma, int fixed) {
  switch (rule) {
    case BlurKernelRule::SimClr:
      // SimCLR: kernel_size = int(0.1 * size), then radius = k // 2, kernel 2 * radius + 1.
      return 2 * ((side / 10) / 2) + 1;
    case BlurKernelRule::Sigma: return 2 * static_cast<int>(std::ceil(3.0 * sigma)) + 1;
    case BlurKernelRule::Fixed: return fixed;
  }
  return fixed;
}

void gaussian_kernel(int size, double sigma, float* out) {
  MDLAB_CHECK(size > 0 && size % 2 == 1, "augment: blur kernel size {} is not odd and positive",
              size);
  MDLAB_CHECK(sigma > 0.0, "augment: blur sigma {} is not positive", sigma);
  // torchvision: linspace(-half, half) (integers here), exp(-0.5 * (x / sigma)^2), all in
  // float32, normalised by the float sum.
  const int half = size / 2;
  const float s = static_cast<float>(sigma);
  float sum = 0.0f;
  for (int i = 0; i < size; ++i) {
    const float x = static_cast<float>(i - half) / s;
    out[i] = std::exp(-0.5f * (x * x));
    sum += out[i];
  }
  for (int i = 0; i < size; ++i) out[i] /= sum;
}

void gaussian_blur(const ImageU8& src, int kernel_size, double sigma, ImageU8& dst,
                   BlurScratch& s) {
  MDLAB_CHECK(&src != &dst, "augment: gaussian_blur cannot write into its source");
  MDLAB_CHECK(src.channels == 1 || src.channels == 3,
              "augment: gaussian_blur needs 1 or 3 channels, got {}", src.channels);
  s.kernel.resize(static_cast<size_t>(std::max(kernel_size, 1)));
  gaussian_kernel(kernel_size, sigma, s.kernel.data());
  const int H = src.height, W = src.width, C = src.channels;
  dst.resize(H, W, C);
  if (src.empty()) return;

  const int r = kernel_size / 2;
  const int n = W * C;
  // One row of floats with r mirrored pixels on each side, then the horizontal sums.
  s.row.resize(static_cast<size_t>(W + 2 * r) * C + static_cast<size_t>(n));
  s.rows.resize(static_cast<size_t>(kernel_size));
  const float* k = s.kernel.data();
  float* padded = s.row.data();
  float* mid = padded + static_cast<size_t>(r) * C;
  float* acc = padded + static_cast<size_t>(W + 2 * r) * C;

  for (int y = 0; y < H; ++y) {
    for (int t = 0; t < kernel_size; ++t) s.rows[t] = mirror(y + t - r, H);
    // Vertical pass into the middle of the padded row.
    {
      const uint8_t* in = src.row(s.rows[0]);
      for (int i = 0; i < n; ++i) mid[i] = k[0] * static_cast<float>(in[i]);
    }
    for (int t = 1; t < kernel_size; ++t) {
      const uint8_t* in = src.row(s.rows[t]);
      const float w = k[t];
      for (int i = 0; i < n; ++i) mid[i] += w * static_cast<float>(in[i]);
    }
    // Mirrored margins.
    for (int m = 1; m <= r; ++m) {
      const int l = mirror(-m, W), rr = mirror(W - 1 + m, W);
      for (int c = 0; c < C; ++c) {
        mid[-m * C + c] = mid[l * C + c];
        mid[(W - 1 + m) * C + c] = mid[rr * C + c];
      }
    }
    // Horizontal pass: output i sums padded[i + t * C].
    for (int i = 0; i < n; ++i) acc[i] = k[0] * padded[i];
    for (int t = 1; t < kernel_size; ++t) {
      const float w = k[t];
      const float* p = padded + static_cast<size_t>(t) * C;
      for (int i = 0; i < n; ++i) acc[i] += w * p[i];
    }
    uint8_t* out = dst.row(y);
    for (int i = 0; i < n; ++i) {
      const float v = round_half_even(acc[i]);
      out[i] = static_cast<uint8_t>(v >= 255.0f ? 255.0f : (v <= 0.0f ? 0.0f : v));
    }
  }
}

void gaussian_blur(const ImageU8& src, int kernel_size, double sigma, ImageU8& dst) {
  BlurScratch scratch;
  gaussian_blur(src, kernel_size, sigma, dst, scratch);
}

}  // namespace mdlab::augment
