// ImageU8: the pixel buffer of the data pipeline.
//
// Layout: height x width x channels, row-major, interleaved (HWC), uint8, channels 1 (gray)
// or 3 (RGB). Buffers are reused by the loader's workers (resize() keeps capacity), so the
// hot path does not allocate per sample.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mdlab {

/// An 8-bit image, HWC.
struct ImageU8 {
  int height = 0;             ///< rows
  int width = 0;              ///< columns
  int channels = 0;           ///< 1 or 3
  std::vector<uint8_t> data;  ///< height * width * channels bytes

  /// Sets the shape; keeps the allocation when it is large enough.
  void resize(int h, int w, int c) {
    height = h;
    width = w;
    channels = c;
    data.resize(static_cast<size_t>(h) * w * c);
  }
  /// Pointer to row `y`.
  uint8_t* row(int y) { return data.data() + static_cast<size_t>(y) * width * channels; }
  /// Pointer to row `y`.
  const uint8_t* row(int y) const {
    return data.data() + static_cast<size_t>(y) * width * channels;
  }
  /// True when the image holds no pixels.
  bool empty() const { return height == 0 || width == 0; }
};

}  // namespace mdlab
