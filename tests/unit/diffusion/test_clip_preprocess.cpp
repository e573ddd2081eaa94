// CLIP preprocessing beyond test_clip.cpp's bit-exact resize of the fixture photos: the tiny
// pipeline's pixel values from its input PNG, transformers' centre crop (fixture `cropped`, and
// the zero padding of images smaller than the crop), PIL's bilinear filter on a hand-computed
// case, the squash mode's geometry, and the preprocessor_config.json formats and errors.
#include "clip_preprocess.h"
#include "compare.h"
#include "fixtures.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

namespace fs = std::filesystem;
using namespace mdlab::diffusion;
using mdlab::test::error_of;
using mdlab::test::max_abs_diff;

namespace {

JsonConfig preprocessor_config(const std::string& text) {
  return mdlab::test::json_config("preprocessor_config.json", text);
}

}  // namespace

TEST_CASE("the tiny pipeline's pixel values from its input photo", "[clip]") {
  auto dir = mdlab::test::fixture_dir("sd_variations_tiny");
  if (!dir) return;
  const ClipPreprocessConfig config(
      JsonConfig(*dir / "pipeline" / "feature_extractor" / "preprocessor_config.json"));
  auto image = mdlab::test::read_image_hwc(*dir / "input.png");
  REQUIRE(image.sizes() == torch::IntArrayRef({300, 451, 3}));
  auto pixels =
      clip_preprocess(image.permute({2, 0, 1}), config, PreprocessMode::feature_extractor);
  CHECK(pixels.scalar_type() == torch::kFloat);
  const auto want = mdlab::read_safetensors(*dir / "run_pndm_cfg.safetensors").at("pixel_values");
  INFO("pixel_values max diff " << max_abs_diff(pixels.unsqueeze(0), want));
  CHECK(max_abs_diff(pixels.unsqueeze(0), want) <= 1e-6);
}

TEST_CASE("the centre crop of the resized photos equals transformers'", "[clip]") {
  auto dir = mdlab::test::fixture_dir("clip_vision");
  if (!dir) return;
  for (const char* name : {"chelsea", "astronaut_portrait"}) {
    INFO(name);
    auto ref = mdlab::read_safetensors(*dir / "preprocess" / fmt::format("{}.safetensors", name));
    CHECK(torch::equal(center_crop(ref.at("resized"), 224, 224).contiguous(), ref.at("cropped")));
  }
}

TEST_CASE("the centre crop pads images smaller than the crop with zeros", "[clip]") {
  auto image = (torch::arange(1, 16, torch::kInt).view({3, 5, 1}) * 10).to(torch::kUInt8);
  // Height 3 < 4: one zero row above (ceil(1 / 2)); width 5 > 4: left = (5 - 4) // 2 = 0.
  auto crop = center_crop(image, 4, 4);
  REQUIRE(crop.sizes() == torch::IntArrayRef({4, 4, 1}));
  CHECK(torch::equal(crop[0], torch::zeros({4, 1}, torch::kUInt8)));
  CHECK(torch::equal(crop.slice(0, 1, 4), image.slice(1, 0, 4)));
  // Both sides smaller, odd excess: 1 x 2 in 4 x 5 -> rows ceil(3 / 2) = 2, columns 2.
  auto tiny = torch::full({1, 2, 1}, 9, torch::kUInt8);
  auto padded = center_crop(tiny, 4, 5);
  REQUIRE(padded.sizes() == torch::IntArrayRef({4, 5, 1}));
  CHECK(padded.sum().item<int64_t>() == 18);
  CHECK(padded[2][2][0].item<int>() == 9);
  CHECK(padded[2][3][0].item<int>() == 9);
  // Odd excess on a larger image: top = (7 - 4) // 2 = 1.
  auto rows = torch::arange(0, 7, torch::kInt).to(torch::kUInt8).view({7, 1, 1});
  CHECK(center_crop(rows, 4, 1)[0][0][0].item<int>() == 1);
}

TEST_CASE("PIL's bilinear filter on a hand-computed downscale", "[clip]") {
  // 4 -> 2 pixels: scale 2, support 2; output 0 centred at 1.0 reads pixels 0..2 with triangle
  // weights 0.75, 0.75, 0.25 (/ 1.75); output 1 centred at 3.0 reads pixels 1..3 with 0.25,
  // 0.75, 0.75: (0 * 3 + 100 * 3 + 200) / 7 = 71.4 and (100 + 200 * 3 + 255 * 3) / 7 = 209.3.
  auto row = torch::tensor({0, 100, 200, 255}, torch::kInt).to(torch::kUInt8).view({1, 4, 1});
  auto out = pil_resize(row, 2, 1, PilFilter::bilinear);
  REQUIRE(out.sizes() == torch::IntArrayRef({1, 2, 1}));
  CHECK(out[0][0][0].item<int>() == 71);
  CHECK(out[0][1][0].item<int>() == 209);
  // The same along the vertical axis.
  auto column = row.view({4, 1, 1});
  auto down = pil_resize(column, 1, 2, PilFilter::bilinear);
  CHECK(down[0][0][0].item<int>() == 71);
  CHECK(down[1][0][0].item<int>() == 209);
  // Bicubic overshoot is clipped to uint8, not wrapped: a hard edge upscaled.
  auto edge = torch::tensor({0, 0, 255, 255}, torch::kInt).to(torch::kUInt8).view({1, 4, 1});
  auto up = pil_resize(edge, 16, 1, PilFilter::bicubic);
  CHECK(up.min().item<int>() == 0);
  CHECK(up.max().item<int>() == 255);
  CHECK(up[0][0][0].item<int>() == 0);
  CHECK(up[0][15][0].item<int>() == 255);
}

TEST_CASE("squash keeps the whole image and the feature extractor crops its centre", "[clip]") {
  // 100 x 300: the left sixth white, the rest black.
  auto image = torch::zeros({3, 100, 300}, torch::kUInt8);
  image.slice(2, 0, 50).fill_(255);
  const ClipPreprocessConfig config;
  const float white = (1.0f - config.mean[0]) / config.std[0];
  const float black = (0.0f - config.mean[0]) / config.std[0];
  auto squashed = clip_preprocess(image, config, PreprocessMode::squash);
  REQUIRE(squashed.sizes() == torch::IntArrayRef({3, 224, 224}));
  CHECK(squashed[0][100][5].item<float>() == Approx(white).margin(1e-4));
  CHECK(squashed[0][100][200].item<float>() == Approx(black).margin(1e-4));
  // torch's bicubic (A = -0.75, no antialias) of a float step overshoots: values beyond white.
  CHECK(squashed[0].max().item<float>() > white + 0.01f);
  // Resized to 224 x 672 and cropped at column 224: the white band (columns < 112) is gone.
  auto cropped = clip_preprocess(image, config, PreprocessMode::feature_extractor);
  REQUIRE(cropped.sizes() == torch::IntArrayRef({3, 224, 224}));
  CHECK(cropped[0].max().item<float>() == Approx(black).margin(1e-6));
}

TEST_CASE("preprocessor configs in the legacy and current formats with defaults and errors",
          "[clip][errors]") {
  const ClipPreprocessConfig legacy(preprocessor_config(
      R"({"size": 256, "crop_size": 240, "resample": 2, "do_center_crop": false})"));
  CHECK(legacy.shortest_edge == 256);
  CHECK(legacy.crop_height == 240);
  CHECK(legacy.crop_width == 240);
  CHECK(legacy.resample == PilFilter::bilinear);
  CHECK_FALSE(legacy.do_center_crop);
  const ClipPreprocessConfig current(preprocessor_config(
      R"({"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 200},
          "image_mean": 0.5, "image_std": [0.1, 0.2, 0.3], "do_normalize": true})"));
  CHECK(current.shortest_edge == 224);
  CHECK(current.crop_width == 200);
  CHECK(current.mean == std::array<float, 3>{0.5f, 0.5f, 0.5f});
  CHECK(current.std[2] == 0.3f);
  const ClipPreprocessConfig empty(preprocessor_config("{}"));
  CHECK(empty.shortest_edge == 224);
  CHECK(empty.resample == PilFilter::bicubic);
  CHECK(empty.rescale_factor == Approx(1 / 255.0));

  CHECK_THAT(
      error_of([] {
        ClipPreprocessConfig{preprocessor_config(R"({"size": {"height": 224, "width": 224}})")};
      }),
      Catch::Contains("'size'") && Catch::Contains("shortest_edge") &&
          Catch::Contains("preprocessor_config.json"));
  CHECK_THAT(error_of([] {
               ClipPreprocessConfig{preprocessor_config(R"({"size": {"shortest_edge": "big"}})")};
             }),
             Catch::Contains("size"));
  CHECK_THAT(error_of([] {
               ClipPreprocessConfig{preprocessor_config(R"({"crop_size": {"height": 224}})")};
             }),
             Catch::Contains("crop_size"));
  CHECK_THAT(error_of([] { ClipPreprocessConfig{preprocessor_config(R"({"resample": 0})")}; }),
             Catch::Contains("resample") && Catch::Contains("= 0"));
  CHECK_THAT(error_of([] { ClipPreprocessConfig{preprocessor_config(R"({"size": 0})")}; }),
             Catch::Contains("size") && Catch::Contains("outside [1, 16384]"));
  // A zero std turned every pixel into inf; an absurd crop reached the allocator.
  CHECK_THAT(error_of([] {
               ClipPreprocessConfig{preprocessor_config(R"({"image_std": [0.2, 0, 0.2]})")};
             }),
             Catch::Contains("image_std") && Catch::Contains("positive"));
  CHECK_THAT(
      error_of([] { ClipPreprocessConfig{preprocessor_config(R"({"crop_size": 1000000000})")}; }),
      Catch::Contains("crop_size") && Catch::Contains("outside"));
  CHECK_THAT(error_of([] { ClipPreprocessConfig{preprocessor_config(R"({"do_resize": "yes"})")}; }),
             Catch::Contains("do_resize"));

  const ClipPreprocessConfig config;
  CHECK_THAT(error_of([&] {
               clip_preprocess(torch::zeros({4, 10, 10}, torch::kUInt8), config,
                               PreprocessMode::feature_extractor);
             }),
             Catch::Contains("[3, H, W]") && Catch::Contains("[4, 10, 10]"));
  CHECK_THAT(error_of([&] {
               clip_preprocess(torch::zeros({3, 10, 10}), config, PreprocessMode::squash);
             }),
             Catch::Contains("uint8"));
  CHECK_THAT(error_of([] {
               pil_resize(torch::zeros({4, 4, 3}, torch::kUInt8), 0, 2, PilFilter::bicubic);
             }),
             Catch::Contains("0x2"));
}
