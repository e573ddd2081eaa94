#include "color.h"

#include "rgb_avx2.h"
#include "vector_clones.h"

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

// blend() without its branches, so that the loops below vectorise: the same float operations
// (int difference converted exactly, one multiply, one add), then truncation toward zero and a
// clamp, which equals blend's "<= 0 -> 0, >= 255 -> 255, else truncate" for every float.
inline uint8_t blend_fast(int degenerate, int value, float factor) {
  const float v = static_cast<float>(degenerate) + factor * static_cast<float>(value - degenerate);
  // Bounded first, so that the conversion cannot overflow whatever the factor.
  const int t = static_cast<int>(std::min(std::max(v, -1.0f), 256.0f));
  return static_cast<uint8_t>(t < 0 ? 0 : (t > 255 ? 255 : t));
}

// Every byte blended toward one constant (brightness: 0, contrast: the mean gray level).
MDLAB_VECTOR_CLONES
void blend_constant_portable(uint8_t* p, size_t n, int degenerate, float factor) {
  for (size_t i = 0; i < n; ++i) p[i] = blend_fast(degenerate, p[i], factor);
}

// Saturation: each RGB byte blended toward its pixel's gray level. Per chunk of pixels the
// gray level is first spread to the three bytes of its pixel, so that the blend runs over
// contiguous bytes (vectorisable where there is no hand-written kernel) instead of per pixel.
MDLAB_VECTOR_CLONES
void blend_own_gray_portable(uint8_t* px, size_t pixels, float factor) {
  constexpr size_t kChunk = 64;
  uint8_t gray[3 * kChunk];
  for (size_t i0 = 0; i0 < pixels; i0 += kChunk) {
    const size_t m = std::min(kChunk, pixels - i0);
    uint8_t* p = px + 3 * i0;
    for (size_t i = 0; i < m; ++i) {
      const uint8_t l = gray_level(p[3 * i], p[3 * i + 1], p[3 * i + 2]);
      gray[3 * i] = l;
      gray[3 * i + 1] = l;
      gray[3 * i + 2] = l;
    }
    for (size_t i = 0; i < 3 * m; ++i) p[i] = blend_fast(gray[i], p[i], factor);
  }
}

MDLAB_VECTOR_CLONES
uint64_t sum_gray_rgb_portable(const uint8_t* p, size_t pixels) {
  // 32-bit partial sums per chunk (255 * 2^16 fits), so the loop vectorises in 32-bit lanes.
  uint64_t sum = 0;
  constexpr size_t kChunk = size_t{1} << 16;
  for (size_t i0 = 0; i0 < pixels; i0 += kChunk) {
    const size_t m = std::min(kChunk, pixels - i0);
    const uint8_t* q = p + 3 * i0;
    uint32_t part = 0;
    for (size_t i = 0; i < m; ++i) part += gray_level(q[3 * i], q[3 * i + 1], q[3 * i + 2]);
    sum += part;
  }
  return sum;
}

// Gray levels of RGB pixels into `out` (1 byte each, or 3 equal bytes with `three`); `out`
// may be `p` itself: pixel i is written at or before the bytes it was read from.
void gray_rgb_portable(const uint8_t* p, size_t pixels, uint8_t* out, bool three) {
  for (size_t i = 0; i < pixels; ++i, p += 3) {
    const uint8_t l = gray_level(p[0], p[1], p[2]);
    if (three) {
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = l;
    } else {
      out[i] = l;
    }
  }
}

#if MDLAB_AVX2_DISPATCH
// Hand-written: GCC's vectorisation of the byte -> float -> byte loops above widens and
// narrows one lane width at a time and ran at about one byte per cycle; these are 3 to 6
// times faster with the same operations, hence the same bytes.
__attribute__((target("avx2"))) size_t blend_constant_avx2(uint8_t* p, size_t n, int degenerate,
                                                           float factor) {
  const __m256 f = _mm256_set1_ps(factor);
  const __m256i d = _mm256_set1_epi32(degenerate);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i q[4];
    for (int k = 0; k < 4; ++k)
      q[k] = blend8(
          d, _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i + 8 * k))),
          f);
    // packs work per 128-bit half: the permutation puts the eight dwords back in order.
    const __m256i bytes =
        _mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(p + i),
        _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
  return i;
}

// With AVX-512 VBMI a 256-entry byte table is four registers and two vpermi2b per 64 bytes:
// a blend toward a constant, tabulated once (256 scalar blends), is applied at about a
// fifth of the cost of blend_constant_avx2.
// The table is built by the caller: in a function compiled for AVX-512, GCC would contract
// the blend's multiply and add into an FMA, which rounds differently.
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) size_t apply_lut_vbmi(uint8_t* p, size_t n,
                                                                             const uint8_t* lut) {
  const __m512i t0 = _mm512_loadu_si512(lut), t1 = _mm512_loadu_si512(lut + 64);
  const __m512i t2 = _mm512_loadu_si512(lut + 128), t3 = _mm512_loadu_si512(lut + 192);
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i x = _mm512_loadu_si512(p + i);
    // Bits 0-6 pick within a 128-byte half (t0:t1 or t2:t3), bit 7 picks the half.
    const __m512i low = _mm512_permutex2var_epi8(t0, x, t1);
    const __m512i high = _mm512_permutex2var_epi8(t2, x, t3);
    _mm512_storeu_si512(p + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), low, high));
  }
  return i;
}

__attribute__((target("avx2"))) size_t blend_own_gray_avx2(uint8_t* p, size_t pixels,
                                                           float factor) {
  const __m256 f = _mm256_set1_ps(factor);
  const size_t groups = rgb8_groups(pixels);
  for (size_t k = 0; k < groups; ++k, p += 24) {
    __m256i r, g, b;
    load_rgb8(p, r, g, b);
    const __m256i l = gray_level8(r, g, b);
    store_rgb8(p, blend8(l, r, f), blend8(l, g, f), blend8(l, b, f));
  }
  return groups * 8;
}

__attribute__((target("avx2"))) size_t sum_gray_rgb_avx2(const uint8_t* p, size_t pixels,
                                                         uint64_t& sum) {
  const size_t groups = rgb8_groups(pixels);
  // 32-bit lane sums of at most 2^16 groups (255 * 2^16 < 2^32), then folded into `sum`.
  for (size_t k0 = 0; k0 < groups; k0 += size_t{1} << 16) {
    const size_t k1 = std::min(groups, k0 + (size_t{1} << 16));
    __m256i acc = _mm256_setzero_si256();
    for (size_t k = k0; k < k1; ++k) {
      __m256i r, g, b;
      load_rgb8(p + 24 * k, r, g, b);
      acc = _mm256_add_epi32(acc, gray_level8(r, g, b));
    }
    alignas(32) uint32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
    for (uint32_t v : lanes) sum += v;
  }
  return groups * 8;
}

__attribute__((target("avx2"))) size_t gray_rgb_avx2(const uint8_t* p, size_t pixels, uint8_t* out,
                                                     bool three) {
  const size_t groups = rgb8_groups(pixels);
  for (size_t k = 0; k < groups; ++k) {
    __m256i r, g, b;
    load_rgb8(p + 24 * k, r, g, b);
    const __m256i l = gray_level8(r, g, b);
    if (three) {
      store_rgb8(out + 24 * k, l, l, l);
    } else {
      // The low byte of each lane, packed: 8 bytes.
      const __m256i packed = _mm256_shuffle_epi8(
          l, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8,
                              12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
      const __m256i joined =
          _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 8 * k), _mm256_castsi256_si128(joined));
    }
  }
  return groups * 8;
}
#endif

void blend_constant(uint8_t* p, size_t n, int degenerate, float factor) {
  size_t done = 0;
#if MDLAB_AVX2_DISPATCH
  if (have_avx512_vbmi()) {
    alignas(64) uint8_t lut[256];
    for (int v = 0; v < 256; ++v) lut[v] = blend_fast(degenerate, v, factor);
    done = apply_lut_vbmi(p, n, lut);
  } else if (have_avx2()) {
    done = blend_constant_avx2(p, n, degenerate, factor);
  }
#endif
  blend_constant_portable(p + done, n - done, degenerate, factor);
}

void blend_own_gray(uint8_t* p, size_t pixels, float factor) {
  size_t done = 0;
#if MDLAB_AVX2_DISPATCH
  if (have_avx2()) done = blend_own_gray_avx2(p, pixels, factor);
#endif
  blend_own_gray_portable(p + 3 * done, pixels - done, factor);
}

uint64_t sum_gray_rgb(const uint8_t* p, size_t pixels) {
  uint64_t sum = 0;
  size_t done = 0;
#if MDLAB_AVX2_DISPATCH
  if (have_avx2()) done = sum_gray_rgb_avx2(p, pixels, sum);
#endif
  return sum + sum_gray_rgb_portable(p + 3 * done, pixels - done);
}

void gray_rgb(const uint8_t* p, size_t pixels, uint8_t* out, bool three) {
  size_t done = 0;
#if MDLAB_AVX2_DISPATCH
  if (have_avx2()) done = gray_rgb_avx2(p, pixels, out, three);
#endif
  gray_rgb_portable(p + 3 * done, pixels - done, out + (three ? 3 : 1) * done, three);
}

}  // namespace

int mean_gray_level(const ImageU8& img) {
  const size_t n = pixel_count(img);
  if (n == 0) return 0;
  uint64_t sum = 0;
  const uint8_t* p = img.data.data();
  if (img.channels == 3) {
    sum = sum_gray_rgb(p, n);
  } else {
    for (size_t i = 0; i < n; ++i) sum += p[i];
  }
  // ImageStat's mean is a double; the +0.5 and int() round it half up.
  return static_cast<int>(static_cast<double>(sum) / static_cast<double>(n) + 0.5);
}

void apply_lut(ImageU8& img, const uint8_t* lut) {
  uint8_t* p = img.data.data();
  const size_t n = img.data.size();
  size_t done = 0;
#if MDLAB_AVX2_DISPATCH
  if (have_avx512_vbmi()) done = apply_lut_vbmi(p, n, lut);
#endif
  for (size_t i = done; i < n; ++i) p[i] = lut[p[i]];
}

void adjust_brightness(ImageU8& img, float factor) {
  blend_constant(img.data.data(), img.data.size(), 0, factor);
}

void adjust_contrast(ImageU8& img, float factor) {
  blend_constant(img.data.data(), img.data.size(), mean_gray_level(img), factor);
}

void adjust_saturation(ImageU8& img, float factor) {
  if (img.channels != 3) return;  // the gray image is its own degenerate
  blend_own_gray(img.data.data(), pixel_count(img), factor);
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
// (maxc - minc, maxc). The inverse needs, per h, the sector and f; per s, fs.
struct HueTables {
  // Both byte tables carry 3 bytes of padding: the AVX2 path reads them with 32-bit gathers.
  std::vector<uint8_t> hue;         // [3][256][256]
  std::vector<uint8_t> saturation;  // [256 (maxc - minc)][256 (maxc)]
  // fs = s / 255 and f = the fraction of h * 6 / 255, in float as Pillow computes them. The
  // products with v are left to adjust_hue: arithmetic is cheaper than the cache misses of
  // 64K-entry tables of p, q and t factors.
  float fs[256];
  float f[256];
  // Per h, where R, G and B take their value from in the word v | p << 8 | q << 16 | t << 24:
  // the bit offsets of the six sectors (i % 6) of PIL's HSV -> RGB switch, packed as
  // r | g << 8 | b << 16 (one gather in the AVX2 path).
  int32_t shifts[256];

  HueTables() : hue(3 * 65536 + 3), saturation(65536 + 3) {
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
      // (v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q); v 0, p 8, q 16, t 24.
      static constexpr uint8_t kShifts[6][3] = {{0, 24, 8}, {16, 0, 8}, {8, 0, 24},
                                                {8, 16, 0}, {24, 8, 0}, {0, 8, 16}};
      const int sector = i % 6;
      shifts[h] = kShifts[sector][0] | kShifts[sector][1] << 8 | kShifts[sector][2] << 16;
      this->f[h] = f;
    }
    for (int sat = 0; sat < 256; ++sat)
      fs[sat] = static_cast<float>(static_cast<float>(sat) / 255.0);
  }
};

const HueTables& hue_tables() {
  static const HueTables tables;
  return tables;
}

// clip8(int(std::round(x))) for 0 <= x < 2^31 without the libm call: round half away from
// zero is the truncation plus one when the fraction is >= 0.5 (x - n is exact here).
inline uint32_t round_byte(double x) {
  const int n = static_cast<int>(x);
  const int r = n + (x - static_cast<double>(n) >= 0.5 ? 1 : 0);
  return static_cast<uint32_t>(r < 0 ? 0 : (r > 255 ? 255 : r));
}

// The hue shift of n RGB pixels. Branch-free per pixel: which channel holds the maximum and
// the output sector vary from pixel to pixel unpredictably, and mispredicted branches
// dominated the cost. Gray pixels (minc == maxc) and S == 0 need no special case: the
// saturation table gives S = 0 for them and then p = q = t = v, i.e. the pixel comes back as
// (v, v, v), unchanged for gray ones, as Pillow's branches give.
void hue_pixels(const HueTables& t, uint8_t shift, uint8_t* px, size_t n) {
  for (size_t i = 0; i < n; ++i, px += 3) {
    const uint32_t r = px[0], g = px[1], b = px[2];
    const uint32_t maxc = std::max(r, std::max(g, b));
    const uint32_t minc = std::min(r, std::min(g, b));
    // The cases of rgb_to_hsv, tested in its order: r is the maximum, else g, else b.
    const bool r_max = r == maxc;
    const bool g_max = !r_max && g == maxc;
    const uint32_t hue_case = r_max ? 0u : (g_max ? 1u : 2u);
    const uint32_t d_a = maxc - (r_max ? g : r);
    const uint32_t d_b = maxc - (r_max || g_max ? b : g);
    const uint8_t h = static_cast<uint8_t>(t.hue[(hue_case * 256 + d_a) * 256 + d_b] + shift);
    const uint32_t s = t.saturation[(maxc - minc) * 256 + maxc];
    const uint32_t v = maxc;
    // hsv_to_rgb's p, q and t with its types: fs * f in float, the rest in double.
    const double vd = static_cast<double>(v);
    const float fs = t.fs[s], f = t.f[h];
    const uint32_t p = round_byte(vd * (1.0 - fs));
    const uint32_t q = round_byte(vd * (1.0 - fs * f));
    const uint32_t u = round_byte(vd * (1.0 - fs * (1.0 - f)));
    const uint32_t word = v | p << 8 | q << 16 | u << 24;
    const uint32_t shifts = static_cast<uint32_t>(t.shifts[h]);
    px[0] = static_cast<uint8_t>(word >> (shifts & 0xff));
    px[1] = static_cast<uint8_t>(word >> (shifts >> 8 & 0xff));
    px[2] = static_cast<uint8_t>(word >> (shifts >> 16));
  }
}

#if MDLAB_AVX2_DISPATCH
// hue_pixels eight pixels at a time, with two table gathers (H, and f of the shifted h) where
// the scalar form makes five look-ups, and float arithmetic where it computes in double.
// Exact by exhaustive check, not by construction (see the tests):
// - S = int(float(maxc - minc) / float(maxc) * 255.0f) equals Pillow's double product for all
//   (maxc - minc, maxc), and fs = float(S) / 255.0f equals float(S / 255.0) for all 256 S;
// - with all products in float and no FMA, truncating x + 0.5f gives round_byte's bytes for
//   p, q and t at every one of the 2^24 (v, S, h) (x >= 0, so truncation is the floor);
// - the sector floor(h * 6 / 255) is the count of the thresholds 43, 85, 128, 170, 213 and
//   255 that h reaches (255 gives 6, i.e. sector 0).
// H itself keeps its table: a float version of Pillow's double fmod path differs at 72,036
// colours.
__attribute__((target("avx2"))) inline __m256i round_scaled(__m256 v, __m256 one_minus) {
  return _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(v, one_minus), _mm256_set1_ps(0.5f)));
}

__attribute__((target("avx2"))) size_t hue_pixels_avx2(const HueTables& t, uint8_t shift,
                                                       uint8_t* px, size_t n) {
  const __m256i k255 = _mm256_set1_epi32(255);
  const __m256i one = _mm256_set1_epi32(1), two = _mm256_set1_epi32(2);
  const __m256 f1 = _mm256_set1_ps(1.0f), f255 = _mm256_set1_ps(255.0f);
  const int* hue_base = reinterpret_cast<const int*>(t.hue.data());
  // The packed shifts of sectors 0-5, and 6 (h = 255) as sector 0.
  const __m256i sector_shifts =
      _mm256_setr_epi32(t.shifts[0], t.shifts[43], t.shifts[85], t.shifts[128], t.shifts[170],
                        t.shifts[213], t.shifts[0], t.shifts[0]);
  const size_t groups = rgb8_groups(n);
  for (size_t group = 0; group < groups; ++group, px += 24) {
    __m256i r, g, b;
    load_rgb8(px, r, g, b);
    const __m256i maxc = _mm256_max_epi32(r, _mm256_max_epi32(g, b));
    const __m256i minc = _mm256_min_epi32(r, _mm256_min_epi32(g, b));
    const __m256i r_max = _mm256_cmpeq_epi32(r, maxc);
    const __m256i g_max = _mm256_andnot_si256(r_max, _mm256_cmpeq_epi32(g, maxc));
    const __m256i r_or_g = _mm256_or_si256(r_max, g_max);
    const __m256i hue_case =
        _mm256_blendv_epi8(_mm256_blendv_epi8(two, one, g_max), _mm256_setzero_si256(), r_max);
    const __m256i d_a = _mm256_sub_epi32(maxc, _mm256_blendv_epi8(r, g, r_max));
    const __m256i d_b = _mm256_sub_epi32(maxc, _mm256_blendv_epi8(g, b, r_or_g));
    const __m256i hue_index = _mm256_add_epi32(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_slli_epi32(hue_case, 8), d_a), 8), d_b);
    const __m256i h = _mm256_and_si256(
        _mm256_add_epi32(_mm256_i32gather_epi32(hue_base, hue_index, 1), _mm256_set1_epi32(shift)),
        k255);

    // S; gray pixels (maxc == minc, including black's 0 / 0) get 0, as in Pillow.
    const __m256i cr = _mm256_sub_epi32(maxc, minc);
    const __m256 v = _mm256_cvtepi32_ps(maxc);
    const __m256i s_raw =
        _mm256_cvttps_epi32(_mm256_mul_ps(_mm256_div_ps(_mm256_cvtepi32_ps(cr), v), f255));
    const __m256i s = _mm256_andnot_si256(_mm256_cmpeq_epi32(cr, _mm256_setzero_si256()), s_raw);
    const __m256 fs = _mm256_div_ps(_mm256_cvtepi32_ps(s), f255);
    const __m256 f = _mm256_i32gather_ps(t.f, h, 4);

    const __m256i p = round_scaled(v, _mm256_sub_ps(f1, fs));
    const __m256i q = round_scaled(v, _mm256_sub_ps(f1, _mm256_mul_ps(fs, f)));
    const __m256i u = round_scaled(v, _mm256_sub_ps(f1, _mm256_mul_ps(fs, _mm256_sub_ps(f1, f))));
    const __m256i word =
        _mm256_or_si256(_mm256_or_si256(maxc, _mm256_slli_epi32(p, 8)),
                        _mm256_or_si256(_mm256_slli_epi32(q, 16), _mm256_slli_epi32(u, 24)));
    // Sector: each threshold reached adds 1 (a comparison's true is -1, hence the subtraction).
    __m256i sector = _mm256_setzero_si256();
    for (int threshold : {42, 84, 127, 169, 212, 254})
      sector = _mm256_sub_epi32(sector, _mm256_cmpgt_epi32(h, _mm256_set1_epi32(threshold)));
    const __m256i shifts = _mm256_permutevar8x32_epi32(sector_shifts, sector);
    __m256i out[3];
    for (int c = 0; c < 3; ++c) {
      const __m256i sc = _mm256_and_si256(_mm256_srli_epi32(shifts, 8 * c), k255);
      out[c] = _mm256_and_si256(_mm256_srlv_epi32(word, sc), k255);
    }
    store_rgb8(px, out[0], out[1], out[2]);
  }
  return groups * 8;
}
#endif

}  // namespace

void adjust_hue(ImageU8& img, double hue) {
  MDLAB_CHECK(hue >= -0.5 && hue <= 0.5, "augment: hue shift {} is not in [-0.5, 0.5]", hue);
  if (img.channels != 3) return;  // PIL returns gray images unchanged
  const uint8_t shift = hue_shift(hue);
  const HueTables& t = hue_tables();
  uint8_t* px = img.data.data();
  const size_t n = pixel_count(img);
  size_t done = 0;
#if MDLAB_AVX2_DISPATCH
  if (have_avx2()) done = hue_pixels_avx2(t, shift, px, n);
#endif
  hue_pixels(t, shift, px + 3 * done, n - done);
}

void to_grayscale(ImageU8& img, int out_channels) {
  MDLAB_CHECK(out_channels == 1 || out_channels == 3, "augment: grayscale to {} channels (1 or 3)",
              out_channels);
  const size_t n = pixel_count(img);
  if (img.channels == 3) {
    // In place: pixel i is written at i (or 3i), after bytes 3i.. have been read.
    gray_rgb(img.data.data(), n, img.data.data(), out_channels == 3);
    if (out_channels == 1) img.resize(img.height, img.width, 1);
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
