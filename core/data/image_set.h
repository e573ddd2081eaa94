// An in-memory labelled image set and the batches a training or evaluation pass reads.
//
// Layout: images uint8 [N, C, H, W] (C = 1 or 3), labels int64 [N] in [0, num_classes).
// Every sample has a stable key "split/index" that links it to a synthetic partner.
// Batches are float32 [B, C, H, W], normalised with the set's mean/std per channel, on the
// requested device.
#pragma once

#include <mdlab/options.h>

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mdlab {

/// A labelled image set held in memory.
struct ImageSet {
  std::string split;                     ///< split name ("train", "test")
  torch::Tensor images;                  ///< uint8 [N, C, H, W]
  torch::Tensor labels;                  ///< int64 [N]
  int64_t num_classes = 0;               ///< number of classes
  std::vector<std::string> class_names;  ///< class names (may be empty)
  std::vector<double> mean;              ///< per-channel mean of [0,1] pixels, for normalising
  std::vector<double> std;               ///< per-channel std of [0,1] pixels

  /// Number of samples.
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  /// Stable key of sample `i`: "<split>/<original index>".
  std::string key(int64_t i) const;
  /// Original indices of the samples (after subsetting), int64 [N].
  torch::Tensor source_index;
};

/// Reads split `split` ("train" or "test") of an IDX dataset folder (MNIST layout:
/// train-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz], ...).
ImageSet load_idx_split(const std::filesystem::path& root, const std::string& split);

/// The stratified subset holding `fraction` of each class (at least one sample per class),
/// chosen by a generator seeded with `seed`; the same seed gives the same subset.
ImageSet stratified_subset(const ImageSet& set, double fraction, uint64_t seed);

/// `set` with its channels repeated to `channels` (1 -> 3 for RGB backbones).
ImageSet with_channels(const ImageSet& set, int64_t channels);

/// Float batch [B, C, H, W] of samples `indices` (int64 [B]), normalised, on `device`.
torch::Tensor make_batch(const ImageSet& set, const torch::Tensor& indices,
                         const c10::Device& device);

/// Order of samples in epoch `epoch`: a permutation seeded by (seed, epoch).
torch::Tensor epoch_order(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace mdlab
