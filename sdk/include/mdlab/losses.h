// Loss building blocks shared by SSL methods (lightly's loss modules, as functions), each
// correct in a data-parallel run: their cross-rank terms go through the autograd-correct
// collectives of collectives.h, so each rank's gradients are those of the sum of the ranks'
// losses and data-parallel averaging gives those of one process on the whole batch.
//
// Layouts: embeddings [B, D], B this rank's rows (row i of two views from the same image);
// global batch N = B x world size.
#pragma once

#include <mdlab/collectives.h>
#include <mdlab/export.h>

#include <torch/types.h>

namespace mdlab {

/// NT-Xent of the projections `z0` and `z1` at `temperature`: rows are L2-normalised; each of
/// the 2B local rows is an anchor whose logits are its cosine similarities / temperature to
/// every row of every rank except itself, its positive the other view of its image; the mean
/// cross-entropy over the local anchors. One process: lightly's NTXentLoss; several:
/// negatives from every rank.
MDLAB_SDK_API torch::Tensor nt_xent(const torch::Tensor& z0, const torch::Tensor& z1,
                                    double temperature, Collectives& collectives);

/// Each column of `z` standardised over the global batch (batch normalisation without affine
/// parameters, train mode: batch mean, biased variance, `eps`). `mean` and `var_unbiased`
/// (if not null) receive the global statistics, detached.
MDLAB_SDK_API torch::Tensor standardize_over_batch(const torch::Tensor& z, double eps,
                                                   Collectives& collectives,
                                                   torch::Tensor* mean = nullptr,
                                                   torch::Tensor* var_unbiased = nullptr);

/// The cross-correlation matrix [D, D] of `a` and `b` over the global batch:
/// sum over every rank's rows of a^T b, divided by N.
MDLAB_SDK_API torch::Tensor cross_correlation(const torch::Tensor& a, const torch::Tensor& b,
                                              Collectives& collectives);

/// The off-diagonal entries of a square matrix [D, D] as a vector [D * (D - 1)].
MDLAB_SDK_API torch::Tensor off_diagonal(const torch::Tensor& m);

/// VICReg's variance term: mean over the D columns of relu(gamma - sqrt(var + eps)), var each
/// column's unbiased variance over the global batch (VICReg: gamma 1, eps 1e-4).
MDLAB_SDK_API torch::Tensor variance_hinge(const torch::Tensor& z, double gamma, double eps,
                                           Collectives& collectives);

/// VICReg's covariance term: the sum of the squared off-diagonal entries of the covariance
/// [D, D] of `z` over the global batch (centred, divided by N - 1), divided by D.
MDLAB_SDK_API torch::Tensor covariance_penalty(const torch::Tensor& z, Collectives& collectives);

/// BYOL's regression loss: the mean over rows of ||p_i / |p_i| - z_i / |z_i| ||^2
/// (= 2 - 2 cos(p_i, z_i)), each norm floored at 1e-6 as BYOL's l2_normalize (eps 1e-12 on the
/// squared norm). Row-wise: no cross-rank term.
MDLAB_SDK_API torch::Tensor normalized_mse(const torch::Tensor& p, const torch::Tensor& z);

}  // namespace mdlab
