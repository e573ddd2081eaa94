// The "fid" evaluator on in-memory splits with a random Inception: FID of a split with
// itself ~ 0, of shifted images > 0, the table layout, max_images, batching, grey images,
// encoder diversity, encoder features (and their log line), the warning for random weights
// and the errors for small splits.
#include "diversity.h"
#include "fid_evaluator.h"
#include "frechet.h"
#include "test_context.h"
#include "test_eval_data.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

using namespace mdlab;
using mdlab::fid::FidEvaluator;

namespace {

// A context that keeps its log lines.
class LoggingContext final : public test::TestContext {
 public:
  void log(LogLevel level, std::string_view message) override {
    logs.emplace_back(level, std::string(message));
  }
  std::vector<std::pair<LogLevel, std::string>> logs;
};

// The encoder under evaluation: flattened pixels (only diversity_embedding = "encoder" and
// features() use it).
class FlattenEncoder final : public Backbone {
 public:
  torch::Tensor forward(const torch::Tensor& images) override { return images.flatten(1); }
  int64_t feature_dim() const override { return 3 * 8 * 8; }
};

// MemoryEvalData's normalisation (ImageNet mean and std).
torch::Tensor normalise(const torch::Tensor& pixels) {
  const auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
  const auto std = torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
  return (pixels - mean) / std;
}

torch::Tensor labels(int64_t n) {
  return torch::zeros({n}, torch::kLong);
}

Options options(std::vector<std::pair<std::string, OptionValue>> values = {}) {
  Options o = default_options(FidEvaluator::options_schema());
  for (auto& [k, v] : values) o.set(k, std::move(v));
  return o;
}

const Table& quality(const EvalResult& result) {
  REQUIRE(result.tables.size() == 1);
  return result.tables[0];
}

}  // namespace

TEST_CASE("fid evaluator: a split against itself is near 0 and against shifted images above 0") {
  auto gen = make_cpu_generator(1);
  const auto pixels = torch::rand({6, 3, 8, 8}, gen);
  const auto shifted = (pixels * 0.5 + 0.5).clamp(0, 1);  // brighter, lower contrast
  test::MemoryEvalData data(nullptr, 4);
  data.add("train", normalise(pixels), labels(6));
  data.add("synthetic", normalise(pixels), labels(6));
  data.add("brighter", normalise(shifted), labels(6));
  LoggingContext context;
  FidEvaluator same(options(), context);
  FlattenEncoder encoder;

  const auto result = same.evaluate(encoder, data, context);
  const Table& t = quality(result);
  CHECK(t.name == "quality");
  CHECK(t.rows == std::vector<std::string>{"train vs synthetic"});
  CHECK(t.columns == std::vector<std::string>{"fid", "diversity_real", "diversity_synthetic",
                                              "images_real", "images_synthetic"});
  REQUIRE(t.values.size() == 1);
  REQUIRE(t.values[0].size() == 5);
  REQUIRE(t.notes.size() == 1);
  CHECK_THAT(t.notes[0], Catch::Contains("random Inception weights"));
  // The scale FID is judged against: tr(S) of the Inception features of the split.
  mdlab::fid::MomentAccumulator moments;
  {
    torch::NoGradGuard no_grad;
    moments.add(same.inception()->forward(pixels));
  }
  const double trace = moments.covariance().trace().item<double>();
  REQUIRE(trace > 0);
  const double fid_same = t.values[0][0];
  CHECK(fid_same >= 0);
  CHECK(fid_same < 1e-6 * trace);
  CHECK(t.values[0][1] == Approx(t.values[0][2]).epsilon(1e-12));  // same images
  CHECK(t.values[0][1] > 0);
  CHECK(t.values[0][3] == 6);
  CHECK(t.values[0][4] == 6);

  FidEvaluator other(options({{"synthetic", std::string("brighter")}}), context);
  const auto shifted_result = other.evaluate(encoder, data, context);
  const Table& s = quality(shifted_result);
  CHECK(s.rows == std::vector<std::string>{"train vs brighter"});
  std::printf(
      "fid evaluator: FID(train, train) = %.3g, FID(train, brighter) = %.4g, tr(S) = "
      "%.4g\n",
      fid_same, s.values[0][0], trace);
  CHECK(s.values[0][0] > 1e-3 * trace);
  CHECK(s.values[0][1] == Approx(t.values[0][1]).epsilon(1e-12));  // same real split

  // The warning for random weights.
  bool warned = false;
  for (const auto& [level, message] : context.logs)
    warned |= level == LogLevel::Warning && message.find("not comparable") != std::string::npos;
  CHECK(warned);
}

TEST_CASE("fid evaluator: max_images and batch regrouping and diversity of encoder features") {
  auto gen = make_cpu_generator(2);
  const auto real = torch::rand({7, 3, 8, 8}, gen);
  const auto synth = torch::rand({5, 3, 8, 8}, gen) * 0.6;
  FlattenEncoder encoder;
  test::MemoryEvalData data(&encoder, 3);  // stream batches of 3
  data.add("train", normalise(real), labels(7));
  data.add("synthetic", normalise(synth), labels(5));
  test::TestContext context;

  // batch_size 2 regroups the stream's batches of 3; max_images cuts inside a batch.
  FidEvaluator limited(options({{"max_images", int64_t{4}},
                                {"batch_size", int64_t{2}},
                                {"diversity_embedding", std::string("encoder")}}),
                       context);
  const Table t = quality(limited.evaluate(encoder, data, context));
  CHECK(t.values[0][3] == 4);
  CHECK(t.values[0][4] == 4);
  const auto features = data.features("train").features;
  CHECK(t.values[0][1] ==
        Approx(mdlab::fid::mean_pairwise_cosine_distance(features.slice(0, 0, 4))).epsilon(1e-12));
  const auto synth_features = data.features("synthetic").features;
  CHECK(t.values[0][2] ==
        Approx(mdlab::fid::mean_pairwise_cosine_distance(synth_features.slice(0, 0, 4)))
            .epsilon(1e-12));

  // The same images without max_images in a single batch give the same FID as batch_size 2
  // on a data set holding only the first 4 images (batching does not change the features
  // beyond float rounding).
  test::MemoryEvalData first4(&encoder, 4);
  first4.add("train", normalise(real.slice(0, 0, 4)), labels(4));
  first4.add("synthetic", normalise(synth.slice(0, 0, 4)), labels(4));
  FidEvaluator whole(options({{"batch_size", int64_t{50}}}), context);
  const Table w = quality(whole.evaluate(encoder, first4, context));
  CHECK(w.values[0][0] == Approx(t.values[0][0]).epsilon(1e-4));
  CHECK(w.values[0][3] == 4);
}

TEST_CASE("fid evaluator: encoder features: FID and diversity in the encoder's space, so logged") {
  auto gen = make_cpu_generator(4);
  const auto real = torch::rand({6, 3, 8, 8}, gen);
  const auto synth = torch::rand({5, 3, 8, 8}, gen) * 0.5;
  FlattenEncoder encoder;
  test::MemoryEvalData data(&encoder, 4);
  data.add("train", normalise(real), labels(6));
  data.add("synthetic", normalise(synth), labels(5));
  LoggingContext context;
  // diversity_embedding left at its default, "inception".
  FidEvaluator fid(options({{"features", std::string("encoder")}}), context);
  const Table t = quality(fid.evaluate(encoder, data, context));
  const auto f_real = data.features("train").features;
  const auto f_synth = data.features("synthetic").features;
  CHECK(t.values[0][0] ==
        Approx(mdlab::fid::frechet_distance(f_real.to(torch::kDouble), f_synth.to(torch::kDouble)))
            .epsilon(1e-9));
  CHECK(t.values[0][1] == Approx(mdlab::fid::mean_pairwise_cosine_distance(f_real)).epsilon(1e-12));
  CHECK(t.values[0][2] ==
        Approx(mdlab::fid::mean_pairwise_cosine_distance(f_synth)).epsilon(1e-12));
  REQUIRE_FALSE(context.logs.empty());
  const std::string& line = context.logs.back().second;
  INFO(line);
  CHECK(line.find("(encoder features;") != std::string::npos);
  CHECK(line.find("(encoder embedding)") != std::string::npos);
}

TEST_CASE("fid evaluator: grey images are repeated to 3 channels") {
  // A view of MemoryEvalData with one-channel normalisation.
  class Grey final : public EvalData {
   public:
    explicit Grey(test::MemoryEvalData& inner) : inner_(inner) {}
    std::vector<std::string> splits() const override { return inner_.splits(); }
    std::unique_ptr<BatchStream> open(const std::string& s) override { return inner_.open(s); }
    std::vector<std::string> class_names(const std::string& s) override {
      return inner_.class_names(s);
    }
    Normalization normalization(const std::string&) override { return {{0.5}, {0.25}}; }
    FeatureSet features(const std::string& s) override { return inner_.features(s); }

   private:
    test::MemoryEvalData& inner_;
  };
  auto gen = make_cpu_generator(3);
  const auto a = torch::rand({4, 1, 8, 8}, gen), b = torch::rand({4, 1, 8, 8}, gen);
  test::MemoryEvalData inner;
  inner.add("train", (a - 0.5) / 0.25, labels(4));
  inner.add("synthetic", (b - 0.5) / 0.25, labels(4));
  Grey data(inner);
  test::TestContext context;
  FidEvaluator evaluator(options(), context);
  FlattenEncoder encoder;
  const Table t = quality(evaluator.evaluate(encoder, data, context));
  // Against the Inception run directly on the 3-channel repetition.
  torch::NoGradGuard no_grad;
  const auto fa = evaluator.inception()->forward(a.repeat({1, 3, 1, 1}));
  const auto fb = evaluator.inception()->forward(b.repeat({1, 3, 1, 1}));
  CHECK(t.values[0][0] == Approx(mdlab::fid::frechet_distance(fa, fb)).epsilon(1e-4));
  CHECK(t.values[0][1] == Approx(mdlab::fid::mean_pairwise_cosine_distance(fa)).epsilon(1e-5));
}

TEST_CASE("fid evaluator: empty or one-image splits are errors naming the split") {
  auto gen = make_cpu_generator(4);
  test::MemoryEvalData data;
  data.add("train", normalise(torch::rand({3, 3, 8, 8}, gen)), labels(3));
  data.add("synthetic", normalise(torch::rand({1, 3, 8, 8}, gen)), labels(1));
  data.add("empty", torch::zeros({0, 3, 8, 8}), labels(0));
  test::TestContext context;
  FlattenEncoder encoder;
  FidEvaluator one(options(), context);
  CHECK_THROWS_WITH(one.evaluate(encoder, data, context),
                    Catch::Contains("split 'synthetic'") && Catch::Contains("at least 2"));
  FidEvaluator empty(options({{"real", std::string("empty")}}), context);
  CHECK_THROWS_WITH(empty.evaluate(encoder, data, context),
                    Catch::Contains("split 'empty'") && Catch::Contains("0 image"));
  FidEvaluator unknown(options({{"synthetic", std::string("nope")}}), context);
  CHECK_THROWS_WITH(unknown.evaluate(encoder, data, context), Catch::Contains("nope"));
  CHECK_THROWS_WITH(
      FidEvaluator(options({{"weights", std::string("/nonexistent/fid.safetensors")}}), context),
      Catch::Contains("/nonexistent/fid.safetensors"));
}

TEST_CASE("fid evaluator: options schema") {
  const auto schema = FidEvaluator::options_schema();
  const auto o = default_options(schema);
  CHECK(o.get_string("real") == "train");
  CHECK(o.get_string("synthetic") == "synthetic");
  CHECK(o.get_int("max_images") == 0);
  CHECK(o.get_int("batch_size") == 50);
  CHECK(o.get_string("weights").empty());
  CHECK(o.get_string("diversity_embedding") == "inception");
  CHECK_FALSE(schema.find("diversity_embedding")->check(std::string("clip")).empty());
  CHECK_FALSE(schema.find("batch_size")->check(int64_t{0}).empty());
}
