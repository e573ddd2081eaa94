// Schedulers against diffusers 0.21.4: the SD-1.x noise schedule, 50-step PNDM (PLMS) and DDIM
// timesteps and trajectories (../shared/fixtures/schedulers: whole trajectory from the stored
// model outputs, and every step from its stored input); the tiny pipeline's recorded scheduler
// steps (sd_variations_tiny); timestep spacings, per-class config defaults and Euler's sigmas
// from the diffusers / numpy formulas; exactness on a point mass and the variance of Gaussian
// data under an exact denoiser for every sampler and prediction type; starting part-way
// (strength < 1); config errors.
#include "compare.h"
#include "fixtures.h"
#include "guided_sampling.h"
#include "scheduler.h"

#include <mdlab/context.h>
#include <mdlab/error.h>
#include <mdlab/safetensors.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

namespace fs = std::filesystem;
using namespace mdlab::diffusion;
using mdlab::test::max_abs_diff;

namespace {

JsonConfig config_from(const std::string& text) {
  return mdlab::test::json_config("scheduler_config.json", text);
}

// Stable Diffusion 1.x's scheduler_config.json as the model repositories ship it (no
// timestep_spacing, no prediction_type: each class fills in its own defaults).
const char* kSdConfig = R"({"_class_name": "PNDMScheduler", "beta_end": 0.012,
  "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false,
  "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true,
  "steps_offset": 1})";

// kSdConfig with `extra` keys added (a JSON fragment starting with a comma).
std::string sd_config_with(const std::string& extra) {
  std::string text = kSdConfig;
  text.insert(text.rfind('}'), extra);
  return text;
}

// sigma(t) of the schedule at a possibly fractional timestep (numpy.interp, as Euler uses).
double sigma_at(const NoiseSchedule& schedule, double t) {
  auto sigma = [&](int64_t i) {
    const double a = schedule.alphas_cumprod[i].item<float>();
    return std::sqrt((1 - a) / a);
  };
  const auto lo = static_cast<int64_t>(std::floor(t));
  if (static_cast<double>(lo) == t) return sigma(lo);
  return sigma(lo) + (sigma(lo + 1) - sigma(lo)) * (t - static_cast<double>(lo));
}

// Runs `scheduler` for `steps` steps from `x` with `model(x_t, alpha_bar)` as the network, where
// x_t is the variance-preserving model input and alpha_bar its noise level.
torch::Tensor sample_with(Scheduler& scheduler, const NoiseSchedule& schedule, int64_t steps,
                          torch::Tensor x,
                          const std::function<torch::Tensor(const torch::Tensor&, double)>& model,
                          const NoiseFn& noise = {}) {
  scheduler.set_timesteps(steps);
  x = x * scheduler.init_noise_sigma();
  for (size_t i = 0; i < scheduler.timesteps().size(); ++i) {
    const double sigma = sigma_at(schedule, scheduler.timesteps()[i]);
    const double a = 1.0 / (1.0 + sigma * sigma);
    x = scheduler.step(model(scheduler.scale_model_input(x, i), a), i, x, noise);
  }
  return x;
}

}  // namespace

TEST_CASE("the SD noise schedule equals diffusers'", "[scheduler]") {
  auto dir = mdlab::test::fixture_dir("schedulers");
  if (!dir) return;
  auto common = mdlab::read_safetensors(*dir / "common.safetensors");
  NoiseSchedule schedule(JsonConfig(*dir / "pndm_config.json"));
  CHECK(max_abs_diff(schedule.betas, common.at("betas")) == 0.0);
  INFO("alphas_cumprod max diff " << max_abs_diff(schedule.alphas_cumprod,
                                                  common.at("alphas_cumprod")));
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

TEST_CASE("the tiny pipeline's scheduler steps are reproduced from its recorded predictions",
          "[scheduler]") {
  auto dir = mdlab::test::fixture_dir("sd_variations_tiny");
  if (!dir) return;
  struct Run {
    const char* name;
    fs::path config;
  };
  for (const Run& run :
       {Run{"pndm_cfg", *dir / "pipeline" / "scheduler" / "scheduler_config.json"},
        Run{"pndm_nocfg", *dir / "pipeline" / "scheduler" / "scheduler_config.json"},
        Run{"ddim_cfg", *dir / "scheduler_ddim" / "scheduler_config.json"}}) {
    INFO(run.name);
    auto rec = mdlab::read_safetensors(*dir / fmt::format("run_{}.safetensors", run.name));
    auto scheduler = make_scheduler(JsonConfig(run.config), "", {});
    scheduler->set_timesteps(5);
    const auto timesteps = rec.at("timesteps");
    REQUIRE(static_cast<int64_t>(scheduler->timesteps().size()) == timesteps.size(0));
    auto latents = rec.at("latents_init");
    double worst = 0;
    for (int64_t i = 0; i < timesteps.size(0); ++i) {
      CHECK(scheduler->timesteps()[static_cast<size_t>(i)] == timesteps[i].item<int64_t>());
      const auto prefix = fmt::format("step{:02d}_", i);
      const auto input =
          i == 0 ? rec.at("latents_init") : rec.at(fmt::format("step{:02d}_latents_out", i - 1));
      auto out =
          scheduler->step(rec.at(prefix + "noise_pred_guided"), static_cast<size_t>(i), input, {});
      worst = std::max(worst, max_abs_diff(out, rec.at(prefix + "latents_out")));
    }
    INFO("per-step max diff " << worst);
    CHECK(worst <= 2e-6);
  }
}

TEST_CASE("timestep spacings follow diffusers' numpy formulas", "[scheduler]") {
  auto pndm = make_scheduler(config_from(kSdConfig), "", {});
  pndm->set_timesteps(5);
  CHECK(pndm->timesteps() == std::vector<double>{801, 601, 601, 401, 201, 1});
  pndm->set_timesteps(1);
  CHECK(pndm->timesteps() == std::vector<double>{1});
  auto ddim = make_scheduler(config_from(kSdConfig), "ddim", {});
  ddim->set_timesteps(5);
  CHECK(ddim->timesteps() == std::vector<double>{801, 601, 401, 201, 1});

  NoiseSchedule trailing(config_from(sd_config_with(R"(, "timestep_spacing": "trailing")")));
  CHECK(trailing.spaced_timesteps(4) == std::vector<int64_t>{999, 749, 499, 249});
  // numpy.arange fills start + i * (second - start): 1000 + 3 * (979.1666... - 1000) lands just
  // below 937.5, so numpy.round gives 937 where exact arithmetic would give 938.
  CHECK(trailing.spaced_timesteps(48)[3] == 936);
  CHECK(trailing.spaced_timesteps(61).size() == 61);

  NoiseSchedule linspace(config_from(sd_config_with(R"(, "timestep_spacing": "linspace")")));
  CHECK(linspace.spaced_timesteps(4) == std::vector<int64_t>{999, 666, 333, 0});
  // 999 / 7 * 3 = 428.14..., * 5 = 713.57...
  CHECK(linspace.spaced_timesteps(8) == std::vector<int64_t>{999, 856, 714, 571, 428, 285, 143, 0});
  CHECK(linspace.spaced_timesteps(1) == std::vector<int64_t>{0});
}

TEST_CASE("keys a config lacks take the defaults of the scheduler that runs", "[scheduler]") {
  // diffusers' from_config drops keys the file did not set, so the target class's defaults
  // apply: PNDM set_alpha_to_one false, DDIM true and clip_sample true, Euler linspace.
  const auto bare = config_from(R"({"_class_name": "PNDMScheduler", "skip_prk_steps": true})");
  NoiseSchedule pndm(bare);
  CHECK(pndm.final_alpha_cumprod == pndm.alphas_cumprod[0].item<float>());
  CHECK(pndm.timestep_spacing == "leading");
  NoiseSchedule ddim(bare, "ddim");
  CHECK(ddim.final_alpha_cumprod == 1.0f);
  CHECK(ddim.clip_sample);
  NoiseSchedule euler(bare, "euler");
  CHECK(euler.timestep_spacing == "linspace");
  CHECK_FALSE(euler.clip_sample);
  // Linear betas from 1e-4 to 0.02 by default.
  CHECK(pndm.betas[0].item<float>() == Approx(1e-4));
  CHECK(pndm.betas[999].item<float>() == Approx(0.02));

  // DDIM's default clip_sample bounds the predicted x0: a huge epsilon cannot push x0 past 1.
  auto clipping = make_scheduler(bare, "ddim", {});
  clipping->set_timesteps(10);
  auto x = torch::zeros({4});
  auto out = clipping->step(torch::full({4}, -1e4), 0, x, {});
  const double a_prev = ddim.alphas_cumprod[800].item<float>();  // 10 steps, no offset: 900, 800
  const double eps = -1e4;
  // x0 = clip((0 - sqrt(1 - a) eps) / sqrt(a)) = 1; prev = sqrt(a_prev) + sqrt(1 - a_prev) eps.
  CHECK(out[0].item<float>() ==
        Approx(std::sqrt(a_prev) * 1.0 + std::sqrt(1 - a_prev) * eps).epsilon(1e-5));
}

TEST_CASE("trained_betas and the cosine schedule", "[scheduler]") {
  std::string betas = "[";
  for (int i = 0; i < 10; ++i) betas += fmt::format("{}{}", i ? ", " : "", 0.01 * (i + 1));
  betas += "]";
  NoiseSchedule trained(
      config_from(fmt::format(R"({{"num_train_timesteps": 10, "trained_betas": {}}})", betas)));
  CHECK(trained.betas[3].item<float>() == 0.04f);
  CHECK(trained.alphas_cumprod[1].item<float>() == Approx(0.99 * 0.98));

  NoiseSchedule cosine(config_from(R"({"beta_schedule": "squaredcos_cap_v2"})"));
  auto alpha_bar = [](double t) { return std::pow(std::cos((t + 0.008) / 1.008 * M_PI / 2), 2); };
  CHECK(cosine.betas[0].item<float>() == Approx(1 - alpha_bar(0.001) / alpha_bar(0)));
  CHECK(cosine.betas[500].item<float>() == Approx(1 - alpha_bar(0.501) / alpha_bar(0.5)));
  CHECK(cosine.betas[999].item<float>() == Approx(0.999));  // capped
}

TEST_CASE("Euler's timesteps and sigmas follow the diffusers formulas", "[scheduler]") {
  // SD's config has no timestep_spacing: Euler's own default, linspace, applies.
  auto euler = make_scheduler(config_from(kSdConfig), "euler", {});
  CHECK(euler->name() == "euler");
  CHECK_THROWS_WITH(euler->init_noise_sigma(), Catch::Contains("set_timesteps"));
  NoiseSchedule schedule(config_from(kSdConfig), "euler");
  euler->set_timesteps(3);
  CHECK(euler->timesteps() == std::vector<double>{999, 499.5, 0});
  const double s0 = sigma_at(schedule, 999), s1 = sigma_at(schedule, 499.5);
  // linspace: the initial noise is scaled by the largest sigma itself.
  CHECK(euler->init_noise_sigma() == Approx(s0).epsilon(1e-6));
  auto x = torch::full({1, 4, 2, 2}, 2.0);
  CHECK(euler->scale_model_input(x, 1)[0][0][0][0].item<float>() ==
        Approx(2.0 / std::sqrt(s1 * s1 + 1)).epsilon(1e-6));
  // epsilon prediction: x_next = x + (sigma_next - sigma) * eps; the last step goes to sigma 0.
  auto eps = torch::full({1, 4, 2, 2}, 0.5);
  CHECK(euler->step(eps, 0, x, {})[0][0][0][0].item<float>() ==
        Approx(2.0 + (s1 - s0) * 0.5).epsilon(1e-5));
  CHECK(euler->step(eps, 2, x, {})[0][0][0][0].item<float>() ==
        Approx(2.0 - sigma_at(schedule, 0) * 0.5).epsilon(1e-5));

  // Leading spacing (explicit): integer timesteps with the offset, sqrt(sigma^2 + 1) scaling.
  auto leading = make_scheduler(config_from(sd_config_with(R"(, "timestep_spacing": "leading")")),
                                "euler", {});
  leading->set_timesteps(4);
  CHECK(leading->timesteps() == std::vector<double>{751, 501, 251, 1});
  const double l0 = sigma_at(schedule, 751);
  CHECK(leading->init_noise_sigma() == Approx(std::sqrt(l0 * l0 + 1)).epsilon(1e-6));

  // v-prediction: x0 = -sigma / sqrt(sigma^2 + 1) v + x / (sigma^2 + 1).
  auto v_euler = make_scheduler(
      config_from(sd_config_with(R"(, "prediction_type": "v_prediction")")), "euler", {});
  v_euler->set_timesteps(3);
  const double x0 = -s0 / std::sqrt(s0 * s0 + 1) * 0.5 + 2.0 / (s0 * s0 + 1);
  CHECK(v_euler->step(eps, 0, x, {})[0][0][0][0].item<float>() ==
        Approx(2.0 + (2.0 - x0) / s0 * (s1 - s0)).epsilon(1e-5));
}

TEST_CASE("PNDM with Runge-Kutta warm-up steps", "[scheduler]") {
  auto prk = make_scheduler(config_from(sd_config_with(R"(, "skip_prk_steps": false)")), "", {});
  prk->set_timesteps(10);
  // Three RK steps over 901 -> 801 -> 701 -> 601 (calls at t, t - 50, t - 50, t - 100), then
  // PLMS from 601 down.
  CHECK(prk->timesteps() == std::vector<double>{901, 851, 851, 801, 801, 751, 751, 701, 701, 651,
                                                651, 601, 601, 501, 401, 301, 201, 101, 1});
  CHECK_THROWS_WITH(prk->set_timesteps(3), Catch::Contains("at least 4"));
  // Steps out of order are refused (PNDM keeps a history).
  prk->set_timesteps(10);
  CHECK_THROWS_WITH(prk->step(torch::zeros({2}), 1, torch::zeros({2}), {}),
                    Catch::Contains("in order"));
}

TEST_CASE("every scheduler is exact on a point mass", "[scheduler]") {
  // Data concentrated at c: the exact epsilon of x_t is (x_t - sqrt(a) c) / sqrt(1 - a), and it
  // stays constant along the deterministic trajectory, so every multistep / Runge-Kutta
  // combination equals it and each sampler lands on c (set_alpha_to_one: the last alpha is 1).
  // (Not PNDM with v-prediction: diffusers combines past v's, which do change along the path.)
  const double c = 0.7;
  const std::string config = R"({"beta_schedule": "scaled_linear", "beta_start": 0.00085,
    "beta_end": 0.012, "set_alpha_to_one": true, "skip_prk_steps": SKIP, "steps_offset": 1,
    "clip_sample": false, "prediction_type": "PRED"})";
  struct Case {
    const char* kind;
    const char* skip;
    const char* prediction;
  };
  for (const Case& k : {Case{"pndm", "true", "epsilon"}, Case{"pndm", "false", "epsilon"},
                        Case{"ddim", "true", "epsilon"}, Case{"ddim", "true", "v_prediction"},
                        Case{"ddim", "true", "sample"}, Case{"euler", "true", "epsilon"},
                        Case{"euler", "true", "v_prediction"}, Case{"euler", "true", "sample"}}) {
    INFO(k.kind << " skip_prk_steps " << k.skip << " " << k.prediction);
    std::string text = config;
    text.replace(text.find("SKIP"), 4, k.skip);
    text.replace(text.find("PRED"), 4, k.prediction);
    const auto json = config_from(text);
    auto scheduler = make_scheduler(json, k.kind, {});
    NoiseSchedule schedule(json, k.kind);
    const std::string prediction = k.prediction;
    auto model = [&](const torch::Tensor& xt, double a) {
      auto eps = (xt - std::sqrt(a) * c) / std::sqrt(1 - a);
      if (prediction == "epsilon") return eps;
      if (prediction == "sample") return torch::full_like(xt, c);
      return std::sqrt(a) * eps - std::sqrt(1 - a) * c;  // v
    };
    torch::manual_seed(1);
    auto x = sample_with(*scheduler, schedule, 20, torch::randn({1000}), model);
    INFO("max |x - c| " << (x - c).abs().max().item<double>());
    // Euler ends at sigma 0 exactly; PNDM / DDIM at alpha 1 up to fp32 rounding.
    CHECK((x - c).abs().max().item<double>() <= 2e-4);
  }
}

TEST_CASE("every scheduler maps noise to the data distribution of an exact denoiser",
          "[scheduler]") {
  // Data x0 ~ N(0, s^2): at alpha_bar a the exact predictions of x_t are
  // eps = sqrt(1 - a) x_t / (a s^2 + 1 - a), x0 = sqrt(a) s^2 x_t / (a s^2 + 1 - a) and
  // v = sqrt(a) eps - sqrt(1 - a) x0. Samplers then scale the initial noise to standard
  // deviation s at the end, up to the discretisation error: 200 steps keep the first-order
  // DDIM / Euler within 1.5% (DDIM with eta = 1: see below).
  const double s = 0.5;
  struct Case {
    const char* kind;
    const char* extra;
    double eta;
  };
  for (const Case& k :
       {Case{"pndm", "", 0.0}, Case{"pndm", R"(, "skip_prk_steps": false)", 0.0},
        Case{"ddim", "", 0.0}, Case{"ddim", "", 1.0},
        Case{"ddim", R"(, "prediction_type": "v_prediction")", 0.0},
        Case{"ddim", R"(, "timestep_spacing": "trailing")", 0.0}, Case{"euler", "", 0.0},
        Case{"euler", R"(, "timestep_spacing": "leading")", 0.0},
        Case{"euler", R"(, "prediction_type": "v_prediction")", 0.0}}) {
    INFO(k.kind << k.extra << " eta " << k.eta);
    const std::string text = sd_config_with(std::string(k.extra));
    const bool v = text.find("v_prediction") != std::string::npos;
    const auto json = config_from(text);
    SchedulerOptions options;
    options.eta = k.eta;
    auto scheduler = make_scheduler(json, k.kind, options);
    NoiseSchedule schedule(json, k.kind);
    auto model = [&](const torch::Tensor& xt, double a) {
      const double d = a * s * s + 1 - a;
      auto eps = std::sqrt(1 - a) * xt / d;
      if (!v) return eps;
      return std::sqrt(a) * eps - std::sqrt(1 - a) * (std::sqrt(a) * s * s * xt / d);
    };
    torch::manual_seed(0);
    auto generator = mdlab::make_cpu_generator(42);
    const NoiseFn noise = [&](torch::IntArrayRef shape) {
      return torch::randn(shape, generator, torch::kFloat);
    };
    // Stochastic DDIM plugs in the mean of x0 given x_t and so misses its posterior variance
    // at every step: that bias shrinks with the stride, so it gets 500 steps.
    const int64_t steps = k.eta > 0 ? 500 : 200;
    auto x = sample_with(*scheduler, schedule, steps, torch::randn({20000}), model, noise);
    INFO("final std " << x.std().item<double>());
    CHECK(x.std().item<double>() == Approx(s).epsilon(0.015));
  }
}

TEST_CASE("scheduler configs outside the supported set are named", "[scheduler][errors]") {
  auto error_of = [](const std::string& json, const char* kind,
                     SchedulerOptions options = {}) -> std::string {
    try {
      make_scheduler(config_from(json), kind, options);
    } catch (const mdlab::Error& e) {
      return e.what();
    }
    return "";
  };
  CHECK_THAT(error_of(R"({"_class_name": "PNDMScheduler", "beta_schedule": "sigmoid"})", ""),
             Catch::Contains("beta_schedule") && Catch::Contains("sigmoid") &&
                 Catch::Contains("scheduler_config.json"));
  CHECK_THAT(error_of(R"({"_class_name": "LMSDiscreteScheduler"})", ""),
             Catch::Contains("LMSDiscreteScheduler") && Catch::Contains("_class_name"));
  CHECK_THAT(error_of("{}", "lms"), Catch::Contains("unknown scheduler") && Catch::Contains("lms"));
  CHECK_THAT(error_of(R"({"timestep_spacing": "random"})", "ddim"),
             Catch::Contains("timestep_spacing") && Catch::Contains("random"));
  CHECK_THAT(error_of(R"({"prediction_type": "flow"})", "euler"),
             Catch::Contains("prediction_type") && Catch::Contains("flow"));
  CHECK_THAT(error_of(R"({"prediction_type": "sample", "skip_prk_steps": true})", "pndm"),
             Catch::Contains("prediction_type"));
  CHECK_THAT(error_of(R"({"thresholding": true})", "ddim"), Catch::Contains("thresholding"));
  CHECK_THAT(error_of(R"({"rescale_betas_zero_snr": true})", "ddim"),
             Catch::Contains("rescale_betas_zero_snr"));
  CHECK_THAT(error_of(R"({"interpolation_type": "log_linear"})", "euler"),
             Catch::Contains("interpolation_type"));
  CHECK_THAT(error_of(R"({"use_karras_sigmas": true})", "euler"),
             Catch::Contains("use_karras_sigmas"));
  CHECK_THAT(error_of(R"({"num_train_timesteps": 5, "trained_betas": [0.1, 0.2]})", "ddim"),
             Catch::Contains("trained_betas") && Catch::Contains("2 values"));
  CHECK_THAT(error_of(R"({"beta_start": "small"})", "ddim"),
             Catch::Contains("beta_start") && Catch::Contains("wrong type"));
  // Betas outside (0, 1) gave alphas_cumprod outside (0, 1]: black or NaN images, no error.
  CHECK_THAT(error_of(R"({"beta_start": -0.1})", "ddim"),
             Catch::Contains("beta_start") && Catch::Contains("outside"));
  CHECK_THAT(error_of(R"({"beta_end": 1.5})", "pndm"), Catch::Contains("beta_end"));
  CHECK_THAT(error_of(R"({"num_train_timesteps": 3, "trained_betas": [0.1, 1.0, 0.2]})", "ddim"),
             Catch::Contains("trained_betas") && Catch::Contains("(0, 1)"));
  CHECK_THAT(error_of(R"({"num_train_timesteps": 2.5})", "ddim"),
             Catch::Contains("num_train_timesteps") && Catch::Contains("whole number"));
  CHECK_THAT(error_of(R"({"steps_offset": -1})", "ddim"), Catch::Contains("steps_offset"));
  SchedulerOptions bad_eta;
  bad_eta.eta = 2.0;
  CHECK_THAT(error_of("{}", "ddim", bad_eta), Catch::Contains("eta"));
  // More steps than training steps, or than the offset leaves room for.
  auto ddim = make_scheduler(config_from("{}"), "ddim", {});
  CHECK_THROWS_WITH(ddim->set_timesteps(1001), Catch::Contains("1001"));
  auto offset = make_scheduler(config_from(kSdConfig), "ddim", {});
  CHECK_THROWS_WITH(offset->set_timesteps(1000), Catch::Contains("steps_offset"));
}

TEST_CASE("strength starts the loop part-way from the noised clean sample", "[scheduler]") {
  // diffusers' img2img: the last floor(steps * strength) steps run.
  CHECK(first_step_for_strength(10, 1.0) == 0);
  CHECK(first_step_for_strength(10, 0.75) == 3);
  CHECK(first_step_for_strength(5, 0.5) == 3);
  CHECK(first_step_for_strength(4, 0.25) == 3);
  CHECK_THROWS_WITH(first_step_for_strength(4, 0.2), Catch::Contains("runs no denoising step"));
  CHECK_THROWS_WITH(first_step_for_strength(4, 0.0), Catch::Contains("(0, 1]"));
  CHECK_THROWS_WITH(first_step_for_strength(4, 1.5), Catch::Contains("(0, 1]"));

  const auto json = config_from(sd_config_with(R"(, "timestep_spacing": "trailing")"));
  const NoiseSchedule schedule(json, "ddim");
  torch::manual_seed(3);
  const auto x0 = torch::rand({2, 4}) * 2 - 1;
  const auto noise = torch::randn({2, 4});
  {
    auto ddim = make_scheduler(json, "ddim", {});
    ddim->set_timesteps(10);
    const auto t = static_cast<int64_t>(ddim->timesteps()[3]);
    const double a = schedule.alphas_cumprod[t].item<float>();
    const auto expected = std::sqrt(a) * x0 + std::sqrt(1 - a) * noise;
    CHECK(max_abs_diff(start_sample(*ddim, noise, x0, 3), expected) <= 1e-6);
    // At step 0 the start is the scaled noise alone, whatever the clean sample.
    CHECK(torch::equal(start_sample(*ddim, noise, x0, 0), noise));
  }
  {
    auto euler = make_scheduler(json, "euler", {});
    euler->set_timesteps(10);
    const double sigma = sigma_at(schedule, euler->timesteps()[3]);
    CHECK(max_abs_diff(start_sample(*euler, noise, x0, 3), x0 + sigma * noise) <= 1e-5);
  }
  auto pndm = make_scheduler(json, "pndm", {});
  pndm->set_timesteps(10);
  CHECK_THROWS_WITH(
      start_sample(*pndm, noise, x0, 3),
      Catch::Contains("pndm scheduler cannot start part-way") && Catch::Contains("ddim"));
}
