// Mean pairwise cosine distance: hand cases and a brute-force pair loop.
#include "diversity.h"

#include <mdlab/context.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

using namespace mdlab::fid;

namespace {

// Every unordered pair, one at a time.
double brute_force(const torch::Tensor& x) {
  const auto u = torch::nn::functional::normalize(
      x.to(torch::kFloat64), torch::nn::functional::NormalizeFuncOptions().dim(1));
  const auto cos = u.mm(u.t());
  const int64_t n = x.size(0);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) sum += 1.0 - cos[i][j].item<double>();
  return sum / (static_cast<double>(n) * (n - 1) / 2);
}

}  // namespace

TEST_CASE("Diversity of hand cases") {
  CHECK(mean_pairwise_cosine_distance(torch::tensor({{1.f, 0.f}, {0.f, 3.f}})) ==
        Approx(1.0).margin(1e-15));
  CHECK(mean_pairwise_cosine_distance(torch::tensor({{2.f, 1.f}, {4.f, 2.f}})) ==
        Approx(0.0).margin(1e-15));
  CHECK(mean_pairwise_cosine_distance(torch::tensor({{1.f, 0.f}, {-1.f, 0.f}})) ==
        Approx(2.0).margin(1e-15));
  // Three unit vectors at 120 degrees: cos = -1/2 for every pair.
  const double s = std::sqrt(3.0) / 2;
  CHECK(mean_pairwise_cosine_distance(torch::tensor(
            {{1.0, 0.0}, {-0.5, s}, {-0.5, -s}}, torch::kFloat64)) == Approx(1.5).epsilon(1e-14));
  // A zero row is orthogonal to everything.
  CHECK(mean_pairwise_cosine_distance(torch::tensor({{0.f, 0.f}, {1.f, 0.f}})) ==
        Approx(1.0).margin(1e-15));
  CHECK_THROWS_WITH(mean_pairwise_cosine_distance(torch::ones({1, 3})),
                    Catch::Contains("at least 2"));
}

TEST_CASE("Diversity equals the brute-force mean over pairs batched or not") {
  auto gen = mdlab::make_cpu_generator(3);
  // Positive features (as Inception's) are far from orthogonal: diversity well below 1.
  const auto x = torch::rand({157, 24}, gen) + torch::randn({157, 24}, gen) * 0.1;
  const double expected = brute_force(x);
  CHECK(mean_pairwise_cosine_distance(x) == Approx(expected).epsilon(1e-12));
  DiversityAccumulator acc;
  for (int64_t b = 0; b < x.size(0); b += 10) acc.add(x.slice(0, b, b + 10));
  acc.add(x.slice(0, 0, 0));  // an empty batch changes nothing
  CHECK(acc.count() == 157);
  CHECK(acc.mean_cosine_distance() == Approx(expected).epsilon(1e-12));
  const auto centred = torch::randn({64, 8}, gen);
  CHECK(mean_pairwise_cosine_distance(centred) == Approx(brute_force(centred)).epsilon(1e-12));
}
