#include "normalize.h"

#include <mdlab/error.h>

#include <cstddef>

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

}  // namespace

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
  }
  return t;
}

void write_chw(const ImageU8& src, const NormalizeTable& table, float* out, bool mirror,
               const uint8_t* pre_lut) {
  MDLAB_CHECK(src.channels == table.channels || (src.channels == 1 && table.channels == 3),
              "augment: cannot write a {}-channel image as {} channels", src.channels,
              table.channels);
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
