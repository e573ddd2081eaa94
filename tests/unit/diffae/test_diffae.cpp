// The diffae method and the diffusion-autoencoder pipeline on a tiny gray model.
#include "diffae.h"
#include "diffae_method.h"
#include "fixtures.h"
#include "test_context.h"
#include "variation_pipeline.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <fstream>
#include <limits>

namespace fs = std::filesystem;
using mdlab::diffae::DiffaeMethod;
using namespace mdlab::diffusion;

namespace {

// A small conv encoder with BatchNorm: [N, 1, H, W] -> [N, 16].
class TinyEncoder final : public mdlab::Backbone {
 public:
  TinyEncoder() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 3)));
    bn = register_module("bn", torch::nn::BatchNorm2d(8));
    fc = register_module("fc", torch::nn::Linear(8, 16));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return fc->forward(torch::relu(bn->forward(conv->forward(x))).mean({2, 3}));
  }
  int64_t feature_dim() const override { return 16; }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};

mdlab::Options tiny_options() {
  auto o = mdlab::default_options(DiffaeMethod::options_schema());
  o.set("channels", int64_t{1});
  o.set("image_size", int64_t{8});
  o.set("block_out_channels", std::vector<int64_t>{16, 32});
  o.set("attention", std::vector<int64_t>{0, 1});
  o.set("heads", int64_t{2});
  o.set("norm_num_groups", int64_t{8});
  o.set("resnet_time_scale_shift", std::string("scale_shift"));
  o.set("ema_decay", 0.9);
  return o;
}

struct Trained {
  mdlab::test::TestContext context{3, [] { return std::make_shared<TinyEncoder>(); }};
  std::shared_ptr<DiffaeMethod> method;
  torch::Tensor images;  // [8, 1, 8, 8] in [-1, 1]
};

// Eight 8x8 gray images: bars and squares at different places.
torch::Tensor tiny_images() {
  auto x = torch::full({8, 1, 8, 8}, -1.0);
  for (int64_t i = 0; i < 8; ++i) {
    if (i % 2 == 0) {
      x[i][0].slice(0, i / 2, i / 2 + 3).fill_(1.0);
    } else {
      x[i][0].slice(1, i / 2, i / 2 + 4).slice(0, 2, 6).fill_(1.0);
    }
  }
  return x;
}

std::unique_ptr<Trained> make_method() {
  auto t = std::make_unique<Trained>();
  torch::manual_seed(0);
  t->method = std::make_shared<DiffaeMethod>(tiny_options(), t->context);
  t->method->attach(std::make_shared<TinyEncoder>(), t->context);
  t->images = tiny_images();
  return t;
}

double loss_at(DiffaeMethod& method, const torch::Tensor& images, int64_t step) {
  torch::NoGradGuard no_grad;
  mdlab::Batch batch{{images}, torch::full({images.size(0)}, -1, torch::kLong)};
  return method.compute_loss(batch, mdlab::StepInfo{step, 0, 1, 1000}).loss.item<double>();
}

void train_steps(DiffaeMethod& method, const torch::Tensor& images, int64_t steps) {
  std::vector<torch::Tensor> params;
  for (const auto& g : method.param_groups())
    params.insert(params.end(), g.params.begin(), g.params.end());
  torch::optim::Adam optimizer(params, torch::optim::AdamOptions(2e-3));
  method.train(true);
  mdlab::Batch batch{{images}, torch::full({images.size(0)}, -1, torch::kLong)};
  for (int64_t s = 0; s < steps; ++s) {
    const mdlab::StepInfo info{s, 0, steps, steps};
    optimizer.zero_grad();
    method.compute_loss(batch, info).loss.backward();
    optimizer.step();
    method.after_optimizer_step(info);
  }
  method.eval();
}

// A model folder from a trained method: the method's part plus the encoder folder that
// `mdlab export-model` writes.
fs::path export_folder(DiffaeMethod& method, const std::string& tag) {
  const fs::path dir = mdlab::test::temp_dir(tag);
  fs::remove_all(dir);
  fs::create_directories(dir / "encoder");
  method.export_model(dir);
  EncoderConfig e;
  e.plugin = "tiny";
  e.channels = 1;
  e.image_size = 8;
  e.feature_dim = 16;
  e.mean = {0.5};
  e.stddev = {0.5};
  std::ofstream(dir / "encoder" / "config.json") << e.to_json().dump(2);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [name, t] : mdlab::state_dict(*method.encoder())) tensors.emplace_back(name, t);
  mdlab::write_safetensors(dir / "encoder" / "model.safetensors", tensors);
  return dir;
}

std::unique_ptr<DiffaePipeline> load_folder(const fs::path& dir, const DiffaeSettings& s = {}) {
  auto encoder = std::make_shared<TinyEncoder>();
  load_component_weights(*encoder, dir / "encoder");
  return std::make_unique<DiffaePipeline>(dir, encoder, s);
}

// uint8 [3, 8, 8] RGB of a model-space gray image.
torch::Tensor to_rgb(const torch::Tensor& x) {
  return DiffaePipeline::to_uint8(x.unsqueeze(0))[0].clone();
}

}  // namespace

TEST_CASE("diffae: the denoising loss falls on a tiny set", "[diffae]") {
  auto t = make_method();
  // The loss at fixed steps (same timesteps and noise) before and after training.
  double before = 0, after = 0;
  for (int64_t s = 1000; s < 1016; ++s) before += loss_at(*t->method, t->images, s);
  train_steps(*t->method, t->images, 150);
  for (int64_t s = 1000; s < 1016; ++s) after += loss_at(*t->method, t->images, s);
  INFO("mean loss before " << before / 16 << ", after " << after / 16);
  CHECK(after < 0.6 * before);
}

TEST_CASE("diffae: a step's noise depends on the seed and step only", "[diffae]") {
  auto a = make_method();
  auto b = make_method();
  // Same weights (same init stream), same step: the same loss, whatever ran before.
  const double first = loss_at(*a->method, a->images, 7);
  torch::randn({100});  // the global generator is not used
  loss_at(*a->method, a->images, 3);
  CHECK(loss_at(*a->method, a->images, 7) == first);
  CHECK(loss_at(*b->method, b->images, 7) == first);
  CHECK(loss_at(*a->method, a->images, 8) != first);
}

TEST_CASE("diffae: views outside [-1, 1] or with other channels are refused", "[diffae]") {
  auto t = make_method();
  mdlab::Batch normalised{{t->images * 2.0}, torch::full({8}, -1, torch::kLong)};
  CHECK_THROWS_WITH(t->method->compute_loss(normalised, {}),
                    Catch::Contains("mean = [0.5] and std = [0.5]"));
  mdlab::Batch rgb{{t->images.expand({8, 3, 8, 8})}, torch::full({8}, -1, torch::kLong)};
  CHECK_THROWS_WITH(t->method->compute_loss(rgb, {}), Catch::Contains("[method] channels"));
}

TEST_CASE("diffae: EMA weights follow the trained ones and are what export writes", "[diffae]") {
  auto t = make_method();
  train_steps(*t->method, t->images, 20);
  auto& unet = *t->method->unet();
  auto& ema = *t->method->ema_unet();
  const auto w = unet.named_parameters()["conv_in.weight"];
  const auto e = ema.named_parameters()["conv_in.weight"];
  CHECK_FALSE(torch::equal(w, e));
  CHECK_FALSE(e.requires_grad());
  const fs::path dir = export_folder(*t->method, "diffae_ema");
  auto file = mdlab::read_safetensors(dir / "unet" / "diffusion_pytorch_model.safetensors");
  CHECK(torch::equal(file.at("conv_in.weight"), e));
  CHECK(file.contains("class_embedding.linear_1.weight"));
  // The encoder the method reports is the EMA one.
  CHECK(t->method->encoder().get() != nullptr);
  CHECK(
      torch::equal(t->method->encoder()->named_parameters()["fc.weight"],
                   mdlab::read_safetensors(dir / "encoder" / "model.safetensors").at("fc.weight")));
}

TEST_CASE("diffae: export -> load gives the same networks and variations", "[diffae]") {
  auto t = make_method();
  train_steps(*t->method, t->images, 30);
  const fs::path dir = export_folder(*t->method, "diffae_roundtrip");
  auto pipeline = load_folder(dir);
  torch::NoGradGuard no_grad;
  // The encoder: the same codes as the method's EMA encoder on normalised images.
  const auto unit = t->images / 2 + 0.5;
  const auto codes = pipeline->encode(unit);
  CHECK(torch::allclose(codes, t->method->encoder()->forward((unit - 0.5) / 0.5), 1e-5, 1e-6));
  // The UNet: the same prediction as the method's EMA UNet.
  auto x = torch::randn({2, 1, 8, 8});
  auto ts = torch::tensor({10.0f, 500.0f});
  auto ctx = codes.slice(0, 0, 2);
  CHECK(torch::allclose(pipeline->unet()->forward(x, ts, ctx.unsqueeze(1), ctx),
                        t->method->ema_unet()->forward(x, ts, ctx.unsqueeze(1), ctx), 1e-5, 1e-6));
  // Two loads of the folder make identical variations.
  std::vector<torch::Tensor> images;
  for (int64_t i = 0; i < 3; ++i) images.push_back(to_rgb(t->images[i]));
  mdlab::NoiseSource seeds;
  seeds.seeds = {11, 12, 13};
  auto first = pipeline->generate(images, seeds);
  auto second = load_folder(dir)->generate(images, seeds);
  CHECK(first.sizes() == torch::IntArrayRef({3, 3, 8, 8}));
  CHECK(first.scalar_type() == torch::kUInt8);
  CHECK(torch::equal(first, second));
  // Gray output: the three channels are equal.
  CHECK(torch::equal(first.select(1, 0), first.select(1, 2)));
}

TEST_CASE("diffae: a variation depends only on its image and seed", "[diffae]") {
  auto t = make_method();
  train_steps(*t->method, t->images, 10);
  const fs::path dir = export_folder(*t->method, "diffae_seeds");
  DiffaeSettings settings;
  settings.steps = 5;
  settings.guidance_scale = 2.0;
  settings.eta = 0.5;  // stochastic steps too
  auto pipeline = load_folder(dir, settings);
  std::vector<torch::Tensor> images;
  for (int64_t i = 0; i < 4; ++i) images.push_back(to_rgb(t->images[i]));
  mdlab::NoiseSource four;
  four.seeds = {101, 102, 103, 104};
  auto batch = pipeline->generate(images, four);
  mdlab::NoiseSource one;
  one.seeds = {103};
  auto alone = pipeline->generate({images[2]}, one);
  // Batched and single runs may round differently by one level at most.
  CHECK((batch[2].to(torch::kInt) - alone[0].to(torch::kInt)).abs().max().item<int>() <= 1);
  // Another seed for the same image: another variation.
  one.seeds = {999};
  auto other = pipeline->generate({images[2]}, one);
  CHECK((other[0].to(torch::kInt) - alone[0].to(torch::kInt)).abs().sum().item<int64_t>() > 0);
}

TEST_CASE("diffae: bad model folders name the file", "[diffae]") {
  auto t = make_method();
  const fs::path good = export_folder(*t->method, "diffae_bad_src");
  auto copy = [&](const std::string& tag) {
    const fs::path dir = mdlab::test::temp_dir(tag);
    fs::remove_all(dir);
    fs::copy(good, dir, fs::copy_options::recursive);
    return dir;
  };
  auto write = [](const fs::path& file, const Json& j) { std::ofstream(file) << j.dump(); };
  auto read = [](const fs::path& file) { return read_json_file(file); };

  SECTION("missing unet") {
    auto dir = copy("diffae_bad_unet");
    fs::remove_all(dir / "unet");
    CHECK_THROWS_WITH(load_folder(dir), Catch::Contains("component 'unet' is missing"));
  }
  SECTION("another pipeline class") {
    auto dir = copy("diffae_bad_class");
    auto j = read(dir / "model_index.json");
    j["_class_name"] = "StableDiffusionImageVariationPipeline";
    write(dir / "model_index.json", j);
    CHECK_THROWS_WITH(DiffaePipeline::encoder_config(dir),
                      Catch::Contains("model_index.json") && Catch::Contains("diffae_variations"));
  }
  SECTION("code width disagrees") {
    auto dir = copy("diffae_bad_width");
    auto j = read(dir / "encoder" / "config.json");
    j["feature_dim"] = 32;
    write(dir / "encoder" / "config.json", j);
    CHECK_THROWS_WITH(load_folder(dir),
                      Catch::Contains("encoder/config.json") && Catch::Contains("feature_dim"));
  }
  SECTION("channels disagree") {
    auto dir = copy("diffae_bad_channels");
    auto j = read(dir / "encoder" / "config.json");
    j["channels"] = 3;
    write(dir / "encoder" / "config.json", j);
    CHECK_THROWS_WITH(load_folder(dir),
                      Catch::Contains("unet/config.json") && Catch::Contains("in_channels"));
  }
  SECTION("missing encoder key") {
    auto dir = copy("diffae_bad_key");
    auto j = read(dir / "encoder" / "config.json");
    j.erase("plugin");
    write(dir / "encoder" / "config.json", j);
    CHECK_THROWS_WITH(DiffaePipeline::encoder_config(dir),
                      Catch::Contains("encoder/config.json") && Catch::Contains("'plugin'"));
  }
  SECTION("truncated weights") {
    auto dir = copy("diffae_bad_weights");
    const auto file = dir / "unet" / "diffusion_pytorch_model.safetensors";
    fs::resize_file(file, fs::file_size(file) / 2);
    CHECK_THROWS_WITH(load_folder(dir), Catch::Contains("diffusion_pytorch_model.safetensors"));
  }
}

TEST_CASE("diffae: the UNet config survives its JSON and refuses a missing code", "[diffae]") {
  DiffaeDenoiserSpec spec;
  spec.channels = 1;
  spec.code_dim = 16;
  spec.block_out_channels = {32, 64};
  spec.attention = {0, 1};
  const auto config = diffae_unet_config(spec);
  const UNetConfig back(JsonConfig(unet_config_json(config), "unet/config.json"));
  CHECK(back.down_block_types == config.down_block_types);
  CHECK(back.up_block_types == std::vector<std::string>{"CrossAttnUpBlock2D", "UpBlock2D"});
  CHECK(back.class_embed_type == "projection");
  CHECK(back.projection_class_embeddings_input_dim == 16);
  CHECK(back.heads == config.heads);
  UNet unet(back);
  auto x = torch::randn({1, 1, 8, 8});
  auto code = torch::randn({1, 16});
  CHECK(unet->forward(x, torch::tensor({3.0f}), code.unsqueeze(1), code).sizes() == x.sizes());
  CHECK_THROWS_WITH(unet->forward(x, torch::tensor({3.0f}), code.unsqueeze(1)),
                    Catch::Contains("class_labels"));
  // The adaptive GroupNorm conditioning is part of the config (a loader builds the same net).
  spec.resnet_time_scale_shift = "scale_shift";
  const UNetConfig adaptive(
      JsonConfig(unet_config_json(diffae_unet_config(spec)), "unet/config.json"));
  CHECK(adaptive.resnet_time_scale_shift == "scale_shift");
  CHECK(back.resnet_time_scale_shift == "default");
  int64_t plain_size = 0, adaptive_size = 0;
  for (const auto& p : unet->parameters()) plain_size += p.numel();
  for (const auto& p : UNet(adaptive)->parameters()) adaptive_size += p.numel();
  CHECK(adaptive_size > plain_size);
  spec.norm_num_groups = 5;
  CHECK_THROWS_WITH(diffae_unet_config(spec), Catch::Contains("norm_num_groups = 5"));
}

TEST_CASE("diffae: strength below 1 denoises the noised source from part-way", "[diffae]") {
  auto t = make_method();
  train_steps(*t->method, t->images, 10);
  const fs::path dir = export_folder(*t->method, "diffae_strength");
  DiffaeSettings settings;
  settings.steps = 10;
  settings.strength = 0.3;  // the last three steps
  auto pipeline = load_folder(dir, settings);
  const auto rgb = to_rgb(t->images[1]);
  const auto unit = pipeline->preprocess({rgb});
  const auto sources = unit * 2 - 1;
  mdlab::NoiseSource seed;
  seed.seeds = {42};
  BatchNoise noise(seed, 1);
  std::vector<size_t> steps;
  torch::Tensor first_input;
  auto out = pipeline->sample(pipeline->encode(unit), noise, sources, [&](const StepRecord& r) {
    if (steps.empty()) first_input = r.unet_input;
    steps.push_back(r.index);
  });
  CHECK(steps == std::vector<size_t>{7, 8, 9});
  // The first UNet input is the source at the noise level of step 7 (alpha_bar of its timestep).
  BatchNoise again(seed, 1);
  const auto drawn = again.draw({1, 1, 8, 8});
  const JsonConfig scheduler_json(dir / "scheduler" / "scheduler_config.json");
  auto ddim = make_scheduler(scheduler_json, "ddim", {});
  ddim->set_timesteps(10);
  const NoiseSchedule schedule(scheduler_json, "ddim");
  const double a =
      schedule.alphas_cumprod[static_cast<int64_t>(ddim->timesteps()[7])].item<float>();
  CHECK((first_input - (std::sqrt(a) * sources + std::sqrt(1 - a) * drawn))
            .abs()
            .max()
            .item<double>() <= 1e-5);
  // generate() does the same from the uint8 image, deterministically per seed.
  const auto generated = pipeline->generate({rgb}, seed);
  CHECK(torch::equal(generated, DiffaePipeline::to_uint8(out)));
  // PNDM is refused when the pipeline is built, naming the way out.
  settings.scheduler = "pndm";
  CHECK_THROWS_WITH(load_folder(dir, settings), Catch::Contains("use scheduler = \"ddim\""));
}

TEST_CASE("diffae: NaN samples are an error, not black images", "[diffae]") {
  auto samples = torch::zeros({2, 1, 8, 8});
  samples[1][0][3][3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(DiffaePipeline::to_uint8(samples), Catch::Contains("NaN or infinite"));
  CHECK_THROWS_WITH(VariationPipeline::to_uint8(samples.expand({2, 3, 8, 8})),
                    Catch::Contains("NaN or infinite"));
  CHECK(DiffaePipeline::to_uint8(torch::zeros({1, 1, 8, 8})).sizes() ==
        torch::IntArrayRef({1, 3, 8, 8}));
}
