#include "resample.h"

#include "vector_clones.h"

#include <mdlab/error.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace mdlab::augment {
namespace {

// PIL keeps 8 bits for the pixel, 2 for headroom and 22 for the fraction of a weight.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = int32_t{1} << (kPrecisionBits - 1);

inline uint8_t clip_fixed(int32_t v) {
  // Arithmetic shift, then clamp: a sum can leave [0, 255] only through rounding of the
  // weights (bilinear weights are never negative), so this is PIL's clip8 table.
  const int32_t s = v >> kPrecisionBits;
  return static_cast<uint8_t>(s < 0 ? 0 : (s > 255 ? 255 : s));
}

inline double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

void check_image(const ImageU8& img, const char* what) {
  MDLAB_CHECK(img.channels == 1 || img.channels == 3,
              "augment: {} needs a 1- or 3-channel image, got {} channels", what, img.channels);
  MDLAB_CHECK(img.height > 0 && img.width > 0, "augment: {} got an empty image", what);
  MDLAB_CHECK(img.data.size() == static_cast<size_t>(img.height) * img.width * img.channels,
              "augment: {}: pixel buffer holds {} bytes, shape {}x{}x{} needs {}", what,
              img.data.size(), img.height, img.width, img.channels,
              static_cast<size_t>(img.height) * img.width * img.channels);
}

// One row of the horizontal pass: `in` points at column 0 of the crop in a source row.
template <int C>
void horizontal_row(const uint8_t* in, const ResampleAxis& ax, int out_begin, int out_count,
                    uint8_t* out) {
  for (int o = 0; o < out_count; ++o) {
    const int xo = out_begin + o;
    const int32_t* k = ax.coeffs.data() + static_cast<size_t>(xo) * ax.taps;
    const uint8_t* p = in + static_cast<size_t>(ax.first[xo]) * C;
    const int n = ax.count[xo];
    int32_t s[C];
    for (int c = 0; c < C; ++c) s[c] = kHalf;
    for (int t = 0; t < n; ++t, p += C) {
      for (int c = 0; c < C; ++c) s[c] += p[c] * k[t];
    }
    for (int c = 0; c < C; ++c) out[o * C + c] = clip_fixed(s[c]);
  }
}

#if MDLAB_AVX2_DISPATCH
inline int32_t load4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Shift, clamp to [0, 255] (packs to int16, then packus to uint8, saturate exactly as the
// clamp does) and write output pixel o from lanes 0-2 and, when `both`, pixel o + 1 from
// lanes 4-6.
__attribute__((target("avx2"))) inline void store_rgb_pair(__m256i acc, int o, int out_count,
                                                           bool both, uint8_t* out) {
  acc = _mm256_srai_epi32(acc, kPrecisionBits);
  const __m256i w16 = _mm256_packs_epi32(acc, acc);
  const __m256i w = _mm256_packus_epi16(w16, w16);
  const int32_t lo = _mm256_extract_epi32(w, 0);
  const int32_t hi = _mm256_extract_epi32(w, 4);
  uint8_t* dst = out + static_cast<size_t>(o) * 3;
  std::memcpy(dst, &lo, o + 1 < out_count ? 4 : 3);
  if (both) std::memcpy(dst + 3, &hi, o + 2 < out_count ? 4 : 3);
}

// The 3-channel horizontal row with AVX2, two output pixels per 256-bit register: lanes 0-3
// accumulate pixel o (R, G, B and a discarded fourth lane), lanes 4-7 pixel o + 1, each with
// its own taps. Integer sums are exact, so any order gives PIL's result. Both pixels loop
// over the larger tap count (coefficients past a pixel's own count are 0). Loads take 4 bytes per
// input pixel and stores write 4 bytes per output pixel (the 4th is the next pixel's, written
// after it), so the caller keeps one readable byte after the crop row, and the row's last
// output pixel is written with 3 bytes.
__attribute__((target("avx2"))) void horizontal_row_rgb_avx2(const uint8_t* in,
                                                             const ResampleAxis& ax, int out_begin,
                                                             int out_count, uint8_t* out) {
  const int taps = ax.taps;
  const __m256i half = _mm256_set1_epi32(kHalf);
  int o = 0;
  for (; o + 1 < out_count; o += 2) {
    const int x0 = out_begin + o, x1 = x0 + 1;
    const int32_t* k0 = ax.coeffs.data() + static_cast<size_t>(x0) * taps;
    const int32_t* k1 = k0 + taps;
    const uint8_t* p0 = in + static_cast<size_t>(ax.first[x0]) * 3;
    const uint8_t* p1 = in + static_cast<size_t>(ax.first[x1]) * 3;
    const int n0 = ax.count[x0], n1 = ax.count[x1];
    const int n = std::max(n0, n1);
    __m256i acc = half;
    for (int t = 0; t < n; ++t) {
      // Past its own count a pixel's weight is 0; its input is not read (it may lie past
      // the crop when the window of o + 1 is cut by the right edge).
      const int32_t v0 = t < n0 ? load4(p0 + 3 * t) : 0;
      const int32_t v1 = t < n1 ? load4(p1 + 3 * t) : 0;
      const __m256i px = _mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, v1, v0));
      const __m256i w = _mm256_setr_m128i(_mm_set1_epi32(k0[t]), _mm_set1_epi32(k1[t]));
      acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(px, w));
    }
    store_rgb_pair(acc, o, out_count, true, out);
  }
  if (o < out_count) {
    const int x0 = out_begin + o;
    const int32_t* k0 = ax.coeffs.data() + static_cast<size_t>(x0) * taps;
    const uint8_t* p0 = in + static_cast<size_t>(ax.first[x0]) * 3;
    __m256i acc = half;
    for (int t = 0; t < ax.count[x0]; ++t) {
      const __m256i px = _mm256_cvtepu8_epi32(_mm_cvtsi32_si128(load4(p0 + 3 * t)));
      acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(px, _mm256_set1_epi32(k0[t])));
    }
    store_rgb_pair(acc, o, out_count, false, out);
  }
}

// The same row with 16-bit multiply-adds (vpmaddwd), for the usual downscale: about three
// times fewer instructions than the 32-bit products above. A 22-bit weight k is split as
// k = hi * 2^11 + lo (both in [0, 2^11], so int16), and sum(p * k) = 2^11 * sum(p * hi) +
// sum(p * lo) exactly: the sums are PIL's, bit for bit.
//
// Per output pixel, taps go in groups of 4: the 12 bytes of 4 input pixels are loaded once
// into both 128-bit halves and shuffled to words, taps 0-1 in the low half and 2-3 in the
// high one: R0 R1 G0 G1 B0 B1 0 0 | R2 R3 G2 G3 B2 B3 0 0. madd_layout() stores the weights
// of each group in the same order (hi words, then lo words), so one vpmaddwd gives the
// channel sums of two taps per half; the halves are added at the end. Loads take 16 bytes
// from the group's first pixel: the caller keeps 13 readable bytes after the crop row.
constexpr int kMaddReadSlack = 13;

// The 4 pixels of a group at `p` as words, in the layout above.
__attribute__((target("avx2"))) inline __m256i group_words(const uint8_t* p) {
  const __m256i words =
      _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 6, -1, 9, -1, 7,
                       -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
  return _mm256_shuffle_epi8(
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), words);
}

// The channel sums of output sample xo, taps 0-1 of each group in the low half and 2-3 in
// the high one, each lane the exact 2^11 * hi + lo total.
__attribute__((target("avx2"))) inline __m256i madd_sums(const uint8_t* in, const ResampleAxis& ax,
                                                         int xo) {
  const uint8_t* p = in + static_cast<size_t>(ax.first[xo]) * 3;
  const __m256i* k = reinterpret_cast<const __m256i*>(ax.madd.data()) +
                     static_cast<size_t>(xo) * ax.madd_groups * 2;
  const int used = (ax.count[xo] + 3) / 4;
  __m256i sum_hi = _mm256_setzero_si256(), sum_lo = _mm256_setzero_si256();
  for (int g = 0; g < used; ++g, p += 12) {
    const __m256i px = group_words(p);
    sum_hi = _mm256_add_epi32(sum_hi, _mm256_madd_epi16(px, _mm256_loadu_si256(k + 2 * g)));
    sum_lo = _mm256_add_epi32(sum_lo, _mm256_madd_epi16(px, _mm256_loadu_si256(k + 2 * g + 1)));
  }
  return _mm256_add_epi32(_mm256_slli_epi32(sum_hi, 11), sum_lo);
}

__attribute__((target("avx2"))) void horizontal_row_rgb_madd(const uint8_t* in,
                                                             const ResampleAxis& ax, int out_begin,
                                                             int out_count, uint8_t* out) {
  const __m128i half = _mm_set1_epi32(kHalf);
  // One pixel per step: folding two pixels' halves together measured slower.
  for (int o = 0; o < out_count; ++o) {
    const __m256i sum = madd_sums(in, ax, out_begin + o);
    __m128i rgb = _mm_add_epi32(_mm_add_epi32(_mm256_castsi256_si128(sum), half),
                                _mm256_extracti128_si256(sum, 1));
    rgb = _mm_srai_epi32(rgb, kPrecisionBits);
    rgb = _mm_packus_epi16(_mm_packs_epi32(rgb, rgb), rgb);
    const int32_t bytes = _mm_cvtsi128_si32(rgb);
    // 4 bytes (the 4th is overwritten by the next pixel), 3 for the row's last pixel.
    std::memcpy(out + static_cast<size_t>(o) * 3, &bytes, o + 1 < out_count ? 4 : 3);
  }
}

// horizontal_row_rgb_madd for two rows at once with AVX-512 VNNI, whose vpdpwssd multiplies,
// adds pairs and accumulates in one instruction. Both rows use the output pixel's weights, so
// weight loads and the final packing are shared; the sums are the same integers.
__attribute__((target("avx2,avx512f,avx512vl,avx512vnni"))) void horizontal_rows2_rgb_vnni(
    const uint8_t* in0, const uint8_t* in1, const ResampleAxis& ax, int out_begin, int out_count,
    uint8_t* out0, uint8_t* out1) {
  const __m256i half = _mm256_set1_epi32(kHalf);
  for (int o = 0; o < out_count; ++o) {
    const int xo = out_begin + o;
    const size_t first = static_cast<size_t>(ax.first[xo]) * 3;
    const uint8_t* p0 = in0 + first;
    const uint8_t* p1 = in1 + first;
    const __m256i* k = reinterpret_cast<const __m256i*>(ax.madd.data()) +
                       static_cast<size_t>(xo) * ax.madd_groups * 2;
    const int used = (ax.count[xo] + 3) / 4;
    __m256i hi0 = _mm256_setzero_si256(), lo0 = hi0, hi1 = hi0, lo1 = hi0;
    for (int g = 0; g < used; ++g, p0 += 12, p1 += 12) {
      const __m256i w_hi = _mm256_loadu_si256(k + 2 * g);
      const __m256i w_lo = _mm256_loadu_si256(k + 2 * g + 1);
      const __m256i a = group_words(p0), b = group_words(p1);
      hi0 = _mm256_dpwssd_epi32(hi0, a, w_hi);
      lo0 = _mm256_dpwssd_epi32(lo0, a, w_lo);
      hi1 = _mm256_dpwssd_epi32(hi1, b, w_hi);
      lo1 = _mm256_dpwssd_epi32(lo1, b, w_lo);
    }
    // Per row: taps 0-1 in the low half, 2-3 in the high one; regrouped by row and added.
    const __m256i s0 = _mm256_add_epi32(_mm256_slli_epi32(hi0, 11), lo0);
    const __m256i s1 = _mm256_add_epi32(_mm256_slli_epi32(hi1, 11), lo1);
    __m256i rgb = _mm256_add_epi32(_mm256_permute2x128_si256(s0, s1, 0x20),
                                   _mm256_permute2x128_si256(s0, s1, 0x31));
    rgb = _mm256_srai_epi32(_mm256_add_epi32(rgb, half), kPrecisionBits);
    rgb = _mm256_packus_epi16(_mm256_packs_epi32(rgb, rgb), rgb);
    const int32_t bytes0 = _mm_cvtsi128_si32(_mm256_castsi256_si128(rgb));
    const int32_t bytes1 = _mm_cvtsi128_si32(_mm256_extracti128_si256(rgb, 1));
    // 4 bytes (the 4th is overwritten by the next pixel), 3 for the row's last pixel.
    const size_t n = o + 1 < out_count ? 4 : 3;
    std::memcpy(out0 + static_cast<size_t>(o) * 3, &bytes0, n);
    std::memcpy(out1 + static_cast<size_t>(o) * 3, &bytes1, n);
  }
}

// madd layout of `ax` (see horizontal_row_rgb_madd): per output sample, per group of 4 taps,
// one vector of 16 hi words, then one of 16 lo words.
void madd_layout(ResampleAxis& ax) {
  const int groups = (ax.taps + 3) / 4;
  ax.madd_groups = groups;
  ax.madd.assign(static_cast<size_t>(ax.out_size) * groups * 32, 0);
  for (int o = 0; o < ax.out_size; ++o) {
    const int32_t* k = ax.coeffs.data() + static_cast<size_t>(o) * ax.taps;
    int16_t* w = ax.madd.data() + static_cast<size_t>(o) * groups * 32;
    for (int t = 0; t < ax.count[o]; ++t) {
      const auto hi = static_cast<int16_t>(k[t] >> 11), lo = static_cast<int16_t>(k[t] & 2047);
      // Tap t of group t / 4: half t % 4 / 2, word t % 2 of each channel's pair.
      int16_t* group = w + (t / 4) * 32 + (t % 4 / 2) * 8 + t % 2;
      for (int c = 0; c < 3; ++c) {
        group[2 * c] = hi;
        group[16 + 2 * c] = lo;
      }
    }
  }
}
#endif

// Horizontal pass over `rows` source rows starting at `src_row` (crop columns start at
// `left`), writing output columns [out_begin, out_begin + out_count) into `mid`.
void horizontal_pass(const ImageU8& src, int src_row, int rows, int left, const ResampleAxis& ax,
                     int out_begin, int out_count, ImageU8& mid) {
  const int C = src.channels;
#if MDLAB_AVX2_DISPATCH
  const uint8_t* src_end = src.data.data() + src.data.size();
  const bool avx2 = C == 3 && have_avx2();
  const bool vnni = avx2 && !ax.madd.empty() && have_avx512_vnni();
  const size_t stride = static_cast<size_t>(src.width) * C;  // bytes per source row
#endif
  for (int y = 0; y < rows; ++y) {
    const uint8_t* in = src.row(src_row + y) + static_cast<size_t>(left) * C;
    uint8_t* out = mid.row(y);
    if (C == 3) {
#if MDLAB_AVX2_DISPATCH
      // The vector rows read past the crop's last pixel: not past the buffer.
      const uint8_t* row_end = in + static_cast<size_t>(ax.in_size) * 3;
      if (vnni && y + 1 < rows && row_end + stride + kMaddReadSlack <= src_end) {
        horizontal_rows2_rgb_vnni(in, in + stride, ax, out_begin, out_count, out, mid.row(y + 1));
        ++y;
        continue;
      }
      if (avx2 && !ax.madd.empty() && row_end + kMaddReadSlack <= src_end) {
        horizontal_row_rgb_madd(in, ax, out_begin, out_count, out);
        continue;
      }
      if (avx2 && row_end < src_end) {
        horizontal_row_rgb_avx2(in, ax, out_begin, out_count, out);
        continue;
      }
#endif
      horizontal_row<3>(in, ax, out_begin, out_count, out);
    } else {
      horizontal_row<1>(in, ax, out_begin, out_count, out);
    }
  }
}

// Accumulates whole rows: out[i] = clip(kHalf + sum_t rows(t)[i] * k[t]) for i < row_bytes,
// rows(t) = base + t * stride. Portable form: PIL's loop, vectorised by the compiler over i.
void vertical_taps_portable(const uint8_t* base, size_t stride, const int32_t* k, int n,
                            int row_bytes, uint8_t* out, int32_t* acc) {
  std::fill(acc, acc + row_bytes, kHalf);
  for (int t = 0; t < n; ++t) {
    const uint8_t* in = base + static_cast<size_t>(t) * stride;
    const int32_t w = k[t];
    for (int i = 0; i < row_bytes; ++i) acc[i] += in[i] * w;
  }
  for (int i = 0; i < row_bytes; ++i) out[i] = clip_fixed(acc[i]);
}

#if MDLAB_AVX2_DISPATCH
// The same with AVX2, 32 bytes at a time: the accumulators stay in four registers for all the
// taps, bytes are widened with vpmovzxbd and multiplied with vpmulld (baseline SSE2 has no
// 32-bit multiply). Integer sums: bit-identical whatever the order.
__attribute__((target("avx2"))) inline __m256i load_bytes_epi32(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

__attribute__((target("avx2"))) void vertical_taps_avx2(const uint8_t* base, size_t stride,
                                                        const int32_t* k, int n, int row_bytes,
                                                        uint8_t* out) {
  int i0 = 0;
  for (; i0 + 32 <= row_bytes; i0 += 32) {
    __m256i a0 = _mm256_set1_epi32(kHalf), a1 = a0, a2 = a0, a3 = a0;
    for (int t = 0; t < n; ++t) {
      const uint8_t* in = base + static_cast<size_t>(t) * stride + i0;
      const __m256i w = _mm256_set1_epi32(k[t]);
      a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(load_bytes_epi32(in), w));
      a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(load_bytes_epi32(in + 8), w));
      a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(load_bytes_epi32(in + 16), w));
      a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(load_bytes_epi32(in + 24), w));
    }
    // Shift, then saturating packs (int16, then uint8) clamp to [0, 255] as clip_fixed does;
    // packing works per 128-bit lane, the permutation puts the 32 bytes back in order.
    a0 = _mm256_srai_epi32(a0, kPrecisionBits);
    a1 = _mm256_srai_epi32(a1, kPrecisionBits);
    a2 = _mm256_srai_epi32(a2, kPrecisionBits);
    a3 = _mm256_srai_epi32(a3, kPrecisionBits);
    const __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(a0, a1), _mm256_packs_epi32(a2, a3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i0),
                        _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
  for (; i0 < row_bytes; ++i0) {
    int32_t a = kHalf;
    for (int t = 0; t < n; ++t) a += base[static_cast<size_t>(t) * stride + i0] * k[t];
    out[i0] = clip_fixed(a);
  }
}
#endif

// Vertical pass: row r of the input is at `base + (r - row0) * stride`; every output row
// is a weighted sum of whole input rows, so the inner loop runs over contiguous bytes.
void vertical_pass(const uint8_t* base, size_t stride, int row0, const ResampleAxis& ax,
                   int out_begin, int out_count, int row_bytes, ImageU8& dst,
                   std::vector<int32_t>& acc) {
#if MDLAB_AVX2_DISPATCH
  const bool avx2 = have_avx2();
#endif
  acc.resize(static_cast<size_t>(row_bytes));
  for (int o = 0; o < out_count; ++o) {
    const int yo = out_begin + o;
    const int32_t* k = ax.coeffs.data() + static_cast<size_t>(yo) * ax.taps;
    const uint8_t* rows = base + static_cast<size_t>(ax.first[yo] - row0) * stride;
#if MDLAB_AVX2_DISPATCH
    if (avx2) {
      vertical_taps_avx2(rows, stride, k, ax.count[yo], row_bytes, dst.row(o));
      continue;
    }
#endif
    vertical_taps_portable(rows, stride, k, ax.count[yo], row_bytes, dst.row(o), acc.data());
  }
}

}  // namespace

void compute_resample_axis(int in_size, int out_size, ResampleAxis& axis,
                           std::vector<double>& weights) {
  MDLAB_CHECK(in_size > 0 && out_size > 0, "augment: cannot resample {} samples to {}", in_size,
              out_size);
  // PIL computes the box extent in float (exact for any real image size) and the rest in
  // double; keep the same types so the rounding of every weight matches.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;  // the triangle's support is 1
  const int taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  const double inv = 1.0 / filterscale;

  axis.in_size = in_size;
  axis.out_size = out_size;
  axis.taps = taps;
  axis.first.resize(static_cast<size_t>(out_size));
  axis.count.resize(static_cast<size_t>(out_size));
  axis.coeffs.resize(static_cast<size_t>(out_size) * taps);
  weights.resize(static_cast<size_t>(taps));

  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    // Truncation of (x + 0.5) as C's (int) cast does: the rounding PIL uses for the bounds.
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    const int n = hi - lo;
    double sum = 0.0;
    for (int t = 0; t < n; ++t) {
      const double w = triangle((t + lo - center + 0.5) * inv);
      weights[static_cast<size_t>(t)] = w;
      sum += w;
    }
    int32_t* k = axis.coeffs.data() + static_cast<size_t>(o) * taps;
    for (int t = 0; t < taps; ++t) {
      double w = t < n ? weights[static_cast<size_t>(t)] : 0.0;
      if (t < n && sum != 0.0) w /= sum;
      const double fixed = w * (1 << kPrecisionBits);
      k[t] = static_cast<int32_t>(w < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    axis.first[static_cast<size_t>(o)] = lo;
    axis.count[static_cast<size_t>(o)] = n;
  }
}

void resample_window(const ImageU8& src, const CropBox& box, int out_h, int out_w,
                     const CropBox& window, ImageU8& dst, ResampleScratch& s) {
  check_image(src, "resample");
  MDLAB_CHECK(&src != &dst, "augment: resample cannot write into its source");
  MDLAB_CHECK(box.height > 0 && box.width > 0 && box.top >= 0 && box.left >= 0 &&
                  box.top + box.height <= src.height && box.left + box.width <= src.width,
              "augment: crop box (top {}, left {}, {}x{}) is not inside the {}x{} image", box.top,
              box.left, box.height, box.width, src.height, src.width);
  MDLAB_CHECK(out_h > 0 && out_w > 0, "augment: resample to {}x{}", out_h, out_w);
  MDLAB_CHECK(window.height > 0 && window.width > 0 && window.top >= 0 && window.left >= 0 &&
                  window.top + window.height <= out_h && window.left + window.width <= out_w,
              "augment: output window (top {}, left {}, {}x{}) is not inside {}x{}", window.top,
              window.left, window.height, window.width, out_h, out_w);

  const int C = src.channels;
  // PIL skips a pass whose axis keeps its size; it would be the identity anyway.
  const bool need_h = out_w != box.width;
  const bool need_v = out_h != box.height;
  if (need_h) {
    compute_resample_axis(box.width, out_w, s.horizontal, s.weights);
    s.horizontal.madd.clear();
#if MDLAB_AVX2_DISPATCH
    // Weights above 2^22 (none for PIL's bilinear, whose weights are at most 1) would not
    // split into int16 halves.
    if (C == 3 && have_avx2() &&
        std::all_of(s.horizontal.coeffs.begin(), s.horizontal.coeffs.end(),
                    [](int32_t k) { return k >= 0 && k <= (int32_t{1} << kPrecisionBits); }))
      madd_layout(s.horizontal);
#endif
  }
  if (need_v) compute_resample_axis(box.height, out_h, s.vertical, s.weights);

  // Crop-relative rows the vertical pass reads (all rows of the window when it is skipped).
  int y_begin = window.top;
  int y_end = window.top + window.height;
  if (need_v) {
    const size_t last = static_cast<size_t>(window.top + window.height - 1);
    y_begin = s.vertical.first[static_cast<size_t>(window.top)];
    y_end = s.vertical.first[last] + s.vertical.count[last];
  }

  dst.resize(window.height, window.width, C);
  const int row_bytes = window.width * C;
  if (need_h) {
    ImageU8& mid = need_v ? s.intermediate : dst;
    mid.resize(y_end - y_begin, window.width, C);
    horizontal_pass(src, box.top + y_begin, y_end - y_begin, box.left, s.horizontal, window.left,
                    window.width, mid);
    if (need_v) {
      vertical_pass(mid.data.data(), static_cast<size_t>(row_bytes), y_begin, s.vertical,
                    window.top, window.height, row_bytes, dst, s.row);
    }
    return;
  }
  const uint8_t* base = src.row(box.top) + static_cast<size_t>(box.left + window.left) * C;
  const size_t stride = static_cast<size_t>(src.width) * C;
  if (need_v) {
    vertical_pass(base, stride, 0, s.vertical, window.top, window.height, row_bytes, dst, s.row);
    return;
  }
  for (int y = 0; y < window.height; ++y) {
    std::memcpy(dst.row(y), base + (window.top + y) * stride, static_cast<size_t>(row_bytes));
  }
}

void resized_crop(const ImageU8& src, int top, int left, int height, int width, int out_h,
                  int out_w, ImageU8& dst, ResampleScratch& scratch) {
  resample_window(src, {top, left, height, width}, out_h, out_w, {0, 0, out_h, out_w}, dst,
                  scratch);
}

void resized_crop(const ImageU8& src, int top, int left, int height, int width, int out_h,
                  int out_w, ImageU8& dst) {
  ResampleScratch scratch;
  resized_crop(src, top, left, height, width, out_h, out_w, dst, scratch);
}

void resize(const ImageU8& src, int out_h, int out_w, ImageU8& dst, ResampleScratch& scratch) {
  resample_window(src, {0, 0, src.height, src.width}, out_h, out_w, {0, 0, out_h, out_w}, dst,
                  scratch);
}

std::pair<int, int> shorter_side_shape(int height, int width, int size) {
  MDLAB_CHECK(height > 0 && width > 0 && size > 0, "augment: resize {}x{} to shorter side {}",
              height, width, size);
  const int shorter = std::min(height, width);
  const int longer = std::max(height, width);
  // Python: int(size * long / short), evaluated left to right in double, truncated.
  const int new_long = static_cast<int>(static_cast<double>(size) * longer / shorter);
  return width <= height ? std::pair{new_long, size} : std::pair{size, new_long};
}

void resize_shorter(const ImageU8& src, int size, ImageU8& dst, ResampleScratch& scratch) {
  const auto [h, w] = shorter_side_shape(src.height, src.width, size);
  resize(src, h, w, dst, scratch);
}

void resize_shorter(const ImageU8& src, int size, ImageU8& dst) {
  ResampleScratch scratch;
  resize_shorter(src, size, dst, scratch);
}

}  // namespace mdlab::augment
