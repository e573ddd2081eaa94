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

void copy_module_state(const torch::nn::Module& from, torch::nn::Module& to,
                       std::string_view what) {
  torch::NoGradGuard no_grad;
  auto copy = [&](const auto& src, const auto& dst, const char* kind) {
    MDLAB_CHECK(src.size() == dst.size(),
                "{}: the copy has {} {}s, the original {} (they must be one architecture)", what,
                dst.size(), kind, src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      const auto& s = src[i];
      const auto& d = dst[i];
      MDLAB_CHECK(s.key() == d.key() && s.value().sizes() == d.value().sizes(),
                  "{}: the copy's {} '{}' {} differs from the original's '{}' {}", what, kind,
                  d.key(), c10::str(d.value().sizes()), s.key(), c10::str(s.value().sizes()));
      d.value().copy_(s.value());
    }
  };
  copy(from.named_parameters(), to.named_parameters(), "parameter");
  copy(from.named_buffers(), to.named_buffers(), "buffer");
}

std::shared_ptr<Backbone> create_twin_backbone(Context& context, const Backbone& online,
                                               std::string_view what) {
  auto twin = context.create_backbone();
  MDLAB_CHECK(twin != nullptr && twin.get() != &online,
              "{}: Context::create_backbone() must return a new backbone", what);
  MDLAB_CHECK(twin->feature_dim() == online.feature_dim(),
              "{}: the new backbone has feature_dim {}, the online one {} (the experiment's "
              "[backbone] must build the online network's architecture)",
              what, twin->feature_dim(), online.feature_dim());
  return twin;
}

void MomentumEncoder::follow(const torch::nn::Module& online, torch::nn::Module& target,
                             std::string_view what) {
  MDLAB_CHECK(&online != &target, "{}: a module cannot follow itself", what);
  copy_module_state(online, target, what);
  for (auto& p : online.parameters()) online_.push_back(p);
  for (auto& p : target.parameters()) {
    p.set_requires_grad(false);
    target_.push_back(p);
  }
}

void MomentumEncoder::update(double m) {
  MDLAB_CHECK(m >= 0.0 && m <= 1.0, "momentum {} is not in [0, 1]", m);
  ema_update(target_, online_, m);
}

}  // namespace mdlab
