// Gaussian blur with torchvision 0.14's semantics on PIL images: the image is converted to
// a float tensor, padded by kernel_size // 2 with "reflect" (mirror without repeating the
// edge: -1 -> 1), convolved with the outer product of two 1-D kernels
//   k[i] = exp(-0.5 * (x_i / sigma)^2) / sum,  x_i = i - (kernel_size - 1) / 2,
// computed in float32, then rounded half to even back to uint8. Here the 2-D kernel is
// applied separably (vertical pass into a float row, then horizontal): the same sums up to
// float rounding, which moves a result only when it lies within ~1e-4 of a .5 boundary.
//
// torch refuses a padding >= the image side; here the mirror simply repeats (period
// 2 * (side - 1)), so tiny images blur too.
//
// Kernel size rules (BlurKernelRule): torchvision needs an explicit odd kernel size; the
// reference codebases derive it either from the image (SimCLR: int(0.1 * side), made odd as
// 2 * (k // 2) + 1, e.g. 23 at 224 px, 9 at 96 px) or from sigma (2 * ceil(3 sigma) + 1,
// which keeps the kernel's truncation at 3 sigma; a closer match to DINO/BYOL code that
// blurs with PIL's GaussianBlur(radius = sigma)).
//
// Images are ImageU8: HWC, uint8, 1 or 3 channels.
#pragma once

#include "image.h"

#include <cstdint>
#include <string_view>
#include <vector>

namespace mdlab::augment {

/// How the blur's kernel size is chosen.
enum class BlurKernelRule {
  SimClr,  ///< 2 * (int(0.1 * side) / 2) + 1, side = the blurred image's shorter side
  Sigma,   ///< 2 * ceil(3 * sigma) + 1
  Fixed,   ///< a given odd size
};

/// Name of a rule as written in TOML ("simclr", "sigma", "fixed").
std::string_view blur_kernel_rule_name(BlurKernelRule rule);

/// The kernel size a rule picks for an image whose shorter side is `side` (fixed: `fixed`).
int blur_kernel_size(BlurKernelRule rule, int side, double sigma, int fixed);

/// torch's "reflect" padding: the index of the pixel that position `i` (possibly outside
/// [0, n)) mirrors, without repeating the edge (-1 -> 1), for margins of any width (period
/// 2 * (n - 1)).
int reflect_index(int i, int n);

/// torchvision's 1-D Gaussian kernel of `size` taps (odd) in float32, written to `out`.
void gaussian_kernel(int size, double sigma, float* out);

/// Reusable buffers of gaussian_blur.
struct BlurScratch {
  std::vector<float> kernel;         ///< the 1-D kernel
  std::vector<float> row;            ///< one vertically blurred row, with mirrored margins
  std::vector<const uint8_t*> rows;  ///< source rows of one output row's taps (mirrored)
};

/// torchvision `F.gaussian_blur(img, [k, k], [sigma, sigma])` (see the header comment).
/// `dst` must not alias `src`. Throws mdlab::Error for an even or non-positive kernel size
/// or a non-positive sigma.
void gaussian_blur(const ImageU8& src, int kernel_size, double sigma, ImageU8& dst,
                   BlurScratch& scratch);

/// gaussian_blur with temporary buffers.
void gaussian_blur(const ImageU8& src, int kernel_size, double sigma, ImageU8& dst);

}  // namespace mdlab::augment
