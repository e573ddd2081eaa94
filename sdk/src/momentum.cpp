#include <mdlab/error.h>
#include <mdlab/momentum.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace mdlab {

double cosine_momentum(double base, int64_t step, int64_t total_steps) {
  const int64_t total = std::max<int64_t>(total_steps, 1);
  const int64_t i = std::clamp<int64_t>(step, 0, total - 1);
  return 1.0 + 0.5 * (base - 1.0) *
                   (1.0 + std::cos(M_PI * static_cast<double>(i) / static_cast<double>(total)));
}

void ema_update(std::vector<torch::Tensor>& target, const std::vector<torch::Tensor>& source,
                double m) {
  MDLAB_CHECK(target.size() == source.size(), "ema_update: {} target tensors for {} sources",
              target.size(), source.size());
  if (target.empty()) return;
  torch::NoGradGuard no_grad;
  torch::_foreach_mul_(target, m);
  torch::_foreach_add_(target, source, 1.0 - m);
}

}  // namespace mdlab
