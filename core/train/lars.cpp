#include "lars.h"

#include <torch/torch.h>

#include <sstream>
#include <string>
#include <type_traits>

namespace mdlab {

namespace {

// The key of a parameter's optimizer state: LibTorch 1.x keys the state map by the printed
// TensorImpl address (what torch::optim::serialize rebuilds on load), 2.x by the pointer.
template <typename Key>
Key state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream address;
    address << static_cast<const void*>(p.unsafeGetTensorImpl());
    return address.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

}  // namespace

LarsOptions::LarsOptions(double lr) : lr_(lr) {}

void LarsOptions::serialize(torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(lr);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(momentum);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(weight_decay);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(eta);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(eps);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(clip_lr);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(adapt);
}

void LarsOptions::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, lr);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, momentum);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, weight_decay);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, eta);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, eps);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(bool, clip_lr);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(bool, adapt);
}

void LarsParamState::serialize(torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(momentum_buffer);
}

void LarsParamState::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(torch::Tensor, momentum_buffer);
}

Lars::Lars(std::vector<torch::optim::OptimizerParamGroup> groups, LarsOptions defaults)
    : Optimizer(std::move(groups), std::make_unique<LarsOptions>(defaults)) {}

torch::Tensor Lars::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable(true);
    loss = closure();
  }
  for (auto& group : param_groups()) {
    auto& o = static_cast<LarsOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      torch::Tensor d = p.grad();
      if (o.adapt()) {
        // On the device, without reading the norms back: no host sync per tensor.
        const auto p_norm = p.norm();
        const auto g_norm = d.norm();
        auto trust = p_norm.mul(o.eta()).div_(g_norm + p_norm * o.weight_decay() + o.eps());
        if (o.clip_lr()) trust = trust.div_(o.lr()).clamp_max_(1.0);
        const auto usable = p_norm.gt(0).logical_and_(g_norm.gt(0));
        d = torch::where(usable, d.add(p, o.weight_decay()).mul_(trust), d);
      }
      if (o.momentum() != 0) {
        const auto key = state_key<typename std::decay_t<decltype(state())>::key_type>(p);
        auto it = state().find(key);
        if (it == state().end()) {
          auto s = std::make_unique<LarsParamState>();
          s->momentum_buffer(d.clone().detach());
          d = s->momentum_buffer();
          state()[key] = std::move(s);
        } else {
          auto& buf = static_cast<LarsParamState&>(*it->second).momentum_buffer();
          buf.mul_(o.momentum()).add_(d);
          d = buf;
        }
      }
      p.add_(d, -o.lr());
    }
  }
  return loss;
}

void Lars::save(torch::serialize::OutputArchive& archive) const {
  torch::optim::serialize<LarsParamState, LarsOptions>(archive, *this);
}

void Lars::load(torch::serialize::InputArchive& archive) {
  torch::optim::serialize<LarsParamState, LarsOptions>(archive, *this);
}

}  // namespace mdlab
