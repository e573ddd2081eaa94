#include "normalize.h"

#include "vector_clones.h"

#include <mdlab/error.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace mdlab::augment {
namespace {

double channel_value(std::span<const double> values, int c, int channels) {
  if (values.size() == 1) return values[0];
  if (channels == 1 && values.size() == 3) return (values[0] + values[1] + values[2]) / 3.0;
  return values[static_cast<size_t>(c)];
}

template <bool Mirror>
void write_plane(const ImageU8& src, int c, const float* tab, float* out) {
  const int W = src.width, C = src.channels;
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* row = src.row(y) + c;
    float* o = out + static_cast<size_t>(y) * W;
    if (Mirror) {
      for (int x = 0; x < W; ++x) o[x] = tab[row[static_cast<size_t>(W - 1 - x) * C]];
    } else {
      for (int x = 0; x < W; ++x) o[x] = tab[row[static_cast<size_t>(x) * C]];
    }
  }
}

#if MDLAB_AVX2_DISPATCH
// The bytes of channel c of the eight RGB pixels at `p` into the low 8 bytes of bytes[c];
// reads exactly the 24 bytes (16 + 8), never past them.
__attribute__((target("avx2"))) inline void split_rgb8(const uint8_t* p, __m128i* bytes) {
  const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i hi = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 16));
  bytes[0] = _mm_or_si128(_mm_shuffle_epi8(lo, _mm_setr_epi8(0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1,
                                                             -1, -1, -1, -1, -1)),
                          _mm_shuffle_epi8(hi, _mm_setr_epi8(-1, -1, -1, -1, -1, -1, 2, 5, -1, -1,
                                                             -1, -1, -1, -1, -1, -1)));
  bytes[1] = _mm_or_si128(_mm_shuffle_epi8(lo, _mm_setr_epi8(1, 4, 7, 10, 13, -1, -1, -1, -1, -1,
                                                             -1, -1, -1, -1, -1, -1)),
                          _mm_shuffle_epi8(hi, _mm_setr_epi8(-1, -1, -1, -1, -1, 0, 3, 6, -1, -1,
                                                             -1, -1, -1, -1, -1, -1)));
  bytes[2] = _mm_or_si128(_mm_shuffle_epi8(lo, _mm_setr_epi8(2, 5, 8, 11, 14, -1, -1, -1, -1, -1,
                                                             -1, -1, -1, -1, -1, -1)),
                          _mm_shuffle_epi8(hi, _mm_setr_epi8(-1, -1, -1, -1, -1, 1, 4, 7, -1, -1,
                                                             -1, -1, -1, -1, -1, -1)));
}

// split_planes for RGB, eight pixels at a time; returns the pixels done.
__attribute__((target("avx2"))) size_t split_planes_avx2(const uint8_t* px, size_t pixels,
                                                         uint8_t* out) {
  size_t i = 0;
  __m128i bytes[3];
  for (; i + 8 <= pixels; i += 8) {
    split_rgb8(px + 3 * i, bytes);
    for (int c = 0; c < 3; ++c)
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + c * pixels + i), bytes[c]);
  }
  return i;
}

// (v / 255 - mean) / std for eight bytes, with the table's float operations in its order (no
// FMA), so every value equals the table's.
__attribute__((target("avx2"))) inline __m256 normalize8(__m128i bytes, __m256 mean,
                                                         __m256 stddev) {
  const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
  return _mm256_div_ps(_mm256_sub_ps(_mm256_div_ps(v, _mm256_set1_ps(255.0f)), mean), stddev);
}

// write_chw without a pre-LUT, eight output pixels at a time: the table is replaced by its
// arithmetic (a look-up per value costs more than the three vector operations), RGB bytes
// are split into planes with byte shuffles, a mirrored row reads eight pixels from the right
// and reverses them.
__attribute__((target("avx2"))) void write_chw_avx2(const ImageU8& src, const NormalizeTable& t,
                                                    float* out, bool mirror) {
  const int W = src.width, C = src.channels;
  const size_t plane = static_cast<size_t>(src.height) * W;
  __m256 mean[3], stddev[3];
  for (int c = 0; c < t.channels; ++c) {
    mean[c] = _mm256_set1_ps(t.mean[c]);
    stddev[c] = _mm256_set1_ps(t.stddev[c]);
  }
  const __m256i reverse = _mm256_set_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  // A batch buffer is written once here and read much later by the trainer, long after it
  // has left the caches: non-temporal stores skip reading every line in first. They need
  // 32-byte aligned destinations, i.e. an aligned `out` and rows of whole 8-float groups.
  const bool stream = reinterpret_cast<uintptr_t>(out) % 32 == 0 && W % 8 == 0;
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* row = src.row(y);
    const size_t o = static_cast<size_t>(y) * W;
    int x = 0;
    for (; x + 8 <= W; x += 8) {
      // Output pixels x..x+7 read source pixels first..first+7 (in reverse when mirrored).
      const int first = mirror ? W - 8 - x : x;
      const uint8_t* p = row + static_cast<size_t>(first) * C;
      __m128i bytes[3];
      if (C == 3) {
        split_rgb8(p, bytes);
      } else {
        bytes[0] = bytes[1] = bytes[2] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
      }
      for (int c = 0; c < t.channels; ++c) {
        __m256 v = normalize8(bytes[c], mean[c], stddev[c]);
        if (mirror) v = _mm256_permutevar8x32_ps(v, reverse);
        float* dst = out + static_cast<size_t>(c) * plane + o + x;
        if (stream) {
          _mm256_stream_ps(dst, v);
        } else {
          _mm256_storeu_ps(dst, v);
        }
      }
    }
    for (; x < W; ++x) {
      const int sx = mirror ? W - 1 - x : x;
      for (int c = 0; c < t.channels; ++c)
        out[static_cast<size_t>(c) * plane + o + x] =
            t.value[c][row[static_cast<size_t>(sx) * C + (C == 1 ? 0 : c)]];
    }
  }
  // Non-temporal stores are weakly ordered: fence them before the batch is handed over.
  if (stream) _mm_sfence();
}
#endif

}  // namespace

void split_planes(const ImageU8& src, int channels, uint8_t* out) {
  MDLAB_CHECK(channels == src.channels || (src.channels == 1 && channels == 3),
              "augment: cannot split a {}-channel image into {} planes", src.channels, channels);
  const size_t plane = static_cast<size_t>(src.height) * src.width;
  const uint8_t* px = src.data.data();
  if (src.channels == 1) {
    for (int c = 0; c < channels; ++c) std::copy(px, px + plane, out + c * plane);
    return;
  }
  size_t i = 0;
#if MDLAB_AVX2_DISPATCH
  if (have_avx2()) i = split_planes_avx2(px, plane, out);
#endif
  for (; i < plane; ++i)
    for (int c = 0; c < 3; ++c) out[c * plane + i] = px[3 * i + c];
}

NormalizeTable make_normalize_table(std::span<const double> mean, std::span<const double> stddev,
                                    int channels) {
  MDLAB_CHECK(channels == 1 || channels == 3, "augment: normalize to {} channels (1 or 3)",
              channels);
  auto usable = [&](std::span<const double> v) {
    return v.size() == 1 || v.size() >= static_cast<size_t>(channels);
  };
  MDLAB_CHECK(usable(mean) && usable(stddev),
              "augment: normalize to {} channels needs 1 or {} mean/std values, got {} and {}",
              channels, channels, mean.size(), stddev.size());
  NormalizeTable t;
  t.channels = channels;
  for (int c = 0; c < channels; ++c) {
    // torchvision holds mean and std as float32 tensors; to_tensor divides by 255 in float.
    const float m = static_cast<float>(channel_value(mean, c, channels));
    const float s = static_cast<float>(channel_value(stddev, c, channels));
    MDLAB_CHECK(s > 0.0f, "augment: normalize std {} is not positive", s);
    for (int v = 0; v < 256; ++v) t.value[c][v] = (static_cast<float>(v) / 255.0f - m) / s;
    t.mean[c] = m;
    t.stddev[c] = s;
  }
  return t;
}

void write_chw(const ImageU8& src, const NormalizeTable& table, float* out, bool mirror,
               const uint8_t* pre_lut) {
  MDLAB_CHECK(src.channels == table.channels || (src.channels == 1 && table.channels == 3),
              "augment: cannot write a {}-channel image as {} channels", src.channels,
              table.channels);
#if MDLAB_AVX2_DISPATCH
  if (!pre_lut && have_avx2()) {
    write_chw_avx2(src, table, out, mirror);
    return;
  }
#endif
  const size_t plane = static_cast<size_t>(src.height) * src.width;
  float composed[256];
  for (int c = 0; c < table.channels; ++c) {
    const float* tab = table.value[c];
    if (pre_lut) {
      for (int v = 0; v < 256; ++v) composed[v] = tab[pre_lut[v]];
      tab = composed;
    }
    const int sc = src.channels == 1 ? 0 : c;
    float* o = out + static_cast<size_t>(c) * plane;
    if (mirror) {
      write_plane<true>(src, sc, tab, o);
    } else {
      write_plane<false>(src, sc, tab, o);
    }
  }
}

void normalize_to_chw(const ImageU8& src, std::span<const double> mean,
                      std::span<const double> stddev, float* out, int out_channels) {
  const int channels = out_channels == 0 ? src.channels : out_channels;
  write_chw(src, make_normalize_table(mean, stddev, channels), out);
}

}  // namespace mdlab::augment
