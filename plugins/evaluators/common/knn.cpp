#include "knn.h"

#include <mdlab/error.h>

#include <algorithm>

namespace mdlab::eval {

std::vector<Accuracy> knn_accuracy(const torch::Tensor& train_features,
                                   const torch::Tensor& train_labels,
                                   const torch::Tensor& test_features,
                                   const torch::Tensor& test_labels, int64_t classes,
                                   const std::vector<int64_t>& ks, double temperature,
                                   c10::Device device, int64_t chunk) {
  MDLAB_CHECK(!ks.empty(), "k-NN needs at least one k");
  MDLAB_CHECK(temperature > 0, "k-NN temperature must be positive, got {}", temperature);
  const int64_t n_train = train_features.size(0);
  const int64_t k_max = *std::max_element(ks.begin(), ks.end());
  MDLAB_CHECK(ks.front() > 0 && k_max <= n_train,
              "k-NN: k = {} needs at least as many training samples (have {})", k_max, n_train);
  namespace F = torch::nn::functional;
  const auto unit = F::NormalizeFuncOptions().dim(1);
  const torch::Tensor train = F::normalize(train_features.to(device, torch::kFloat), unit);
  const torch::Tensor train_y = train_labels.to(device, torch::kLong);

  std::vector<int64_t> correct1(ks.size(), 0), correct5(ks.size(), 0);
  const int64_t n_test = test_features.size(0);
  for (int64_t i = 0; i < n_test; i += chunk) {
    const torch::Tensor q =
        F::normalize(test_features.slice(0, i, i + chunk).to(device, torch::kFloat), unit);
    const torch::Tensor y = test_labels.slice(0, i, i + chunk).to(device, torch::kLong);
    auto [sim, idx] = torch::mm(q, train.t()).topk(k_max, 1);  // sorted, nearest first
    const torch::Tensor neighbour_y = train_y.index_select(0, idx.flatten()).view(idx.sizes());
    const torch::Tensor weight = (sim / temperature).exp();
    for (size_t j = 0; j < ks.size(); ++j) {
      const int64_t k = ks[j];
      torch::Tensor votes = torch::zeros({q.size(0), classes}, q.options());
      votes.scatter_add_(1, neighbour_y.slice(1, 0, k), weight.slice(1, 0, k));
      const int64_t top = std::min<int64_t>(5, classes);
      const torch::Tensor pred = std::get<1>(votes.topk(top, 1));
      const torch::Tensor hit = pred.eq(y.view({-1, 1}));
      correct1[j] += hit.select(1, 0).sum().item<int64_t>();
      correct5[j] += hit.any(1).sum().item<int64_t>();
    }
  }
  std::vector<Accuracy> out(ks.size());
  for (size_t j = 0; j < ks.size(); ++j) {
    out[j].samples = n_test;
    out[j].correct = correct1[j];
    out[j].correct5 = correct5[j];
    out[j].top1 = n_test ? static_cast<double>(correct1[j]) / n_test : 0.0;
    out[j].top5 = n_test ? static_cast<double>(correct5[j]) / n_test : 0.0;
  }
  return out;
}

}  // namespace mdlab::eval
