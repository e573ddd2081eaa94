// The generator plugin "blurred_noise": for each image, Gaussian noise blurred with a Gaussian
// of `sigma` pixels, rescaled to a mean and standard deviation (the source image's own, by
// default), gray or RGB. It keeps nothing of the source but its intensity statistics: the
// floor a real generator must beat on FID and class consistency, and a control partner for
// MixDiff ablations.
#include <mdlab/context.h>
#include <mdlab/error.h>
#include <mdlab/generator.h>
#include <mdlab/options.h>
#include <mdlab/plugin.h>

#include <torch/nn/functional.h>
#include <torch/torch.h>

#include <cmath>

namespace mdlab::blurred_noise {

class BlurredNoise final : public Generator {
 public:
  BlurredNoise(const Options& options, Context&)
      : size_(options.get_int("size")),
        channels_(options.get_int("channels")),
        sigma_(options.get_float("sigma")),
        match_source_(options.get_bool("match_source")),
        mean_(options.get_float("mean")),
        std_(options.get_float("std")) {
    // A normalised 1-D Gaussian of radius ceil(3 sigma).
    const int64_t radius = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * sigma_)));
    auto x = torch::arange(-radius, radius + 1, torch::kFloat);
    kernel_ = torch::exp(-(x * x) / (2 * sigma_ * sigma_));
    kernel_ = kernel_ / kernel_.sum();
  }

  static OptionsSchema options_schema() {
    OptionsSchema s;
    s.add_int("size", 28, "Side of the square outputs in pixels").range(1, 4096);
    s.add_int("channels", 1, "1: gray noise (stored as equal RGB), 3: independent channels")
        .one_of_ints({1, 3});
    s.add_float("sigma", 2.0, "Standard deviation of the Gaussian blur in pixels").range(0.1, 100);
    s.add_bool("match_source", true,
               "Rescale to each source image's mean and standard deviation (gray levels); "
               "false: to `mean` and `std`");
    s.add_float("mean", 0.5, "Target mean in [0, 1] when match_source is false").range(0, 1);
    s.add_float("std", 0.25, "Target standard deviation when match_source is false").range(0, 1);
    return s;
  }

  torch::Tensor generate(const std::vector<torch::Tensor>& images,
                         const NoiseSource& noise) override {
    const auto n = static_cast<int64_t>(images.size());
    MDLAB_CHECK(noise.stream || static_cast<int64_t>(noise.seeds.size()) == n,
                "blurred_noise: {} seeds for {} images", noise.seeds.size(), n);
    std::vector<torch::Tensor> out;
    for (int64_t i = 0; i < n; ++i) {
      const auto& image = images[static_cast<size_t>(i)];
      MDLAB_CHECK(image.dim() == 3 && image.size(0) == 3 && image.scalar_type() == torch::kUInt8,
                  "blurred_noise: images must be uint8 [3, H, W], got {}", c10::str(image.sizes()));
      at::Generator generator =
          noise.stream ? *noise.stream : make_cpu_generator(noise.seeds[static_cast<size_t>(i)]);
      auto x = torch::randn({1, channels_, size_, size_}, generator, torch::kFloat);
      x = blur(x);
      x = (x - x.mean()) / x.std().clamp_min(1e-8);
      double mean = mean_, stddev = std_;
      if (match_source_) {
        const auto gray = image.to(torch::kFloat).mean(0) / 255.0;
        mean = gray.mean().item<double>();
        stddev = gray.std().item<double>();
      }
      x = (x * stddev + mean).clamp(0, 1);
      auto bytes = (x[0] * 255).round().to(torch::kUInt8);
      out.push_back(channels_ == 1 ? bytes.expand({3, size_, size_}).contiguous() : bytes);
    }
    return torch::stack(out);
  }

  int64_t preferred_batch_size() const override { return 256; }
  std::pair<int64_t, int64_t> output_size() const override { return {size_, size_}; }

 private:
  // Separable Gaussian blur of [1, C, S, S] with reflected borders.
  torch::Tensor blur(torch::Tensor x) const {
    namespace F = torch::nn::functional;
    const int64_t c = x.size(1), r = kernel_.size(0) / 2;
    const auto horizontal = kernel_.view({1, 1, 1, -1}).expand({c, 1, 1, kernel_.size(0)});
    const auto vertical = kernel_.view({1, 1, -1, 1}).expand({c, 1, kernel_.size(0), 1});
    // Reflection needs the pad to be smaller than the side; beyond that, replicate.
    const bool reflect = r < x.size(2);
    auto pad = [&](const torch::Tensor& t, std::vector<int64_t> p) {
      return reflect ? F::pad(t, F::PadFuncOptions(p).mode(torch::kReflect))
                     : F::pad(t, F::PadFuncOptions(p).mode(torch::kReplicate));
    };
    x = F::conv2d(pad(x, {r, r, 0, 0}), horizontal.contiguous(), F::Conv2dFuncOptions().groups(c));
    x = F::conv2d(pad(x, {0, 0, r, r}), vertical.contiguous(), F::Conv2dFuncOptions().groups(c));
    return x;
  }

  int64_t size_, channels_;
  double sigma_;
  bool match_source_;
  double mean_, std_;
  torch::Tensor kernel_;
};

}  // namespace mdlab::blurred_noise

MDLAB_PLUGIN(mdlab::blurred_noise::BlurredNoise, mdlab::Generator, "blurred_noise", "1.0.0",
             "Blurred Gaussian noise matched to each source's gray-level statistics: the null "
             "baseline for FID, class consistency and MixDiff ablations")
