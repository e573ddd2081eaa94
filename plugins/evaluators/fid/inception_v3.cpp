#include "inception_v3.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <cmath>

namespace mdlab::fid {

namespace {

namespace F = torch::nn::functional;

// A (height, width) pair: TORCH_MODULE holders forward their arguments through a template,
// which cannot deduce a braced list.
using K = torch::ExpandingArray<2>;

// The pool branch of the FID blocks: TensorFlow's average pool divides by the number of real
// (not padded) pixels under the window, which count_include_pad = false reproduces.
torch::Tensor fid_avg_pool(const torch::Tensor& x) {
  return torch::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, /*ceil_mode=*/false,
                           /*count_include_pad=*/false);
}

}  // namespace

BasicConv2dImpl::BasicConv2dImpl(int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                                 torch::ExpandingArray<2> stride,
                                 torch::ExpandingArray<2> padding) {
  conv = register_module(
      "conv",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false)));
  // eps 0.001 as in torchvision's BasicConv2d (and the TensorFlow graph).
  bn = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out).eps(0.001)));
}

torch::Tensor BasicConv2dImpl::forward(const torch::Tensor& x) {
  return bn->forward(conv->forward(x)).relu_();
}

InceptionAImpl::InceptionAImpl(int64_t in, int64_t pool_features) {
  branch1x1 = register_module("branch1x1", BasicConv2d(in, 64, 1));
  branch5x5_1 = register_module("branch5x5_1", BasicConv2d(in, 48, 1));
  branch5x5_2 = register_module("branch5x5_2", BasicConv2d(48, 64, 5, 1, 2));
  branch3x3dbl_1 = register_module("branch3x3dbl_1", BasicConv2d(in, 64, 1));
  branch3x3dbl_2 = register_module("branch3x3dbl_2", BasicConv2d(64, 96, 3, 1, 1));
  branch3x3dbl_3 = register_module("branch3x3dbl_3", BasicConv2d(96, 96, 3, 1, 1));
  branch_pool = register_module("branch_pool", BasicConv2d(in, pool_features, 1));
}

torch::Tensor InceptionAImpl::forward(const torch::Tensor& x) {
  auto b1 = branch1x1(x);
  auto b5 = branch5x5_2(branch5x5_1(x));
  auto b3 = branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x)));
  auto bp = branch_pool(fid_avg_pool(x));
  return torch::cat({b1, b5, b3, bp}, 1);
}

InceptionBImpl::InceptionBImpl(int64_t in) {
  branch3x3 = register_module("branch3x3", BasicConv2d(in, 384, 3, 2));
  branch3x3dbl_1 = register_module("branch3x3dbl_1", BasicConv2d(in, 64, 1));
  branch3x3dbl_2 = register_module("branch3x3dbl_2", BasicConv2d(64, 96, 3, 1, 1));
  branch3x3dbl_3 = register_module("branch3x3dbl_3", BasicConv2d(96, 96, 3, 2));
}

torch::Tensor InceptionBImpl::forward(const torch::Tensor& x) {
  auto b3 = branch3x3(x);
  auto bd = branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x)));
  auto bp = torch::max_pool2d(x, {3, 3}, {2, 2});
  return torch::cat({b3, bd, bp}, 1);
}

InceptionCImpl::InceptionCImpl(int64_t in, int64_t c7) {
  // (1, 7) and (7, 1) kernels: a factorised 7 x 7 with "same" padding along its long side.
  branch1x1 = register_module("branch1x1", BasicConv2d(in, 192, 1));
  branch7x7_1 = register_module("branch7x7_1", BasicConv2d(in, c7, 1));
  branch7x7_2 = register_module("branch7x7_2", BasicConv2d(c7, c7, K({1, 7}), 1, K({0, 3})));
  branch7x7_3 = register_module("branch7x7_3", BasicConv2d(c7, 192, K({7, 1}), 1, K({3, 0})));
  branch7x7dbl_1 = register_module("branch7x7dbl_1", BasicConv2d(in, c7, 1));
  branch7x7dbl_2 = register_module("branch7x7dbl_2", BasicConv2d(c7, c7, K({7, 1}), 1, K({3, 0})));
  branch7x7dbl_3 = register_module("branch7x7dbl_3", BasicConv2d(c7, c7, K({1, 7}), 1, K({0, 3})));
  branch7x7dbl_4 = register_module("branch7x7dbl_4", BasicConv2d(c7, c7, K({7, 1}), 1, K({3, 0})));
  branch7x7dbl_5 = register_module("branch7x7dbl_5", BasicConv2d(c7, 192, K({1, 7}), 1, K({0, 3})));
  branch_pool = register_module("branch_pool", BasicConv2d(in, 192, 1));
}

torch::Tensor InceptionCImpl::forward(const torch::Tensor& x) {
  auto b1 = branch1x1(x);
  auto b7 = branch7x7_3(branch7x7_2(branch7x7_1(x)));
  auto bd = branch7x7dbl_1(x);
  bd = branch7x7dbl_5(branch7x7dbl_4(branch7x7dbl_3(branch7x7dbl_2(bd))));
  auto bp = branch_pool(fid_avg_pool(x));
  return torch::cat({b1, b7, bd, bp}, 1);
}

InceptionDImpl::InceptionDImpl(int64_t in) {
  branch3x3_1 = register_module("branch3x3_1", BasicConv2d(in, 192, 1));
  branch3x3_2 = register_module("branch3x3_2", BasicConv2d(192, 320, 3, 2));
  branch7x7x3_1 = register_module("branch7x7x3_1", BasicConv2d(in, 192, 1));
  branch7x7x3_2 = register_module("branch7x7x3_2", BasicConv2d(192, 192, K({1, 7}), 1, K({0, 3})));
  branch7x7x3_3 = register_module("branch7x7x3_3", BasicConv2d(192, 192, K({7, 1}), 1, K({3, 0})));
  branch7x7x3_4 = register_module("branch7x7x3_4", BasicConv2d(192, 192, 3, 2));
}

torch::Tensor InceptionDImpl::forward(const torch::Tensor& x) {
  auto b3 = branch3x3_2(branch3x3_1(x));
  auto b7 = branch7x7x3_4(branch7x7x3_3(branch7x7x3_2(branch7x7x3_1(x))));
  auto bp = torch::max_pool2d(x, {3, 3}, {2, 2});
  return torch::cat({b3, b7, bp}, 1);
}

InceptionEImpl::InceptionEImpl(int64_t in, bool max_pool) : max_pool_(max_pool) {
  branch1x1 = register_module("branch1x1", BasicConv2d(in, 320, 1));
  branch3x3_1 = register_module("branch3x3_1", BasicConv2d(in, 384, 1));
  branch3x3_2a = register_module("branch3x3_2a", BasicConv2d(384, 384, K({1, 3}), 1, K({0, 1})));
  branch3x3_2b = register_module("branch3x3_2b", BasicConv2d(384, 384, K({3, 1}), 1, K({1, 0})));
  branch3x3dbl_1 = register_module("branch3x3dbl_1", BasicConv2d(in, 448, 1));
  branch3x3dbl_2 = register_module("branch3x3dbl_2", BasicConv2d(448, 384, 3, 1, 1));
  branch3x3dbl_3a =
      register_module("branch3x3dbl_3a", BasicConv2d(384, 384, K({1, 3}), 1, K({0, 1})));
  branch3x3dbl_3b =
      register_module("branch3x3dbl_3b", BasicConv2d(384, 384, K({3, 1}), 1, K({1, 0})));
  branch_pool = register_module("branch_pool", BasicConv2d(in, 192, 1));
}

torch::Tensor InceptionEImpl::forward(const torch::Tensor& x) {
  auto b1 = branch1x1(x);
  auto b3 = branch3x3_1(x);
  b3 = torch::cat({branch3x3_2a(b3), branch3x3_2b(b3)}, 1);
  auto bd = branch3x3dbl_2(branch3x3dbl_1(x));
  bd = torch::cat({branch3x3dbl_3a(bd), branch3x3dbl_3b(bd)}, 1);
  // Mixed_7c of the TensorFlow graph max-pools here (FIDInceptionE_2), most likely a slip in
  // that graph; FID numbers are defined by it, so it is reproduced.
  auto pooled = max_pool_ ? torch::max_pool2d(x, {3, 3}, {1, 1}, {1, 1}) : fid_avg_pool(x);
  auto bp = branch_pool(pooled);
  return torch::cat({b1, b3, bd, bp}, 1);
}

InceptionV3Impl::InceptionV3Impl(at::Generator generator) {
  Conv2d_1a_3x3 = register_module("Conv2d_1a_3x3", BasicConv2d(3, 32, 3, 2));
  Conv2d_2a_3x3 = register_module("Conv2d_2a_3x3", BasicConv2d(32, 32, 3));
  Conv2d_2b_3x3 = register_module("Conv2d_2b_3x3", BasicConv2d(32, 64, 3, 1, 1));
  Conv2d_3b_1x1 = register_module("Conv2d_3b_1x1", BasicConv2d(64, 80, 1));
  Conv2d_4a_3x3 = register_module("Conv2d_4a_3x3", BasicConv2d(80, 192, 3));
  Mixed_5b = register_module("Mixed_5b", InceptionA(192, 32));
  Mixed_5c = register_module("Mixed_5c", InceptionA(256, 64));
  Mixed_5d = register_module("Mixed_5d", InceptionA(288, 64));
  Mixed_6a = register_module("Mixed_6a", InceptionB(288));
  Mixed_6b = register_module("Mixed_6b", InceptionC(768, 128));
  Mixed_6c = register_module("Mixed_6c", InceptionC(768, 160));
  Mixed_6d = register_module("Mixed_6d", InceptionC(768, 160));
  Mixed_6e = register_module("Mixed_6e", InceptionC(768, 192));
  Mixed_7a = register_module("Mixed_7a", InceptionD(768));
  Mixed_7b = register_module("Mixed_7b", InceptionE(1280, /*max_pool=*/false));
  Mixed_7c = register_module("Mixed_7c", InceptionE(2048, /*max_pool=*/true));

  // Random weights only make FIDs comparable among themselves. He-normal keeps the activation
  // scale through the 94 conv+ReLU layers; torchvision's init (truncated normal, std 0.1 for
  // every conv) would grow it by orders of magnitude with fan-ins up to 2048.
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      const auto& w = conv->weight;
      const double fan_in = static_cast<double>(w[0].numel());
      w.normal_(0.0, std::sqrt(2.0 / fan_in), generator);
    }
  }
  // FID is defined on the network's inference behaviour (BatchNorm on running statistics).
  eval();
}

torch::Tensor InceptionV3Impl::forward(const torch::Tensor& images) {
  MDLAB_CHECK(images.dim() == 4 && images.size(1) == 3,
              "fid: the Inception takes images [N, 3, H, W], got [{}]",
              fmt::join(images.sizes(), ", "));
  auto x = prepare_inception_input(images);
  x = Conv2d_2b_3x3(Conv2d_2a_3x3(Conv2d_1a_3x3(x)));
  x = torch::max_pool2d(x, {3, 3}, {2, 2});
  x = Conv2d_4a_3x3(Conv2d_3b_1x1(x));
  x = torch::max_pool2d(x, {3, 3}, {2, 2});
  x = Mixed_5d(Mixed_5c(Mixed_5b(x)));
  x = Mixed_6a(x);
  x = Mixed_6e(Mixed_6d(Mixed_6c(Mixed_6b(x))));
  x = Mixed_7c(Mixed_7b(Mixed_7a(x)));
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

int64_t InceptionV3Impl::load_weights(const std::filesystem::path& path) {
  try {
    const SafetensorsFile file = read_safetensors(path);
    LoadOptions options;
    // The FID weights carry the 1008-class classifier (fc.*), torchvision's ImageNet weights
    // also the auxiliary head; neither is part of the feature extractor.
    options.ignore_prefixes = {"fc.", "AuxLogits."};
    return static_cast<int64_t>(load_state_dict(*this, file.tensors, options).loaded.size());
  } catch (const Error& e) {
    MDLAB_THROW("fid: cannot load the Inception weights {}: {}", path.string(), e.message());
  }
}

torch::Tensor prepare_inception_input(const torch::Tensor& images) {
  auto x = F::interpolate(images, F::InterpolateFuncOptions()
                                      .size(std::vector<int64_t>{InceptionV3Impl::kInputSize,
                                                                 InceptionV3Impl::kInputSize})
                                      .mode(torch::kBilinear)
                                      .align_corners(false));
  return x * 2 - 1;
}

}  // namespace mdlab::fid
