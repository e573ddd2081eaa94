#include "knn_evaluator.h"

#include "knn.h"

#include <mdlab/error.h>

#include <fmt/format.h>

namespace mdlab::eval {

KnnEvaluator::KnnEvaluator(const Options& options, Context&) : options_(options) {}

OptionsSchema KnnEvaluator::options_schema() {
  OptionsSchema s;
  s.add_string("train", "train", "Split whose features are the neighbours (real images)");
  s.add_string("test", "test", "Split classified");
  s.add_int_list("k", {200},
                 "Numbers of neighbours; one column pair per k (DINO: [10, 20, "
                 "100, 200])")
      .range(1, 1 << 24);
  s.add_float("temperature", 0.1, "Vote weight exp(cosine / temperature)").range(1e-6, 100);
  return s;
}

EvalResult KnnEvaluator::evaluate(Backbone&, EvalData& data, Context& context) {
  const std::string train_split = options_.get_string("train");
  const std::string test_split = options_.get_string("test");
  const FeatureSet train = data.features(train_split);
  check_feature_set(train, fmt::format("split '{}'", train_split));
  const FeatureSet test = data.features(test_split);
  check_feature_set(test, fmt::format("split '{}'", test_split));
  MDLAB_CHECK(train.num_classes == test.num_classes, "split '{}' has {} classes but '{}' has {}",
              train_split, train.num_classes, test_split, test.num_classes);
  const auto& ks = options_.get_int_list("k");
  MDLAB_CHECK(!ks.empty(), "k needs at least one value");
  for (int64_t k : ks)
    MDLAB_CHECK(k >= 1 && k <= train.features.size(0),
                "k = {} is outside 1..{} (the training split's size)", k, train.features.size(0));
  const auto results =
      knn_accuracy(train.features, train.labels, test.features, test.labels, train.num_classes, ks,
                   options_.get_float("temperature"), context.device());
  Table table;
  table.name = "accuracy";
  table.rows = {""};
  table.values.emplace_back();
  for (size_t i = 0; i < ks.size(); ++i) {
    table.columns.push_back(fmt::format("top1@{}", ks[i]));
    table.columns.push_back(fmt::format("top5@{}", ks[i]));
    table.values[0].push_back(results[i].top1);
    table.values[0].push_back(results[i].top5);
    context.log(LogLevel::Info, fmt::format("k-NN (k = {}): top-1 {:.4f}, top-5 {:.4f}", ks[i],
                                            results[i].top1, results[i].top5));
  }
  EvalResult result;
  result.tables.push_back(std::move(table));
  return result;
}

}  // namespace mdlab::eval
