#include <mdlab/batch_norm.h>
#include <mdlab/error.h>

#include <torch/torch.h>

#include <cstring>

namespace mdlab {

namespace {

// The dims the statistics run over: all but the channel dim 1.
std::vector<int64_t> reduce_dims(const torch::Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

// [C] -> [1, C, 1, ...] to broadcast against x.
torch::Tensor per_channel(const torch::Tensor& v, const torch::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = -1;
  return v.view(shape);
}

Collectives* collectives_of(const torch::autograd::AutogradContext* ctx) {
  Collectives* c = nullptr;
  const int64_t bits = ctx->saved_data.at("collectives").toInt();
  std::memcpy(&c, &bits, sizeof c);
  return c;
}

// Normalisation with global statistics; see batch_norm.h for the gradients.
struct SyncBatchNormFunction : torch::autograd::Function<SyncBatchNormFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& mean, const torch::Tensor& invstd,
                               int64_t total, int64_t collectives_bits) {
    const auto xf = x.to(torch::kFloat);
    auto y = (xf - per_channel(mean, xf)) * per_channel(invstd, xf);
    if (weight.defined()) y = y * per_channel(weight, xf) + per_channel(bias, xf);
    ctx->save_for_backward({xf, weight, mean, invstd});
    ctx->saved_data["total"] = total;
    ctx->saved_data["collectives"] = collectives_bits;
    ctx->saved_data["input_dtype"] = static_cast<int64_t>(x.scalar_type());
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& xf = saved[0];
    const auto& weight = saved[1];
    const auto& mean = saved[2];
    const auto& invstd = saved[3];
    const auto dy = grads[0].to(torch::kFloat);
    const auto dims = reduce_dims(xf);
    const auto centred = xf - per_channel(mean, xf);
    const auto sum_dy = dy.sum(dims);
    const auto sum_dy_xmu = (dy * centred).sum(dims);
    torch::Tensor grad_weight, grad_bias;
    if (weight.defined()) {
      grad_weight = sum_dy_xmu * invstd;  // this rank's share
      grad_bias = sum_dy;
    }
    const auto global = collectives_of(ctx)->sum_raw(torch::stack({sum_dy, sum_dy_xmu}));
    const double n = static_cast<double>(ctx->saved_data["total"].toInt());
    const auto mean_dy = global[0] / n, mean_dy_xmu = global[1] / n;
    auto scale = invstd;
    if (weight.defined()) scale = scale * weight;
    auto dx =
        (dy - per_channel(mean_dy, xf) - centred * per_channel(invstd * invstd * mean_dy_xmu, xf)) *
        per_channel(scale, xf);
    const auto dtype = static_cast<torch::ScalarType>(ctx->saved_data["input_dtype"].toInt());
    return {dx.to(dtype), grad_weight, grad_bias, {}, {}, {}, {}};
  }
};

}  // namespace

BatchNormImpl::BatchNormImpl(const BatchNormOptions& options_) : options(options_) {
  BatchNormImpl::reset();
}

void BatchNormImpl::reset() {
  MDLAB_CHECK(options.features > 0, "BatchNorm: num_features must be positive, got {}",
              options.features);
  if (options.affine) {
    weight = register_parameter("weight", torch::ones({options.features}));
    bias = register_parameter("bias", torch::zeros({options.features}));
  }
  if (options.track_running_stats) {
    running_mean = register_buffer("running_mean", torch::zeros({options.features}));
    running_var = register_buffer("running_var", torch::ones({options.features}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
  }
}

torch::Tensor BatchNormImpl::forward(const torch::Tensor& x) {
  MDLAB_CHECK(x.dim() >= 2 && x.size(1) == options.features,
              "BatchNorm: expected input [N, {}, *], got {}", options.features,
              c10::str(x.sizes()));
  const bool batch_stats = is_training() || !options.track_running_stats;
  if (is_training() && options.track_running_stats) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  const bool sync = is_training() && collectives_ != nullptr && collectives_->world_size() > 1;
  if (!sync) {
    return torch::batch_norm(x, weight, bias, running_mean, running_var, batch_stats,
                             options.momentum, options.eps, /*cudnn_enabled=*/true);
  }
  // Per-rank count, mean and sum of squared deviations, gathered and combined.
  torch::Tensor mean, var, invstd;
  int64_t total = 0;
  {
    torch::NoGradGuard no_grad;
    const auto xf = x.detach().to(torch::kFloat);
    const auto dims = reduce_dims(xf);
    const int64_t count = xf.numel() / options.features;
    const auto local_mean = xf.mean(dims);
    const auto local_m2 = (xf - per_channel(local_mean, xf)).square().sum(dims);
    const auto stats = torch::cat(
        {torch::full({1}, static_cast<double>(count), local_mean.options()), local_mean, local_m2});
    const auto all = collectives_->gather_raw(stats.unsqueeze(0));  // [W, 1 + 2C]
    const auto counts = all.select(1, 0).unsqueeze(1);              // [W, 1]
    const auto means = all.narrow(1, 1, options.features);
    const auto m2s = all.narrow(1, 1 + options.features, options.features);
    const auto n = counts.sum();
    total = static_cast<int64_t>(n.item<double>());
    MDLAB_CHECK(total > 1, "BatchNorm: {} value(s) per channel over all ranks; training needs more",
                total);
    mean = (counts * means).sum(0) / n;
    const auto m2 = (m2s + counts * (means - mean).square()).sum(0);
    var = m2 / n;
    invstd = (var + options.eps).rsqrt();
    if (options.track_running_stats) {
      running_mean.mul_(1 - options.momentum).add_(mean.to(running_mean.dtype()), options.momentum);
      running_var.mul_(1 - options.momentum)
          .add_((m2 / (n - 1)).to(running_var.dtype()), options.momentum);
    }
  }
  int64_t bits = 0;
  Collectives* c = collectives_;
  std::memcpy(&bits, &c, sizeof c);
  return SyncBatchNormFunction::apply(x, weight, bias, mean, invstd, total, bits);
}

int64_t sync_batch_norms(torch::nn::Module& module, Collectives* collectives) {
  int64_t changed = 0;
  if (auto* bn = dynamic_cast<BatchNormImpl*>(&module)) {
    bn->set_collectives(collectives);
    ++changed;
  }
  for (const auto& child : module.modules(/*include_self=*/false)) {
    if (auto* bn = dynamic_cast<BatchNormImpl*>(child.get())) {
      bn->set_collectives(collectives);
      ++changed;
    }
  }
  return changed;
}

}  // namespace mdlab
