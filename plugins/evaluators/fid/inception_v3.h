// The InceptionV3 of FID: torchvision's Inception3 up to the final average pool ("pool3"),
// with the blocks pytorch-fid patches to match the TensorFlow graph the published FID numbers
// come from (pt_inception-2015-12-05):
//   Mixed_5b..5d (InceptionA), Mixed_6b..6e (InceptionC), Mixed_7b (InceptionE): the pool
//     branch averages without the padded zeros (count_include_pad = false);
//   Mixed_7c (InceptionE): the pool branch is a 3x3 stride-1 pad-1 max pool.
// Mixed_6a (InceptionB) and Mixed_7a (InceptionD) are torchvision's. Every BatchNorm has eps
// 0.001 and runs on its running statistics (the module is always in eval mode for FID).
//
// Layouts: forward() takes images float32 [N, 3, H, W] with values in [0, 1] (any H, W; they
// are resized to 299 x 299 bilinearly, align_corners = false, no antialias, then scaled to
// [-1, 1], as pytorch-fid's resize_input + normalize_input) and returns the pool3 features
// float32 [N, 2048] (means of ReLU outputs, so >= 0).
//
// Names: submodules are registered under torchvision's attribute names (Conv2d_1a_3x3,
// Mixed_5b.branch_pool, ... each a BasicConv2d with "conv" and "bn"), in torchvision's order,
// so the state dict is torchvision's inception_v3(aux_logits=False) minus fc.*, i.e. the names
// of the FID weights converted to safetensors.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <filesystem>

namespace mdlab::fid {

/// Convolution (no bias) + BatchNorm (eps 0.001) + ReLU: torchvision's BasicConv2d.
class BasicConv2dImpl : public torch::nn::Module {
 public:
  /// A `kernel` convolution from `in` to `out` channels with `stride` and zero `padding`.
  BasicConv2dImpl(int64_t in, int64_t out, torch::ExpandingArray<2> kernel,
                  torch::ExpandingArray<2> stride = 1, torch::ExpandingArray<2> padding = 0);
  /// relu(bn(conv(x))).
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv{nullptr};     ///< registered as "conv"
  torch::nn::BatchNorm2d bn{nullptr};  ///< registered as "bn"
};
TORCH_MODULE(BasicConv2d);

/// FIDInceptionA (Mixed_5b..5d): 1x1, 5x5, double 3x3 and average-pool branches.
class InceptionAImpl : public torch::nn::Module {
 public:
  /// A block on `in` channels whose pool branch has `pool_features` outputs.
  InceptionAImpl(int64_t in, int64_t pool_features);
  /// Branches concatenated along channels: 64 + 64 + 96 + pool_features.
  torch::Tensor forward(const torch::Tensor& x);

  BasicConv2d branch1x1{nullptr}, branch5x5_1{nullptr}, branch5x5_2{nullptr},
      branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr}, branch3x3dbl_3{nullptr},
      branch_pool{nullptr};  ///< torchvision's names
};
TORCH_MODULE(InceptionA);

/// InceptionB (Mixed_6a): grid reduction 35 -> 17 by strided 3x3 convs and a max pool.
class InceptionBImpl : public torch::nn::Module {
 public:
  /// A block on `in` channels.
  explicit InceptionBImpl(int64_t in);
  /// Branches concatenated: 384 + 96 + in channels.
  torch::Tensor forward(const torch::Tensor& x);

  BasicConv2d branch3x3{nullptr}, branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr},
      branch3x3dbl_3{nullptr};  ///< torchvision's names
};
TORCH_MODULE(InceptionB);

/// FIDInceptionC (Mixed_6b..6e): factorised 7x7 branches and an average-pool branch.
class InceptionCImpl : public torch::nn::Module {
 public:
  /// A block on `in` channels with `channels_7x7` inside the 7x7 branches.
  InceptionCImpl(int64_t in, int64_t channels_7x7);
  /// Branches concatenated: 4 x 192 channels.
  torch::Tensor forward(const torch::Tensor& x);

  BasicConv2d branch1x1{nullptr}, branch7x7_1{nullptr}, branch7x7_2{nullptr}, branch7x7_3{nullptr},
      branch7x7dbl_1{nullptr}, branch7x7dbl_2{nullptr}, branch7x7dbl_3{nullptr},
      branch7x7dbl_4{nullptr}, branch7x7dbl_5{nullptr},
      branch_pool{nullptr};  ///< torchvision's names
};
TORCH_MODULE(InceptionC);

/// InceptionD (Mixed_7a): grid reduction 17 -> 8.
class InceptionDImpl : public torch::nn::Module {
 public:
  /// A block on `in` channels.
  explicit InceptionDImpl(int64_t in);
  /// Branches concatenated: 320 + 192 + in channels.
  torch::Tensor forward(const torch::Tensor& x);

  BasicConv2d branch3x3_1{nullptr}, branch3x3_2{nullptr}, branch7x7x3_1{nullptr},
      branch7x7x3_2{nullptr}, branch7x7x3_3{nullptr}, branch7x7x3_4{nullptr};  ///< names
};
TORCH_MODULE(InceptionD);

/// FIDInceptionE_1 (Mixed_7b, average pool) or FIDInceptionE_2 (Mixed_7c, max pool).
class InceptionEImpl : public torch::nn::Module {
 public:
  /// A block on `in` channels; `max_pool` selects the E_2 pool branch.
  InceptionEImpl(int64_t in, bool max_pool);
  /// Branches concatenated: 320 + 768 + 768 + 192 = 2048 channels.
  torch::Tensor forward(const torch::Tensor& x);

  BasicConv2d branch1x1{nullptr}, branch3x3_1{nullptr}, branch3x3_2a{nullptr},
      branch3x3_2b{nullptr}, branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr},
      branch3x3dbl_3a{nullptr}, branch3x3dbl_3b{nullptr}, branch_pool{nullptr};  ///< names

 private:
  bool max_pool_;
};
TORCH_MODULE(InceptionE);

/// The FID feature extractor (see the header comment).
class InceptionV3Impl : public torch::nn::Module {
 public:
  /// Width of the pool3 features.
  static constexpr int64_t kFeatureDim = 2048;
  /// Side the input images are resized to.
  static constexpr int64_t kInputSize = 299;

  /// A randomly initialised network in eval mode: convolutions He-normal drawn from
  /// `generator`, BatchNorm at identity statistics (weight 1, bias 0, mean 0, variance 1).
  explicit InceptionV3Impl(at::Generator generator);
  /// Pool3 features float32 [N, 2048] of images float32 [N, 3, H, W] in [0, 1].
  torch::Tensor forward(const torch::Tensor& images);
  /// Loads a safetensors file with torchvision's names strictly (fc.* and AuxLogits.* in the
  /// file are ignored); throws mdlab::Error naming the file and every missing, unexpected or
  /// mismatched tensor (with both shapes). Returns the number of tensors loaded.
  int64_t load_weights(const std::filesystem::path& path);

  BasicConv2d Conv2d_1a_3x3{nullptr}, Conv2d_2a_3x3{nullptr}, Conv2d_2b_3x3{nullptr},
      Conv2d_3b_1x1{nullptr}, Conv2d_4a_3x3{nullptr};  ///< the stem, torchvision's names
  InceptionA Mixed_5b{nullptr}, Mixed_5c{nullptr}, Mixed_5d{nullptr};  ///< 35 x 35 blocks
  InceptionB Mixed_6a{nullptr};                                        ///< 35 -> 17
  InceptionC Mixed_6b{nullptr}, Mixed_6c{nullptr}, Mixed_6d{nullptr},
      Mixed_6e{nullptr};                            ///< 17 x 17 blocks
  InceptionD Mixed_7a{nullptr};                     ///< 17 -> 8
  InceptionE Mixed_7b{nullptr}, Mixed_7c{nullptr};  ///< 8 x 8 blocks (E_1, E_2)
};
TORCH_MODULE(InceptionV3);

/// pytorch-fid's input preparation: images float32 [N, C, H, W] in [0, 1] resized to
/// [N, C, 299, 299] (bilinear, align_corners = false, no antialias) and mapped to [-1, 1].
torch::Tensor prepare_inception_input(const torch::Tensor& images);

}  // namespace mdlab::fid
