// Fitting a source image to a pipeline's fixed input size: the shorter side resized to cover
// the target (bilinear, antialiased, as PIL resizes), then a centre crop.
//
// Layout: float [C, H, W] in 0..255 in, float [C, height, width] in 0..255 out (rounded when
// resized, as a uint8 image would be).
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace mdlab::diffusion {

/// `image` covering height x width, centre-cropped; returned unchanged when it already fits.
torch::Tensor fit_image(const torch::Tensor& image, int64_t height, int64_t width);

}  // namespace mdlab::diffusion
