// Weighted k-NN: a hand case, separable clusters (~100%), shuffled labels (chance), and the
// evaluator's columns.
#include "knn.h"
#include "knn_evaluator.h"
#include "separable.h"
#include "test_context.h"
#include "test_eval_data.h"

#include <catch2/catch.hpp>

using namespace mdlab;
using namespace mdlab::eval;

TEST_CASE("k-NN weights the nearest neighbours by exp(cos / T)") {
  // Train: two class-0 points near the x axis, one class-1 point on the y axis.
  torch::Tensor train = torch::tensor({{1.f, 0.f}, {1.f, 0.1f}, {0.f, 1.f}});
  torch::Tensor train_y = torch::tensor({0, 0, 1}, torch::kLong);
  // A query at 60 degrees: closer to class 1 (cos 0.87) than to class 0 (cos 0.5, 0.58).
  torch::Tensor q = torch::tensor({{0.5f, 0.866f}});
  torch::Tensor q_y = torch::tensor({1}, torch::kLong);
  const c10::Device cpu(c10::kCPU);
  // k = 1: the class-1 point. k = 3 at T = 0.1: exp(8.66) vs exp(5) + exp(5.8) -> class 1.
  // k = 3 at T = 10: the two class-0 votes (~1.05 + 1.06) outweigh class 1 (~1.09).
  CHECK(knn_accuracy(train, train_y, q, q_y, 2, {1, 3}, 0.1, cpu)[0].top1 == 1.0);
  CHECK(knn_accuracy(train, train_y, q, q_y, 2, {1, 3}, 0.1, cpu)[1].top1 == 1.0);
  CHECK(knn_accuracy(train, train_y, q, q_y, 2, {3}, 10.0, cpu)[0].top1 == 0.0);
}

TEST_CASE("k-NN is ~100% on separable clusters and chance on shuffled labels") {
  auto [x, y] = test::separable_set(1000, 10, 32, 1);
  auto [xt, yt] = test::separable_set(300, 10, 32, 2);
  const c10::Device cpu(c10::kCPU);
  const auto good = knn_accuracy(x, y, xt, yt, 10, {20, 200}, 0.1, cpu, 64);
  CHECK(good[0].top1 > 0.99);
  CHECK(good[1].top1 > 0.99);
  const auto bad = knn_accuracy(x, test::shuffled(y, 9), xt, yt, 10, {200}, 0.1, cpu);
  CHECK(bad[0].top1 > 0.03);
  CHECK(bad[0].top1 < 0.2);
}

TEST_CASE("knn evaluator: one column pair per k, k beyond the training split is an error") {
  auto [x, y] = test::separable_set(200, 4, 8, 3);
  auto [xt, yt] = test::separable_set(50, 4, 8, 4);
  test::MemoryEvalData data;
  data.add("train", x, y);
  data.add("test", xt, yt);
  Options o = default_options(KnnEvaluator::options_schema());
  o.set("k", std::vector<int64_t>{5, 20});
  test::TestContext context;
  test::IdentityEncoder encoder;
  EvalResult r = KnnEvaluator(o, context).evaluate(encoder, data, context);
  REQUIRE(r.tables.size() == 1);
  CHECK(r.tables[0].columns == std::vector<std::string>{"top1@5", "top5@5", "top1@20", "top5@20"});
  CHECK(r.tables[0].values[0][0] > 0.95);
  o.set("k", std::vector<int64_t>{500});
  CHECK_THROWS_WITH(KnnEvaluator(o, context).evaluate(encoder, data, context),
                    Catch::Contains("k = 500"));
}
