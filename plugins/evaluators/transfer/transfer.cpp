#include "transfer.h"

#include "probe.h"
#include "probe_options.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <limits>

namespace mdlab::eval {
namespace {

constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

struct Best {
  Accuracy test;
  double selection = -1;  // top-1 on the selection split
  double lr = 0;
  int64_t step = 0;
};

}  // namespace

TransferEvaluator::TransferEvaluator(const Options& options, Context&) : options_(options) {}

OptionsSchema TransferEvaluator::options_schema() {
  OptionsSchema s;
  s.add_string_list("datasets", {},
                    "Names of [datasets.<name>] tables (each with a train and a test split)");
  s.add_float_list("lrs", {1e-4, 3e-4, 1e-3, 3e-3, 1e-2}, "Learning-rate grid");
  s.add_int("steps", 15000, "Steps of each probe (the paper: 15,000)").range(1, 100000000);
  s.add_int("eval_every", 500, "Steps between accuracy checks (the paper: 500)")
      .range(1, 100000000);
  s.add_string("select_on", "test",
               "Where the best (lr, step) is chosen: test (the paper's protocol) or val (a "
               "held-out val_fraction of the training split; the test accuracy there is "
               "reported)")
      .one_of({"test", "val"});
  s.add_float("val_fraction", 0.1, "Held-out part of the training split with select_on = val")
      .range(1e-6, 0.9);
  add_probe_options(s);
  return s;
}

EvalResult TransferEvaluator::evaluate(Backbone&, EvalData& data, Context& context) {
  const auto& datasets = options_.get_string_list("datasets");
  const auto& lrs = options_.get_float_list("lrs");
  MDLAB_CHECK(!datasets.empty(), "datasets is empty: name [datasets.<name>] tables to probe");
  MDLAB_CHECK(!lrs.empty(), "lrs needs at least one learning rate");
  const int64_t steps = options_.get_int("steps");
  const int64_t every = options_.get_int("eval_every");
  const bool on_val = options_.get_string("select_on") == "val";

  Table accuracy{"accuracy", {""}, {}, {{}}, {}};
  Table details{"details",
                {},
                {"top1", "top5", "best_lr", "best_step", "train_samples", "test_samples"},
                {},
                {}};
  double sum = 0;
  int64_t measured = 0;
  std::string notes;
  for (const auto& name : datasets) {
    accuracy.columns.push_back(name);
    details.rows.push_back(name);
    try {
      FeatureSet train = data.features(name + "/train");
      check_feature_set(train, fmt::format("split '{}/train'", name));
      const FeatureSet test = data.features(name + "/test");
      check_feature_set(test, fmt::format("split '{}/test'", name));
      MDLAB_CHECK(train.num_classes == test.num_classes,
                  "'{}/train' has {} classes but '{}/test' has {}", name, train.num_classes, name,
                  test.num_classes);
      torch::Tensor select_x = test.features, select_y = test.labels;
      if (on_val) {
        // A seeded permutation splits the training features; the probe never sees val.
        const int64_t n = train.features.size(0);
        const int64_t n_val =
            std::max<int64_t>(1, static_cast<int64_t>(n * options_.get_float("val_fraction")));
        MDLAB_CHECK(n_val < n, "'{}/train' has too few samples ({}) to hold out a val part", name,
                    n);
        at::Generator g = make_cpu_generator(derive_seed(context.seed(), "transfer/val/" + name));
        const torch::Tensor perm = torch::randperm(n, g, torch::kLong);
        select_x = train.features.index_select(0, perm.slice(0, 0, n_val));
        select_y = train.labels.index_select(0, perm.slice(0, 0, n_val));
        train.features = train.features.index_select(0, perm.slice(0, n_val));
        train.labels = train.labels.index_select(0, perm.slice(0, n_val));
      }
      Best best;
      ProgressReporter& progress = context.progress();
      for (size_t i = 0; i < lrs.size(); ++i) {
        ProbeSettings settings = probe_settings(options_);
        settings.lr = lrs[i];
        LinearProbe probe(train.features.size(1), train.num_classes, settings,
                          derive_seed(context.seed(), fmt::format("transfer/{}/{}", name, i)),
                          context.device());
        progress.begin(fmt::format("transfer {} lr {:g}", name, lrs[i]), steps);
        probe.train(train.features, train.labels, steps, steps, [&](int64_t step) {
          progress.update(step, "");
          if (step % every != 0 && step != steps) return;
          const Accuracy sel = probe.evaluate(select_x, select_y);
          if (sel.top1 > best.selection) {
            best.selection = sel.top1;
            best.lr = lrs[i];
            best.step = step;
            best.test = on_val ? probe.evaluate(test.features, test.labels) : sel;
          }
        });
        progress.end();
      }
      accuracy.values[0].push_back(best.test.top1);
      details.values.push_back({best.test.top1, best.test.top5, best.lr,
                                static_cast<double>(best.step),
                                static_cast<double>(train.features.size(0)),
                                static_cast<double>(test.features.size(0))});
      details.notes.emplace_back();
      sum += best.test.top1;
      ++measured;
      context.log(LogLevel::Info, fmt::format("transfer {}: top-1 {:.4f} (lr {:g}, step {})", name,
                                              best.test.top1, best.lr, best.step));
    } catch (const Error& error) {
      context.log(LogLevel::Warning, fmt::format("transfer {} skipped: {}", name, error.message()));
      accuracy.values[0].push_back(kNoValue);
      details.values.push_back({kNoValue, kNoValue, kNoValue, kNoValue, kNoValue, kNoValue});
      details.notes.push_back(error.message());
      notes += fmt::format("{}{}: {}", notes.empty() ? "" : "; ", name, error.message());
    }
  }
  accuracy.columns.push_back("mean");
  accuracy.values[0].push_back(measured ? sum / measured : kNoValue);
  if (!notes.empty()) accuracy.notes = {notes};
  MDLAB_CHECK(measured > 0, "no transfer dataset could be measured: {}", notes);
  bool any_note = false;
  for (const auto& n : details.notes) any_note |= !n.empty();
  if (!any_note) details.notes.clear();
  EvalResult result;
  result.tables.push_back(std::move(accuracy));
  result.tables.push_back(std::move(details));
  return result;
}

}  // namespace mdlab::eval
