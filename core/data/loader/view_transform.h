// ViewTransform: the loader's SlotTransform for one view slot, running an AugmentConfig
// pipeline (augment_config.h) on a decoded image and writing the normalised view.
//
// Input: ImageU8 (HWC, uint8, 1 or 3 channels). Output: float32 CHW [C, S, S] with S =
// config.size and C = config.channels (0: the source's channels).
//
// Random decisions are drawn from the view's SampleRng in a fixed layout, whatever the
// probabilities (a disabled step still draws), so changing one probability never shifts the
// draws of the steps after it:
//   crop (RandomResizedCrop attempts; nothing for a centre crop), flip, jitter gate, jitter
//   parameters (order + 4 values), grayscale gate, blur gate, blur sigma, solarize gate.
// The steps and their order are torchvision's (SimCLR/BYOL/DINO pipelines): crop, flip,
// colour jitter, grayscale, blur, solarize, normalise. The flip is applied while writing
// (it commutes with the colour ops and the symmetric blur), as is the solarize look-up.
//
// Decoding: the transform asks for the full image (no JPEG DCT down-scaling), so views are
// those torchvision computes from the same file.
#pragma once

#include "augment_config.h"
#include "loader.h"
#include "normalize.h"

namespace mdlab {

/// One view slot's augmentation pipeline, thread-safe (per-thread scratch buffers).
class ViewTransform final : public SlotTransform {
 public:
  /// Validates `config` (throws mdlab::Error naming the bad key) and precomputes tables.
  explicit ViewTransform(AugmentConfig config);
  /// The pipeline.
  const AugmentConfig& config() const { return config_; }
  /// Full-size decoding (see the header comment).
  DecodeHint decode_hint(int src_w, int src_h) const override;
  /// config().size.
  int out_size() const override;
  /// config().channels, or `src_channels` when that is 0.
  int out_channels(int src_channels) const override;
  /// Augments `src` into `out_chw` (float32 [C, S, S]).
  void run(const ImageU8& src, SampleRng& rng, float* out_chw) const override;

 private:
  AugmentConfig config_;
  augment::NormalizeTable table1_;  // 1-channel output
  augment::NormalizeTable table3_;  // 3-channel output
  uint8_t solarize_lut_[256];
};

}  // namespace mdlab
