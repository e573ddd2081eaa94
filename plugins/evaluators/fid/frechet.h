// The Frechet distance between two Gaussians fitted to feature sets (FID on Inception pool3
// features):
//   FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 S2))
// with mu the mean and S the covariance (divided by N - 1, as numpy.cov(rowvar=False) and
// pytorch-fid) of the rows.
//
// Layouts and units: features are [N, D] rows of any floating dtype on any device; means are
// float64 [D], covariances float64 [D, D], on the device the features were on; distances are
// in squared feature units. Everything after the features is computed in float64.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace mdlab::fid {

/// Mean and covariance of feature rows added batch by batch, in float64: Chan et al.'s
/// pairwise update of the mean and of the centred scatter matrix, which avoids the
/// cancellation of sum(x x^T) - N mu mu^T. The rows themselves are kept only while there are
/// at most D of them (at most D x D values, as the scatter matrix), for the small-sample route
/// of frechet_distance(const MomentAccumulator&, const MomentAccumulator&).
class MomentAccumulator {
 public:
  /// Adds the rows of `features` [B, D] (B may be 0); D must not change between calls.
  void add(const torch::Tensor& features);
  /// Rows added so far.
  int64_t count() const { return count_; }
  /// Mean float64 [D] of the rows; throws mdlab::Error when no row was added.
  torch::Tensor mean() const;
  /// Covariance float64 [D, D] (divided by N - 1); throws mdlab::Error below 2 rows.
  torch::Tensor covariance() const;
  /// True while the rows are kept (1 <= count() <= D).
  bool has_rows() const { return keeping_ && count_ > 0; }
  /// The rows float64 [N, D] added so far; throws mdlab::Error unless has_rows().
  torch::Tensor rows() const;

 private:
  int64_t count_ = 0;
  torch::Tensor mean_;     // float64 [D]
  torch::Tensor scatter_;  // float64 [D, D]: sum of (x - mean)(x - mean)^T
  bool keeping_ = true;
  std::vector<torch::Tensor> kept_;  // float64 row batches while count_ <= D
};

/// tr(sqrtm(S1 S2)) of two symmetric positive semi-definite matrices [D, D], in float64.
double trace_sqrt_product(const torch::Tensor& sigma1, const torch::Tensor& sigma2);

/// The Frechet distance of the Gaussians (mu1 [D], sigma1 [D, D]) and (mu2, sigma2); >= 0.
double frechet_distance(const torch::Tensor& mu1, const torch::Tensor& sigma1,
                        const torch::Tensor& mu2, const torch::Tensor& sigma2);

/// The Frechet distance of the Gaussians fitted to the rows of `a` and `b` (2 rows or more
/// each). When both still hold their rows (no more rows than dimensions) it is computed from
/// the n_a x n_b cross-Gram matrix of the centred rows, exactly and far faster than from the
/// D x D covariances; otherwise from mean() and covariance().
double frechet_distance(const MomentAccumulator& a, const MomentAccumulator& b);

/// The Frechet distance of the Gaussians fitted to feature sets a [Na, D] and b [Nb, D]
/// (Na, Nb >= 2).
double frechet_distance(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace mdlab::fid
