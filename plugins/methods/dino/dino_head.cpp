#include "dino_head.h"

#include <mdlab/batch_norm.h>
#include <mdlab/error.h>

#include <torch/torch.h>

#include <cmath>

namespace mdlab::dino {
namespace {

// DINO's trunc_normal_(w, std=.02) truncates at +-2 in absolute value, i.e. +-100 std: the
// same distribution as a plain normal draw. Drawing it by inverting the CDF of a uniform on
// [-1, 1), as the reference does, can hit erfinv(-1) = -inf (clamped to -2) about once per
// 16M values; the normal draw cannot, and the clamp keeps the documented support.
void trunc_normal_002(torch::Tensor& w, at::Generator& generator) {
  w.normal_(0.0, 0.02, generator).clamp_(-2.0, 2.0);
}

torch::nn::Linear init_linear(int64_t in, int64_t out, at::Generator& generator) {
  torch::nn::Linear linear(in, out);
  trunc_normal_002(linear->weight, generator);
  linear->bias.zero_();
  return linear;
}

}  // namespace

WeightNormLinearImpl::WeightNormLinearImpl(int64_t in, int64_t out) {
  // Registration order (g, then v) is that of torch.nn.utils.weight_norm.
  weight_g = register_parameter("weight_g", torch::ones({out, 1}));
  weight_v = register_parameter("weight_v", torch::empty({out, in}));
}

torch::Tensor WeightNormLinearImpl::weight() const {
  // The same op PyTorch's WeightNorm hook calls, so forward and backward match it.
  return torch::_weight_norm(weight_v, weight_g, 0);
}

torch::Tensor WeightNormLinearImpl::forward(const torch::Tensor& x) {
  return torch::nn::functional::linear(x, weight());
}

DinoHeadImpl::DinoHeadImpl(const DinoHeadConfig& config, at::Generator& generator)
    : config_(config) {
  MDLAB_CHECK(
      config.in_dim > 0 && config.out_dim > 0 && config.hidden_dim > 0 && config.bottleneck_dim > 0,
      "dino head: dimensions must be positive (in {}, out {}, hidden {}, bottleneck {})",
      config.in_dim, config.out_dim, config.hidden_dim, config.bottleneck_dim);
  MDLAB_CHECK(config.nlayers >= 1, "dino head: nlayers {} is below 1", config.nlayers);
  torch::NoGradGuard no_grad;
  // Draw order follows module order (as DINO's self.apply(_init_weights)), then weight_v.
  if (config.nlayers == 1) {
    mlp_single =
        register_module("mlp", init_linear(config.in_dim, config.bottleneck_dim, generator));
  } else {
    torch::nn::Sequential seq;
    int64_t in = config.in_dim;
    for (int64_t layer = 0; layer + 1 < config.nlayers; ++layer) {
      seq->push_back(init_linear(in, config.hidden_dim, generator));
      if (config.use_bn) seq->push_back(mdlab::BatchNorm(config.hidden_dim));
      seq->push_back(torch::nn::GELU());
      in = config.hidden_dim;
    }
    seq->push_back(init_linear(in, config.bottleneck_dim, generator));
    mlp = register_module("mlp", seq);
  }
  last_layer =
      register_module("last_layer", WeightNormLinear(config.bottleneck_dim, config.out_dim));
  // nn.Linear's default init (kaiming_uniform with a = sqrt(5)): U(+-1/sqrt(fan_in)). Only the
  // direction matters: weight_g fixes every row's norm to 1.
  const double bound = 1.0 / std::sqrt(static_cast<double>(config.bottleneck_dim));
  last_layer->weight_v.uniform_(-bound, bound, generator);
  last_layer->weight_g.fill_(1.0);
  if (config.norm_last_layer) last_layer->weight_g.set_requires_grad(false);
}

torch::Tensor DinoHeadImpl::forward(const torch::Tensor& x) {
  auto h = mlp ? mlp->forward(x) : mlp_single->forward(x);
  h = torch::nn::functional::normalize(h,
                                       torch::nn::functional::NormalizeFuncOptions().p(2).dim(-1));
  return last_layer->forward(h);
}

}  // namespace mdlab::dino
