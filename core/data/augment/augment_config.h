// AugmentConfig: the augmentation pipeline of one view slot, its presets and its TOML table.
//
// A pipeline is, in this order (torchvision's order in SimCLR, BYOL and DINO):
//   geometry      random resized crop to size x size (scale, ratio), or for evaluation
//                 Resize(floor(size / crop_pct)) + CenterCrop(size)
//   channels      1: converted to gray here (after the crop, before the colour ops)
//   flip          horizontal, with probability flip_p
//   colour jitter with probability jitter_p: brightness, contrast, saturation, hue in a
//                 random order
//   grayscale     with probability grayscale_p (keeps 3 channels)
//   blur          with probability blur_p, sigma uniform in [sigma_min, sigma_max], kernel
//                 size by blur_kernel (blur.h)
//   solarize      with probability solarize_p, values >= solarize_threshold inverted
//   normalise     (x / 255 - mean) / std into float32 CHW; channels 3 replicates a gray
//                 image
// Flip and solarize commute with what follows them and are folded into the final write.
//
// Presets (AugmentConfig::preset names one; mission.md section 2 and the reference code):
//   simclr        crop 224 scale 0.08-1, flip 0.5, jitter 0.8 (0.4, 0.4, 0.2, 0.1), gray 0.2,
//                 blur 0.5 sigma 0.1-2 kernel simclr (23 at 224)
//   byol1, byol2  simclr's crop/flip/jitter/gray; blur 1.0 / 0.1; solarize 0 / 0.2
//   dino_global1  crop 224 scale 0.4-1, flip, jitter 0.8 (0.4, 0.4, 0.2, 0.1), gray 0.2,
//                 blur 1.0 sigma 0.1-2 kernel sigma (DINO blurs with PIL's radius = sigma)
//   dino_global2  as dino_global1 with blur 0.1 and solarize 0.2
//   dino_local    crop 96 scale 0.05-0.4, flip, jitter, gray, blur 0.5
//   crop_flip     crop 224 scale 0.08-1 + flip 0.5 (the base of the single-op ablations);
//                 `supervised` is the same (torchvision's ImageNet training transform)
//   only_blur     crop_flip + simclr's blur (p 0.5)
//   only_solarize crop_flip + byol2's solarize (p 0.2)
//   only_jitter   crop_flip + simclr's jitter (p 0.8), no grayscale
//   flip          the paper's "no augmentation" ablation, which keeps only the random flip:
//                 NO random crop (the view is the deterministic Resize(size) + CenterCrop
//                 (size), only there to reach the fixed input size) + flip 0.5
//   none          Resize(size) + CenterCrop(size), nothing random
//   eval          Resize(floor(size / 0.875)) + CenterCrop(size) (256 -> 224), nothing random
// Every preset normalises with the ImageNet mean and std.
#pragma once

#include "blur.h"

#include <mdlab/options.h>

#include <string>
#include <string_view>
#include <vector>

namespace mdlab {

/// How the view's pixels are taken from the source.
enum class CropMode {
  Random,  ///< RandomResizedCrop(size, scale, ratio)
  Center,  ///< Resize(floor(size / crop_pct)) + CenterCrop(size)
};

/// One view slot's pipeline (see the header comment for the order of the steps).
struct AugmentConfig {
  std::string preset;                ///< preset it started from (for describe())
  int size = 224;                    ///< output side in pixels (square views)
  CropMode crop = CropMode::Random;  ///< geometry
  double scale_min = 0.08;           ///< random crop: smallest area fraction
  double scale_max = 1.0;            ///< random crop: largest area fraction
  double ratio_min = 3.0 / 4.0;      ///< random crop: smallest aspect ratio (w / h)
  double ratio_max = 4.0 / 3.0;      ///< random crop: largest aspect ratio
  double crop_pct = 0.875;           ///< centre crop: crop side / resized shorter side
  double flip_p = 0.0;               ///< probability of a horizontal flip
  double jitter_p = 0.0;             ///< probability of the colour jitter
  double brightness = 0.0;           ///< jitter strength (0: off)
  double contrast = 0.0;             ///< jitter strength (0: off)
  double saturation = 0.0;           ///< jitter strength (0: off)
  double hue = 0.0;                  ///< jitter strength in [0, 0.5] (0: off)
  double grayscale_p = 0.0;          ///< probability of grayscale (3 channels kept)
  double blur_p = 0.0;               ///< probability of the Gaussian blur
  double sigma_min = 0.1;            ///< blur sigma range
  double sigma_max = 2.0;            ///< blur sigma range
  augment::BlurKernelRule blur_kernel = augment::BlurKernelRule::SimClr;  ///< kernel size rule
  int blur_kernel_size = 0;                         ///< odd kernel size for the Fixed rule
  double solarize_p = 0.0;                          ///< probability of solarization
  int solarize_threshold = 128;                     ///< values >= this are inverted
  int channels = 0;                                 ///< output channels: 0 as the source, 1 or 3
  std::vector<double> mean{0.485, 0.456, 0.406};    ///< normalisation mean (1 or 3 values)
  std::vector<double> stddev{0.229, 0.224, 0.225};  ///< normalisation std (1 or 3 values)
};

/// The side a centre-crop pipeline resizes the shorter side to: floor(size / crop_pct)
/// (timm's rule; 224 / 0.875 = 256), computed with a 1e-9 margin against 255.99999...
int center_resize_size(const AugmentConfig& config);

/// Names of the presets, in documentation order.
const std::vector<std::string>& augment_preset_names();

/// The preset `name`; throws mdlab::Error naming the known presets for an unknown name.
AugmentConfig augment_preset(std::string_view name);

/// Throws mdlab::Error, naming the offending key, unless `config` is usable.
void validate(const AugmentConfig& config);

/// Schema of one `[data.augment.<slot>]` table: `preset` (string, default "" = the
/// method's default for the slot) and every AugmentConfig field as an optional key without
/// a default, so that only the keys a user wrote override the preset. Keys: size, crop
/// ("random" | "center"), scale, ratio ([lo, hi]), crop_pct, flip_p, jitter_p, brightness,
/// contrast, saturation, hue, grayscale_p, blur_p, blur_sigma ([lo, hi]), blur_kernel
/// ("simclr" | "sigma" | "fixed"), blur_kernel_size (implies "fixed"), solarize_p,
/// solarize_threshold, channels (0, 1, 3), mean, std.
OptionsSchema augment_schema();

/// The pipeline of a validated `[data.augment.<slot>]` table: the preset named by `preset`
/// (or `default_preset` when it is empty or absent; "none" when both are empty), with every
/// key the table gives applied on top. `default_size` > 0 replaces the preset's size unless
/// the table gives `size` (a method's ViewSlot::default_size, or the dataset's image size).
/// Throws mdlab::Error for an unknown preset or inconsistent values.
AugmentConfig augment_config(const Options& options, std::string_view default_preset,
                             int default_size = 0);

/// Applies the keys a validated `[data.augment.<slot>]` table gives (every key but `preset`)
/// to `config`, leaving the others; the caller validates the result.
void apply_augment_overrides(const Options& options, AugmentConfig& config);

/// One line for the run log, e.g. "simclr: random crop 224 scale [0.08, 1] ratio [0.75,
/// 1.333], flip 0.5, jitter 0.8 (0.4, 0.4, 0.2, 0.1), gray 0.2, blur 0.5 sigma [0.1, 2]
/// kernel simclr, channels as source, mean [0.485, 0.456, 0.406] std [0.229, 0.224, 0.225]"
/// (steps with probability 0 are left out).
std::string describe(const AugmentConfig& config);

}  // namespace mdlab
