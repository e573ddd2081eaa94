// A well-formed test plugin: an evaluator reporting the mean L2 norm of features per split.
// Built twice under different names by the tests; MDLAB_TEST_PLUGIN_NAME picks the name.
#include <mdlab/plugin.h>

#include <torch/torch.h>

namespace {

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
    mdlab::Table table{"feature_norm", {}, {"mean_norm", "samples"}, {}};
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
    return {{table}};
  }

 private:
  int64_t max_batches_;
};

}  // namespace

MDLAB_PLUGIN(FeatureNorm, mdlab::Evaluator, MDLAB_TEST_PLUGIN_NAME, "1.0.0",
             "Test evaluator: mean L2 norm of the encoder's features per split")
