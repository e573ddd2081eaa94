// ResNet-18/34/50/101 as in torchvision (v1.5: a Bottleneck's stride sits on its 3x3 conv),
// without the classifier: forward() returns the globally average-pooled features [N, D].
//
// Internal header of the resnet plugin, shared with its unit tests; the host sees the model
// only through mdlab::Backbone. Submodules carry torchvision's names (conv1, bn1,
// layer1.0.conv1, layer2.0.downsample.0, ...), so the state dict is torchvision's minus fc.*.
#pragma once

#include <mdlab/backbone.h>
#include <mdlab/batch_norm.h>
#include <mdlab/context.h>
#include <mdlab/options.h>
#include <mdlab/state_dict.h>

#include <ATen/core/Generator.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace mdlab::resnet {

/// Shape of a ResNet; mirrors the plugin's options.
struct ResNetConfig {
  int64_t depth = 50;               ///< 18, 34 (BasicBlock) or 50, 101 (Bottleneck)
  int64_t width = 64;               ///< channels of the stem and layer1 (torchvision: 64)
  bool cifar_stem = false;          ///< 3x3 stride-1 stem conv and no max-pool (small images)
  bool zero_init_residual = false;  ///< zero the last BN weight of every block
  int64_t in_channels = 3;          ///< channels of the input images
};

/// Two 3x3 convolutions with a shortcut (ResNet-18/34).
class BasicBlockImpl : public torch::nn::Module {
 public:
  /// Channel multiplier from the block's `planes` to its output channels.
  static constexpr int64_t expansion = 1;
  /// A block reading `inplanes` channels, writing `planes`, striding by `stride`.
  BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride);
  /// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
  torch::Tensor forward(const torch::Tensor& x);
  /// The BN whose weight zero_init_residual zeroes.
  mdlab::BatchNorm& last_bn() { return bn2; }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  mdlab::BatchNorm bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};  ///< 1x1 conv + BN when the shape changes
};
TORCH_MODULE(BasicBlock);

/// 1x1 reduce, 3x3 (strided), 1x1 expand, with a shortcut (ResNet-50/101).
class BottleneckImpl : public torch::nn::Module {
 public:
  /// Channel multiplier from the block's `planes` to its output channels.
  static constexpr int64_t expansion = 4;
  /// A block reading `inplanes` channels, writing `planes * 4`, striding by `stride`.
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride);
  /// relu(bn3(conv3(...)) + shortcut(x)).
  torch::Tensor forward(const torch::Tensor& x);
  /// The BN whose weight zero_init_residual zeroes.
  mdlab::BatchNorm& last_bn() { return bn3; }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  mdlab::BatchNorm bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};  ///< 1x1 conv + BN when the shape changes
};
TORCH_MODULE(Bottleneck);

/// The backbone.
class ResNet final : public mdlab::Backbone {
 public:
  /// A randomly initialised network (torchvision's init) drawing from `generator`.
  ResNet(const ResNetConfig& config, at::Generator generator);
  /// The plugin constructor: options as declared by options_schema(); initialises from the
  /// context's "resnet.init" stream, then loads `weights` when given.
  ResNet(const mdlab::Options& options, mdlab::Context& context);

  /// The options the plugin accepts.
  static mdlab::OptionsSchema options_schema();
  /// The configuration described by validated `options`.
  static ResNetConfig config_from(const mdlab::Options& options);

  /// Pooled features [N, D] of images [N, in_channels, H, W].
  torch::Tensor forward(const torch::Tensor& images) override;
  /// D: 8 * width for ResNet-18/34, 32 * width for ResNet-50/101.
  int64_t feature_dim() const override { return feature_dim_; }
  /// The configuration the network was built with.
  const ResNetConfig& config() const { return config_; }

  /// Loads a safetensors file strictly, ignoring the classifier (fc.*); throws mdlab::Error
  /// naming the file and every missing, unexpected or mis-shaped tensor.
  mdlab::LoadReport load_weights(const std::filesystem::path& file);

 private:
  torch::nn::Sequential make_layer(int64_t planes, int64_t blocks, int64_t stride);
  void init_weights(at::Generator& generator);

  ResNetConfig config_;
  int64_t inplanes_ = 0;  // running channel count while layers are built
  int64_t feature_dim_ = 0;
  torch::nn::Conv2d conv1_{nullptr};
  mdlab::BatchNorm bn1_{nullptr};
  torch::nn::Sequential layer1_{nullptr}, layer2_{nullptr}, layer3_{nullptr}, layer4_{nullptr};
};

}  // namespace mdlab::resnet
