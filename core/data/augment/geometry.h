// Geometric ops without resampling: crop (with PIL's zero fill outside the image), centre
// crop (torchvision semantics) and horizontal flip.
//
// Images are ImageU8: HWC, uint8, 1 or 3 channels.
#pragma once

#include "image.h"
#include "resample.h"

namespace mdlab::augment {

/// Copies `box` of `src` into `dst` (box.height x box.width); pixels outside the image are
/// 0, as PIL's Image.crop fills them. `dst` must not alias `src`.
void crop(const ImageU8& src, const CropBox& box, ImageU8& dst);

/// The box torchvision `F.center_crop(img, [crop_h, crop_w])` takes from an h x w image:
/// offsets round((h - crop_h) / 2) with Python's round-half-to-even; when the crop is larger
/// than the image along an axis, the image is first padded with zeros by (crop - size) // 2
/// before and the rest after, so the offset is negative.
CropBox center_crop_box(int height, int width, int crop_h, int crop_w);

/// torchvision `F.center_crop(img, size)` (square): see center_crop_box.
void center_crop(const ImageU8& src, int size, ImageU8& dst);

/// Mirrors the image left to right in place (torchvision `F.hflip`).
void hflip(ImageU8& img);

/// resize_shorter(src, resize_to) then center_crop(crop), computing only the output pixels
/// that survive the crop (bit-identical to the two steps; two steps when the crop pads).
void resize_shorter_center_crop(const ImageU8& src, int resize_to, int crop, ImageU8& dst,
                                ResampleScratch& scratch);

}  // namespace mdlab::augment
