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
//
// Deferred mode (`data.augment_on = "device"`): run_deferred stops after the crop (and the
// conversion to gray when the slot asks for 1 channel) and writes the crop as uint8 CHW plus
// the view's remaining draws, in the layout of `view_param`; BatchAugment (batch_augment.h)
// applies the rest to the whole batch on the training device. The draws are the same as
// run()'s, in the same order, so both modes make the same views.
#pragma once

#include "augment_config.h"
#include "loader.h"
#include "normalize.h"
#include "random_params.h"

namespace mdlab {

/// Layout of a deferred view's draws: one float64 per field, `count` per sample.
namespace view_param {
inline constexpr int flip = 0;        ///< 1: mirror left-right
inline constexpr int jitter = 1;      ///< 1: apply the colour jitter
inline constexpr int order = 2;       ///< 4 fields: augment::JitterOp indices in order
inline constexpr int brightness = 6;  ///< brightness factor (a float32 value)
inline constexpr int contrast = 7;    ///< contrast factor (a float32 value)
inline constexpr int saturation = 8;  ///< saturation factor (a float32 value)
inline constexpr int hue_shift = 9;   ///< 8-bit hue shift, 0..255 (augment::hue_shift)
inline constexpr int grayscale = 10;  ///< 1: convert to gray (channels kept)
inline constexpr int blur = 11;       ///< 1: Gaussian blur
inline constexpr int sigma = 12;      ///< blur sigma
inline constexpr int kernel = 13;     ///< blur kernel size (odd)
inline constexpr int solarize = 14;   ///< 1: solarize
inline constexpr int count = 15;      ///< fields per sample
}  // namespace view_param

/// One view slot's augmentation pipeline, thread-safe (per-thread scratch buffers).
class ViewTransform final : public SlotTransform {
 public:
  /// Validates `config` (throws mdlab::Error naming the bad key) and precomputes tables.
  /// `deferred`: the loader calls run_deferred (see the header comment).
  explicit ViewTransform(AugmentConfig config, bool deferred = false);
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
  /// view_param::count when deferred, else 0.
  int deferred_params() const override;
  /// Crops `src` into `out_chw` (uint8 [C, S, S]) and writes the view's other draws to
  /// `params` (view_param layout).
  void run_deferred(const ImageU8& src, SampleRng& rng, uint8_t* out_chw,
                    double* params) const override;

 private:
  // Every draw after the crop, in the layout of the class comment.
  struct Draws {
    bool flip = false;
    bool jitter = false;
    augment::JitterParams jitter_params;
    bool grayscale = false;
    bool blur = false;
    double sigma = 0.0;
    bool solarize = false;
  };
  // The crop (and the conversion to 1 channel) into a per-thread buffer; returns it.
  ImageU8& crop(const ImageU8& src, SampleRng& rng) const;
  Draws draw(SampleRng& rng) const;

  AugmentConfig config_;
  bool deferred_ = false;
  augment::NormalizeTable table1_;  // 1-channel output
  augment::NormalizeTable table3_;  // 3-channel output
  uint8_t solarize_lut_[256];
};

}  // namespace mdlab
