#include "fuzz_json_config_target.h"

#include "clip_preprocess.h"
#include "clip_vision.h"
#include "fuzz_support.h"
#include "model_folder.h"
#include "scheduler.h"
#include "unet.h"
#include "vae.h"

#include <mdlab/error.h>

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

namespace mdlab::fuzz {

namespace {

namespace fs = std::filesystem;
using namespace mdlab::diffusion;

const fs::path& input_file() {
  static const ScratchDir scratch("config");
  static const fs::path file = scratch.path / "config.json";
  return file;
}

}  // namespace

void run_json_config_input(std::string_view input) {
  std::ofstream(input_file(), std::ios::binary | std::ios::trunc)
      .write(input.data(), static_cast<std::streamsize>(input.size()));
  JsonConfig config;
  try {
    config = JsonConfig(input_file());
  } catch (const Error&) {
    return;
  }
  refused_or_ok([&] { UNetConfig unet(config); });
  refused_or_ok([&] { VaeConfig vae(config); });
  refused_or_ok([&] { ClipVisionConfig clip(config); });
  refused_or_ok([&] { ClipPreprocessConfig preprocess(config); });
  for (const char* kind : {"", "pndm", "ddim", "euler"}) {
    refused_or_ok([&] {
      SchedulerOptions options;
      options.eta = 0.5;
      auto scheduler = make_scheduler(config, kind, options);
      const NoiseSchedule schedule(config, kind);
      const int64_t steps = std::min<int64_t>(50, schedule.num_train_timesteps);
      for (int64_t n : {int64_t{1}, steps / 2 + 1, steps}) {
        scheduler->set_timesteps(n);
        torch::NoGradGuard no_grad;
        auto sample = torch::ones({1, 1, 2, 2}) * scheduler->init_noise_sigma();
        const NoiseFn noise = [](torch::IntArrayRef shape) { return torch::zeros(shape); };
        for (size_t i = 0; i < std::min<size_t>(2, scheduler->timesteps().size()); ++i) {
          sample = scheduler->step(torch::zeros_like(sample), i, sample, noise);
        }
      }
    });
  }
}

}  // namespace mdlab::fuzz
