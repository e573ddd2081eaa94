#include "blur.h"

#include "vector_clones.h"

#include <mdlab/error.h>

#include <algorithm>
#include <cmath>

namespace mdlab::augment {
namespace {

// Round half to even for 0 <= v < 2^22 without a libm call: adding 1.5 * 2^23 leaves no
// fraction bits, so the FPU's default rounding (to nearest, ties to even) does the work.
// This is torch.round's rounding, and the loop stays vectorisable.
inline float round_half_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

inline uint8_t to_byte(float acc) {
  const float v = round_half_even(acc);
  return static_cast<uint8_t>(v >= 255.0f ? 255.0f : (v <= 0.0f ? 0.0f : v));
}

// The two passes, portable form: out[i] = sum_t k[t] * rows[t][i] (vertical) and out[i] =
// round(sum_t k[t] * padded[i + t * step]) clamped to 0..255 (horizontal), for i < n. Every
// element is a sum over the taps in tap order (t = 0 first), one fused multiply-add per tap
// (std::fma: one rounding, as the AVX2 kernels' vfmadd, so that both forms give the same
// bytes on every CPU; the blur has no bit-exact reference to keep, since torch's 2-D
// convolution sums in an order of its own).
void vertical_taps_portable(const uint8_t* const* rows, const float* k, int taps, int n,
                            float* out) {
  {
    const uint8_t* in = rows[0];
    for (int i = 0; i < n; ++i) out[i] = k[0] * static_cast<float>(in[i]);
  }
  for (int t = 1; t < taps; ++t) {
    const uint8_t* in = rows[t];
    const float w = k[t];
    for (int i = 0; i < n; ++i) out[i] = std::fma(w, static_cast<float>(in[i]), out[i]);
  }
}

void horizontal_taps_portable(const float* padded, int step, const float* k, int taps, int n,
                              float* acc, uint8_t* out) {
  for (int i = 0; i < n; ++i) acc[i] = k[0] * padded[i];
  for (int t = 1; t < taps; ++t) {
    const float w = k[t];
    const float* p = padded + static_cast<size_t>(t) * step;
    for (int i = 0; i < n; ++i) acc[i] = std::fma(w, p[i], acc[i]);
  }
  for (int i = 0; i < n; ++i) out[i] = to_byte(acc[i]);
}

#if MDLAB_AVX2_DISPATCH
// The same sums with AVX2 and FMA, 32 outputs at a time: their accumulators stay in four
// registers for all the taps instead of going through memory once per tap, and the bytes are
// widened with vpmovzxbd. One fused multiply-add per tap in tap order, so the results are
// bit-identical to the portable form.
#define MDLAB_AVX2_FMA __attribute__((target("avx2,fma")))
MDLAB_AVX2_FMA inline __m256 load_bytes_ps(const uint8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

MDLAB_AVX2_FMA void vertical_taps_avx2(const uint8_t* const* rows, const float* k, int taps, int n,
                                       float* out) {
  int i0 = 0;
  for (; i0 + 32 <= n; i0 += 32) {
    const uint8_t* in0 = rows[0] + i0;
    const __m256 w0 = _mm256_set1_ps(k[0]);
    __m256 a0 = _mm256_mul_ps(w0, load_bytes_ps(in0));
    __m256 a1 = _mm256_mul_ps(w0, load_bytes_ps(in0 + 8));
    __m256 a2 = _mm256_mul_ps(w0, load_bytes_ps(in0 + 16));
    __m256 a3 = _mm256_mul_ps(w0, load_bytes_ps(in0 + 24));
    for (int t = 1; t < taps; ++t) {
      const uint8_t* in = rows[t] + i0;
      const __m256 w = _mm256_set1_ps(k[t]);
      a0 = _mm256_fmadd_ps(w, load_bytes_ps(in), a0);
      a1 = _mm256_fmadd_ps(w, load_bytes_ps(in + 8), a1);
      a2 = _mm256_fmadd_ps(w, load_bytes_ps(in + 16), a2);
      a3 = _mm256_fmadd_ps(w, load_bytes_ps(in + 24), a3);
    }
    _mm256_storeu_ps(out + i0, a0);
    _mm256_storeu_ps(out + i0 + 8, a1);
    _mm256_storeu_ps(out + i0 + 16, a2);
    _mm256_storeu_ps(out + i0 + 24, a3);
  }
  for (; i0 < n; ++i0) {
    float a = k[0] * static_cast<float>(rows[0][i0]);
    for (int t = 1; t < taps; ++t) a = std::fma(k[t], static_cast<float>(rows[t][i0]), a);
    out[i0] = a;
  }
}

// round_half_even, clamp to [0, 255] (min/max: the sums are never NaN), truncate.
MDLAB_AVX2_FMA inline __m256i to_int_avx2(__m256 acc) {
  const __m256 magic = _mm256_set1_ps(12582912.0f);
  const __m256 v = _mm256_sub_ps(_mm256_add_ps(acc, magic), magic);
  return _mm256_cvttps_epi32(
      _mm256_max_ps(_mm256_min_ps(v, _mm256_set1_ps(255.0f)), _mm256_setzero_ps()));
}

MDLAB_AVX2_FMA void horizontal_taps_avx2(const float* padded, int step, const float* k, int taps,
                                         int n, uint8_t* out) {
  int i0 = 0;
  for (; i0 + 32 <= n; i0 += 32) {
    const float* p0 = padded + i0;
    const __m256 w0 = _mm256_set1_ps(k[0]);
    __m256 a0 = _mm256_mul_ps(w0, _mm256_loadu_ps(p0));
    __m256 a1 = _mm256_mul_ps(w0, _mm256_loadu_ps(p0 + 8));
    __m256 a2 = _mm256_mul_ps(w0, _mm256_loadu_ps(p0 + 16));
    __m256 a3 = _mm256_mul_ps(w0, _mm256_loadu_ps(p0 + 24));
    for (int t = 1; t < taps; ++t) {
      const float* p = p0 + static_cast<size_t>(t) * step;
      const __m256 w = _mm256_set1_ps(k[t]);
      a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(p), a0);
      a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(p + 8), a1);
      a2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(p + 16), a2);
      a3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(p + 24), a3);
    }
    // Packing works per 128-bit lane; the permutation puts the 32 bytes back in order.
    const __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(to_int_avx2(a0), to_int_avx2(a1)),
                                          _mm256_packs_epi32(to_int_avx2(a2), to_int_avx2(a3)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i0),
                        _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
  for (; i0 < n; ++i0) {
    float a = k[0] * padded[i0];
    for (int t = 1; t < taps; ++t)
      a = std::fma(k[t], padded[i0 + static_cast<size_t>(t) * step], a);
    out[i0] = to_byte(a);
  }
}

#endif

}  // namespace

int reflect_index(int i, int n) {
  if (n == 1) return 0;
  const int period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

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

  // The SimCLR rule gives 23 taps at 224 px whatever the sigma, and most of them are
  // negligible: at sigma 1 the outer ten add less than 1e-7 of the sum. Outer taps are
  // dropped while all dropped weight, times the largest pixel value, stays below
  // kNegligibleSum: a sum then moves by less than that, which changes its rounded byte
  // only within 1e-5 of a half-integer (about 2 bytes in 10^5; torch's own summation order
  // moves sums by about as much). At sigma 1 it keeps 13 of the 23 taps, at 0.3 5.
  constexpr double kNegligibleSum = 1e-5;
  int zero_taps = 0;
  double dropped = 0.0;
  while (zero_taps < kernel_size / 2) {
    const double next = dropped + 2.0 * s.kernel[static_cast<size_t>(zero_taps)];
    if (next * 255.0 >= kNegligibleSum) break;
    dropped = next;
    ++zero_taps;
  }
  kernel_size -= 2 * zero_taps;
  const int r = kernel_size / 2;
  const int n = W * C;
  // One row of floats with r mirrored pixels on each side, then the horizontal sums.
  s.row.resize(static_cast<size_t>(W + 2 * r) * C + static_cast<size_t>(n));
  s.rows.resize(static_cast<size_t>(kernel_size));
  const float* k = s.kernel.data() + zero_taps;
  float* padded = s.row.data();
  float* mid = padded + static_cast<size_t>(r) * C;
  float* acc = padded + static_cast<size_t>(W + 2 * r) * C;
#if MDLAB_AVX2_DISPATCH
  const bool avx2 = have_avx2_fma();
#endif

  for (int y = 0; y < H; ++y) {
    for (int t = 0; t < kernel_size; ++t) s.rows[t] = src.row(reflect_index(y + t - r, H));
      // Vertical pass into the middle of the padded row.
#if MDLAB_AVX2_DISPATCH
    if (avx2) {
      vertical_taps_avx2(s.rows.data(), k, kernel_size, n, mid);
    } else {
      vertical_taps_portable(s.rows.data(), k, kernel_size, n, mid);
    }
#else
    vertical_taps_portable(s.rows.data(), k, kernel_size, n, mid);
#endif
    // Mirrored margins.
    for (int m = 1; m <= r; ++m) {
      const int l = reflect_index(-m, W), rr = reflect_index(W - 1 + m, W);
      for (int c = 0; c < C; ++c) {
        mid[-m * C + c] = mid[l * C + c];
        mid[(W - 1 + m) * C + c] = mid[rr * C + c];
      }
    }
    // Horizontal pass: output i sums padded[i + t * C].
#if MDLAB_AVX2_DISPATCH
    if (avx2) {
      horizontal_taps_avx2(padded, C, k, kernel_size, n, dst.row(y));
      continue;
    }
#endif
    horizontal_taps_portable(padded, C, k, kernel_size, n, acc, dst.row(y));
  }
}

void gaussian_blur(const ImageU8& src, int kernel_size, double sigma, ImageU8& dst) {
  BlurScratch scratch;
  gaussian_blur(src, kernel_size, sigma, dst, scratch);
}

}  // namespace mdlab::augment
