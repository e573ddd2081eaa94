// Robustness and transfer suites on in-memory splits with known answers: the paper's table
// layouts, the corrupted / clean / all arithmetic, skipped sets with their reason (never a
// silent 0%), and the learning-rate grid keeping the best point.
#include "robustness.h"
#include "separable.h"
#include "test_context.h"
#include "test_eval_data.h"
#include "transfer.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace mdlab;
using namespace mdlab::eval;

TEST_CASE("robustness: per-set accuracy and mean, corruption grid and summary") {
  auto [x, y] = test::separable_set(800, 4, 16, 1);
  auto [xt, yt] = test::separable_set(200, 4, 16, 2);
  test::MemoryEvalData data;
  data.add("train", x, y);
  data.add("test", xt, yt);
  data.add("shift/test", xt + 0.5, yt);                                      // still separable
  data.add("noise/test", torch::randn({100, 16}) * 8, yt.slice(0, 0, 100));  // chance-like
  // Corrupted test splits, named as the host names them: severity 1 harmless, 3 destroys.
  data.add("test@contrast:1", xt, yt);
  data.add("test@contrast:3", torch::zeros({200, 16}), yt);
  Options o = default_options(RobustnessEvaluator::options_schema());
  o.set("sets", std::vector<std::string>{"shift/test", "noise/test", "missing/test"});
  o.set("corruptions", std::vector<std::string>{"contrast"});
  o.set("severities", std::vector<int64_t>{1, 3});
  o.set("lr", 1e-2);
  o.set("epochs", int64_t{10});
  test::TestContext context;
  test::IdentityEncoder encoder;
  EvalResult r = RobustnessEvaluator(o, context).evaluate(encoder, data, context);
  REQUIRE(r.tables.size() == 3);

  const Table& acc = r.tables[0];
  CHECK(acc.name == "accuracy");
  CHECK(acc.columns ==
        std::vector<std::string>{"test", "shift/test", "noise/test", "missing/test", "mean"});
  CHECK(acc.values[0][0] > 0.99);
  CHECK(acc.values[0][1] > 0.95);
  CHECK(acc.values[0][2] < 0.6);
  CHECK(std::isnan(acc.values[0][3]));  // skipped, not 0
  CHECK(acc.values[0][4] == Approx((acc.values[0][1] + acc.values[0][2]) / 2));
  REQUIRE(acc.notes.size() == 1);
  CHECK_THAT(acc.notes[0], Catch::Contains("missing/test"));

  const Table& grid = r.tables[1];
  CHECK(grid.rows == std::vector<std::string>{"contrast"});
  CHECK(grid.columns == std::vector<std::string>{"severity 1", "severity 3", "mean"});
  CHECK(grid.values[0][0] > 0.99);
  CHECK(grid.values[0][1] < 0.5);

  const Table& summary = r.tables[2];
  CHECK(summary.columns == std::vector<std::string>{"corrupted", "clean", "all"});
  const double corrupted = (grid.values[0][0] * 200 + grid.values[0][1] * 200) / 400;
  CHECK(summary.values[0][0] == Approx(corrupted));
  CHECK(summary.values[0][1] == Approx(acc.values[0][0]));
  CHECK(summary.values[0][2] == Approx((corrupted * 400 + acc.values[0][0] * 200) / 600));
}

TEST_CASE("robustness: a set with other classes is skipped with the reason") {
  auto [x, y] = test::separable_set(200, 4, 16, 1);
  test::MemoryEvalData data;
  data.add("train", x, y);
  data.add("test", x, y);
  data.add("other/test", x, y % 2, {"a", "b"});  // 2 classes, not relabelled
  Options o = default_options(RobustnessEvaluator::options_schema());
  o.set("sets", std::vector<std::string>{"other/test"});
  o.set("epochs", int64_t{1});
  test::TestContext context;
  test::IdentityEncoder encoder;
  EvalResult r = RobustnessEvaluator(o, context).evaluate(encoder, data, context);
  CHECK(std::isnan(r.tables[0].values[0][1]));
  CHECK_THAT(r.tables[0].notes[0], Catch::Contains("labels = \"training\""));
}

TEST_CASE("transfer: best point of the grid per dataset, mean, skipped datasets") {
  auto [ax, ay] = test::separable_set(400, 5, 16, 3);
  auto [atx, aty] = test::separable_set(100, 5, 16, 4);
  auto [bx, by] = test::separable_set(400, 3, 16, 5);
  auto [btx, bty] = test::separable_set(100, 3, 16, 6);
  test::MemoryEvalData data;
  data.add("a/train", ax, ay);
  data.add("a/test", atx, aty);
  data.add("b/train", bx, test::shuffled(by, 1));  // nothing to learn
  data.add("b/test", btx, bty);
  Options o = default_options(TransferEvaluator::options_schema());
  o.set("datasets", std::vector<std::string>{"a", "b", "c"});
  o.set("lrs", std::vector<double>{1e-6, 1e-2});
  o.set("steps", int64_t{200});
  o.set("eval_every", int64_t{50});
  test::TestContext context;
  test::IdentityEncoder encoder;
  EvalResult r = TransferEvaluator(o, context).evaluate(encoder, data, context);
  REQUIRE(r.tables.size() == 2);
  const Table& acc = r.tables[0];
  CHECK(acc.columns == std::vector<std::string>{"a", "b", "c", "mean"});
  CHECK(acc.values[0][0] > 0.99);
  CHECK(acc.values[0][1] < 0.75);  // best over 8 checks of chance-level probes, 3 classes
  CHECK(std::isnan(acc.values[0][2]));
  CHECK(acc.values[0][3] == Approx((acc.values[0][0] + acc.values[0][1]) / 2));
  const Table& details = r.tables[1];
  CHECK(details.rows == std::vector<std::string>{"a", "b", "c"});
  CHECK(details.values[0][2] == Approx(1e-2));  // the tiny rate cannot reach 99%
  CHECK(std::fmod(details.values[0][3], 50.0) == 0);
  REQUIRE(details.notes.size() == 3);
  CHECK_THAT(details.notes[2], Catch::Contains("c/train"));

  // select_on = val: chosen on held-out training samples, still measured on test.
  o.set("select_on", std::string("val"));
  o.set("datasets", std::vector<std::string>{"a"});
  EvalResult v = TransferEvaluator(o, context).evaluate(encoder, data, context);
  CHECK(v.tables[1].values[0][4] == 360);  // 10% of 400 held out
  CHECK(v.tables[0].values[0][0] > 0.99);
}
