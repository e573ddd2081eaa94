// Safetensors: the weight format shared with the Python reference code (and generator
// plugins).
//
// File layout (all integers little-endian):
//   [8 bytes]  N, unsigned 64-bit: length of the header in bytes
//   [N bytes]  header: a UTF-8 JSON object, padded with spaces. Each key is a tensor name
//              mapped to {"dtype": "F32", "shape": [2, 512], "data_offsets": [begin, end]};
//              the optional key "__metadata__" maps to an object of string values.
//   [rest]     data area: the raw bytes of every tensor, row-major (C order), little-endian.
// Offsets are byte offsets relative to the start of the data area; end - begin equals
// product(shape) * itemsize. A shape of [] is a scalar (one element).
//
// Dtypes and their torch types: F64 double, F32 float, F16 half, BF16 bfloat16, I64 int64,
// I32 int32, I16 int16, I8 int8, U8 uint8, BOOL bool (one byte, 0 or 1).
//
// Tensors read are CPU tensors with the file's dtype and shape. They share a private
// copy-on-write memory mapping of the file, which stays alive while any of them does;
// writing into them never changes the file.
#pragma once

#include <mdlab/export.h>

#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mdlab {

/// The content of a safetensors file.
struct MDLAB_SDK_API SafetensorsFile {
  std::filesystem::path path;                    ///< file it was read from
  std::map<std::string, torch::Tensor> tensors;  ///< tensors by name (CPU)
  std::map<std::string, std::string> metadata;   ///< the "__metadata__" map ({} when absent)
  std::vector<std::string> names;                ///< tensor names in data-area order

  /// The tensor `name`; throws mdlab::Error naming the file when it has no such tensor.
  const torch::Tensor& at(std::string_view name) const;
  /// True when the file holds a tensor `name`.
  bool contains(std::string_view name) const;
};

/// Reads and validates a safetensors file; throws mdlab::Error naming the file and the
/// problem (truncated file, bad header JSON, unknown dtype, offsets outside the data area,
/// sizes that disagree with the shape, overlapping tensors, ...). Gaps between tensors and
/// bytes after the last one are tolerated.
MDLAB_SDK_API SafetensorsFile read_safetensors(const std::filesystem::path& path);

/// Writes `tensors` (any device, any strides; copied to contiguous CPU memory) and
/// `metadata` as a safetensors file, atomically: a temporary file in the same directory is
/// written, fsync'ed and renamed over `path`. Layout and header match the Python library
/// (tensors ordered by dtype as I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL, then by
/// name; header padded with spaces to a multiple of 8 bytes).
/// Throws mdlab::Error for duplicate or empty names, unsupported dtypes and I/O failures.
MDLAB_SDK_API void write_safetensors(
    const std::filesystem::path& path,
    const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata = {});

/// The safetensors name of a torch dtype ("F32"); throws mdlab::Error for dtypes the format
/// lacks (complex, quantised, ...).
MDLAB_SDK_API std::string safetensors_dtype_name(torch::ScalarType dtype);

}  // namespace mdlab
