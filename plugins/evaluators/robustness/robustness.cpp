#include "robustness.h"

#include "probe.h"
#include "probe_options.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace mdlab::eval {
namespace {

constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

}  // namespace

RobustnessEvaluator::RobustnessEvaluator(const Options& options, Context&) : options_(options) {}

OptionsSchema RobustnessEvaluator::options_schema() {
  OptionsSchema s;
  s.add_string("train", "train", "Split the probe trains on (real images)");
  s.add_string("test", "test", "In-distribution split (the clean column; corrupted on the fly)");
  s.add_string_list("sets", {},
                    "Shift sets, as splits of [datasets.<name>] tables with labels = "
                    "\"training\" (e.g. \"imagenet-r/test\")");
  s.add_string_list("corruptions", {},
                    "Corruptions of the test split: gaussian_noise, gaussian_blur, contrast, "
                    "brightness, jpeg, pixelate");
  s.add_int_list("severities", {1, 3, 5}, "Severities (1..5) of each corruption")
      .range(1, 5);
  s.add_int("epochs", 100, "Passes of the probe over the training features").range(1, 100000);
  add_probe_options(s);
  return s;
}

EvalResult RobustnessEvaluator::evaluate(Backbone&, EvalData& data, Context& context) {
  const std::string train_split = options_.get_string("train");
  const std::string test_split = options_.get_string("test");
  const auto& sets = options_.get_string_list("sets");
  const auto& corruptions = options_.get_string_list("corruptions");
  const auto& severities = options_.get_int_list("severities");
  MDLAB_CHECK(!sets.empty() || !corruptions.empty(),
              "nothing to measure: give shift sets (sets) or corruptions");
  for (int64_t s : severities) MDLAB_CHECK(s >= 1 && s <= 5, "severity {} is outside 1..5", s);
  MDLAB_CHECK(corruptions.empty() || !severities.empty(), "corruptions need severities");

  const FeatureSet train = data.features(train_split);
  check_feature_set(train, fmt::format("split '{}'", train_split));
  const ProbeSettings settings = probe_settings(options_);
  LinearProbe probe(train.features.size(1), train.num_classes, settings,
                    derive_seed(context.seed(), "eval/robustness"), context.device());
  const int64_t total =
      steps_for_epochs(train.features.size(0), settings.batch_size, options_.get_int("epochs"));
  ProgressReporter& progress = context.progress();
  progress.begin("robustness probe", total);
  probe.train(train.features, train.labels, total, total,
              [&](int64_t step) { progress.update(step, ""); });
  progress.end();

  // Measures one split; a split that cannot be read (or shares no class) becomes a reason.
  auto measure = [&](const std::string& split, std::string& reason) -> Accuracy {
    try {
      const FeatureSet set = data.features(split);
      check_feature_set(set, fmt::format("split '{}'", split));
      MDLAB_CHECK(set.num_classes == train.num_classes,
                  "split '{}' has {} classes, the probe {}: declare it with labels = "
                  "\"training\"",
                  split, set.num_classes, train.num_classes);
      return probe.evaluate(set.features, set.labels);
    } catch (const Error& error) {
      reason = error.message();
      context.log(LogLevel::Warning, fmt::format("robustness: {} skipped: {}", split, reason));
      return {};
    }
  };

  EvalResult result;
  std::string clean_reason;
  const Accuracy clean = measure(test_split, clean_reason);
  MDLAB_CHECK(clean_reason.empty(), "{}", clean_reason);

  Table accuracy;
  accuracy.name = "accuracy";
  accuracy.rows = {""};
  accuracy.columns = {test_split};
  accuracy.values = {{clean.top1}};
  std::vector<std::string> reasons;
  double sum = 0;
  int64_t measured = 0;
  for (const auto& set : sets) {
    std::string reason;
    const Accuracy a = measure(set, reason);
    accuracy.columns.push_back(set);
    accuracy.values[0].push_back(reason.empty() ? a.top1 : kNoValue);
    if (reason.empty()) {
      sum += a.top1;
      ++measured;
    } else {
      reasons.push_back(fmt::format("{}: {}", set, reason));
    }
  }
  if (!sets.empty()) {
    accuracy.columns.push_back("mean");
    accuracy.values[0].push_back(measured ? sum / measured : kNoValue);
  }
  if (!reasons.empty()) {
    std::string note;
    for (const auto& r : reasons) note += (note.empty() ? "" : "; ") + r;
    accuracy.notes = {note};
  }
  result.tables.push_back(std::move(accuracy));

  if (!corruptions.empty()) {
    Table table;
    table.name = "corruptions";
    for (int64_t s : severities) table.columns.push_back(fmt::format("severity {}", s));
    table.columns.push_back("mean");
    int64_t corrupted_correct = 0, corrupted_samples = 0;
    bool any_note = false;
    for (const auto& c : corruptions) {
      table.rows.push_back(c);
      table.values.emplace_back();
      table.notes.emplace_back();
      double row_sum = 0;
      int64_t row_n = 0;
      for (int64_t s : severities) {
        std::string reason;
        const Accuracy a = measure(fmt::format("{}@{}:{}", test_split, c, s), reason);
        table.values.back().push_back(reason.empty() ? a.top1 : kNoValue);
        if (reason.empty()) {
          row_sum += a.top1;
          ++row_n;
          corrupted_correct += a.correct;
          corrupted_samples += a.samples;
        } else {
          table.notes.back() = reason;
          any_note = true;
        }
      }
      table.values.back().push_back(row_n ? row_sum / row_n : kNoValue);
    }
    if (!any_note) table.notes.clear();
    result.tables.push_back(std::move(table));

    Table summary;
    summary.name = "summary";
    summary.rows = {""};
    summary.columns = {"corrupted", "clean", "all"};
    const double corrupted =
        corrupted_samples ? static_cast<double>(corrupted_correct) / corrupted_samples : kNoValue;
    const double all = static_cast<double>(corrupted_correct + clean.correct) /
                       static_cast<double>(corrupted_samples + clean.samples);
    summary.values = {{corrupted, clean.top1, all}};
    result.tables.push_back(std::move(summary));
  }
  return result;
}

}  // namespace mdlab::eval
