// The whole image-variation loop against diffusers' StableDiffusionImageVariationPipeline
// (../shared/fixtures/sd_variations_tiny) and VersatileDiffusionImageVariationPipeline
// (vd_tiny): pixel values, conditional and unconditional image embeddings, initial latents,
// timesteps, every step's UNet input / both UNet halves / guided prediction, final latents,
// decoded image and the uint8 output, for PNDM and DDIM with guidance and PNDM without; then
// the per-image noise contract (an image's output does not depend on its batch neighbours) and
// the start from the source's latents with strength < 1.
#include "compare.h"
#include "fixtures.h"
#include "variation_pipeline.h"

#include <mdlab/context.h>
#include <mdlab/error.h>
#include <mdlab/safetensors.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <fstream>
#include <iterator>

namespace fs = std::filesystem;
using namespace mdlab::diffusion;
using mdlab::test::all_close;
using mdlab::test::max_abs_diff;

namespace {

torch::Tensor chw_of(const fs::path& file) {
  return mdlab::test::read_image_hwc(file).permute({2, 0, 1}).contiguous();
}

// A copy of the fixture folder `from` the test may change: <temp>/<name>/pipeline.
fs::path writable_copy(const fs::path& from, const char* name) {
  const fs::path tmp = mdlab::test::temp_dir(name);
  fs::copy(from, tmp / "pipeline", fs::copy_options::recursive);
  fs::permissions(tmp / "pipeline", fs::perms::owner_all, fs::perm_options::add);
  for (const auto& entry : fs::recursive_directory_iterator(tmp / "pipeline")) {
    fs::permissions(entry.path(), fs::perms::owner_all, fs::perm_options::add);
  }
  return tmp;
}

// Replaces the first `from` in the text file `file` by `to`.
void edit_file(const fs::path& file, const std::string& from, const std::string& to) {
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  mdlab::test::write_text(file, text);
}

struct Run {
  const char* name;
  const char* scheduler;
  double guidance;
};

// Every stage of `model`'s pipeline against the fixture folder `fixture`.
void check_stages(const char* fixture, const VariationModel& model) {
  auto dir = mdlab::test::fixture_dir(fixture);
  if (!dir) return;
  torch::NoGradGuard no_grad;
  const auto input = chw_of(*dir / "input.png");
  const auto pixel_ref =
      mdlab::read_safetensors(*dir / "run_pndm_cfg.safetensors").at("pixel_values");
  for (const Run& run :
       {Run{"pndm_cfg", "", 3.0}, Run{"ddim_cfg", "ddim", 3.0}, Run{"pndm_nocfg", "", 1.0}}) {
    INFO(fixture << " run " << run.name);
    auto rec = mdlab::read_safetensors(*dir / fmt::format("run_{}.safetensors", run.name));
    VariationSettings settings;
    settings.guidance_scale = run.guidance;
    settings.steps = 5;
    settings.scheduler = run.scheduler;
    settings.height = 64;
    settings.width = 64;
    VariationPipeline pipe(*dir / "pipeline", settings, model);

    auto pixels = pipe.preprocess({input});
    INFO("pixel_values max diff " << max_abs_diff(pixels, pixel_ref));
    CHECK(max_abs_diff(pixels, pixel_ref) <= 1e-5);
    auto embeddings = pipe.embed(pixels);
    INFO("image_embeddings max diff " << max_abs_diff(embeddings, rec.at("image_embeddings_cond")));
    CHECK(all_close(embeddings, rec.at("image_embeddings_cond"), 1e-5, 1e-4));
    if (run.guidance > 1) {
      const auto& uncond = rec.at("image_embeddings_uncond");
      INFO("unconditional embedding max diff " << max_abs_diff(pipe.unconditional(), uncond));
      CHECK(all_close(pipe.unconditional(), uncond, 1e-5, 1e-4));
    }

    mdlab::NoiseSource noise;
    noise.stream = mdlab::make_cpu_generator(25);
    BatchNoise batch_noise(noise, 1);
    auto latents = pipe.initial_latents(1, batch_noise);
    CHECK(max_abs_diff(latents, rec.at("latents_init")) == 0.0);

    const auto timesteps = rec.at("timesteps");
    int64_t steps_seen = 0;
    double worst_step = 0;
    auto final_latents =
        pipe.denoise(embeddings, latents, batch_noise, [&](const StepRecord& step) {
          const auto key = [&](const char* what) {
            return fmt::format("step{:02d}_{}", step.index, what);
          };
          const auto worst = [&](const torch::Tensor& got, const char* what) {
            if (rec.contains(key(what))) {
              worst_step = std::max(worst_step, max_abs_diff(got, rec.at(key(what))));
            }
          };
          CHECK(step.timestep == timesteps[static_cast<int64_t>(step.index)].item<int64_t>());
          worst(step.unet_input, "unet_input");
          if (run.guidance > 1) {  // the UNet batch is [uncond; cond]
            worst(step.unet_output[0].unsqueeze(0), "noise_pred_uncond");
            worst(step.unet_output[1].unsqueeze(0), "noise_pred_cond");
          }
          worst(step.noise_pred, "noise_pred_guided");
          worst(step.latents_out, "latents_out");
          ++steps_seen;
        });
    CHECK(steps_seen == timesteps.size(0));
    INFO("worst per-step difference " << worst_step);
    CHECK(worst_step <= 1e-3);
    INFO("latents_final max diff " << max_abs_diff(final_latents, rec.at("latents_final")));
    CHECK(max_abs_diff(final_latents, rec.at("latents_final")) <= 1e-3);
    auto decoded = pipe.decode(final_latents);
    INFO("decoded max diff " << max_abs_diff(decoded, rec.at("decoded")));
    CHECK(max_abs_diff(decoded, rec.at("decoded")) <= 1e-3);

    auto image = VariationPipeline::to_uint8(decoded);
    auto reference = chw_of(*dir / fmt::format("output_{}.png", run.name)).unsqueeze(0);
    auto diff = (image.to(torch::kInt) - reference.to(torch::kInt)).abs();
    INFO("PNG max diff " << diff.max().item<int>() << ", pixels off "
                         << (diff > 0).sum().item<int64_t>());
    CHECK(diff.max().item<int>() <= 1);

    // generate() in one call, from the same seed, gives the same image.
    mdlab::NoiseSource again;
    again.stream = mdlab::make_cpu_generator(25);
    auto generated = pipe.generate({input}, again);
    CHECK(torch::equal(generated, image));
  }
}

}  // namespace

TEST_CASE("the SD variation loop reproduces diffusers stage by stage", "[pipeline]") {
  check_stages("sd_variations_tiny", sd_image_variations());
}

TEST_CASE("the Versatile Diffusion variation loop reproduces diffusers stage by stage",
          "[pipeline][vd]") {
  check_stages("vd_tiny", versatile_diffusion());
}

TEST_CASE("per-image seeds make an image independent of its batch", "[pipeline]") {
  auto dir = mdlab::test::fixture_dir("sd_variations_tiny");
  if (!dir) return;
  VariationSettings settings;
  settings.steps = 3;
  settings.scheduler = "ddim";
  settings.eta = 1.0;  // DDIM draws fresh noise every step: per-image streams must hold
  settings.height = 32;
  settings.width = 48;
  VariationPipeline pipe(*dir / "pipeline", settings);
  const auto photo = chw_of(*dir / "input.png");
  const auto other = torch::randint(0, 256, {3, 40, 70}, torch::kUInt8);
  mdlab::NoiseSource alone;
  alone.seeds = {7};
  auto single = pipe.generate({photo}, alone);
  CHECK(single.sizes() == torch::IntArrayRef({1, 3, 32, 48}));
  mdlab::NoiseSource batch;
  batch.seeds = {99, 7};
  auto pair = pipe.generate({other, photo}, batch);
  CHECK(torch::equal(pair[1], single[0]));
  mdlab::NoiseSource reseeded;
  reseeded.seeds = {8};
  CHECK_FALSE(torch::equal(pipe.generate({photo}, reseeded), single));
}

TEST_CASE("pipeline folders with missing or foreign parts are refused clearly",
          "[pipeline][errors]") {
  auto dir = mdlab::test::fixture_dir("sd_variations_tiny");
  if (!dir) return;
  const fs::path tmp = writable_copy(*dir / "pipeline", "pipeline_parts");
  fs::remove_all(tmp / "pipeline" / "vae");
  VariationSettings settings;
  CHECK_THROWS_WITH(VariationPipeline(tmp / "pipeline", settings),
                    Catch::Contains("component 'vae' is missing"));
  settings.dtype = torch::kHalf;
  CHECK_THROWS_WITH(VariationPipeline(*dir / "pipeline", settings),
                    Catch::Contains("fp16 needs a CUDA device"));
  settings.dtype = torch::kFloat;
  settings.height = 60;
  CHECK_THROWS_WITH(VariationPipeline(*dir / "pipeline", settings),
                    Catch::Contains("multiples of 8"));
}

TEST_CASE("strength below 1 starts from the source's noised VAE latents", "[pipeline]") {
  auto dir = mdlab::test::fixture_dir("sd_variations_tiny");
  if (!dir) return;
  VariationSettings settings;
  settings.steps = 4;
  settings.strength = 0.5;  // the last two of four steps
  settings.scheduler = "ddim";
  settings.height = 32;
  settings.width = 32;
  VariationPipeline pipe(*dir / "pipeline", settings);
  const auto photo = chw_of(*dir / "input.png");
  const auto sources = pipe.source_latents({photo});
  CHECK(sources.sizes() == torch::IntArrayRef({1, 4, 4, 4}));
  // The source latents are the scaled posterior mean of the photo fitted to 32x32 in [-1, 1]:
  // 451x300 -> 48x32 (shorter side to 32), then the centre 32 columns.
  torch::Tensor fitted;
  {
    torch::NoGradGuard no_grad;
    auto small = torch::nn::functional::interpolate(photo.to(torch::kFloat).unsqueeze(0),
                                                    torch::nn::functional::InterpolateFuncOptions()
                                                        .size(std::vector<int64_t>{32, 48})
                                                        .mode(torch::kBilinear)
                                                        .align_corners(false)
                                                        .antialias(true));
    fitted = small.slice(3, 8, 40).round().clamp(0, 255) / 127.5 - 1.0;
    auto mean = pipe.vae()->encode(fitted).first * pipe.vae()->config().scaling_factor;
    CHECK(max_abs_diff(sources, mean) <= 1e-5);
  }
  mdlab::NoiseSource seed;
  seed.seeds = {5};
  BatchNoise noise(seed, 1);
  const auto start = pipe.initial_latents(1, noise, sources);
  BatchNoise again(seed, 1);
  const auto drawn = again.draw({1, 4, 4, 4});
  const JsonConfig scheduler_json(*dir / "pipeline" / "scheduler" / "scheduler_config.json");
  auto ddim = make_scheduler(scheduler_json, "ddim", {});
  ddim->set_timesteps(4);
  const NoiseSchedule schedule(scheduler_json, "ddim");
  const double a =
      schedule.alphas_cumprod[static_cast<int64_t>(ddim->timesteps()[2])].item<float>();
  CHECK(max_abs_diff(start, std::sqrt(a) * sources + std::sqrt(1 - a) * drawn) <= 1e-5);
  // Two denoising steps run, and the result is deterministic per seed.
  size_t calls = 0;
  auto latents =
      pipe.denoise(pipe.embed(pipe.preprocess({photo})), start, noise, [&](const StepRecord& r) {
        CHECK(r.index == 2 + calls);
        ++calls;
      });
  CHECK(calls == 2);
  CHECK(latents.sizes() == torch::IntArrayRef({1, 4, 4, 4}));
  CHECK(torch::equal(pipe.generate({photo}, seed), pipe.generate({photo}, seed)));

  // PNDM (this folder's own scheduler) cannot start part-way: refused when built.
  settings.scheduler = "";
  CHECK_THROWS_WITH(VariationPipeline(*dir / "pipeline", settings),
                    Catch::Contains("pndm scheduler cannot start part-way"));
}

TEST_CASE("Versatile Diffusion's unconditional input is its grey image as preprocessed",
          "[pipeline][vd]") {
  auto dir = mdlab::test::fixture_dir("vd_tiny");
  if (!dir) return;
  torch::NoGradGuard no_grad;
  const auto rec = mdlab::read_safetensors(*dir / "run_pndm_cfg.safetensors");
  const ClipPreprocessConfig config(
      JsonConfig(*dir / "pipeline" / "image_feature_extractor" / "preprocessor_config.json"));
  const auto grey = grey_pixel_values(config);
  INFO("grey pixel values max diff " << max_abs_diff(grey, rec.at("uncond_pixel_values")));
  CHECK(max_abs_diff(grey, rec.at("uncond_pixel_values")) <= 1e-6);
  // Rescaled twice: far from mid-grey's normalised value (0.5 - mean) / std.
  CHECK(std::abs(grey[0][0][0][0].item<double>() - (-1.78497)) < 1e-4);
  CHECK(std::abs(grey[0][0][0][0].item<double>() - (0.5 - config.mean[0]) / config.std[0]) > 1);
  auto encoder = load_clip_vision(*dir / "pipeline" / "image_encoder", torch::kCPU, torch::kFloat);
  const auto hidden = encoder->forward(grey).last_hidden_state;
  CHECK(all_close(hidden, rec.at("uncond_last_hidden_state"), 1e-5, 1e-4));
  // Every token divided by the projected class token's norm: the class token has norm 1.
  const auto tokens = image_conditioning(*encoder, grey, ImageConditioning::normalised_tokens);
  CHECK(tokens.sizes() == torch::IntArrayRef({1, 50, 32}));
  CHECK(std::abs(tokens[0][0].norm().item<double>() - 1.0) < 1e-5);
  CHECK(all_close(tokens, rec.at("image_embeddings_uncond"), 1e-5, 1e-4));
  // SD conditions on the class token alone, against zeros.
  CHECK(image_conditioning(*encoder, grey, ImageConditioning::pooled_embedding).sizes() ==
        torch::IntArrayRef({1, 1, 32}));
  CHECK(torch::equal(
      unconditional_conditioning(*encoder, config, ImageConditioning::pooled_embedding),
      torch::zeros({1, 1, 32})));
}

TEST_CASE("bad Versatile Diffusion folders are refused naming the file and key",
          "[pipeline][vd][errors]") {
  auto vd = mdlab::test::fixture_dir("vd_tiny");
  auto sd = mdlab::test::fixture_dir("sd_variations_tiny");
  if (!vd || !sd) return;
  VariationSettings settings;
  settings.height = 32;
  settings.width = 32;
  // Each family's folder given to the other's generator names the right one.
  CHECK_THROWS_WITH(VariationPipeline(*sd / "pipeline", settings, versatile_diffusion()),
                    Catch::Contains("StableDiffusionImageVariationPipeline") &&
                        Catch::Contains("name = \"sd_variations\""));
  CHECK_THROWS_WITH(VariationPipeline(*vd / "pipeline", settings, sd_image_variations()),
                    Catch::Contains("name = \"versatile_diffusion\""));

  const fs::path missing = writable_copy(*vd / "pipeline", "vd_no_unet");
  fs::remove_all(missing / "pipeline" / "image_unet");
  CHECK_THROWS_WITH(
      VariationPipeline(missing / "pipeline", settings, versatile_diffusion()),
      Catch::Contains("component 'image_unet' is missing") && Catch::Contains("model_index.json"));

  const fs::path wide = writable_copy(*vd / "pipeline", "vd_projection");
  edit_file(wide / "pipeline" / "image_encoder" / "config.json", "\"projection_dim\": 32",
            "\"projection_dim\": 48");
  CHECK_THROWS_WITH(VariationPipeline(wide / "pipeline", settings, versatile_diffusion()),
                    Catch::Contains("image_encoder/config.json: key 'projection_dim' is 48") &&
                        Catch::Contains("image_unet/config.json has cross_attention_dim 32"));

  // The hub folder's all-task class, with the text parts present, is accepted; they are not
  // read.
  const fs::path full = writable_copy(*vd / "pipeline", "vd_full");
  edit_file(full / "pipeline" / "model_index.json", "VersatileDiffusionImageVariationPipeline",
            "VersatileDiffusionPipeline");
  edit_file(full / "pipeline" / "model_index.json", "\"image_unet\"",
            "\"text_unet\": [\"versatile_diffusion\", \"UNetFlatConditionModel\"],\n  "
            "\"image_unet\"");
  fs::create_directories(full / "pipeline" / "text_unet");
  mdlab::test::write_text(full / "pipeline" / "text_unet" / "config.json", "not read");
  VariationPipeline pipe(full / "pipeline", settings, versatile_diffusion());
  mdlab::NoiseSource seed;
  seed.seeds = {3};
  const auto photo = chw_of(*vd / "input.png");
  CHECK(pipe.generate({photo}, seed).sizes() == torch::IntArrayRef({1, 3, 32, 32}));
}
