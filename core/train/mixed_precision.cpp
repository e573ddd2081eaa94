#include "mixed_precision.h"

#include <mdlab/error.h>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

namespace mdlab {

namespace {

// LibTorch 2.4 replaced the per-device autocast functions (is_enabled / is_cpu_enabled, ...)
// by ones taking the device type; the old names still compile there but warn at run time.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(bool cuda) {
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
}
c10::ScalarType autocast_dtype(bool cuda) {
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
}
void set_autocast(bool cuda, bool enabled, c10::ScalarType dtype) {
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, enabled);
}
#else
bool autocast_enabled(bool cuda) {
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
c10::ScalarType autocast_dtype(bool cuda) {
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast(bool cuda, bool enabled, c10::ScalarType dtype) {
  if (cuda) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
}
#endif

}  // namespace

AutocastGuard::AutocastGuard(const c10::Device& device, c10::ScalarType dtype, bool enabled) {
  if (!enabled) return;
  active_ = true;
  cuda_ = device.is_cuda();
  previous_enabled_ = autocast_enabled(cuda_);
  previous_dtype_ = autocast_dtype(cuda_);
  set_autocast(cuda_, true, dtype);
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  set_autocast(cuda_, previous_enabled_, previous_dtype_);
  // Cast weights are cached for the duration of a region; drop them with it.
  at::autocast::clear_cache();
}

LossScaler::LossScaler(double scale, int64_t growth_interval)
    : scale_(scale), growth_interval_(growth_interval) {
  MDLAB_CHECK(scale > 0 && growth_interval > 0, "loss scaler: scale {} and interval {} must be > 0",
              scale, growth_interval);
}

torch::Tensor LossScaler::scale(const torch::Tensor& loss) const { return loss * scale_; }

bool LossScaler::unscale_and_update(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  bool finite = true;
  if (!grads.empty()) {
    // One host read for all tensors: the sum of each gradient is non-finite iff it holds one.
    std::vector<torch::Tensor> sums;
    for (auto& g : grads) sums.push_back(g.sum().to(torch::kFloat));
    finite = torch::stack(sums).isfinite().all().item<bool>();
  }
  if (finite) {
    for (auto& g : grads) g.div_(scale_);
    if (++growth_tracker_ >= growth_interval_) {
      scale_ *= 2.0;
      growth_tracker_ = 0;
    }
  } else {
    scale_ *= 0.5;
    growth_tracker_ = 0;
  }
  return finite;
}

void LossScaler::restore(double scale, int64_t growth_tracker) {
  scale_ = scale;
  growth_tracker_ = growth_tracker;
}

c10::ScalarType precision_dtype(const std::string& precision) {
  if (precision == "bf16") return torch::kBFloat16;
  if (precision == "fp16") return torch::kHalf;
  MDLAB_CHECK(precision == "fp32", "unknown precision '{}' (fp32, bf16, fp16)", precision);
  return torch::kFloat;
}

}  // namespace mdlab
