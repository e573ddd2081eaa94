// An example plugin, built outside the mdlab tree against the installed SDK (see
// CMakeLists.txt here and docs/writing-a-plugin.md): an evaluator reporting the mean L2 norm
// of the encoder's features on every split. The test suite also builds this file under
// other registry keys (FEATURE_NORM_NAME) as the "good" plugins of the loader tests.
#include <mdlab/plugin.h>

#include <torch/torch.h>

namespace {

// Options arrive validated against options_schema(), defaults filled in.
class FeatureNorm final : public mdlab::Evaluator {
 public:
  FeatureNorm(const mdlab::Options& options, mdlab::Context&)
      : max_batches_(options.get_int("max_batches")) {}

  static mdlab::OptionsSchema options_schema() {
    mdlab::OptionsSchema s;
    s.add_int("max_batches", 0, "Batches to read per split (0: all)").at_least(0);
    return s;
  }

  mdlab::EvalResult evaluate(mdlab::Backbone& encoder, mdlab::EvalData& data,
                             mdlab::Context&) override {
    mdlab::Table table{"feature_norm", {}, {"mean_norm", "samples"}, {}, {}};
    for (const auto& split : data.splits()) {
      auto stream = data.open(split);
      torch::Tensor images, labels;
      double sum = 0;
      int64_t n = 0, batches = 0;
      while ((max_batches_ == 0 || batches < max_batches_) && stream->next(images, labels)) {
        sum += encoder.forward(images).norm(2, 1).sum().item<double>();
        n += images.size(0);
        ++batches;
      }
      table.rows.push_back(split);
      table.values.push_back({n ? sum / n : 0.0, static_cast<double>(n)});
    }
    mdlab::EvalResult result;
    result.tables.push_back(std::move(table));
    return result;
  }

 private:
  int64_t max_batches_;
};

}  // namespace

#ifndef FEATURE_NORM_NAME
#define FEATURE_NORM_NAME "feature-norm"
#endif

// Registry key, plugin version, one-line summary.
MDLAB_PLUGIN(FeatureNorm, mdlab::Evaluator, FEATURE_NORM_NAME, "1.0.0",
             "Mean L2 norm of the encoder's features per split")
