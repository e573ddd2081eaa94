// The CLIP image encoder and its preprocessing against transformers 4.33 and PIL 9.4
// (../shared/fixtures/clip_vision): every hidden state, the pooled output and the image
// embedding of the plain and the bias-perturbed model; PIL's bicubic resize and the centre
// crop bit for bit on two natural photos (landscape and portrait); the pixel values.
// (test_clip_vision.cpp and test_clip_preprocess.cpp cover loading, configs and errors.)
#include "clip_preprocess.h"
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
using mdlab::test::max_abs_diff;

namespace {}  // namespace

TEST_CASE("the CLIP vision encoder matches transformers layer by layer", "[clip]") {
  auto dir = mdlab::test::fixture_dir("clip_vision");
  if (!dir) return;
  torch::NoGradGuard no_grad;
  auto io = mdlab::read_safetensors(*dir / "io.safetensors");
  for (const char* variant : {"", "_pert"}) {
    INFO("model" << variant);
    auto model =
        load_clip_vision(*dir / fmt::format("model{}", variant), torch::kCPU, torch::kFloat);
    auto out = model->forward(io.at("pixel_values"), true);
    REQUIRE(out.hidden_states.size() == 3);
    for (size_t k = 0; k < out.hidden_states.size(); ++k) {
      const auto& want = io.at(fmt::format("hidden_states_{}{}", k, variant));
      INFO("hidden_states_" << k << " max diff " << max_abs_diff(out.hidden_states[k], want));
      CHECK(all_close(out.hidden_states[k], want, 1e-5, 1e-4));
    }
    const auto& last = io.at(fmt::format("last_hidden_state{}", variant));
    CHECK(all_close(out.last_hidden_state, last, 1e-5, 1e-4));
    const auto& pooled = io.at(fmt::format("pooler_output{}", variant));
    CHECK(all_close(out.pooler_output, pooled, 1e-5, 1e-4));
    const auto& embeds = io.at(fmt::format("image_embeds{}", variant));
    INFO("image_embeds max diff " << max_abs_diff(out.image_embeds, embeds));
    CHECK(all_close(out.image_embeds, embeds, 1e-5, 1e-4));
  }
}

TEST_CASE("PIL's bicubic resize and the CLIP crop are reproduced bit for bit", "[clip]") {
  auto dir = mdlab::test::fixture_dir("clip_vision");
  if (!dir) return;
  const ClipPreprocessConfig config(JsonConfig(*dir / "preprocess" / "preprocessor_config.json"));
  CHECK(config.shortest_edge == 224);
  CHECK(config.crop_height == 224);
  CHECK(config.resample == PilFilter::bicubic);
  for (const char* name : {"chelsea", "astronaut_portrait"}) {
    INFO(name);
    auto ref = mdlab::read_safetensors(*dir / "preprocess" / fmt::format("{}.safetensors", name));
    auto image = mdlab::test::read_image_hwc(*dir / "preprocess" / fmt::format("{}.png", name));
    const auto& resized = ref.at("resized");
    auto ours = pil_resize(image, resized.size(1), resized.size(0), PilFilter::bicubic);
    INFO("resized: " << (ours.to(torch::kInt) - resized.to(torch::kInt)).abs().max().item<int>()
                     << " max diff");
    CHECK(torch::equal(ours, resized));
    auto pixels =
        clip_preprocess(image.permute({2, 0, 1}), config, PreprocessMode::feature_extractor);
    INFO("pixel_values max diff " << max_abs_diff(pixels.unsqueeze(0), ref.at("pixel_values")));
    CHECK(max_abs_diff(pixels.unsqueeze(0), ref.at("pixel_values")) <= 1e-6);
  }
}

TEST_CASE("PIL resizing keeps flat images flat and handles upscaling", "[clip]") {
  auto flat = torch::full({30, 50, 3}, 77, torch::kUInt8);
  CHECK(torch::equal(pil_resize(flat, 224, 134, PilFilter::bicubic),
                     torch::full({134, 224, 3}, 77, torch::kUInt8)));
  CHECK(torch::equal(pil_resize(flat, 7, 5, PilFilter::bilinear),
                     torch::full({5, 7, 3}, 77, torch::kUInt8)));
  // Only one axis changes: the other pass is skipped, as in PIL.
  auto ramp =
      torch::arange(0, 40, torch::kInt).to(torch::kUInt8).view({1, 40, 1}).expand({6, 40, 1});
  auto narrow = pil_resize(ramp.contiguous(), 20, 6, PilFilter::bicubic);
  CHECK(narrow.sizes() == torch::IntArrayRef({6, 20, 1}));
  CHECK(torch::equal(narrow[0], narrow[5]));
}
