#include "image_fit.h"

#include <mdlab/error.h>

#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace mdlab::diffusion {

torch::Tensor fit_image(const torch::Tensor& image, int64_t height, int64_t width) {
  MDLAB_CHECK(image.dim() == 3, "fit_image takes [C, H, W], got {}", image.sizes());
  const int64_t h = image.size(1), w = image.size(2);
  if (h == height && w == width) return image;
  const double scale = std::max(static_cast<double>(height) / static_cast<double>(h),
                                static_cast<double>(width) / static_cast<double>(w));
  const int64_t nh = std::max<int64_t>(height, std::llround(static_cast<double>(h) * scale));
  const int64_t nw = std::max<int64_t>(width, std::llround(static_cast<double>(w) * scale));
  auto x = torch::nn::functional::interpolate(image.to(torch::kFloat).unsqueeze(0),
                                              torch::nn::functional::InterpolateFuncOptions()
                                                  .size(std::vector<int64_t>{nh, nw})
                                                  .mode(torch::kBilinear)
                                                  .align_corners(false)
                                                  .antialias(true));
  const int64_t top = (nh - height) / 2, left = (nw - width) / 2;
  return x.slice(2, top, top + height)
      .slice(3, left, left + width)
      .round()
      .clamp(0, 255)
      .squeeze(0);
}

}  // namespace mdlab::diffusion
