// Schedulers against diffusers 0.21.4 (../shared/fixtures/schedulers): the SD-1.x noise
// schedule, 50-step PNDM (PLMS) and DDIM timesteps and trajectories (whole trajectory from the
// stored model outputs, and every step from its stored input); Euler's sigmas and steps from
// the diffusers formulas; a convergence property for all three; config errors.
#include "compare.h"
#include "fixtures.h"
#include "scheduler.h"

#include <mdlab/error.h>
#include <mdlab/safetensors.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

namespace fs = std::filesystem;
using namespace mdlab::diffusion;
using mdlab::test::all_close;
using mdlab::test::max_abs_diff;

namespace {

JsonConfig config_from(const std::string& text, const std::string& tag) {
  const fs::path file = mdlab::test::temp_dir(tag) / "scheduler_config.json";
  std::ofstream(file) << text;
  return JsonConfig(file);
}

const char* kSdConfig = R"({"_class_name": "PNDMScheduler", "beta_end": 0.012,
  "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false,
  "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true,
  "steps_offset": 1})";

}  // namespace

TEST_CASE("the SD noise schedule equals diffusers'", "[scheduler]") {
  auto dir = mdlab::test::fixture_dir("schedulers");
  if (!dir) return;
  auto common = mdlab::read_safetensors(*dir / "common.safetensors");
  NoiseSchedule schedule(JsonConfig(*dir / "pndm_config.json"));
  CHECK(max_abs_diff(schedule.betas, common.at("betas")) == 0.0);
  CHECK(max_abs_diff(schedule.alphas_cumprod, common.at("alphas_cumprod")) <= 1e-7);
  CHECK(schedule.final_alpha_cumprod == common.at("final_alpha_cumprod").item<float>());
}

TEST_CASE("PNDM and DDIM follow diffusers' 50-step trajectories", "[scheduler]") {
  auto dir = mdlab::test::fixture_dir("schedulers");
  if (!dir) return;
  for (const char* kind : {"pndm", "ddim"}) {
    INFO(kind);
    auto rec = mdlab::read_safetensors(*dir / fmt::format("steps_{}.safetensors", kind));
    auto config = JsonConfig(*dir / fmt::format("{}_config.json", kind));
    auto scheduler = make_scheduler(config, "", {});
    CHECK(scheduler->name() == kind);
    scheduler->set_timesteps(50);
    const auto want = rec.at(fmt::format("{}_timesteps", kind));
    REQUIRE(static_cast<int64_t>(scheduler->timesteps().size()) == want.size(0));
    for (int64_t i = 0; i < want.size(0); ++i) {
      CHECK(scheduler->timesteps()[static_cast<size_t>(i)] == want[i].item<int64_t>());
    }
    // Whole trajectory from the first sample.
    auto sample = rec.at(fmt::format("{}_sample_00", kind));
    double worst_run = 0, worst_step = 0;
    auto stepwise = make_scheduler(config, "", {});
    stepwise->set_timesteps(50);
    for (int64_t i = 0; i < want.size(0); ++i) {
      const auto out = rec.at(fmt::format("{}_model_output_{:02d}", kind, i));
      const auto ref = rec.at(fmt::format("{}_prev_sample_{:02d}", kind, i));
      sample = scheduler->step(out, static_cast<size_t>(i), sample, {});
      worst_run = std::max(worst_run, max_abs_diff(sample, ref));
      // Per step from the stored input (PNDM's state comes from the same stored outputs).
      const auto input = i == 0 ? rec.at(fmt::format("{}_sample_00", kind))
                                : rec.at(fmt::format("{}_prev_sample_{:02d}", kind, i - 1));
      worst_step = std::max(
          worst_step, max_abs_diff(stepwise->step(out, static_cast<size_t>(i), input, {}), ref));
    }
    INFO("whole run max diff " << worst_run << ", per step " << worst_step);
    CHECK(worst_run <= 1e-5);
    CHECK(worst_step <= 2e-6);
  }
}

TEST_CASE("the tiny pipeline's 5-step timesteps", "[scheduler]") {
  auto pndm = make_scheduler(config_from(kSdConfig, "sched5"), "", {});
  pndm->set_timesteps(5);
  CHECK(pndm->timesteps() == std::vector<double>{801, 601, 601, 401, 201, 1});
  auto ddim = make_scheduler(config_from(kSdConfig, "sched5d"), "ddim", {});
  ddim->set_timesteps(5);
  CHECK(ddim->timesteps() == std::vector<double>{801, 601, 401, 201, 1});
  pndm->set_timesteps(1);
  CHECK(pndm->timesteps() == std::vector<double>{1});
}

TEST_CASE("Euler's sigmas and steps follow the diffusers formulas", "[scheduler]") {
  auto euler = make_scheduler(config_from(kSdConfig, "euler"), "euler", {});
  CHECK(euler->name() == "euler");
  euler->set_timesteps(4);
  CHECK(euler->timesteps() == std::vector<double>{751, 501, 251, 1});
  NoiseSchedule schedule(config_from(kSdConfig, "euler2"));
  auto sigma_of = [&](int64_t t) {
    const double a = schedule.alphas_cumprod[t].item<float>();
    return std::sqrt((1 - a) / a);
  };
  const double s0 = sigma_of(751);
  CHECK(euler->init_noise_sigma() == Approx(std::sqrt(s0 * s0 + 1)).epsilon(1e-6));
  auto x = torch::full({1, 4, 2, 2}, 2.0);
  CHECK(euler->scale_model_input(x, 0)[0][0][0][0].item<float>() ==
        Approx(2.0 / std::sqrt(s0 * s0 + 1)).epsilon(1e-6));
  // epsilon prediction: x_next = x + (sigma_next - sigma) * eps.
  auto eps = torch::full({1, 4, 2, 2}, 0.5);
  auto next = euler->step(eps, 0, x, {});
  CHECK(next[0][0][0][0].item<float>() == Approx(2.0 + (sigma_of(501) - s0) * 0.5).epsilon(1e-5));
}

TEST_CASE("every scheduler maps noise to the data distribution of an exact denoiser",
          "[scheduler]") {
  // Data x0 ~ N(0, s^2): the exact epsilon prediction at alpha_bar a is
  // eps(x) = sqrt(1 - a) x / (a s^2 + 1 - a). Deterministic samplers then scale the initial
  // noise to standard deviation s at the end, up to the discretisation error: 200 steps keep
  // the first-order DDIM / Euler within 1.5%.
  const double s = 0.5;
  NoiseSchedule schedule(config_from(kSdConfig, "prop"));
  for (const char* kind : {"pndm", "ddim", "euler"}) {
    INFO(kind);
    auto scheduler = make_scheduler(config_from(kSdConfig, std::string("prop_") + kind), kind, {});
    scheduler->set_timesteps(200);
    torch::manual_seed(0);
    auto x = torch::randn({20000}) * scheduler->init_noise_sigma();
    for (size_t i = 0; i < scheduler->timesteps().size(); ++i) {
      const auto t = static_cast<int64_t>(scheduler->timesteps()[i]);
      const double a = schedule.alphas_cumprod[t].item<float>();
      // The model sees the scaled input (the variance-preserving x_t).
      auto xt = scheduler->scale_model_input(x, i);
      auto eps = std::sqrt(1 - a) * xt / (a * s * s + 1 - a);
      x = scheduler->step(eps, i, x, {});
    }
    CHECK(x.std().item<double>() == Approx(s).epsilon(0.015));
  }
}

TEST_CASE("scheduler configs outside the supported set are named", "[scheduler][errors]") {
  auto error_of = [](const std::string& json, const char* kind) -> std::string {
    try {
      make_scheduler(config_from(json, "bad_sched"), kind, {});
    } catch (const mdlab::Error& e) {
      return e.what();
    }
    return "";
  };
  CHECK_THAT(error_of(R"({"_class_name": "PNDMScheduler", "beta_schedule": "sigmoid"})", ""),
             Catch::Contains("beta_schedule") && Catch::Contains("sigmoid") &&
                 Catch::Contains("scheduler_config.json"));
  CHECK_THAT(error_of(R"({"_class_name": "PNDMScheduler", "skip_prk_steps": false})", ""),
             Catch::Contains("skip_prk_steps"));
  CHECK_THAT(error_of(R"({"_class_name": "LMSDiscreteScheduler"})", ""),
             Catch::Contains("LMSDiscreteScheduler"));
  CHECK_THAT(error_of(R"({"timestep_spacing": "random"})", "ddim"),
             Catch::Contains("timestep_spacing"));
  CHECK_THAT(error_of(R"({"thresholding": true})", "ddim"), Catch::Contains("thresholding"));
}
