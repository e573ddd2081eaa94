#include "diversity.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

namespace mdlab::fid {

void DiversityAccumulator::add(const torch::Tensor& embeddings) {
  MDLAB_CHECK(embeddings.dim() == 2, "fid: embeddings must be [N, D], got [{}]",
              fmt::join(embeddings.sizes(), ", "));
  if (sum_.defined())
    MDLAB_CHECK(embeddings.size(1) == sum_.size(0),
                "fid: embeddings of width {} added to a diversity of width {}", embeddings.size(1),
                sum_.size(0));
  if (embeddings.size(0) == 0) return;
  // float64 before normalising: the pair sum below is a difference of two large sums
  // (|sum u|^2 ~ N^2 for similar rows), which needs the extra digits.
  const auto x = embeddings.detach().to(torch::kFloat64);
  // As torch.nn.functional.normalize (eps 1e-12): zero rows stay zero instead of NaN.
  const auto u = x / x.norm(2, 1, /*keepdim=*/true).clamp_min(1e-12);
  const auto batch_sum = u.sum(0);
  sum_ = sum_.defined() ? sum_.to(batch_sum.device()) + batch_sum : batch_sum;
  sum_squared_ += u.square().sum().item<double>();
  count_ += embeddings.size(0);
}

double DiversityAccumulator::mean_cosine_distance() const {
  MDLAB_CHECK(count_ >= 2, "fid: a pairwise diversity needs at least 2 embeddings, got {}", count_);
  const double pairs = static_cast<double>(count_) * static_cast<double>(count_ - 1) / 2.0;
  const double cosine_sum = (sum_.dot(sum_).item<double>() - sum_squared_) / 2.0;
  return 1.0 - cosine_sum / pairs;
}

double mean_pairwise_cosine_distance(const torch::Tensor& embeddings) {
  DiversityAccumulator acc;
  acc.add(embeddings);
  return acc.mean_cosine_distance();
}

}  // namespace mdlab::fid
