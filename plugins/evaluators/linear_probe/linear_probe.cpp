#include "linear_probe.h"

#include "probe.h"
#include "probe_options.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <functional>
#include <limits>
#include <memory>

namespace mdlab::eval {

LinearProbeEvaluator::LinearProbeEvaluator(const Options& options, Context&) : options_(options) {}

OptionsSchema LinearProbeEvaluator::options_schema() {
  OptionsSchema s;
  s.add_string("train", "train", "Split the probe trains on (real images)");
  s.add_string("test", "test", "Split the probe is measured on");
  s.add_int("epochs", 100, "Passes over the training features").range(1, 100000);
  s.add_int("steps", 0, "Train for this many steps instead of epochs (0: use epochs)")
      .range(0, int64_t{1} << 40);
  s.add_bool("augment", false,
             "Recompute the training features under RandomResizedCrop + flip every epoch "
             "(slow: one encoder pass per epoch) instead of caching them once");
  s.add_bool("random_baseline", false,
             "Also probe a randomly initialised encoder of the same [backbone] (a second row, "
             "\"random init\"): the reference a trained encoder must clearly beat");
  add_probe_options(s);
  return s;
}

EvalResult LinearProbeEvaluator::evaluate(Backbone&, EvalData& data, Context& context) {
  const std::string train_split = options_.get_string("train");
  const std::string test_split = options_.get_string("test");
  const bool augment = options_.get_bool("augment");
  const FeatureSet test = data.features(test_split);
  check_feature_set(test, fmt::format("split '{}'", test_split));
  FeatureSet train = data.features(augment ? train_split + "@augment" : train_split);
  check_feature_set(train, fmt::format("split '{}'", train_split));
  MDLAB_CHECK(train.num_classes == test.num_classes,
              "split '{}' has {} classes but '{}' has {}: a probe needs the same classes",
              train_split, train.num_classes, test_split, test.num_classes);

  const ProbeSettings settings = probe_settings(options_);
  const int64_t per_epoch = steps_for_epochs(train.features.size(0), settings.batch_size, 1);
  const int64_t total = options_.get_int("steps") > 0 ? options_.get_int("steps")
                                                      : per_epoch * options_.get_int("epochs");
  Table table;
  table.name = "accuracy";
  table.columns = {"top1", "top5", "train_top1", "epochs", "steps"};

  // One probe: trained on `train` (re-drawn every epoch under augmentation through `redraw`).
  auto run_probe = [&](FeatureSet train_set, const FeatureSet& test_set, const std::string& row,
                       const std::function<FeatureSet()>& redraw) {
    LinearProbe probe(train_set.features.size(1), train_set.num_classes, settings,
                      derive_seed(context.seed(), "eval/linear_probe"), context.device());
    ProgressReporter& progress = context.progress();
    progress.begin(row.empty() ? "linear probe" : "linear probe (" + row + ")", total);
    while (probe.steps() < total) {
      const int64_t chunk = std::min(per_epoch, total - probe.steps());
      probe.train(train_set.features, train_set.labels, chunk, total,
                  [&](int64_t step) { progress.update(step, ""); });
      if (redraw && probe.steps() < total) train_set = redraw();
    }
    progress.end();
    const Accuracy a = probe.evaluate(test_set.features, test_set.labels);
    const Accuracy t = probe.evaluate(train_set.features, train_set.labels);
    table.rows.push_back(row);
    table.values.push_back({a.top1, a.top5, t.top1, static_cast<double>(total) / per_epoch,
                            static_cast<double>(total)});
    context.log(
        LogLevel::Info,
        fmt::format("linear probe{}: top-1 {:.4f}, top-5 {:.4f} on {} ({} samples)",
                    row.empty() ? "" : " (" + row + ")", a.top1, a.top5, test_split, a.samples));
  };
  const std::string train_name = augment ? train_split + "@augment" : train_split;
  run_probe(train, test, "",
            augment ? std::function<FeatureSet()>([&] { return data.features(train_name); })
                    : std::function<FeatureSet()>());
  if (options_.get_bool("random_baseline")) {
    // Same architecture, the seeded initial weights, frozen: what the probe gets for free.
    std::shared_ptr<Backbone> random = context.create_backbone();
    random->eval();
    auto features = [&](const std::string& split) {
      return extract_features(*random, data, split, context.device());
    };
    run_probe(features(train_name), features(test_split), "random init",
              augment ? std::function<FeatureSet()>([&] { return features(train_name); })
                      : std::function<FeatureSet()>());
  }
  EvalResult result;
  result.tables.push_back(std::move(table));
  return result;
}

}  // namespace mdlab::eval
