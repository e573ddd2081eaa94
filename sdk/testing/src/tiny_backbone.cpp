#include <mdlab/context.h>
#include <mdlab/error.h>
#include <mdlab/testing/tiny_backbone.h>

#include <torch/torch.h>

#include <cmath>

namespace mdlab::testing {

namespace {

class TinyBackbone final : public Backbone {
 public:
  TinyBackbone(int64_t channels, int64_t feature_dim, uint64_t seed) : dim_(feature_dim) {
    MDLAB_CHECK(channels > 0 && feature_dim > 0,
                "tiny_backbone: channels {} and feature_dim {} must be positive", channels,
                feature_dim);
    conv_ = register_module(
        "conv", torch::nn::Conv2d(
                    torch::nn::Conv2dOptions(channels, 16, 3).stride(2).padding(1).bias(false)));
    bn_ = register_module("bn", torch::nn::BatchNorm2d(16));
    fc_ = register_module("fc", torch::nn::Linear(16, feature_dim));
    // PyTorch's default bound, U(+-1/sqrt(fan_in)), drawn reproducibly.
    auto generator = make_cpu_generator(seed);
    torch::NoGradGuard no_grad;
    auto fill = [&](torch::Tensor& t, int64_t fan_in) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
      t.copy_(torch::rand(t.sizes(), generator, torch::kFloat) * (2 * bound) - bound);
    };
    fill(conv_->weight, channels * 9);
    fill(fc_->weight, 16);
    fill(fc_->bias, 16);
  }
  torch::Tensor forward(const torch::Tensor& images) override {
    auto x = torch::relu(bn_->forward(conv_->forward(images)));
    return fc_->forward(x.mean({2, 3}));
  }
  int64_t feature_dim() const override { return dim_; }

 private:
  int64_t dim_;
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

}  // namespace

std::shared_ptr<Backbone> tiny_backbone(int64_t channels, int64_t feature_dim, uint64_t seed) {
  return std::make_shared<TinyBackbone>(channels, feature_dim, seed);
}

}  // namespace mdlab::testing
