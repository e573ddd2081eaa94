// IDX files (the MNIST family's format): big-endian header, then the array.
//
// Layout: images come back as uint8 [N, H, W] (one channel), labels as int64 [N].
// Both gzip-compressed (".gz") and raw files are read; a truncated or mislabelled file is an
// mdlab::Error naming the file and what is wrong with it.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <vector>

namespace mdlab {

/// An IDX array: its dimensions and the raw bytes of a uint8 payload.
struct IdxArray {
  std::vector<int64_t> dims;  ///< sizes from the header, outermost first
  torch::Tensor data;         ///< uint8 tensor of shape `dims`
};

/// Reads an IDX file of unsigned bytes (type code 0x08), gzip or raw.
IdxArray read_idx(const std::filesystem::path& file);

}  // namespace mdlab
