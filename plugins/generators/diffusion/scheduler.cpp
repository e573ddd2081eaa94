// The noise schedule shared by the schedulers, timestep spacing, and the factory.
#include "scheduler.h"

#include <mdlab/error.h>

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

namespace mdlab::diffusion {

Scheduler::~Scheduler() = default;

torch::Tensor Scheduler::add_noise(const torch::Tensor&, const torch::Tensor&, size_t) const {
  MDLAB_THROW(
      "the {} scheduler cannot start part-way through its steps (strength < 1); use "
      "scheduler = \"ddim\" or \"euler\"",
      name());
}

namespace {

// diffusers' betas_for_alpha_bar with the cosine alpha-bar of improved DDPM (in double, then
// float32, as diffusers builds the list in Python floats).
torch::Tensor cosine_betas(int64_t n) {
  auto alpha_bar = [](double t) { return std::pow(std::cos((t + 0.008) / 1.008 * M_PI / 2), 2); };
  std::vector<float> betas;
  for (int64_t i = 0; i < n; ++i) {
    const double t1 = static_cast<double>(i) / n, t2 = static_cast<double>(i + 1) / n;
    betas.push_back(static_cast<float>(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999)));
  }
  return torch::tensor(betas, torch::kFloat);
}

}  // namespace

std::string resolve_scheduler_kind(const JsonConfig& config, std::string_view kind) {
  if (kind == "pndm" || kind == "ddim" || kind == "euler") return std::string(kind);
  MDLAB_CHECK(kind.empty(), "unknown scheduler \"{}\" (pndm, ddim, euler)", kind);
  const auto cls = config.get<std::string>("_class_name", "PNDMScheduler");
  if (cls == "PNDMScheduler") return "pndm";
  if (cls == "DDIMScheduler") return "ddim";
  if (cls == "EulerDiscreteScheduler") return "euler";
  config.fail("_class_name", fmt::format("= \"{}\" is not a supported scheduler (PNDMScheduler, "
                                         "DDIMScheduler, EulerDiscreteScheduler); choose one with "
                                         "the generator's `scheduler` option",
                                         cls));
}

NoiseSchedule::NoiseSchedule(const JsonConfig& config, std::string_view kind_name) {
  // diffusers fills keys a file lacks with the defaults of the class being built, not of the
  // class that wrote the file; these three differ between the schedulers.
  const std::string kind = resolve_scheduler_kind(config, kind_name);
  num_train_timesteps = config.get_int("num_train_timesteps", num_train_timesteps, 2, 100000);
  timestep_spacing =
      config.get<std::string>("timestep_spacing", kind == "euler" ? "linspace" : "leading");
  if (timestep_spacing != "leading" && timestep_spacing != "trailing" &&
      timestep_spacing != "linspace") {
    config.fail("timestep_spacing", fmt::format("= \"{}\" is not supported (leading, trailing, "
                                                "linspace)",
                                                timestep_spacing));
  }
  steps_offset = config.get_int("steps_offset", steps_offset, 0, num_train_timesteps - 1);
  prediction_type = config.get<std::string>("prediction_type", prediction_type);
  if (prediction_type != "epsilon" && prediction_type != "v_prediction" &&
      prediction_type != "sample") {
    config.fail("prediction_type", fmt::format("= \"{}\" is not supported (epsilon, "
                                               "v_prediction, sample)",
                                               prediction_type));
  }
  set_alpha_to_one = config.get<bool>("set_alpha_to_one", kind == "ddim");
  clip_sample = kind == "ddim" && config.get<bool>("clip_sample", true);
  clip_sample_range = config.get_number("clip_sample_range", clip_sample_range, 1e-6, 1e6);
  if (kind == "ddim" && config.get<bool>("thresholding", false)) {
    config.fail("thresholding", "= true (dynamic thresholding) is not supported");
  }

  if (config.has("trained_betas")) {
    betas = torch::tensor(config.require<std::vector<float>>("trained_betas"), torch::kFloat);
    if (betas.size(0) != num_train_timesteps) {
      config.fail("trained_betas", fmt::format("has {} values for num_train_timesteps = {}",
                                               betas.size(0), num_train_timesteps));
    }
  } else {
    const auto schedule_kind = config.get<std::string>("beta_schedule", "linear");
    // A beta outside (0, 1) makes alphas_cumprod zero, negative or above one: the sampler
    // would then divide by zero or produce black images without an error.
    const double start = config.get_number("beta_start", 0.0001, 1e-12, 0.999);
    const double end = config.get_number("beta_end", 0.02, 1e-12, 0.999);
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
    if (schedule_kind == "linear") {
      betas = torch::linspace(start, end, num_train_timesteps, f32);
    } else if (schedule_kind == "scaled_linear") {
      betas = torch::linspace(std::sqrt(start), std::sqrt(end), num_train_timesteps, f32).pow(2);
    } else if (schedule_kind == "squaredcos_cap_v2") {
      betas = cosine_betas(num_train_timesteps);
    } else {
      config.fail("beta_schedule", fmt::format("= \"{}\" is not supported (linear, scaled_linear, "
                                               "squaredcos_cap_v2)",
                                               schedule_kind));
    }
  }
  if (config.has("trained_betas")) {
    const auto low = betas.min().item<float>(), high = betas.max().item<float>();
    if (!(low > 0.0f && high < 1.0f)) {
      config.fail("trained_betas",
                  fmt::format("has values in [{}, {}]; betas must lie in (0, 1)", low, high));
    }
  }
  alphas_cumprod = torch::cumprod(1.0 - betas, 0);
  final_alpha_cumprod = set_alpha_to_one ? 1.0f : alphas_cumprod[0].item<float>();
}

float NoiseSchedule::alpha_cumprod(int64_t t) const {
  return t >= 0 ? alphas_cumprod[t].item<float>() : final_alpha_cumprod;
}

std::vector<int64_t> NoiseSchedule::spaced_timesteps(int64_t steps) const {
  MDLAB_CHECK(steps >= 1 && steps <= num_train_timesteps,
              "{} sampling steps for a schedule of {} training steps", steps, num_train_timesteps);
  const auto T = static_cast<double>(num_train_timesteps);
  std::vector<int64_t> out;
  if (timestep_spacing == "leading") {
    const int64_t ratio = num_train_timesteps / steps;
    for (int64_t i = steps - 1; i >= 0; --i) out.push_back(i * ratio + steps_offset);
    MDLAB_CHECK(out.front() < num_train_timesteps,
                "{} sampling steps with steps_offset {} reach timestep {}, beyond the {} training "
                "steps; use fewer steps",
                steps, steps_offset, out.front(), num_train_timesteps);
  } else if (timestep_spacing == "trailing") {
    // numpy.arange(T, 0, -T / steps) fills start + i * delta with delta re-derived from the
    // first two values; at exact halves that decides numpy.round's result (T = 1000, 48 steps).
    const double second = T - T / static_cast<double>(steps);
    const double delta = second - T;
    for (int64_t i = 0; i < steps; ++i) {
      const double t = i == 0 ? T : i == 1 ? second : T + static_cast<double>(i) * delta;
      out.push_back(static_cast<int64_t>(std::nearbyint(t)) - 1);
    }
  } else {  // linspace
    for (const double t : linspace_timesteps(steps)) {
      out.push_back(static_cast<int64_t>(std::nearbyint(t)));
    }
  }
  return out;
}

std::vector<double> NoiseSchedule::linspace_timesteps(int64_t steps) const {
  MDLAB_CHECK(steps >= 1 && steps <= num_train_timesteps,
              "{} sampling steps for a schedule of {} training steps", steps, num_train_timesteps);
  // numpy.linspace(0, T - 1, steps), descending: i * step, the last point exactly T - 1.
  const double last = static_cast<double>(num_train_timesteps - 1);
  const double step = steps > 1 ? last / static_cast<double>(steps - 1) : 0.0;
  std::vector<double> out;
  for (int64_t i = steps - 1; i >= 0; --i) {
    out.push_back(steps > 1 && i == steps - 1 ? last : static_cast<double>(i) * step);
  }
  return out;
}

std::unique_ptr<Scheduler> make_scheduler(const JsonConfig& config, std::string_view kind,
                                          const SchedulerOptions& options) {
  const std::string name = resolve_scheduler_kind(config, kind);
  NoiseSchedule schedule(config, name);
  if (name == "pndm") return make_pndm_scheduler(std::move(schedule), config);
  if (name == "ddim") return make_ddim_scheduler(std::move(schedule), config, options);
  return make_euler_scheduler(std::move(schedule), config);
}

}  // namespace mdlab::diffusion
