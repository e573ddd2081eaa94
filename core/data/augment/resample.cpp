#include "resample.h"

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

// Horizontal pass over `rows` source rows starting at `src_row` (crop columns start at
// `left`), writing output columns [out_begin, out_begin + out_count) into `mid`.
void horizontal_pass(const ImageU8& src, int src_row, int rows, int left, const ResampleAxis& ax,
                     int out_begin, int out_count, ImageU8& mid) {
  const int C = src.channels;
  for (int y = 0; y < rows; ++y) {
    const uint8_t* in = src.row(src_row + y) + static_cast<size_t>(left) * C;
    uint8_t* out = mid.row(y);
    if (C == 3) {
      horizontal_row<3>(in, ax, out_begin, out_count, out);
    } else {
      horizontal_row<1>(in, ax, out_begin, out_count, out);
    }
  }
}

// Vertical pass: row r of the input is at `base + (r - row0) * stride`; every output row
// is a weighted sum of whole input rows, so the inner loop runs over contiguous bytes.
void vertical_pass(const uint8_t* base, size_t stride, int row0, const ResampleAxis& ax,
                   int out_begin, int out_count, int row_bytes, ImageU8& dst,
                   std::vector<int32_t>& acc) {
  acc.resize(static_cast<size_t>(row_bytes));
  int32_t* a = acc.data();
  for (int o = 0; o < out_count; ++o) {
    const int yo = out_begin + o;
    const int32_t* k = ax.coeffs.data() + static_cast<size_t>(yo) * ax.taps;
    const int first = ax.first[yo] - row0;
    const int n = ax.count[yo];
    std::fill(a, a + row_bytes, kHalf);
    for (int t = 0; t < n; ++t) {
      const uint8_t* in = base + static_cast<size_t>(first + t) * stride;
      const int32_t w = k[t];
      for (int i = 0; i < row_bytes; ++i) a[i] += in[i] * w;
    }
    uint8_t* out = dst.row(o);
    for (int i = 0; i < row_bytes; ++i) out[i] = clip_fixed(a[i]);
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
  if (need_h) compute_resample_axis(box.width, out_w, s.horizontal, s.weights);
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
