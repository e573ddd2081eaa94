// Encoding images to files and to memory: PNG (lossless, for artifacts) and JPEG (for the
// JPEG corruption of the robustness suite).
//
// Layout: ImageU8 (image.h), HWC uint8 with 1 or 3 channels.
#pragma once

#include "image.h"

#include <cstdint>
#include <filesystem>
#include <vector>

namespace mdlab {

/// Writes `image` as a PNG file, atomically (temp file + rename); throws mdlab::Error naming
/// the file on failure.
void write_png_file(const std::filesystem::path& file, const ImageU8& image);

/// JPEG bytes of `image` at `quality` (1..100, libjpeg's standard tables, 4:2:0 for colour).
std::vector<uint8_t> encode_jpeg(const ImageU8& image, int quality);

}  // namespace mdlab
