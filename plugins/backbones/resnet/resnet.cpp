#include "resnet.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <cmath>

namespace mdlab::resnet {

namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}

nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return conv(in, out, 3, stride, 1);
}
nn::Conv2d conv1x1(int64_t in, int64_t out, int64_t stride) {
  return conv(in, out, 1, stride, 0);
}

// The projection shortcut, registered as "downsample" ("downsample.0" conv, "downsample.1" BN)
// only where the block changes resolution or width, as torchvision does.
nn::Sequential make_downsample(int64_t inplanes, int64_t outplanes, int64_t stride) {
  if (stride == 1 && inplanes == outplanes) return nullptr;
  return nn::Sequential(conv1x1(inplanes, outplanes, stride), mdlab::BatchNorm(outplanes));
}

bool is_bottleneck(int64_t depth) {
  return depth >= 50;
}

std::vector<int64_t> blocks_per_layer(int64_t depth) {
  switch (depth) {
    case 18: return {2, 2, 2, 2};
    case 34: return {3, 4, 6, 3};
    case 50: return {3, 4, 6, 3};
    case 101: return {3, 4, 23, 3};
    default: MDLAB_THROW("resnet: depth {} is not one of 18, 34, 50, 101", depth);
  }
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride) {
  conv1 = register_module("conv1", conv3x3(inplanes, planes, stride));
  bn1 = register_module("bn1", mdlab::BatchNorm(planes));
  conv2 = register_module("conv2", conv3x3(planes, planes, 1));
  bn2 = register_module("bn2", mdlab::BatchNorm(planes));
  if (auto ds = make_downsample(inplanes, planes * expansion, stride))
    downsample = register_module("downsample", ds);
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  // In place after BN, as torchvision (ReLU(inplace=True)): one activation less to keep.
  auto out = bn1->forward(conv1->forward(x)).relu_();
  out = bn2->forward(conv2->forward(out));
  out += downsample ? downsample->forward(x) : x;
  return torch::relu_(out);
}

BottleneckImpl::BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride) {
  conv1 = register_module("conv1", conv1x1(inplanes, planes, 1));
  bn1 = register_module("bn1", mdlab::BatchNorm(planes));
  conv2 = register_module("conv2", conv3x3(planes, planes, stride));  // v1.5: stride here
  bn2 = register_module("bn2", mdlab::BatchNorm(planes));
  conv3 = register_module("conv3", conv1x1(planes, planes * expansion, 1));
  bn3 = register_module("bn3", mdlab::BatchNorm(planes * expansion));
  if (auto ds = make_downsample(inplanes, planes * expansion, stride))
    downsample = register_module("downsample", ds);
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  auto out = bn1->forward(conv1->forward(x)).relu_();
  out = bn2->forward(conv2->forward(out)).relu_();
  out = bn3->forward(conv3->forward(out));
  out += downsample ? downsample->forward(x) : x;
  return torch::relu_(out);
}

ResNet::ResNet(const ResNetConfig& config, at::Generator generator) : config_(config) {
  const auto blocks = blocks_per_layer(config.depth);
  MDLAB_CHECK(config.width >= 8, "resnet: width {} is below 8", config.width);
  MDLAB_CHECK(config.in_channels >= 1, "resnet: in_channels {} is below 1", config.in_channels);
  const int64_t w = config.width;
  conv1_ = register_module("conv1", config.cifar_stem ? conv(config.in_channels, w, 3, 1, 1)
                                                      : conv(config.in_channels, w, 7, 2, 3));
  bn1_ = register_module("bn1", mdlab::BatchNorm(w));
  inplanes_ = w;
  layer1_ = register_module("layer1", make_layer(w, blocks[0], 1));
  layer2_ = register_module("layer2", make_layer(2 * w, blocks[1], 2));
  layer3_ = register_module("layer3", make_layer(4 * w, blocks[2], 2));
  layer4_ = register_module("layer4", make_layer(8 * w, blocks[3], 2));
  feature_dim_ = inplanes_;
  init_weights(generator);
}

ResNet::ResNet(const mdlab::Options& options, mdlab::Context& context)
    : ResNet(config_from(options), context.generator("resnet.init")) {
  const std::string& weights = options.get_string("weights");
  if (!weights.empty()) {
    auto report = load_weights(weights);
    context.log(LogLevel::Info,
                fmt::format("resnet: loaded {} tensors from {}", report.loaded.size(), weights));
  }
}

mdlab::OptionsSchema ResNet::options_schema() {
  mdlab::OptionsSchema s;
  s.add_int("depth", 50, "Number of layers: 18 or 34 (basic blocks), 50 or 101 (bottlenecks)")
      .one_of_ints({18, 34, 50, 101});
  s.add_int("width", 64,
            "Channels of the stem and first stage (64 in torchvision); "
            "features are 8x (18/34) or 32x (50/101) this")
      .range(8, 1024);  // bounded so that a typo is named here, not by LibTorch's allocator
  s.add_bool("cifar_stem", false, "3x3 stride-1 stem conv without max-pool, for 28-64 px inputs");
  s.add_bool("zero_init_residual", false,
             "Start every residual branch at zero (last BN weight of each block = 0)");
  s.add_int("in_channels", 3, "Channels of the input images").range(1, 16);
  s.add_string("weights", "",
               "Safetensors file with torchvision names to load strictly (fc.* ignored); "
               "empty: random init");
  return s;
}

ResNetConfig ResNet::config_from(const mdlab::Options& options) {
  ResNetConfig c;
  c.depth = options.get_int("depth");
  c.width = options.get_int("width");
  c.cifar_stem = options.get_bool("cifar_stem");
  c.zero_init_residual = options.get_bool("zero_init_residual");
  c.in_channels = options.get_int("in_channels");
  return c;
}

nn::Sequential ResNet::make_layer(int64_t planes, int64_t blocks, int64_t stride) {
  nn::Sequential layer;
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t s = i == 0 ? stride : 1;
    if (is_bottleneck(config_.depth)) {
      layer->push_back(Bottleneck(inplanes_, planes, s));
      inplanes_ = planes * BottleneckImpl::expansion;
    } else {
      layer->push_back(BasicBlock(inplanes_, planes, s));
      inplanes_ = planes * BasicBlockImpl::expansion;
    }
  }
  return layer;
}

void ResNet::init_weights(at::Generator& generator) {
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* c = m->as<nn::Conv2d>()) {
      // Kaiming normal, fan_out mode, ReLU gain (torchvision's choice), drawn from our own
      // generator so the init depends only on the run seed.
      const auto& w = c->weight;
      const double fan_out = static_cast<double>(w.numel() / w.size(1));
      w.normal_(0.0, std::sqrt(2.0 / fan_out), generator);
    } else if (auto* bn = m->as<mdlab::BatchNorm>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    }
  }
  if (config_.zero_init_residual) {
    // Each residual branch then starts as zero, so every block begins as the identity.
    for (auto* layer : {&layer1_, &layer2_, &layer3_, &layer4_}) {
      for (auto& block : (*layer)->children()) {
        if (auto* b = block->as<BottleneckImpl>())
          b->last_bn()->weight.zero_();
        else if (auto* bb = block->as<BasicBlockImpl>())
          bb->last_bn()->weight.zero_();
      }
    }
  }
}

torch::Tensor ResNet::forward(const torch::Tensor& images) {
  MDLAB_CHECK(images.dim() == 4 && images.size(1) == config_.in_channels,
              "resnet: expected images [N, {}, H, W], got [{}]", config_.in_channels,
              fmt::join(images.sizes(), ", "));
  // cuDNN's convolutions are fastest in NHWC; the conv outputs then stay channels-last.
  auto x = images.is_cuda() ? images.contiguous(torch::MemoryFormat::ChannelsLast) : images;
  x = bn1_->forward(conv1_->forward(x)).relu_();
  if (!config_.cifar_stem) x = torch::max_pool2d(x, 3, 2, 1);
  x = layer1_->forward(x);
  x = layer2_->forward(x);
  x = layer3_->forward(x);
  x = layer4_->forward(x);
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

mdlab::LoadReport ResNet::load_weights(const std::filesystem::path& file) {
  auto tensors = mdlab::read_safetensors(file);
  mdlab::LoadOptions options;
  options.ignore_prefixes = {"fc."};
  try {
    return mdlab::load_state_dict(*this, tensors.tensors, options);
  } catch (const mdlab::Error& e) {
    MDLAB_THROW("resnet-{} (width {}): weights '{}': {}", config_.depth, config_.width,
                file.string(), e.message());
  }
}

}  // namespace mdlab::resnet
