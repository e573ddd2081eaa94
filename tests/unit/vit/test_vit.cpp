// ViT parity with DINO's vision_transformer.py on the reference fixture (../shared/fixtures/vit):
// CLS outputs at 224, 96 and 128x96 px and the last block's attention, for the fresh weights
// and the perturbed variant; plus names, shapes, options and the plugin's loading.
#include "fixtures.h"
#include "plugin_registry.h"
#include "vit.h"

#include <mdlab/safetensors.h>
#include <mdlab/state_dict.h>

#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <set>

namespace {

mdlab::vit::ViTConfig tiny() {
  auto c = mdlab::vit::architecture("tiny", 16);
  c.drop_path_rate = 0.0;
  return c;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

void check_close(const torch::Tensor& got, const torch::Tensor& want, double atol, double rtol,
                 const std::string& what) {
  INFO(what << ": max |err| " << max_abs_diff(got, want));
  REQUIRE(got.sizes() == want.sizes());
  CHECK(torch::allclose(got, want, rtol, atol));
}

}  // namespace

TEST_CASE("ViT-tiny/16 matches DINO on the reference inputs") {
  auto dir = mdlab::test::fixture_dir("vit");
  if (!dir) return;
  auto io = mdlab::read_safetensors(*dir / "io.safetensors");
  for (const bool perturbed : {false, true}) {
    mdlab::vit::ViT model(tiny(), mdlab::make_cpu_generator(0));
    model.load_weights(*dir / "weights.safetensors");
    if (perturbed) {
      auto over = mdlab::read_safetensors(*dir / "pert_override.safetensors");
      mdlab::LoadOptions partial;
      partial.strict = false;
      mdlab::load_state_dict(model, over.tensors, partial);
    }
    model.eval();
    torch::NoGradGuard no_grad;
    const std::string suffix = perturbed ? "_pert" : "";
    for (const std::string size : {"224", "96", "128x96"}) {
      auto out = model.forward(io.at("input_" + size));
      check_close(out, io.at("cls_" + size + suffix), 1e-4, 1e-4, "cls_" + size + suffix);
    }
    auto attention = model.last_attention(io.at("input_224"));
    REQUIRE(attention);
    check_close(*attention, io.at("lastattn_224" + suffix), 1e-5, 0.0, "lastattn_224" + suffix);
  }
}

TEST_CASE("ViT's state dict has DINO's names and shapes") {
  auto dir = mdlab::test::fixture_dir("vit");
  if (!dir) return;
  auto reference = mdlab::read_safetensors(*dir / "weights.safetensors");
  mdlab::vit::ViT model(tiny(), mdlab::make_cpu_generator(0));
  auto ours = mdlab::state_dict(model);
  std::set<std::string> names;
  for (auto& [name, tensor] : ours) {
    names.insert(name);
    REQUIRE(reference.contains(name));
    CHECK(reference.at(name).sizes() == tensor.sizes());
  }
  CHECK(names.size() == reference.tensors.size());
}

TEST_CASE("ViT widths, patch 8, odd sizes and channels") {
  torch::NoGradGuard no_grad;
  for (const std::string arch : {"tiny", "small"}) {
    auto c = mdlab::vit::architecture(arch, 16);
    c.depth = 2;
    mdlab::vit::ViT model(c, mdlab::make_cpu_generator(1));
    model.eval();
    CHECK(model.forward(torch::randn({2, 3, 64, 48})).sizes() ==
          torch::IntArrayRef({2, c.embed_dim}));
  }
  auto c = tiny();
  c.depth = 1;
  c.patch_size = 8;
  c.in_channels = 1;
  mdlab::vit::ViT model(c, mdlab::make_cpu_generator(1));
  model.eval();
  CHECK(model.pos_embed.size(1) == 1 + 28 * 28);
  CHECK(model.forward(torch::randn({1, 1, 32, 32})).sizes() == torch::IntArrayRef({1, 192}));
  // The learned grid size needs no interpolation.
  CHECK(model.interpolate_pos_encoding(224, 224).data_ptr() == model.pos_embed.data_ptr());
  auto attention = model.last_attention(torch::randn({1, 1, 32, 32}));
  REQUIRE(attention);
  CHECK(attention->sizes() == torch::IntArrayRef({1, 3, 17, 17}));
  CHECK(attention->sum(-1).allclose(torch::ones({1, 3, 17})));
  CHECK_THROWS_WITH(model.forward(torch::randn({1, 3, 32, 32})),
                    Catch::Contains("expected images [N, 1, H, W], got [1, 3, 32, 32]"));
  CHECK_THROWS_WITH(model.forward(torch::randn({1, 1, 32, 36})),
                    Catch::Contains("input 32x36 is not a whole number of 8-pixel patches"));
}

TEST_CASE("ViT init depends only on the generator and follows DINO's") {
  auto c = tiny();
  c.depth = 2;
  mdlab::vit::ViT a(c, mdlab::make_cpu_generator(5)), b(c, mdlab::make_cpu_generator(5)),
      other(c, mdlab::make_cpu_generator(6));
  CHECK(torch::equal(a.pos_embed, b.pos_embed));
  CHECK(!torch::equal(a.pos_embed, other.pos_embed));
  // Truncated at two standard deviations of 0.02.
  CHECK(a.pos_embed.abs().max().item<double>() <= 0.04 + 1e-7);
  CHECK(a.pos_embed.std().item<double>() == Approx(0.0176).margin(0.002));
  auto params = a.named_parameters();
  CHECK(torch::all(params["blocks.0.attn.qkv.bias"] == 0).item<bool>());
  CHECK(torch::all(params["norm.weight"] == 1).item<bool>());
}

TEST_CASE("drop-path is active in training only") {
  auto c = tiny();
  c.depth = 2;
  c.drop_path_rate = 0.5;
  mdlab::vit::ViT model(c, mdlab::make_cpu_generator(2));
  torch::NoGradGuard no_grad;
  auto x = torch::randn({4, 3, 32, 32});
  model.eval();
  CHECK(torch::equal(model.forward(x), model.forward(x)));
  model.train();
  torch::manual_seed(0);
  auto y1 = model.forward(x);
  torch::manual_seed(1);
  auto y2 = model.forward(x);
  CHECK(!torch::equal(y1, y2));
}

TEST_CASE("the vit plugin loads and validates its weights") {
  mdlab::PluginRegistry registry;
  REQUIRE(registry.load_file(MDLAB_VIT_PLUGIN_FILE));
  const auto* p = registry.find(MDLAB_PLUGIN_BACKBONE, "vit");
  REQUIRE(p);
  auto schema = p->factory->options_schema();
  CHECK(schema.find("arch")->check(mdlab::OptionValue(std::string("huge"))) != "");
  CHECK(schema.find("patch_size")->check(mdlab::OptionValue(int64_t{14})) != "");
}
