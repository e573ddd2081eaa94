// Weighted k-nearest-neighbour classification on frozen features (the DINO / lightly
// protocol): features L2-normalised, similarity = cosine, each of the k nearest training
// samples votes for its class with weight exp(similarity / temperature).
//
// Layout: features float32 [N, D], labels int64 [N] in [0, classes).
#pragma once

#include "probe.h"

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace mdlab::eval {

/// Accuracy of weighted k-NN for each k of `ks` (one Accuracy per k, same order). Test
/// samples are processed in chunks of `chunk` rows, so memory is chunk x N_train.
std::vector<Accuracy> knn_accuracy(const torch::Tensor& train_features,
                                   const torch::Tensor& train_labels,
                                   const torch::Tensor& test_features,
                                   const torch::Tensor& test_labels, int64_t classes,
                                   const std::vector<int64_t>& ks, double temperature,
                                   c10::Device device, int64_t chunk = 256);

}  // namespace mdlab::eval
