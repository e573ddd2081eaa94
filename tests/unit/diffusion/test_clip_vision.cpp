// The CLIP vision encoder beyond the layer-by-layer check of test_clip.cpp: the tiny
// pipeline's image_encoder against diffusers' recorded image_embeds, loading in another dtype,
// transformers' optional position_ids buffer, the gelu activation, and the errors of weights
// that do not fit the config and of wrong inputs.
#include "clip_vision.h"
#include "compare.h"
#include "fixtures.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

namespace fs = std::filesystem;
using namespace mdlab::diffusion;
using mdlab::test::all_close;
using mdlab::test::error_of;
using mdlab::test::max_abs_diff;

namespace {

// A copy of the fixture model folder `src` whose weights went through `edit`.
fs::path edited_model(const fs::path& src,
                      const std::function<void(std::map<std::string, torch::Tensor>&)>& edit) {
  const fs::path dir = mdlab::test::temp_dir("clip_weights") / "model";
  fs::create_directories(dir);
  fs::copy_file(src / "config.json", dir / "config.json");
  auto file = mdlab::read_safetensors(src / "model.safetensors");
  std::map<std::string, torch::Tensor> tensors(file.tensors.begin(), file.tensors.end());
  edit(tensors);
  mdlab::write_safetensors(
      dir / "model.safetensors",
      std::vector<std::pair<std::string, torch::Tensor>>(tensors.begin(), tensors.end()));
  return dir;
}

}  // namespace

TEST_CASE("the tiny pipeline's image encoder gives diffusers' image_embeds", "[clip]") {
  auto dir = mdlab::test::fixture_dir("sd_variations_tiny");
  if (!dir) return;
  torch::NoGradGuard no_grad;
  auto model = load_clip_vision(*dir / "pipeline" / "image_encoder", torch::kCPU, torch::kFloat);
  CHECK(model->config().image_size == 224);
  CHECK(model->config().patch_size == 32);
  // Every run embeds the same photo; run_pndm_cfg holds its pixel values.
  const auto pixels = mdlab::read_safetensors(*dir / "run_pndm_cfg.safetensors").at("pixel_values");
  auto out = model->forward(pixels);
  for (const char* run : {"pndm_cfg", "ddim_cfg", "pndm_nocfg"}) {
    INFO(run);
    auto rec = mdlab::read_safetensors(*dir / fmt::format("run_{}.safetensors", run));
    INFO("image_embeds max diff " << max_abs_diff(out.image_embeds, rec.at("image_embeds")));
    CHECK(all_close(out.image_embeds, rec.at("image_embeds"), 1e-5, 1e-4));
    CHECK(out.hidden_states.empty());
    CHECK(out.last_hidden_state.sizes() == torch::IntArrayRef({1, 50, 32}));
    // The pipeline's conditioning is the embedding as a one-token sequence.
    CHECK(all_close(out.image_embeds.unsqueeze(1), rec.at("image_embeddings_cond"), 1e-5, 1e-4));
  }
}

TEST_CASE("the CLIP encoder loads in float64 and keeps its state-dict names", "[clip]") {
  auto dir = mdlab::test::fixture_dir("clip_vision");
  if (!dir) return;
  torch::NoGradGuard no_grad;
  auto io = mdlab::read_safetensors(*dir / "io.safetensors");
  auto model = load_clip_vision(*dir / "model_pert", torch::kCPU, torch::kDouble);
  CHECK(model->parameters().front().scalar_type() == torch::kDouble);
  auto out = model->forward(io.at("pixel_values"));  // float input is converted
  CHECK(out.image_embeds.scalar_type() == torch::kDouble);
  INFO("fp64 image_embeds max diff " << max_abs_diff(out.image_embeds, io.at("image_embeds_pert")));
  CHECK(all_close(out.image_embeds, io.at("image_embeds_pert"), 1e-5, 1e-4));
  // Every parameter name is one of the file's and vice versa.
  auto file = mdlab::read_safetensors(*dir / "model" / "model.safetensors");
  const auto params = model->named_parameters();
  CHECK(params.size() == file.tensors.size());
  for (const auto& p : params) CHECK(file.contains(p.key()));
  CHECK(model->named_buffers().size() == 0);
}

TEST_CASE("transformers' position_ids buffer in a weights file is accepted", "[clip]") {
  auto dir = mdlab::test::fixture_dir("clip_vision");
  if (!dir) return;
  torch::NoGradGuard no_grad;
  // transformers < 4.31 saved the buffer; its value is arange(T), which the model implies.
  auto with_ids = edited_model(*dir / "model", [](auto& tensors) {
    tensors["vision_model.embeddings.position_ids"] = torch::arange(17, torch::kLong).unsqueeze(0);
  });
  auto io = mdlab::read_safetensors(*dir / "io.safetensors");
  auto model = load_clip_vision(with_ids, torch::kCPU, torch::kFloat);
  CHECK(all_close(model->forward(io.at("pixel_values")).image_embeds, io.at("image_embeds"), 1e-5,
                  1e-4));
}

TEST_CASE("the gelu activation is the exact (erf) GELU", "[clip]") {
  // A one-layer model whose attention contributes nothing (zero out_proj) and whose MLP is the
  // identity around the activation: the last hidden state is x + gelu(x) for the pre-normed
  // input, which pins the activation down.
  ClipVisionModelImpl model(
      ClipVisionConfig(mdlab::test::json_config("config.json",
                                                R"({"hidden_size": 4, "intermediate_size": 4,
    "num_hidden_layers": 1, "num_attention_heads": 1, "image_size": 2, "patch_size": 1,
    "projection_dim": 2, "hidden_act": "gelu"})")));
  torch::NoGradGuard no_grad;
  for (auto& p : model.named_parameters()) {
    const auto& name = p.key();
    if (name.find("out_proj") != std::string::npos) {
      p.value().zero_();
    } else if (name.find("layer_norm2") != std::string::npos) {
      if (name.find("weight") != std::string::npos) p.value().fill_(1);
      if (name.find("bias") != std::string::npos) p.value().zero_();
    } else if (name.find("mlp.fc") != std::string::npos) {
      if (name.find("weight") != std::string::npos) p.value().copy_(torch::eye(4));
      if (name.find("bias") != std::string::npos) p.value().zero_();
    }
  }
  auto out = model.forward(torch::randn({1, 3, 2, 2}), true);
  const auto& x = out.hidden_states[0];
  // layer_norm2 of x (unit weight, zero bias), as the MLP sees it.
  auto h = torch::layer_norm(x, {4}, {}, {}, 1e-5);
  auto want = x + 0.5 * h * (1 + torch::erf(h / std::sqrt(2.0)));
  CHECK(max_abs_diff(out.last_hidden_state, want) <= 1e-6);
}

TEST_CASE("CLIP weights that do not fit the config are named with both shapes", "[clip][errors]") {
  auto dir = mdlab::test::fixture_dir("clip_vision");
  if (!dir) return;
  auto reshaped = edited_model(*dir / "model", [](auto& tensors) {
    tensors["vision_model.encoder.layers.1.mlp.fc1.weight"] = torch::zeros({36, 32});
  });
  const auto reshaped_error =
      error_of([&] { load_clip_vision(reshaped, torch::kCPU, torch::kFloat); });
  CHECK_THAT(reshaped_error, Catch::Contains("vision_model.encoder.layers.1.mlp.fc1.weight") &&
                                 Catch::Contains("[36, 32]") && Catch::Contains("[37, 32]") &&
                                 Catch::Contains("model.safetensors"));
  auto missing = edited_model(*dir / "model",
                              [](auto& tensors) { tensors.erase("visual_projection.weight"); });
  CHECK_THAT(error_of([&] { load_clip_vision(missing, torch::kCPU, torch::kFloat); }),
             Catch::Contains("visual_projection.weight"));
  auto extra = edited_model(*dir / "model", [](auto& tensors) {
    tensors["text_projection.weight"] = torch::zeros({16, 32});
  });
  CHECK_THAT(error_of([&] { load_clip_vision(extra, torch::kCPU, torch::kFloat); }),
             Catch::Contains("text_projection.weight"));
}

TEST_CASE("CLIP configs and inputs outside the supported set are refused", "[clip][errors]") {
  auto config_of = [](const std::string& json) {
    return ClipVisionConfig{mdlab::test::json_config("config.json", json)};
  };
  CHECK_THAT(error_of([&] { config_of(R"({"hidden_act": "gelu_new"})"); }),
             Catch::Contains("hidden_act") && Catch::Contains("gelu_new") &&
                 Catch::Contains("config.json"));
  CHECK_THAT(error_of([&] { config_of(R"({"image_size": 100, "patch_size": 32})"); }),
             Catch::Contains("patch_size"));
  CHECK_THAT(error_of([&] { config_of(R"({"hidden_size": "wide"})"); }),
             Catch::Contains("hidden_size"));
  // A full CLIPConfig: the vision settings are nested.
  const ClipVisionConfig nested =
      config_of(R"({"model_type": "clip", "vision_config": {"hidden_size": 64,
    "num_attention_heads": 4, "patch_size": 16}})");
  CHECK(nested.hidden_size == 64);
  CHECK(nested.patch_size == 16);

  ClipVisionConfig tiny;
  tiny.hidden_size = 8;
  tiny.intermediate_size = 8;
  tiny.num_hidden_layers = 1;
  tiny.num_attention_heads = 2;
  tiny.image_size = 4;
  tiny.patch_size = 2;
  tiny.projection_dim = 3;
  ClipVisionModelImpl model(tiny);
  CHECK_THAT(error_of([&] {
               model.forward(torch::zeros({1, 3, 8, 8}));
             }),
             Catch::Contains("[N, 3, 4, 4]") && Catch::Contains("[1, 3, 8, 8]"));
  CHECK(model.forward(torch::zeros({2, 3, 4, 4})).image_embeds.sizes() ==
        torch::IntArrayRef({2, 3}));
}
