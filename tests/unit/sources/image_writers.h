// Encoders the source tests use to write their own image files: JPEG through libjpeg, PNG
// through libpng, tiny IDX and CIFAR files, and a few byte-level helpers.
//
// Pixels are HWC uint8 (ImageU8's layout); PNG samples of 16-bit images are big-endian pairs,
// as stored in the file.
#pragma once

#include "data_source.h"
#include "image.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mdlab::test {

/// A w x h image with `channels` channels and a smooth, position-dependent pattern (smooth so
/// JPEG keeps it within a small error).
ImageU8 pattern_image(int width, int height, int channels);

/// Writes `image` (1 channel: grayscale, 3: RGB) as a baseline JPEG of quality `quality`.
void write_jpeg(const std::filesystem::path& file, const ImageU8& image, int quality = 95,
                bool progressive = false);

/// Writes a 4-channel CMYK JPEG with an Adobe marker; `cmyk` holds the samples as stored
/// (Photoshop's inverted convention: 255 = no ink).
void write_cmyk_jpeg(const std::filesystem::path& file, int width, int height,
                     const std::vector<uint8_t>& cmyk, int quality = 95);

/// What write_png writes.
struct PngSpec {
  int width = 0;                 ///< columns
  int height = 0;                ///< rows
  int color_type = 0;            ///< PNG_COLOR_TYPE_*
  int bit_depth = 8;             ///< 8 or 16 (1, 2, 4 for gray and palette)
  bool interlaced = false;       ///< Adam7
  std::vector<uint8_t> samples;  ///< rows of packed samples, as in the file
  std::vector<uint8_t> palette;  ///< RGB triples for palette images
  std::vector<uint8_t> trns;     ///< palette alpha (tRNS) when non-empty
};

/// A non-interlaced spec without palette.
PngSpec png_spec(int width, int height, int color_type, int bit_depth,
                 std::vector<uint8_t> samples);

/// Writes a PNG file from `spec`.
void write_png(const std::filesystem::path& file, const PngSpec& spec);

/// Writes raw bytes.
void write_bytes(const std::filesystem::path& file, const std::vector<uint8_t>& bytes);

/// Writes text.
void write_text(const std::filesystem::path& file, const std::string& text);

/// Reads a whole file.
std::vector<uint8_t> read_bytes(const std::filesystem::path& file);

/// Mean absolute difference of two images of the same shape (255 when the shapes differ).
double mean_abs_diff(const ImageU8& a, const ImageU8& b);

/// Writes an IDX file of unsigned bytes with dimensions `dims` (raw, not gzip).
void write_idx(const std::filesystem::path& file, const std::vector<int>& dims,
               const std::vector<uint8_t>& data, uint8_t type = 0x08);

/// The DataError `f` throws; fails the test when it throws none. Checks it names `file`.
template <class F>
std::string data_error(F&& f, const std::filesystem::path& file) {
  try {
    f();
  } catch (const DataError& e) {
    CHECK(e.file() == file);
    CHECK_THAT(e.what(), Catch::Contains(file.string()));
    return e.what();
  }
  FAIL("expected a DataError about " << file);
  return {};
}

}  // namespace mdlab::test
