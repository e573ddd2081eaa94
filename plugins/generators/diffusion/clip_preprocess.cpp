// CLIP preprocessing with a bit-exact reimplementation of PIL's resampling (Resample.c):
// precomputed per-output-pixel coefficient windows in double, normalised to sum 1, converted
// to 22-bit fixed point; a horizontal pass over the rows the vertical pass needs, then the
// vertical pass; each pass rounds (+ 2^21) and clips to uint8.
#include "clip_preprocess.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <torch/nn/functional.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace F = torch::nn::functional;

namespace mdlab::diffusion {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x) {
  // Keys' cubic with a = -0.5, as PIL uses.
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

double bilinear(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// The fixed-point windows of one axis: output pixel i reads `count[i]` inputs from `first[i]`
// with weights weights[i * ksize + k].
struct Axis {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

Axis coefficients(int in_size, int out_size, PilFilter filter) {
  const double support_1 = filter == PilFilter::bicubic ? 2.0 : 1.0;
  double (*kernel)(double) = filter == PilFilter::bicubic ? bicubic : bilinear;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = support_1 * filterscale;
  Axis axis;
  axis.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  axis.first.resize(static_cast<size_t>(out_size));
  axis.count.resize(static_cast<size_t>(out_size));
  axis.weights.assign(static_cast<size_t>(out_size) * axis.ksize, 0);
  std::vector<double> w(static_cast<size_t>(axis.ksize));
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int lo = static_cast<int>(center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = static_cast<int>(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int n = hi - lo;
    double total = 0.0;
    for (int k = 0; k < n; ++k) {
      w[static_cast<size_t>(k)] = kernel((k + lo - center + 0.5) * ss);
      total += w[static_cast<size_t>(k)];
    }
    for (int k = 0; k < n; ++k) {
      double v = total != 0.0 ? w[static_cast<size_t>(k)] / total : w[static_cast<size_t>(k)];
      // Round half away from zero into fixed point, as PIL's normalize_coeffs_8bpc.
      v *= static_cast<double>(1 << kPrecisionBits);
      axis.weights[static_cast<size_t>(i) * axis.ksize + k] =
          static_cast<int32_t>(v < 0 ? -0.5 + v : 0.5 + v);
    }
    axis.first[static_cast<size_t>(i)] = lo;
    axis.count[static_cast<size_t>(i)] = n;
  }
  return axis;
}

// Python's floor division by 2 (C++ truncates negative quotients towards zero).
int64_t floor_half(int64_t v) {
  return v >= 0 ? v / 2 : -((1 - v) / 2);
}

inline uint8_t clip8(int64_t accumulator) {
  const int64_t v = accumulator >> kPrecisionBits;  // arithmetic shift: floor
  return static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255));
}

}  // namespace

torch::Tensor pil_resize(const torch::Tensor& hwc, int64_t out_w, int64_t out_h, PilFilter filter) {
  MDLAB_CHECK(hwc.dim() == 3 && hwc.scalar_type() == torch::kUInt8,
              "pil_resize: expected a uint8 [H, W, C] image, got [{}]",
              fmt::join(hwc.sizes(), ", "));
  MDLAB_CHECK(out_w > 0 && out_h > 0, "pil_resize: output size {}x{}", out_w, out_h);
  const auto src = hwc.contiguous();
  const int in_h = static_cast<int>(src.size(0)), in_w = static_cast<int>(src.size(1));
  const int ch = static_cast<int>(src.size(2));
  const int ow = static_cast<int>(out_w), oh = static_cast<int>(out_h);
  const bool horizontal = ow != in_w, vertical = oh != in_h;
  if (!horizontal && !vertical) return src.clone();

  const Axis ax = coefficients(in_w, ow, filter);
  const Axis ay = coefficients(in_h, oh, filter);
  const uint8_t* in = src.data_ptr<uint8_t>();

  // Horizontal pass over the rows the vertical pass reads.
  int row0 = 0, rows = in_h;
  if (vertical) {
    row0 = ay.first.front();
    rows = ay.first.back() + ay.count.back() - row0;
  }
  std::vector<uint8_t> mid;
  const uint8_t* stage = in + static_cast<size_t>(row0) * in_w * ch;
  int stage_w = in_w;
  if (horizontal) {
    mid.resize(static_cast<size_t>(rows) * ow * ch);
    for (int y = 0; y < rows; ++y) {
      const uint8_t* row = in + static_cast<size_t>(row0 + y) * in_w * ch;
      for (int x = 0; x < ow; ++x) {
        const int32_t* k = &ax.weights[static_cast<size_t>(x) * ax.ksize];
        const int lo = ax.first[static_cast<size_t>(x)], n = ax.count[static_cast<size_t>(x)];
        for (int c = 0; c < ch; ++c) {
          int64_t acc = int64_t{1} << (kPrecisionBits - 1);
          for (int j = 0; j < n; ++j) acc += static_cast<int64_t>(row[(lo + j) * ch + c]) * k[j];
          mid[(static_cast<size_t>(y) * ow + x) * ch + c] = clip8(acc);
        }
      }
    }
    stage = mid.data();
    stage_w = ow;
  }
  if (!vertical) {
    return torch::from_blob(mid.data(), {rows, ow, ch}, torch::kUInt8).clone();
  }
  auto out = torch::empty({oh, stage_w, ch}, torch::kUInt8);
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int y = 0; y < oh; ++y) {
    const int32_t* k = &ay.weights[static_cast<size_t>(y) * ay.ksize];
    const int lo = ay.first[static_cast<size_t>(y)] - row0, n = ay.count[static_cast<size_t>(y)];
    for (int x = 0; x < stage_w; ++x) {
      for (int c = 0; c < ch; ++c) {
        int64_t acc = int64_t{1} << (kPrecisionBits - 1);
        for (int j = 0; j < n; ++j) {
          acc += static_cast<int64_t>(stage[(static_cast<size_t>(lo + j) * stage_w + x) * ch + c]) *
                 k[j];
        }
        o[(static_cast<size_t>(y) * stage_w + x) * ch + c] = clip8(acc);
      }
    }
  }
  return out;
}

// top = (H - crop_h) // 2 with Python's floor; the zero canvas takes the ceil of half the excess
// above and to the left (transformers 4.33; older versions floored it and could return one row
// short).
torch::Tensor center_crop(const torch::Tensor& hwc, int64_t crop_h, int64_t crop_w) {
  const int64_t h = hwc.size(0), w = hwc.size(1);
  int64_t top = floor_half(h - crop_h), left = floor_half(w - crop_w);
  if (top >= 0 && left >= 0 && top + crop_h <= h && left + crop_w <= w) {
    return hwc.narrow(0, top, crop_h).narrow(1, left, crop_w);
  }
  const int64_t canvas_h = std::max(crop_h, h), canvas_w = std::max(crop_w, w);
  const int64_t top_pad = (canvas_h - h + 1) / 2, left_pad = (canvas_w - w + 1) / 2;
  auto canvas = torch::zeros({canvas_h, canvas_w, hwc.size(2)}, hwc.options());
  canvas.narrow(0, top_pad, h).narrow(1, left_pad, w).copy_(hwc);
  top += top_pad;
  left += left_pad;
  const int64_t r0 = std::max<int64_t>(0, top), r1 = std::min(canvas_h, top + crop_h);
  const int64_t c0 = std::max<int64_t>(0, left), c1 = std::min(canvas_w, left + crop_w);
  return canvas.slice(0, r0, r1).slice(1, c0, c1);
}

ClipPreprocessConfig::ClipPreprocessConfig(const JsonConfig& config) {
  do_resize = config.get<bool>("do_resize", do_resize);
  const Json& size = config.raw("size");
  if (size.is_number_integer()) {
    shortest_edge = size.get<int64_t>();
  } else if (size.is_object() && size.contains("shortest_edge") &&
             size["shortest_edge"].is_number_integer()) {
    shortest_edge = size["shortest_edge"].get<int64_t>();
  } else if (!size.is_null()) {
    config.fail("size", "must be an integer or {\"shortest_edge\": N}, not " + size.dump());
  }
  const int64_t resample_code = config.get<int64_t>("resample", 3);
  if (resample_code == 3) {
    resample = PilFilter::bicubic;
  } else if (resample_code == 2) {
    resample = PilFilter::bilinear;
  } else {
    config.fail("resample",
                fmt::format("= {} is not supported (2 bilinear, 3 bicubic)", resample_code));
  }
  do_center_crop = config.get<bool>("do_center_crop", do_center_crop);
  const Json& crop = config.raw("crop_size");
  if (crop.is_number_integer()) {
    crop_height = crop_width = crop.get<int64_t>();
  } else if (crop.is_object() && crop.contains("height") && crop.contains("width") &&
             crop["height"].is_number_integer() && crop["width"].is_number_integer()) {
    crop_height = crop["height"].get<int64_t>();
    crop_width = crop["width"].get<int64_t>();
  } else if (!crop.is_null()) {
    config.fail("crop_size",
                "must be an integer or {\"height\": H, \"width\": W}, not " + crop.dump());
  }
  do_rescale = config.get<bool>("do_rescale", do_rescale);
  rescale_factor = config.get_number("rescale_factor", rescale_factor, 1e-12, 1e6);
  do_normalize = config.get<bool>("do_normalize", do_normalize);
  auto three = [&](const char* key, std::array<float, 3>& out) {
    if (!config.has(key)) return;
    // transformers also accepts one number for all channels.
    if (config.raw(key).is_number()) {
      out.fill(config.require<float>(key));
      return;
    }
    auto values = config.require<std::vector<float>>(key);
    if (values.size() != 3) config.fail(key, "must have 3 values (RGB)");
    std::copy(values.begin(), values.end(), out.begin());
  };
  three("image_mean", mean);
  three("image_std", std);
  if (shortest_edge <= 0 || shortest_edge > kMaxConfigPixels) {
    config.fail("size", fmt::format("= {} is outside [1, {}]", shortest_edge, kMaxConfigPixels));
  }
  if (crop_height <= 0 || crop_width <= 0 || crop_height > kMaxConfigPixels ||
      crop_width > kMaxConfigPixels) {
    config.fail("crop_size", fmt::format("= {}x{} is outside [1, {}]", crop_height, crop_width,
                                         kMaxConfigPixels));
  }
  for (float s : std) {
    // A zero (or non-finite) std would turn every pixel value into inf or NaN.
    if (!(std::isfinite(s) && s > 0)) {
      config.fail("image_std", fmt::format("has the entry {}; it must be positive", s));
    }
  }
  for (float m : mean) {
    if (!std::isfinite(m)) config.fail("image_mean", "must be finite");
  }
}

torch::Tensor clip_preprocess(const torch::Tensor& chw, const ClipPreprocessConfig& config,
                              PreprocessMode mode) {
  MDLAB_CHECK(chw.dim() == 3 && chw.size(0) == 3 && chw.scalar_type() == torch::kUInt8,
              "CLIP preprocessing: expected a uint8 [3, H, W] RGB image, got [{}]",
              fmt::join(chw.sizes(), ", "));
  const auto mean = torch::tensor({config.mean[0], config.mean[1], config.mean[2]}).view({3, 1, 1});
  const auto std = torch::tensor({config.std[0], config.std[1], config.std[2]}).view({3, 1, 1});
  if (mode == PreprocessMode::squash) {
    // torchvision ToTensor, Resize((S, S), BICUBIC, antialias=False), Normalize.
    auto x = chw.to(torch::kFloat).div(255).unsqueeze(0);
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{config.crop_height, config.crop_width})
                              .mode(torch::kBicubic)
                              .align_corners(false));
    return (x.squeeze(0) - mean) / std;
  }
  auto hwc = chw.permute({1, 2, 0}).contiguous();
  if (config.do_resize) {
    // transformers' get_resize_output_image_size (default_to_square=False): the short side to
    // `shortest_edge`, the long side int(shortest_edge * long / short).
    const int64_t h = hwc.size(0), w = hwc.size(1);
    const int64_t short_side = std::min(h, w), long_side = std::max(h, w);
    const int64_t new_short = config.shortest_edge;
    const auto new_long = static_cast<int64_t>(static_cast<double>(new_short) * long_side /
                                               static_cast<double>(short_side));
    const int64_t out_h = w <= h ? new_long : new_short;
    const int64_t out_w = w <= h ? new_short : new_long;
    hwc = pil_resize(hwc, out_w, out_h, config.resample);
  }
  if (config.do_center_crop) hwc = center_crop(hwc, config.crop_height, config.crop_width);
  // transformers: uint8 * factor in float64, then float32; normalisation in float32.
  auto x = hwc.permute({2, 0, 1}).to(torch::kDouble);
  if (config.do_rescale) x = x * config.rescale_factor;
  x = x.to(torch::kFloat);
  if (config.do_normalize) x = (x - mean) / std;
  return x.contiguous();
}

}  // namespace mdlab::diffusion
