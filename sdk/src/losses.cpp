#include <mdlab/error.h>
#include <mdlab/losses.h>

#include <torch/torch.h>

#include <cmath>

namespace mdlab {

torch::Tensor nt_xent(const torch::Tensor& z0, const torch::Tensor& z1, double temperature,
                      Collectives& collectives) {
  MDLAB_CHECK(z0.dim() == 2 && z0.sizes() == z1.sizes() && z0.size(0) > 0,
              "NT-Xent needs two [B, D] projections of one shape, got {} and {}",
              c10::str(z0.sizes()), c10::str(z1.sizes()));
  MDLAB_CHECK(temperature > 0, "NT-Xent: temperature {} is not positive", temperature);
  namespace F = torch::nn::functional;
  const auto normalize = F::NormalizeFuncOptions().dim(1).eps(1e-12);
  auto a0 = F::normalize(z0, normalize);
  auto a1 = F::normalize(z1, normalize);
  // Candidates: every rank's first views, then every rank's second views ([2N, D]).
  auto all0 = all_gather(collectives, a0);
  auto all1 = all_gather(collectives, a1);
  auto candidates = torch::cat({all0, all1});
  auto anchors = torch::cat({a0, a1});                             // [2B, D]
  auto logits = torch::mm(anchors, candidates.t()) / temperature;  // [2B, 2N]

  const int64_t b = z0.size(0);
  const int64_t n = all0.size(0);
  const int64_t first = collectives.rank() * b;  // global index of local image 0
  auto local = torch::arange(b, torch::TensorOptions().dtype(torch::kLong).device(z0.device()));
  auto self = torch::cat({first + local, n + first + local});
  auto positive = torch::cat({n + first + local, first + local});
  // Self-similarity is removed as lightly does: its logit is masked out of the softmax.
  auto rows = torch::arange(2 * b, local.options());
  logits = logits.index_put({rows, self}, torch::full({}, -INFINITY, logits.options()));
  return F::cross_entropy(logits, positive);
}

namespace {

// `z` minus its column means over the global batch (autograd-correct); `count` receives the
// global batch size and `mean` (if not null) the means.
torch::Tensor centred_over_batch(const torch::Tensor& z, Collectives& collectives, int64_t& count,
                                 std::string_view who, torch::Tensor* mean = nullptr) {
  MDLAB_CHECK(z.dim() == 2, "{}: expected [B, D], got {}", who, c10::str(z.sizes()));
  count = collectives.world_size() * z.size(0);
  MDLAB_CHECK(count > 1, "{} needs at least 2 samples in the global batch, got {}", who, count);
  auto m = all_reduce_sum(collectives, z.sum(0)) / static_cast<double>(count);
  if (mean) *mean = m;
  return z - m;
}

}  // namespace

torch::Tensor standardize_over_batch(const torch::Tensor& z, double eps, Collectives& collectives,
                                     torch::Tensor* mean_out, torch::Tensor* var_out) {
  int64_t count = 0;
  torch::Tensor mean;
  auto centred = centred_over_batch(z, collectives, count, "standardize_over_batch", &mean);
  auto sq = all_reduce_sum(collectives, centred.pow(2).sum(0));
  auto var = sq / static_cast<double>(count);
  if (mean_out) *mean_out = mean.detach();
  if (var_out) *var_out = (sq / static_cast<double>(count - 1)).detach();
  return centred / torch::sqrt(var + eps);
}

torch::Tensor cross_correlation(const torch::Tensor& a, const torch::Tensor& b,
                                Collectives& collectives) {
  MDLAB_CHECK(a.dim() == 2 && a.sizes() == b.sizes(),
              "cross_correlation needs two [B, D] tensors of one shape, got {} and {}",
              c10::str(a.sizes()), c10::str(b.sizes()));
  const auto global_batch = static_cast<double>(collectives.world_size() * a.size(0));
  return all_reduce_sum(collectives, torch::mm(a.t(), b) / global_batch);
}

torch::Tensor off_diagonal(const torch::Tensor& m) {
  MDLAB_CHECK(m.dim() == 2 && m.size(0) == m.size(1), "off_diagonal needs a square matrix, got {}",
              c10::str(m.sizes()));
  const int64_t d = m.size(0);
  // The official code's view trick: drop the last element, view as [d - 1, d + 1], drop the
  // first column: what remains are the off-diagonal entries, row by row.
  return m.flatten().narrow(0, 0, d * d - 1).view({d - 1, d + 1}).narrow(1, 1, d).flatten();
}

torch::Tensor variance_hinge(const torch::Tensor& z, double gamma, double eps,
                             Collectives& collectives) {
  int64_t count = 0;
  auto centred = centred_over_batch(z, collectives, count, "variance_hinge");
  auto var = all_reduce_sum(collectives, centred.pow(2).sum(0)) / static_cast<double>(count - 1);
  return torch::relu(gamma - torch::sqrt(var + eps)).mean();
}

torch::Tensor covariance_penalty(const torch::Tensor& z, Collectives& collectives) {
  int64_t count = 0;
  auto centred = centred_over_batch(z, collectives, count, "covariance_penalty");
  auto cov =
      all_reduce_sum(collectives, torch::mm(centred.t(), centred)) / static_cast<double>(count - 1);
  return off_diagonal(cov).pow(2).sum() / static_cast<double>(z.size(1));
}

torch::Tensor normalized_mse(const torch::Tensor& p, const torch::Tensor& z) {
  MDLAB_CHECK(p.dim() == 2 && p.sizes() == z.sizes(),
              "normalized_mse needs two [B, D] tensors of one shape, got {} and {}",
              c10::str(p.sizes()), c10::str(z.sizes()));
  auto unit = [](const torch::Tensor& x) {
    return x * torch::rsqrt(x.pow(2).sum(1, /*keepdim=*/true).clamp_min(1e-12));
  };
  return (unit(p) - unit(z)).pow(2).sum(1).mean();
}

}  // namespace mdlab
