#include "augment_config.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

namespace mdlab {
namespace {

using augment::BlurKernelRule;

const std::vector<double> kImageNetMean{0.485, 0.456, 0.406};
const std::vector<double> kImageNetStd{0.229, 0.224, 0.225};

AugmentConfig center(std::string name, double crop_pct) {
  AugmentConfig c;
  c.preset = std::move(name);
  c.crop = CropMode::Center;
  c.crop_pct = crop_pct;
  return c;
}

AugmentConfig crop_flip(std::string name) {
  AugmentConfig c;
  c.preset = std::move(name);
  c.crop = CropMode::Random;
  c.scale_min = 0.08;
  c.scale_max = 1.0;
  c.flip_p = 0.5;
  return c;
}

// The colour part shared by SimCLR, BYOL and DINO in mission.md section 2.
void ssl_colour(AugmentConfig& c) {
  c.jitter_p = 0.8;
  c.brightness = 0.4;
  c.contrast = 0.4;
  c.saturation = 0.2;
  c.hue = 0.1;
  c.grayscale_p = 0.2;
}

void blur(AugmentConfig& c, double p, BlurKernelRule rule) {
  c.blur_p = p;
  c.sigma_min = 0.1;
  c.sigma_max = 2.0;
  c.blur_kernel = rule;
}

AugmentConfig make_preset(std::string_view name) {
  const std::string n(name);
  if (n == "simclr" || n == "byol1" || n == "byol2") {
    AugmentConfig c = crop_flip(n);
    ssl_colour(c);
    // SimCLR blurs half the views; BYOL's two branches blur always / rarely, and only the
    // second solarizes. Kernel: 10% of the side, as in both papers.
    const double p = n == "simclr" ? 0.5 : (n == "byol1" ? 1.0 : 0.1);
    blur(c, p, BlurKernelRule::SimClr);
    if (n == "byol2") c.solarize_p = 0.2;
    return c;
  }
  if (n == "dino_global1" || n == "dino_global2" || n == "dino_local") {
    AugmentConfig c = crop_flip(n);
    ssl_colour(c);
    const bool local = n == "dino_local";
    c.size = local ? 96 : 224;
    c.scale_min = local ? 0.05 : 0.4;
    c.scale_max = local ? 0.4 : 1.0;
    blur(c, n == "dino_global1" ? 1.0 : (n == "dino_global2" ? 0.1 : 0.5), BlurKernelRule::Sigma);
    if (n == "dino_global2") c.solarize_p = 0.2;
    return c;
  }
  if (n == "crop_flip" || n == "supervised") return crop_flip(n);
  if (n == "only_blur") {
    AugmentConfig c = crop_flip(n);
    blur(c, 0.5, BlurKernelRule::SimClr);
    return c;
  }
  if (n == "only_solarize") {
    AugmentConfig c = crop_flip(n);
    c.solarize_p = 0.2;
    return c;
  }
  if (n == "only_jitter") {
    AugmentConfig c = crop_flip(n);
    ssl_colour(c);
    c.grayscale_p = 0.0;
    return c;
  }
  if (n == "flip") {
    AugmentConfig c = center(n, 1.0);
    c.flip_p = 0.5;
    return c;
  }
  if (n == "none") return center(n, 1.0);
  if (n == "eval") return center(n, 0.875);
  MDLAB_THROW("augment: unknown preset \"{}\" (known: {})", name,
              fmt::join(augment_preset_names(), ", "));
}

std::pair<double, double> pair_of(const Options& o, std::string_view key) {
  const auto& v = o.get_float_list(key);
  MDLAB_CHECK(v.size() == 2, "augment: `{}` needs two values [lo, hi], got {}", key, v.size());
  return {v[0], v[1]};
}

BlurKernelRule rule_named(const std::string& s) {
  if (s == "simclr") return BlurKernelRule::SimClr;
  if (s == "sigma") return BlurKernelRule::Sigma;
  if (s == "fixed") return BlurKernelRule::Fixed;
  MDLAB_THROW("augment: `blur_kernel` is \"{}\" (known: simclr, sigma, fixed)", s);
}

void check_probability(double p, const char* key) {
  MDLAB_CHECK(p >= 0.0 && p <= 1.0, "augment: `{}` = {} is not a probability in [0, 1]", key, p);
}

std::string fmt_list(const std::vector<double>& v) {
  return fmt::format("[{}]", fmt::join(v, ", "));
}

}  // namespace

int center_resize_size(const AugmentConfig& c) {
  return static_cast<int>(std::floor(c.size / c.crop_pct + 1e-9));
}

const std::vector<std::string>& augment_preset_names() {
  static const std::vector<std::string> names{
      "simclr",      "byol1",     "byol2",      "dino_global1", "dino_global2",
      "dino_local",  "crop_flip", "supervised", "only_blur",    "only_solarize",
      "only_jitter", "flip",      "none",       "eval"};
  return names;
}

AugmentConfig augment_preset(std::string_view name) {
  AugmentConfig c = make_preset(name);
  c.mean = kImageNetMean;
  c.stddev = kImageNetStd;
  return c;
}

void validate(const AugmentConfig& c) {
  MDLAB_CHECK(c.size > 0 && c.size <= 16384, "augment: `size` = {} is not in [1, 16384]", c.size);
  if (c.crop == CropMode::Random) {
    MDLAB_CHECK(c.scale_min > 0.0 && c.scale_min <= c.scale_max,
                "augment: `scale` = [{}, {}] needs 0 < lo <= hi", c.scale_min, c.scale_max);
    MDLAB_CHECK(c.ratio_min > 0.0 && c.ratio_min <= c.ratio_max,
                "augment: `ratio` = [{}, {}] needs 0 < lo <= hi", c.ratio_min, c.ratio_max);
  } else {
    MDLAB_CHECK(c.crop_pct > 0.0 && c.crop_pct <= 4.0, "augment: `crop_pct` = {} is not in (0, 4]",
                c.crop_pct);
  }
  check_probability(c.flip_p, "flip_p");
  check_probability(c.jitter_p, "jitter_p");
  check_probability(c.grayscale_p, "grayscale_p");
  check_probability(c.blur_p, "blur_p");
  check_probability(c.solarize_p, "solarize_p");
  MDLAB_CHECK(c.brightness >= 0.0 && c.contrast >= 0.0 && c.saturation >= 0.0,
              "augment: jitter strengths must be >= 0 (brightness {}, contrast {}, saturation {})",
              c.brightness, c.contrast, c.saturation);
  MDLAB_CHECK(c.hue >= 0.0 && c.hue <= 0.5, "augment: `hue` = {} is not in [0, 0.5]", c.hue);
  MDLAB_CHECK(c.sigma_min > 0.0 && c.sigma_min <= c.sigma_max,
              "augment: `blur_sigma` = [{}, {}] needs 0 < lo <= hi", c.sigma_min, c.sigma_max);
  if (c.blur_kernel == BlurKernelRule::Fixed) {
    MDLAB_CHECK(c.blur_kernel_size > 0 && c.blur_kernel_size % 2 == 1,
                "augment: `blur_kernel_size` = {} must be odd and positive", c.blur_kernel_size);
  }
  MDLAB_CHECK(c.solarize_threshold >= 0 && c.solarize_threshold <= 256,
              "augment: `solarize_threshold` = {} is not in [0, 256]", c.solarize_threshold);
  MDLAB_CHECK(c.channels == 0 || c.channels == 1 || c.channels == 3,
              "augment: `channels` = {} is not 0 (as the source), 1 or 3", c.channels);
  for (const auto* v : {&c.mean, &c.stddev}) {
    MDLAB_CHECK(v->size() == 1 || v->size() == 3, "augment: `{}` needs 1 or 3 values, got {}",
                v == &c.mean ? "mean" : "std", v->size());
  }
  for (double s : c.stddev) MDLAB_CHECK(s > 0.0, "augment: `std` value {} is not positive", s);
}

OptionsSchema augment_schema() {
  OptionsSchema s;
  std::vector<std::string> presets{""};
  for (const auto& n : augment_preset_names()) presets.push_back(n);
  s.add_string("preset", "", "Augmentation preset; \"\" = the method's default for this view slot")
      .one_of(presets);
  s.add_optional("size", OptionType::Int, "Output side in pixels (square views)").range(1, 16384);
  s.add_optional("crop", OptionType::String,
                 "Geometry: \"random\" (RandomResizedCrop) or \"center\" (Resize + CenterCrop)")
      .one_of({"random", "center"});
  s.add_optional("scale", OptionType::FloatList,
                 "Random crop area fraction range [lo, hi] (torchvision scale)")
      .at_least(0.0);
  s.add_optional("ratio", OptionType::FloatList,
                 "Random crop aspect ratio range [lo, hi] (w / h, sampled log-uniformly)")
      .at_least(0.0);
  s.add_optional("crop_pct", OptionType::Float,
                 "Centre crop: crop side / resized shorter side (0.875: 256 -> 224)")
      .range(0.01, 4.0);
  s.add_optional("flip_p", OptionType::Float, "Probability of a horizontal flip").range(0, 1);
  s.add_optional("jitter_p", OptionType::Float, "Probability of the colour jitter").range(0, 1);
  s.add_optional("brightness", OptionType::Float, "Jitter brightness strength (0: off)")
      .at_least(0.0);
  s.add_optional("contrast", OptionType::Float, "Jitter contrast strength (0: off)").at_least(0.0);
  s.add_optional("saturation", OptionType::Float, "Jitter saturation strength (0: off)")
      .at_least(0.0);
  s.add_optional("hue", OptionType::Float, "Jitter hue strength (0: off)").range(0, 0.5);
  s.add_optional("grayscale_p", OptionType::Float, "Probability of grayscale").range(0, 1);
  s.add_optional("blur_p", OptionType::Float, "Probability of the Gaussian blur").range(0, 1);
  s.add_optional("blur_sigma", OptionType::FloatList, "Blur sigma range [lo, hi]").at_least(0.0);
  s.add_optional("blur_kernel", OptionType::String,
                 "Blur kernel size rule: \"simclr\" (10% of the side, odd), \"sigma\" "
                 "(2 ceil(3 sigma) + 1) or \"fixed\" (blur_kernel_size)")
      .one_of({"simclr", "sigma", "fixed"});
  s.add_optional("blur_kernel_size", OptionType::Int,
                 "Odd blur kernel size (implies blur_kernel = \"fixed\")")
      .range(1, 1023);
  s.add_optional("solarize_p", OptionType::Float, "Probability of solarization").range(0, 1);
  s.add_optional("solarize_threshold", OptionType::Int, "Values >= this are inverted")
      .range(0, 256);
  s.add_optional("channels", OptionType::Int, "Output channels: 0 (as the source), 1 or 3")
      .one_of_ints({0, 1, 3});
  s.add_optional("mean", OptionType::FloatList, "Normalisation mean (1 or 3 values)");
  s.add_optional("std", OptionType::FloatList, "Normalisation std (1 or 3 values)").at_least(0.0);
  return s;
}

AugmentConfig augment_config(const Options& o, std::string_view default_preset, int default_size) {
  std::string name = o.has("preset") ? o.get_string("preset") : std::string();
  if (name.empty()) name = std::string(default_preset);
  if (name.empty()) name = "none";
  AugmentConfig c = augment_preset(name);
  if (default_size > 0) c.size = default_size;
  apply_augment_overrides(o, c);
  validate(c);
  return c;
}

void apply_augment_overrides(const Options& o, AugmentConfig& c) {
  if (o.has("size")) c.size = static_cast<int>(o.get_int("size"));
  if (o.has("crop")) {
    const auto& v = o.get_string("crop");
    MDLAB_CHECK(v == "random" || v == "center", "augment: `crop` is \"{}\" (random, center)", v);
    c.crop = v == "random" ? CropMode::Random : CropMode::Center;
  }
  if (o.has("scale")) std::tie(c.scale_min, c.scale_max) = pair_of(o, "scale");
  if (o.has("ratio")) std::tie(c.ratio_min, c.ratio_max) = pair_of(o, "ratio");
  if (o.has("crop_pct")) c.crop_pct = o.get_float("crop_pct");
  if (o.has("flip_p")) c.flip_p = o.get_float("flip_p");
  if (o.has("jitter_p")) c.jitter_p = o.get_float("jitter_p");
  if (o.has("brightness")) c.brightness = o.get_float("brightness");
  if (o.has("contrast")) c.contrast = o.get_float("contrast");
  if (o.has("saturation")) c.saturation = o.get_float("saturation");
  if (o.has("hue")) c.hue = o.get_float("hue");
  if (o.has("grayscale_p")) c.grayscale_p = o.get_float("grayscale_p");
  if (o.has("blur_p")) c.blur_p = o.get_float("blur_p");
  if (o.has("blur_sigma")) std::tie(c.sigma_min, c.sigma_max) = pair_of(o, "blur_sigma");
  if (o.has("blur_kernel")) c.blur_kernel = rule_named(o.get_string("blur_kernel"));
  if (o.has("blur_kernel_size")) {
    MDLAB_CHECK(!o.has("blur_kernel") || c.blur_kernel == BlurKernelRule::Fixed,
                "augment: `blur_kernel_size` needs blur_kernel = \"fixed\" (or no blur_kernel), "
                "got \"{}\"",
                blur_kernel_rule_name(c.blur_kernel));
    c.blur_kernel = BlurKernelRule::Fixed;
    c.blur_kernel_size = static_cast<int>(o.get_int("blur_kernel_size"));
  }
  if (o.has("solarize_p")) c.solarize_p = o.get_float("solarize_p");
  if (o.has("solarize_threshold")) {
    c.solarize_threshold = static_cast<int>(o.get_int("solarize_threshold"));
  }
  if (o.has("channels")) c.channels = static_cast<int>(o.get_int("channels"));
  if (o.has("mean")) c.mean = o.get_float_list("mean");
  if (o.has("std")) c.stddev = o.get_float_list("std");
}

std::string describe(const AugmentConfig& c) {
  std::string s = fmt::format("{}: ", c.preset.empty() ? "custom" : c.preset);
  if (c.crop == CropMode::Random) {
    s += fmt::format("random crop {} scale [{:.4g}, {:.4g}] ratio [{:.4g}, {:.4g}]", c.size,
                     c.scale_min, c.scale_max, c.ratio_min, c.ratio_max);
  } else {
    s += fmt::format("resize {} + centre crop {} (crop_pct {:.4g})", center_resize_size(c), c.size,
                     c.crop_pct);
  }
  if (c.flip_p > 0) s += fmt::format(", flip {:.4g}", c.flip_p);
  if (c.jitter_p > 0) {
    s += fmt::format(", jitter {:.4g} ({:.4g}, {:.4g}, {:.4g}, {:.4g})", c.jitter_p, c.brightness,
                     c.contrast, c.saturation, c.hue);
  }
  if (c.grayscale_p > 0) s += fmt::format(", gray {:.4g}", c.grayscale_p);
  if (c.blur_p > 0) {
    s += fmt::format(", blur {:.4g} sigma [{:.4g}, {:.4g}] kernel {}", c.blur_p, c.sigma_min,
                     c.sigma_max, augment::blur_kernel_rule_name(c.blur_kernel));
    if (c.blur_kernel == BlurKernelRule::Fixed) s += fmt::format(" {}", c.blur_kernel_size);
  }
  if (c.solarize_p > 0) {
    s += fmt::format(", solarize {:.4g} threshold {}", c.solarize_p, c.solarize_threshold);
  }
  s += c.channels == 0 ? std::string(", channels as source")
                       : fmt::format(", channels {}", c.channels);
  s += fmt::format(", mean {} std {}", fmt_list(c.mean), fmt_list(c.stddev));
  return s;
}

}  // namespace mdlab
