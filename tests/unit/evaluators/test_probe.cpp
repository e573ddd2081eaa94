// Linear probe: accuracy arithmetic, a separable set reaches ~100%, shuffled labels give
// chance, determinism, and the evaluator's table and errors.
#include "linear_probe.h"
#include "probe.h"
#include "separable.h"
#include "test_context.h"
#include "test_eval_data.h"

#include <catch2/catch.hpp>

using namespace mdlab;
using namespace mdlab::eval;

TEST_CASE("accuracy counts top-1 and top-5 hits") {
  // 3 samples, 6 classes: right at top-1; right at rank 3; wrong beyond top-5.
  torch::Tensor logits = torch::tensor({9, 1, 2, 3, 4, 5,  //
                                        9, 8, 7, 1, 0, 0,  //
                                        0, 1, 2, 3, 4, 5},
                                       torch::kFloat)
                             .view({3, 6});
  torch::Tensor labels = torch::tensor({0, 2, 0}, torch::kLong);
  const Accuracy a = accuracy(logits, labels);
  CHECK(a.samples == 3);
  CHECK(a.correct == 1);
  CHECK(a.top1 == Approx(1.0 / 3));
  CHECK(a.top5 == Approx(2.0 / 3));
}

TEST_CASE("a linear probe separates separable features and not shuffled labels") {
  auto [x, y] = test::separable_set(1200, 10, 32, 1);
  auto [xt, yt] = test::separable_set(400, 10, 32, 2);
  ProbeSettings s;
  s.lr = 1e-2;
  s.batch_size = 64;
  LinearProbe probe(32, 10, s, 7, c10::Device(c10::kCPU));
  probe.train(x, y, steps_for_epochs(1200, 64, 20), 0);
  CHECK(probe.evaluate(xt, yt).top1 > 0.99);

  LinearProbe chance(32, 10, s, 7, c10::Device(c10::kCPU));
  chance.train(x, test::shuffled(y, 3), steps_for_epochs(1200, 64, 20), 0);
  const double top1 = chance.evaluate(xt, yt).top1;
  CHECK(top1 > 0.03);
  CHECK(top1 < 0.2);  // 10 classes: chance is 0.1
}

TEST_CASE("a probe is reproducible from its seed and feature_norm options apply") {
  auto [x, y] = test::separable_set(300, 3, 8, 4);
  for (const char* norm : {"none", "l2", "standardize"}) {
    ProbeSettings s;
    s.feature_norm = norm;
    s.lr = 1e-2;
    s.schedule = "cosine";
    LinearProbe a(8, 3, s, 11, c10::Device(c10::kCPU)), b(8, 3, s, 11, c10::Device(c10::kCPU));
    a.train(x, y, 50, 50);
    b.train(x, y, 50, 50);
    CHECK(a.evaluate(x, y).top1 == b.evaluate(x, y).top1);
    CHECK(a.evaluate(x, y).top1 > 0.9);
  }
  ProbeSettings bad;
  bad.optimizer = "adam";
  CHECK_THROWS_WITH(LinearProbe(8, 3, bad, 1, c10::Device(c10::kCPU)), Catch::Contains("adam"));
}

TEST_CASE("linear_probe evaluator: table layout, trains only on the train split") {
  auto [x, y] = test::separable_set(600, 4, 16, 5);
  auto [xt, yt] = test::separable_set(200, 4, 16, 6);
  test::MemoryEvalData data;
  data.add("train", x, y);
  data.add("test", xt, yt);
  Options o = default_options(LinearProbeEvaluator::options_schema());
  o.set("lr", 1e-2);
  o.set("epochs", int64_t{10});
  test::TestContext context;
  LinearProbeEvaluator ev(o, context);
  test::IdentityEncoder encoder;
  EvalResult r = ev.evaluate(encoder, data, context);
  REQUIRE(r.tables.size() == 1);
  const Table& t = r.tables[0];
  CHECK(t.name == "accuracy");
  CHECK(t.rows == std::vector<std::string>{""});
  CHECK(t.columns == std::vector<std::string>{"top1", "top5", "train_top1", "epochs", "steps"});
  CHECK(t.values[0][0] > 0.99);
  CHECK(t.values[0][1] == 1.0);
  CHECK(t.values[0][3] == 10);
  CHECK(data.computed() == 2);  // each split once

  // An empty split is an error, never 0%.
  data.add("test", torch::zeros({0, 16}), torch::zeros({0}, torch::kLong), {"a", "b", "c", "d"});
  CHECK_THROWS_WITH(ev.evaluate(encoder, data, context), Catch::Contains("no samples"));
}
