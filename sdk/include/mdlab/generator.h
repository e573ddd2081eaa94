// Generator: makes synthetic variations of real images.
//
// Layout: generate() takes images as a list of uint8 [3, H, W] RGB tensors (CPU; sizes may
// differ from image to image, because the generator's own preprocessing sees the original
// pixels) and returns uint8 [N, 3, H', W'] RGB on the CPU, H' and W' from the generator's
// options.
//
// Noise: with per-image seeds, the output of image i depends only on image i and seeds[i],
// never on its batch neighbours, the batch size or sharding. With a shared stream, the noise
// of the whole batch is drawn from that one generator in batch order, as the reference Python
// pipelines do (used for parity with them; the output then depends on the batch).
#pragma once

#include <mdlab/export.h>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace mdlab {

/// Where the random numbers of one generate() call come from.
struct MDLAB_SDK_API NoiseSource {
  /// One seed per image: image i draws all its noise from a CPU generator seeded with
  /// seeds[i]. Used when `stream` is empty.
  std::vector<uint64_t> seeds;
  /// A CPU generator the whole batch draws from, in batch order (state advances across
  /// calls). Takes precedence over `seeds`.
  std::optional<at::Generator> stream;
};

/// An image-variation model.
class MDLAB_SDK_API Generator {
 public:
  virtual ~Generator();
  /// Variations [N, 3, H', W'] uint8 (CPU) of `images` (each [3, H, W] uint8 RGB).
  virtual torch::Tensor generate(const std::vector<torch::Tensor>& images,
                                 const NoiseSource& noise) = 0;
  /// Batch size the generator runs best at (the caller may pass fewer images).
  virtual int64_t preferred_batch_size() const;
  /// Height and width {H', W'} of the images generate() returns.
  virtual std::pair<int64_t, int64_t> output_size() const = 0;
};

}  // namespace mdlab
