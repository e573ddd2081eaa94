// IDX files (the MNIST family's format): big-endian header, then the array.
//
// Layout: images come back as uint8 [N, H, W] (one channel), labels as int64 [N].
// Both gzip-compressed (".gz") and raw files are read; a truncated or mislabelled file is an
// mdlab::Error naming the file and what is wrong with it.
//
// Dataset folders use the MNIST file names: <prefix>-images-idx3-ubyte[.gz] and
// <prefix>-labels-idx1-ubyte[.gz], prefix "train" or "t10k" (split "test").
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace mdlab {

/// An IDX array: its dimensions and the raw bytes of a uint8 payload.
struct IdxArray {
  std::vector<int64_t> dims;  ///< sizes from the header, outermost first
  torch::Tensor data;         ///< uint8 tensor of shape `dims`
};

/// Reads an IDX file of unsigned bytes (type code 0x08), gzip or raw.
IdxArray read_idx(const std::filesystem::path& file);

/// One split of an IDX dataset folder, read and checked (ranks, equal counts).
struct IdxSplit {
  IdxArray images;                    ///< uint8 [N, H, W]
  IdxArray labels;                    ///< uint8 [N]
  std::filesystem::path images_file;  ///< the file the images came from
  std::filesystem::path labels_file;  ///< the file the labels came from
};

/// Reads split `split` ("train" or "test") of the IDX dataset folder `root`; throws
/// mdlab::Error naming the file when one is missing, malformed, or the counts disagree.
IdxSplit read_idx_split(const std::filesystem::path& root, const std::string& split);

/// True when `root` holds Fashion-MNIST rather than MNIST: the file names are the same, so
/// the folder's path decides (a component containing "fashion", any case).
bool looks_like_fashion_mnist(const std::filesystem::path& root);

/// Fashion-MNIST's 10 class names, index = label.
const std::vector<std::string>& fashion_mnist_classes();

}  // namespace mdlab
