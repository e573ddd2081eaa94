#include "batch_augment.h"

#include "blur.h"
#include "normalize.h"
#include "random_params.h"
#include "view_transform.h"

#include <mdlab/error.h>

#include <fmt/ranges.h>
#include <torch/types.h>

#include <algorithm>
#include <vector>

namespace mdlab {
namespace {

namespace vp = view_param;

// The working batch is float32 holding whole numbers 0..255 between the steps, as the CPU
// path's uint8 images: every step ends with the CPU path's rounding and clamping.
//
// Decisions come from the draws on the CPU (which samples an op touches, the blur kernels),
// so nothing waits for the device; the small tensors derived from them go over with
// non-blocking copies (from pageable memory CUDA stages them at once, with no stream sync).

torch::Tensor to_device(const torch::Tensor& t, const torch::Device& device) {
  return t.to(device, /*non_blocking=*/true);
}

// Runs `op` on the samples of `x` selected by `mask` (CPU bool [B]); `op` gets those samples
// and their indices (CPU int64), to pick their draws.
template <class Op>
void on_samples(torch::Tensor& x, const torch::Tensor& mask, Op op) {
  const torch::Tensor idx = mask.nonzero().squeeze(1);
  if (idx.numel() == 0) return;
  if (idx.numel() == x.size(0)) {
    x = op(x, idx);
    return;
  }
  const torch::Tensor on_device = to_device(idx, x.device());
  x.index_copy_(0, on_device, op(x.index_select(0, on_device), idx));
}

// One draw per selected sample, as float32 [n, 1, 1, 1] on `device`.
torch::Tensor per_sample(const torch::Tensor& params, int field, const torch::Tensor& idx,
                         const torch::Device& device) {
  return to_device(
      params.select(1, field).index_select(0, idx).to(torch::kFloat32).view({-1, 1, 1, 1}), device);
}

// PIL's blend (color.h): degenerate + factor * (value - degenerate) in float32, truncated
// toward zero and clamped. The multiply and the add stay separate operations: one rounding
// each, as in the CPU code.
torch::Tensor blend(const torch::Tensor& x, const torch::Tensor& degenerate,
                    const torch::Tensor& factor) {
  return (degenerate + factor * (x - degenerate)).clamp(0, 255).trunc();
}

// PIL's gray level, float32 [n, 1, S, S]; a 1-channel batch is its own gray level.
torch::Tensor gray_level(const torch::Tensor& x) {
  if (x.size(1) == 1) return x;
  const torch::Tensor v = x.to(torch::kInt32);
  const torch::Tensor l =
      v.select(1, 0) * 19595 + v.select(1, 1) * 38470 + v.select(1, 2) * 7471 + 0x8000;
  return torch::div(l, 65536, "floor").unsqueeze(1).to(torch::kFloat32);
}

// Python's round of a non-negative double (half away from zero), without the rounding error
// of floor(x + 0.5).
torch::Tensor round_half_up(const torch::Tensor& x) {
  const torch::Tensor whole = x.trunc();
  return whole + (x - whole >= 0.5).to(x.scalar_type());
}

// adjust_hue on RGB: PIL's 8-bit HSV round trip with the float32 / float64 mix of color.cpp,
// H shifted by `shift` (float32 [n, 1, 1, 1], 0..255) modulo 256.
torch::Tensor hue(const torch::Tensor& x, const torch::Tensor& shift) {
  const auto f64 = torch::kFloat64;
  const torch::Tensor r = x.select(1, 0), g = x.select(1, 1), b = x.select(1, 2);
  const torch::Tensor maxc = torch::max(r, torch::max(g, b));
  const torch::Tensor minc = torch::min(r, torch::min(g, b));
  const torch::Tensor cr = maxc - minc;
  const torch::Tensor gray = cr == 0;
  const torch::Tensor crs = torch::where(gray, torch::ones_like(cr), cr);  // no 0 / 0
  const torch::Tensor s = cr / torch::where(maxc == 0, torch::ones_like(maxc), maxc);
  const torch::Tensor rc = (maxc - r) / crs;
  const torch::Tensor gc = (maxc - g) / crs;
  const torch::Tensor bc = (maxc - b) / crs;
  const torch::Tensor h_r = bc - gc;
  const torch::Tensor h_g = ((rc.to(f64) + 2.0) - bc.to(f64)).to(torch::kFloat32);
  const torch::Tensor h_b = ((gc.to(f64) + 4.0) - rc.to(f64)).to(torch::kFloat32);
  torch::Tensor h = torch::where(r == maxc, h_r, torch::where(g == maxc, h_g, h_b));
  torch::Tensor hd = h.to(f64) / 6.0 + 1.0;
  h = (hd - hd.floor()).to(torch::kFloat32);  // fmod(x, 1) of a positive x, exactly
  torch::Tensor H = (h.to(f64) * 255.0).trunc().clamp(0, 255);
  torch::Tensor S = (s.to(f64) * 255.0).trunc().clamp(0, 255);
  H = torch::where(gray, torch::zeros_like(H), H);
  S = torch::where(gray, torch::zeros_like(S), S);
  H = torch::fmod(H + shift.squeeze(1).to(f64), 256.0);

  const torch::Tensor h6 = H * 6.0 / 255.0;
  const torch::Tensor whole = h6.floor();
  const torch::Tensor f = (h6 - whole).to(torch::kFloat32);
  const torch::Tensor i = torch::fmod(whole, 6.0);  // H = 255 gives h6 = 6: sector 0
  const torch::Tensor fs = (S / 255.0).to(torch::kFloat32);
  const torch::Tensor vd = maxc.to(f64);
  const torch::Tensor p = round_half_up(vd * (1.0 - fs.to(f64)));
  const torch::Tensor q = round_half_up(vd * (1.0 - (fs * f).to(f64)));
  const torch::Tensor t = round_half_up(vd * (1.0 - fs.to(f64) * (1.0 - f.to(f64))));
  const torch::Tensor v = vd;
  // Sector i (0..5) picks each output channel from (v, p, q, t), as colorsys does.
  const auto pick = [&](const std::array<const torch::Tensor*, 6>& by_sector) {
    torch::Tensor out = *by_sector[5];
    for (int k = 4; k >= 0; --k)
      out = torch::where(i == k, *by_sector[static_cast<size_t>(k)], out);
    return torch::where(S == 0, v, out);
  };
  return torch::stack({pick({&v, &q, &p, &p, &t, &v}), pick({&t, &v, &v, &q, &p, &p}),
                       pick({&p, &p, &t, &v, &v, &q})},
                      1)
      .to(torch::kFloat32);
}

torch::Tensor mirrored_indices(int64_t n, int64_t margin, const torch::Device& device) {
  std::vector<int64_t> idx(static_cast<size_t>(n + 2 * margin));
  for (int64_t j = 0; j < n + 2 * margin; ++j)
    idx[static_cast<size_t>(j)] =
        augment::reflect_index(static_cast<int>(j - margin), static_cast<int>(n));
  return to_device(torch::tensor(idx, torch::kInt64), device);
}

// gaussian_blur (blur.h) of each sample with its own kernel: `kernels` is float32 [n, K], each
// row a torchvision kernel centred and padded with zeros to the longest one (a zero tap adds
// exactly 0). Vertical pass, then horizontal, each a sum over taps of kernel * shifted image.
torch::Tensor blur(const torch::Tensor& x, const torch::Tensor& kernels) {
  const int64_t n = x.size(0), H = x.size(2), W = x.size(3), K = kernels.size(1), r = K / 2;
  const torch::Tensor k = to_device(kernels, x.device());
  const torch::Tensor rows = x.index_select(2, mirrored_indices(H, r, x.device()));
  const auto taps = [&](const torch::Tensor& padded, int64_t dim, int64_t len) {
    torch::Tensor acc = torch::zeros_like(x);
    for (int64_t t = 0; t < K; ++t)
      acc.add_(k.select(1, t).view({n, 1, 1, 1}) * padded.slice(dim, t, t + len));
    return acc;
  };
  const torch::Tensor vertical = taps(rows, 2, H);
  const torch::Tensor cols = vertical.index_select(3, mirrored_indices(W, r, x.device()));
  return taps(cols, 3, W).round().clamp(0, 255);  // round half to even, as torch
}

}  // namespace

BatchAugment::BatchAugment(AugmentConfig config) : config_(std::move(config)) {
  validate(config_);
  for (int channels : {1, 3}) {
    const augment::NormalizeTable t =
        augment::make_normalize_table(config_.mean, config_.stddev, channels);
    torch::Tensor table = torch::empty({channels, 256}, torch::kFloat32);
    for (int ch = 0; ch < channels; ++ch)
      std::copy(t.value[ch], t.value[ch] + 256, table[ch].data_ptr<float>());
    (channels == 1 ? table1_ : table3_) = table;
  }
}

torch::Tensor BatchAugment::operator()(const torch::Tensor& crops,
                                       const torch::Tensor& params_in) const {
  const AugmentConfig& c = config_;
  MDLAB_CHECK(crops.dim() == 4 && crops.scalar_type() == torch::kUInt8 &&
                  (crops.size(1) == 1 || crops.size(1) == 3),
              "batch augment: crops must be uint8 [B, 1 or 3, S, S], got {} [{}]",
              c10::toString(crops.scalar_type()), fmt::join(crops.sizes(), ", "));
  const int64_t B = crops.size(0), C = crops.size(1);
  MDLAB_CHECK(
      params_in.dim() == 2 && params_in.size(0) == B && params_in.size(1) == view_param::count,
      "batch augment: params must be [{}, {}] (one row per crop), got [{}]", B, view_param::count,
      fmt::join(params_in.sizes(), ", "));
  const torch::Tensor params = params_in.to(torch::kCPU, torch::kFloat64).contiguous();
  const torch::Device device = crops.device();
  const auto flag = [&](int field) { return params.select(1, field) != 0; };

  torch::Tensor x = crops.to(torch::kFloat32);
  if (B == 0) return x;

  on_samples(x, flag(vp::flip),
             [](const torch::Tensor& s, const torch::Tensor&) { return s.flip({3}); });

  const torch::Tensor jitter = flag(vp::jitter);
  for (int pos = 0; pos < 4; ++pos) {
    const torch::Tensor op = params.select(1, vp::order + pos);
    const auto at = [&](int which) { return jitter & (op == which); };
    if (c.brightness > 0)
      on_samples(x, at(augment::kBrightness), [&](const torch::Tensor& s, const torch::Tensor& i) {
        return blend(s, torch::zeros({1}, s.options()),
                     per_sample(params, vp::brightness, i, device));
      });
    if (c.contrast > 0)
      on_samples(x, at(augment::kContrast), [&](const torch::Tensor& s, const torch::Tensor& i) {
        // PIL's int(mean + 0.5) of the gray image, the mean in double.
        const torch::Tensor sum = gray_level(s).to(torch::kFloat64).sum({1, 2, 3});
        const torch::Tensor mean =
            (sum / static_cast<double>(s.size(2) * s.size(3)) + 0.5).floor().to(torch::kFloat32);
        return blend(s, mean.view({-1, 1, 1, 1}), per_sample(params, vp::contrast, i, device));
      });
    if (c.saturation > 0 && C == 3)
      on_samples(x, at(augment::kSaturation), [&](const torch::Tensor& s, const torch::Tensor& i) {
        return blend(s, gray_level(s), per_sample(params, vp::saturation, i, device));
      });
    if (c.hue > 0 && C == 3)
      on_samples(x, at(augment::kHue), [&](const torch::Tensor& s, const torch::Tensor& i) {
        return hue(s, per_sample(params, vp::hue_shift, i, device));
      });
  }

  if (C == 3)
    on_samples(x, flag(vp::grayscale), [](const torch::Tensor& s, const torch::Tensor&) {
      return gray_level(s).expand({-1, 3, -1, -1}).contiguous();
    });

  on_samples(x, flag(vp::blur), [&](const torch::Tensor& s, const torch::Tensor& i) {
    const auto draws = params.accessor<double, 2>();
    const auto rows = i.accessor<int64_t, 1>();
    int longest = 1;
    for (int64_t j = 0; j < i.numel(); ++j)
      longest = std::max(longest, static_cast<int>(draws[rows[j]][vp::kernel]));
    std::vector<float> kernels(static_cast<size_t>(i.numel() * longest), 0.0f);
    for (int64_t j = 0; j < i.numel(); ++j) {
      const int size = static_cast<int>(draws[rows[j]][vp::kernel]);
      augment::gaussian_kernel(size, draws[rows[j]][vp::sigma],
                               kernels.data() + j * longest + (longest - size) / 2);
    }
    return blur(s, torch::from_blob(kernels.data(), {i.numel(), longest}, torch::kFloat32).clone());
  });

  on_samples(x, flag(vp::solarize), [&](const torch::Tensor& s, const torch::Tensor&) {
    return torch::where(s >= c.solarize_threshold, 255 - s, s);
  });

  // Normalisation by the CPU path's tables: value[c][byte], the same float32 numbers.
  const torch::Tensor offsets =
      to_device((torch::arange(C, torch::kInt64) * 256).view({1, C, 1, 1}), device);
  return torch::take(to_device(C == 1 ? table1_ : table3_, device), x.to(torch::kInt64) + offsets);
}

}  // namespace mdlab
