// Generator: makes synthetic variations of real images.
//
// Layout: generate() takes images uint8 [N, 3, H, W] RGB and one seed per image, and returns
// uint8 [N, 3, H', W'] RGB (H', W' from the generator's options). The output of image i
// depends only on image i and seeds[i], never on its batch neighbours.
#pragma once

#include <mdlab/export.h>

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace mdlab {

/// An image-variation model.
class MDLAB_SDK_API Generator {
 public:
  virtual ~Generator();
  /// Variations [N, 3, H', W'] uint8 of `images` [N, 3, H, W] uint8, one seed per image.
  virtual torch::Tensor generate(const torch::Tensor& images,
                                 const std::vector<uint64_t>& seeds) = 0;
  /// Batch size the generator runs best at (the caller may pass fewer images).
  virtual int64_t preferred_batch_size() const;
};

}  // namespace mdlab
