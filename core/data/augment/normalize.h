// The last step of a view: uint8 HWC -> float32 CHW, (x / 255 - mean) / std, written straight
// into a slot of the batch buffer. Every value is torchvision's float32 operations
// (to_tensor's division by 255, then Normalize's subtraction and division): a table look-up,
// or on AVX2 the same three operations eight values at a time, so results are bit-identical
// to ToTensor + Normalize either way.
//
// Input: ImageU8 (HWC, uint8, 1 or 3 channels). Output: `channels` planes of height x width
// floats, plane after plane (CHW, row-major), at `out`.
#pragma once

#include "image.h"

#include <cstdint>
#include <span>

namespace mdlab::augment {

/// Per-channel tables of (v / 255 - mean) / std for v in 0..255.
struct NormalizeTable {
  int channels = 0;          ///< output channels (1 or 3)
  float value[3][256] = {};  ///< value[c][v]
  float mean[3] = {};        ///< the float32 mean the table was built with, per channel
  float stddev[3] = {};      ///< the float32 std the table was built with, per channel
};

/// Builds the tables for `channels` output channels. `mean` and `stddev` hold one entry (used
/// for every channel) or at least `channels` entries; for a 1-channel output given 3 entries,
/// the average of the three is used (ImageNet statistics applied to gray images). Throws
/// mdlab::Error for an empty list or a non-positive std.
NormalizeTable make_normalize_table(std::span<const double> mean, std::span<const double> stddev,
                                    int channels);

/// Writes `src` as CHW floats through `table`. A 1-channel image is replicated into 3 output
/// channels when the table has 3; `mirror` reads each row right to left (a horizontal flip
/// for free); `pre_lut`, when given, maps every byte first (a final point op, such as
/// solarize, for free). Throws mdlab::Error for a 3-channel image and a 1-channel table.
void write_chw(const ImageU8& src, const NormalizeTable& table, float* out, bool mirror = false,
               const uint8_t* pre_lut = nullptr);

/// The bytes of `src` as `channels` planes (uint8 CHW) at `out`: the layout of a deferred
/// view's crop. A 1-channel image fills 3 planes when `channels` is 3. Throws mdlab::Error
/// for any other channel change.
void split_planes(const ImageU8& src, int channels, uint8_t* out);

/// torchvision `Normalize(mean, std)(to_tensor(img))` into `out` (src.channels planes, or 3
/// when `out_channels` is 3 and the image is gray; 0 keeps the image's channels).
void normalize_to_chw(const ImageU8& src, std::span<const double> mean,
                      std::span<const double> stddev, float* out, int out_channels = 0);

}  // namespace mdlab::augment
