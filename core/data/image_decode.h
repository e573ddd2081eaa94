// Image file decoding for the data pipeline: JPEG (libjpeg) and PNG (libpng) into ImageU8.
//
// Layout of the result: HWC uint8 (see image.h), 1 channel for grayscale files and 3 (RGB)
// for everything else. Alpha is dropped, not composited (what PIL's convert("RGB") and
// convert("L") do), palettes are expanded, 16-bit samples are cut to 8 bits, CMYK JPEGs are
// converted to RGB.
//
// The format is told by the file's magic bytes, never by its extension: ImageNet ships PNG
// and CMYK files named .JPEG. Every failure (unreadable, empty, unknown format, truncated,
// corrupt) throws mdlab::DataError naming the file; a truncated image never comes back as a
// partly grey picture. The functions keep no global state and are safe to call from many
// threads at once.
#pragma once

#include "data_source.h"
#include "image.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace mdlab {

/// Reads and decodes the image file `file` into `out` (its buffer is reused). JPEGs are
/// decoded at the smallest DCT scale (1/2, 1/4, 1/8) that keeps both sides at or above the
/// hint; a hint with a zero field decodes at full size.
void decode_image_file(const std::filesystem::path& file, ImageU8& out,
                       const DecodeHint& hint = {});

/// Decodes an encoded image held in memory (`size` bytes at `data`); `name_for_errors` is
/// the file named by a DataError.
void decode_image_memory(const uint8_t* data, size_t size,
                         const std::filesystem::path& name_for_errors, ImageU8& out,
                         const DecodeHint& hint = {});

}  // namespace mdlab
