// AVX2 building blocks for per-pixel colour kernels on interleaved RGB bytes (HWC, see
// image.h): eight pixels (24 bytes) are split into three vectors of eight 32-bit lanes, one
// per channel, and joined back. Shuffles instead of a scalar copy through small arrays: the
// copy's 48 byte moves per eight pixels, and the store-forwarding stalls of reading the
// arrays back as vectors, cost more than the colour arithmetic itself.
//
// load_rgb8 and store_rgb8 touch 32 bytes from `p` (the eight pixels and the 8 bytes after
// them; store_rgb8 writes only the 24), so the caller stops the vector loop 8 bytes before the
// end of the buffer: rgb8_groups says how many groups of eight pixels that leaves.
#pragma once

#include "vector_clones.h"

#include <cstddef>
#include <cstdint>

#if MDLAB_AVX2_DISPATCH
namespace mdlab::augment {

/// Groups of eight pixels the vector loop may take from `pixels` RGB pixels (the rest go to
/// the scalar tail): load_rgb8 reads 32 bytes per group, 8 past the group's 24.
inline size_t rgb8_groups(size_t pixels) {
  return pixels * 3 >= 32 ? (pixels * 3 - 8) / 24 : 0;
}

/// Pixels 0..7 at `p` (RGBRGB...) as r, g, b in 32-bit lanes, lane k = pixel k.
__attribute__((target("avx2"))) inline void load_rgb8(const uint8_t* p, __m256i& r, __m256i& g,
                                                      __m256i& b) {
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  // Pixels 0-3 (bytes 0-11) to the low 128-bit half, pixels 4-7 (bytes 12-23) to the high one.
  const __m256i halves =
      _mm256_permutevar8x32_epi32(raw, _mm256_setr_epi32(0, 1, 2, 2, 3, 4, 5, 5));
  const __m256i take_r =
      _mm256_setr_epi8(0, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1, 0, -1, -1, -1, 3,
                       -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1);
  const __m256i one = _mm256_set1_epi32(1);
  r = _mm256_shuffle_epi8(halves, take_r);
  g = _mm256_shuffle_epi8(halves, _mm256_add_epi32(take_r, one));
  b = _mm256_shuffle_epi8(halves, _mm256_add_epi32(take_r, _mm256_add_epi32(one, one)));
}

/// The inverse of load_rgb8: r, g, b (lanes holding 0..255) written as 24 bytes at `p`.
__attribute__((target("avx2"))) inline void store_rgb8(uint8_t* p, __m256i r, __m256i g,
                                                       __m256i b) {
  // Lane k's byte 0 is the value; r stays at byte 0 of each dword, g moves to byte 1, b to 2.
  const __m256i rgb0 =
      _mm256_or_si256(r, _mm256_or_si256(_mm256_slli_epi32(g, 8), _mm256_slli_epi32(b, 16)));
  // Per half: dwords (rgb0) of 4 pixels -> 12 packed bytes in bytes 0-11.
  const __m256i pack = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0,
                                        1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  const __m256i packed = _mm256_shuffle_epi8(rgb0, pack);
  // Dwords 0-2 of the low half, then dwords 0-2 of the high half (4-6): 24 contiguous bytes.
  const __m256i joined =
      _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(joined));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p + 16), _mm256_extracti128_si256(joined, 1));
}

/// PIL's gray level (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16 in each lane.
__attribute__((target("avx2"))) inline __m256i gray_level8(__m256i r, __m256i g, __m256i b) {
  const __m256i sum = _mm256_add_epi32(
      _mm256_add_epi32(_mm256_mullo_epi32(r, _mm256_set1_epi32(19595)),
                       _mm256_mullo_epi32(g, _mm256_set1_epi32(38470))),
      _mm256_add_epi32(_mm256_mullo_epi32(b, _mm256_set1_epi32(7471)), _mm256_set1_epi32(0x8000)));
  return _mm256_srli_epi32(sum, 16);
}

/// PIL's blend of `degenerate` toward `value` by `factor` in each lane (ints 0..255): the
/// same float operations as color.h's blend (exact int difference, one multiply, one add, no
/// FMA), truncated, clamped to 0..255.
__attribute__((target("avx2"))) inline __m256i blend8(__m256i degenerate, __m256i value,
                                                      __m256 factor) {
  const __m256 v =
      _mm256_add_ps(_mm256_cvtepi32_ps(degenerate),
                    _mm256_mul_ps(factor, _mm256_cvtepi32_ps(_mm256_sub_epi32(value, degenerate))));
  // Bounded before the conversion so that no factor can overflow it; then the clamp.
  const __m256i t = _mm256_cvttps_epi32(
      _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-1.0f)), _mm256_set1_ps(256.0f)));
  return _mm256_min_epi32(_mm256_max_epi32(t, _mm256_setzero_si256()), _mm256_set1_epi32(255));
}

}  // namespace mdlab::augment
#endif
