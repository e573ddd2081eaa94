// The UNet and the VAE against diffusers (../shared/fixtures/sd_variations_tiny): every
// recorded UNet call of the three reference runs fed its stored inputs, the VAE decode of the
// final latents, and the errors of bad configs and weights.
#include "compare.h"
#include "fixtures.h"
#include "layers.h"
#include "model_folder.h"
#include "unet.h"
#include "vae.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <fstream>
#include <map>

namespace fs = std::filesystem;
using namespace mdlab::diffusion;
using mdlab::test::all_close;
using mdlab::test::max_abs_diff;
using mdlab::test::write_text;

TEST_CASE("unet matches diffusers on every recorded call", "[unet]") {
  auto dir = mdlab::test::fixture_dir("sd_variations_tiny");
  if (!dir) return;
  torch::NoGradGuard no_grad;
  UNet unet = load_unet(*dir / "pipeline" / "unet", torch::kCPU, torch::kFloat);
  for (const char* run : {"pndm_cfg", "ddim_cfg", "pndm_nocfg"}) {
    auto rec = mdlab::read_safetensors(*dir / fmt::format("run_{}.safetensors", run));
    const bool cfg = rec.contains("step00_noise_pred_uncond");
    const auto context = rec.at("encoder_hidden_states");
    const int64_t steps = rec.at("timesteps").size(0);
    for (int64_t s = 0; s < steps; ++s) {
      const auto key = [&](const char* what) { return fmt::format("step{:02d}_{}", s, what); };
      auto out = unet->forward(rec.at(key("unet_input")), rec.at(key("timestep")), context);
      if (cfg) {
        auto halves = out.chunk(2);
        INFO(run << " step " << s << " uncond max diff "
                 << max_abs_diff(halves[0], rec.at(key("noise_pred_uncond"))));
        CHECK(all_close(halves[0], rec.at(key("noise_pred_uncond")), 1e-4, 1e-4));
        INFO(run << " step " << s << " cond max diff "
                 << max_abs_diff(halves[1], rec.at(key("noise_pred_cond"))));
        CHECK(all_close(halves[1], rec.at(key("noise_pred_cond")), 1e-4, 1e-4));
      } else {
        INFO(run << " step " << s << " max diff "
                 << max_abs_diff(out, rec.at(key("noise_pred_cond"))));
        CHECK(all_close(out, rec.at(key("noise_pred_cond")), 1e-4, 1e-4));
      }
    }
  }
}

TEST_CASE("vae decodes the final latents as diffusers does", "[vae]") {
  auto dir = mdlab::test::fixture_dir("sd_variations_tiny");
  if (!dir) return;
  torch::NoGradGuard no_grad;
  Vae vae = load_vae(*dir / "pipeline" / "vae", torch::kCPU, torch::kFloat);
  CHECK(vae->config().scale_factor() == 8);
  CHECK(vae->config().scaling_factor == Approx(0.18215));
  for (const char* run : {"pndm_cfg", "ddim_cfg", "pndm_nocfg"}) {
    auto rec = mdlab::read_safetensors(*dir / fmt::format("run_{}.safetensors", run));
    auto decoded = vae->decode(rec.at("vae_decode_input"));
    INFO(run << " max diff " << max_abs_diff(decoded, rec.at("decoded")));
    CHECK(all_close(decoded, rec.at("decoded"), 1e-3, 0.0));
  }
  // The encoder runs and gives latents of the right shape (no reference output exists).
  auto [mean, logvar] = vae->encode(torch::zeros({1, 3, 64, 64}));
  CHECK(mean.sizes() == torch::IntArrayRef({1, 4, 8, 8}));
  CHECK(logvar.sizes() == torch::IntArrayRef({1, 4, 8, 8}));
}

TEST_CASE("unet and vae state-dict names equal the diffusers files", "[unet][vae]") {
  auto dir = mdlab::test::fixture_dir("sd_variations_tiny");
  if (!dir) return;
  for (const char* component : {"unet", "vae"}) {
    const fs::path folder = *dir / "pipeline" / component;
    auto file = mdlab::read_safetensors(find_weights(folder));
    std::vector<std::pair<std::string, torch::Tensor>> ours;
    if (std::string(component) == "unet") {
      ours = mdlab::state_dict(*UNet(UNetConfig(JsonConfig(folder / "config.json"))));
    } else {
      ours = mdlab::state_dict(*Vae(VaeConfig(JsonConfig(folder / "config.json"))));
    }
    std::set<std::string> names;
    for (const auto& [name, tensor] : ours) {
      names.insert(name);
      INFO(component << ": " << name);
      REQUIRE(file.contains(name));
      CHECK(file.at(name).sizes() == tensor.sizes());
    }
    CHECK(names.size() == file.tensors.size());
  }
}

TEST_CASE("vae loads the attention names of old checkpoints", "[vae]") {
  CHECK(vae_current_name("decoder.mid_block.attentions.0.query.weight") ==
        "decoder.mid_block.attentions.0.to_q.weight");
  CHECK(vae_current_name("encoder.mid_block.attentions.0.proj_attn.bias") ==
        "encoder.mid_block.attentions.0.to_out.0.bias");
  CHECK(vae_current_name("decoder.up_blocks.0.resnets.0.conv1.weight") ==
        "decoder.up_blocks.0.resnets.0.conv1.weight");
}

TEST_CASE("unet configs outside the supported layout are named", "[unet][errors]") {
  const fs::path tmp = mdlab::test::temp_dir("unet_config");
  const fs::path file = tmp / "config.json";
  auto error_of = [&](const std::string& json) -> std::string {
    write_text(file, json);
    try {
      UNetConfig config{JsonConfig(file)};
    } catch (const mdlab::Error& e) {
      return e.what();
    }
    return "";
  };
  auto bad_block = error_of(R"({"down_block_types": ["SimpleCrossAttnDownBlock2D", "DownBlock2D"],
                                "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
                                "block_out_channels": [32, 64]})");
  CHECK_THAT(bad_block, Catch::Contains("down_block_types") &&
                            Catch::Contains("SimpleCrossAttnDownBlock2D") &&
                            Catch::Contains(file.string()));
  CHECK_THAT(error_of(R"({"class_embed_type": "timestep"})"),
             Catch::Contains("class_embed_type") && Catch::Contains("not supported"));
  CHECK_THAT(error_of(R"({"layers_per_block": "two"})"),
             Catch::Contains("layers_per_block") && Catch::Contains("wrong type"));
  CHECK_THAT(error_of(R"({"attention_head_dim": [8, 8]})"),
             Catch::Contains("attention_head_dim") && Catch::Contains("4 down blocks"));
  CHECK_THAT(error_of("{ not json"), Catch::Contains("not valid JSON"));
  // Sizes are checked before anything is allocated: 0 groups divided by zero (SIGFPE) and 1e9
  // layers ran out of memory before these checks; fractions were truncated.
  CHECK_THAT(error_of(R"({"norm_num_groups": 0})"),
             Catch::Contains("norm_num_groups") && Catch::Contains("outside [1, 16384]"));
  CHECK_THAT(error_of(R"({"layers_per_block": 1e9})"),
             Catch::Contains("layers_per_block") && Catch::Contains("outside [1, 256]"));
  CHECK_THAT(error_of(R"({"in_channels": 3.5})"),
             Catch::Contains("in_channels") && Catch::Contains("whole number, got 3.5"));
  CHECK_THAT(error_of(R"({"block_out_channels": [32, 64.5, 64, 64]})"),
             Catch::Contains("block_out_channels") && Catch::Contains("whole number"));
  CHECK_THAT(error_of(R"({"sample_size": -8})"), Catch::Contains("sample_size"));
  CHECK_THAT(error_of(R"({"norm_eps": 0})"), Catch::Contains("norm_eps"));
  CHECK_THAT(error_of(R"({"cross_attention_dim": 0})"), Catch::Contains("cross_attention_dim"));
  CHECK_THAT(error_of(R"({"transformer_layers_per_block": [1, 1, 1, 100000]})"),
             Catch::Contains("transformer_layers_per_block"));
  // A whole number written as a float is a whole number.
  CHECK(error_of(R"({"layers_per_block": 2.0})").empty());
  CHECK(error_of(R"({"resnet_time_scale_shift": "scale_shift"})").empty());
  CHECK_THAT(error_of(R"({"resnet_time_scale_shift": "ada_group"})"),
             Catch::Contains("resnet_time_scale_shift") && Catch::Contains("ada_group") &&
                 Catch::Contains("not supported"));
}

TEST_CASE("ResnetBlock2D's scale_shift conditioning is diffusers' adaptive GroupNorm", "[unet]") {
  torch::manual_seed(4);
  ResnetBlock2D added(4, 6, 5, 2, 1e-5);
  ResnetBlock2D adaptive(4, 6, 5, 2, 1e-5, 1.0, /*scale_shift=*/true);
  auto params = [](torch::nn::Module& m) {
    std::map<std::string, torch::Tensor> p;
    for (const auto& item : m.named_parameters()) p[item.key()] = item.value();
    return p;
  };
  auto a = params(*added), s = params(*adaptive);
  // The time projection makes a scale and a shift per output channel.
  CHECK(a.at("time_emb_proj.weight").sizes() == torch::IntArrayRef({6, 5}));
  CHECK(s.at("time_emb_proj.weight").sizes() == torch::IntArrayRef({12, 5}));
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, p] : s) p.normal_(0, 0.3);
  }
  const auto x = torch::randn({2, 4, 5, 5});
  const auto temb = torch::randn({2, 5});
  namespace F = torch::nn::functional;
  auto conv = [&](const torch::Tensor& in, const std::string& name, int64_t padding) {
    return F::conv2d(in, s.at(name + ".weight"),
                     F::Conv2dFuncOptions().bias(s.at(name + ".bias")).padding(padding));
  };
  auto norm = [&](const torch::Tensor& in, const std::string& name) {
    return F::group_norm(in, F::GroupNormFuncOptions(2)
                                 .weight(s.at(name + ".weight"))
                                 .bias(s.at(name + ".bias"))
                                 .eps(1e-5));
  };
  auto h = conv(torch::silu(norm(x, "norm1")), "conv1", 1);
  auto t = F::linear(torch::silu(temb), s.at("time_emb_proj.weight"), s.at("time_emb_proj.bias"));
  auto scale = t.slice(1, 0, 6).unsqueeze(-1).unsqueeze(-1);
  auto shift = t.slice(1, 6, 12).unsqueeze(-1).unsqueeze(-1);
  h = conv(torch::silu(norm(h, "norm2") * (1 + scale) + shift), "conv2", 1);
  const auto expected = conv(x, "conv_shortcut", 0) + h;
  torch::NoGradGuard no_grad;
  CHECK(max_abs_diff(adaptive->forward(x, temb), expected) < 1e-5);
}

TEST_CASE("vae configs with degenerate values are named", "[vae][errors]") {
  const fs::path tmp = mdlab::test::temp_dir("vae_config");
  const fs::path file = tmp / "config.json";
  auto error_of = [&](const std::string& json) -> std::string {
    write_text(file, json);
    try {
      VaeConfig config{JsonConfig(file)};
    } catch (const mdlab::Error& e) {
      return e.what();
    }
    return "";
  };
  // scaling_factor 0 decoded every latent to the same black image.
  CHECK_THAT(error_of(R"({"scaling_factor": 0})"),
             Catch::Contains("scaling_factor") && Catch::Contains(file.string()));
  CHECK_THAT(error_of(R"({"norm_num_groups": 0})"), Catch::Contains("norm_num_groups"));
  CHECK_THAT(error_of(R"({"block_out_channels": []})"), Catch::Contains("block_out_channels"));
  CHECK_THAT(error_of(R"({"latent_channels": 1e12})"), Catch::Contains("latent_channels"));
  CHECK(error_of(R"({"block_out_channels": [32, 64], "norm_num_groups": 32})").empty());
}

TEST_CASE("JSON configs are read with size and nesting limits", "[folder][errors]") {
  const fs::path tmp = mdlab::test::temp_dir("json_limits");
  // A device would be read until memory runs out.
  CHECK_THROWS_WITH(read_json_file("/dev/zero"), Catch::Contains("not a regular file"));
  const fs::path big = tmp / "big.json";
  {
    std::ofstream out(big, std::ios::binary);
    out << "{\"pad\": \"";
    const std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 17; ++i) out << chunk;
    out << "\"}";
  }
  CHECK_THROWS_WITH(read_json_file(big),
                    Catch::Contains(big.string()) && Catch::Contains("at most 16777216 bytes"));
  const fs::path deep = tmp / "deep.json";
  // Built by appending: GCC 12 warns (-Warray-bounds) on a literal + a long temporary string.
  std::string nested = "{\"a\": ";
  nested.append(100000, '[').append(100000, ']').append("}");
  write_text(deep, nested);
  CHECK_THROWS_WITH(read_json_file(deep),
                    Catch::Contains(deep.string()) && Catch::Contains("nest at most 64 deep"));
  fs::remove_all(tmp);
}

TEST_CASE("weights of the wrong shape name the tensor and both shapes", "[unet][errors]") {
  auto dir = mdlab::test::fixture_dir("sd_variations_tiny");
  if (!dir) return;
  const fs::path tmp = mdlab::test::temp_dir("unet_shapes");
  const fs::path src = *dir / "pipeline" / "unet";
  fs::copy_file(src / "config.json", tmp / "config.json");
  auto weights = mdlab::read_safetensors(find_weights(src));
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& name : weights.names) {
    auto t = weights.at(name);
    if (name == "conv_in.weight") t = torch::zeros({32, 4, 5, 5});
    tensors.emplace_back(name, t);
  }
  mdlab::write_safetensors(tmp / "diffusion_pytorch_model.safetensors", tensors);
  try {
    load_unet(tmp, torch::kCPU, torch::kFloat);
    FAIL("no error for a mis-shaped weight");
  } catch (const mdlab::Error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("conv_in.weight") &&
                                          Catch::Contains("[32, 4, 5, 5]") &&
                                          Catch::Contains("[32, 4, 3, 3]") &&
                                          Catch::Contains("diffusion_pytorch_model.safetensors"));
  }
}

TEST_CASE("model folders without safetensors weights explain the conversion", "[folder][errors]") {
  const fs::path tmp = mdlab::test::temp_dir("pickle_only");
  write_text(tmp / "model_index.json", R"({"_class_name": "StableDiffusionImageVariationPipeline",
                                           "unet": ["diffusers", "UNet2DConditionModel"]})");
  fs::create_directories(tmp / "unet");
  write_text(tmp / "unet" / "diffusion_pytorch_model.bin", "pickle");
  ModelFolder folder(tmp);
  CHECK(folder.pipeline_class() == "StableDiffusionImageVariationPipeline");
  CHECK(folder.component_class("unet") == "UNet2DConditionModel");
  CHECK_THROWS_WITH(
      find_weights(folder.component("unet")),
      Catch::Contains("diffusion_pytorch_model.bin") && Catch::Contains("safe_serialization=True"));
  CHECK_THROWS_WITH(folder.component("vae"),
                    Catch::Contains("component 'vae' is missing") && Catch::Contains("vae"));
  CHECK_THROWS_WITH(ModelFolder(tmp / "unet"), Catch::Contains("no model_index.json"));
}
