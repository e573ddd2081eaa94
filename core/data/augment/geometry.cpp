#include "geometry.h"

#include <mdlab/error.h>

#include <algorithm>
#include <cstring>

namespace mdlab::augment {
namespace {

// Python's round(d / 2.0) for d >= 0: halves go to the even neighbour.
int half_rounded_even(int d) {
  const int q = d / 2;
  return (d % 2 == 0 || q % 2 == 0) ? q : q + 1;
}

}  // namespace

void crop(const ImageU8& src, const CropBox& box, ImageU8& dst) {
  MDLAB_CHECK(&src != &dst, "augment: crop cannot write into its source");
  MDLAB_CHECK(box.height > 0 && box.width > 0, "augment: crop to {}x{}", box.height, box.width);
  const int C = src.channels;
  dst.resize(box.height, box.width, C);
  // Columns of the box that fall inside the image.
  const int x0 = std::clamp(box.left, 0, src.width);
  const int x1 = std::clamp(box.left + box.width, 0, src.width);
  for (int y = 0; y < box.height; ++y) {
    uint8_t* out = dst.row(y);
    const int sy = box.top + y;
    if (sy < 0 || sy >= src.height || x1 <= x0) {
      std::memset(out, 0, static_cast<size_t>(box.width) * C);
      continue;
    }
    const size_t before = static_cast<size_t>(x0 - box.left) * C;
    const size_t inside = static_cast<size_t>(x1 - x0) * C;
    std::memset(out, 0, before);
    std::memcpy(out + before, src.row(sy) + static_cast<size_t>(x0) * C, inside);
    std::memset(out + before + inside, 0, static_cast<size_t>(box.width) * C - before - inside);
  }
}

CropBox center_crop_box(int height, int width, int crop_h, int crop_w) {
  CropBox box;
  box.height = crop_h;
  box.width = crop_w;
  // Larger than the image: torchvision pads (crop - size) // 2 zeros before, then the
  // padded image is exactly the crop.
  box.top = crop_h > height ? -((crop_h - height) / 2) : half_rounded_even(height - crop_h);
  box.left = crop_w > width ? -((crop_w - width) / 2) : half_rounded_even(width - crop_w);
  return box;
}

void center_crop(const ImageU8& src, int size, ImageU8& dst) {
  MDLAB_CHECK(size > 0, "augment: center crop to {}", size);
  crop(src, center_crop_box(src.height, src.width, size, size), dst);
}

void hflip(ImageU8& img) {
  const int C = img.channels;
  for (int y = 0; y < img.height; ++y) {
    uint8_t* row = img.row(y);
    if (C == 1) {
      std::reverse(row, row + img.width);
      continue;
    }
    for (int l = 0, r = img.width - 1; l < r; ++l, --r) {
      for (int c = 0; c < C; ++c) std::swap(row[l * C + c], row[r * C + c]);
    }
  }
}

void resize_shorter_center_crop(const ImageU8& src, int resize_to, int crop_size, ImageU8& dst,
                                ResampleScratch& scratch) {
  const auto [h, w] = shorter_side_shape(src.height, src.width, resize_to);
  const CropBox win = center_crop_box(h, w, crop_size, crop_size);
  if (win.top >= 0 && win.left >= 0) {
    resample_window(src, {0, 0, src.height, src.width}, h, w, win, dst, scratch);
    return;
  }
  // The crop pads (crop_pct > 1): resize in full, then crop with zeros around.
  resize(src, h, w, scratch.whole, scratch);
  crop(scratch.whole, win, dst);
}

}  // namespace mdlab::augment
