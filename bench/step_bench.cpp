// Time per training step of the supervised baseline or of SimCLR (ResNet-18, 64 px, batch 64
// by default) through the real plugins and the real optimizer, for comparison with the same
// step in PyTorch (bench/torch_step.py); bench/run_step_bench.sh runs both and prints ratios.
//   mdlab_bench_step [--method supervised|simclr] [--batch N] [--size PX] [--steps N]
//                    [--threads N]
// SimCLR: projector 2048-2048-128 with BatchNorm, NT-Xent at temperature 0.2, the two views
// through the backbone as one batch of 2N.
#include "plugin_registry.h"
#include "progress.h"
#include "run_context.h"

#include <mdlab/plugin.h>

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  int64_t batch = 64, size = 64, steps = 20, threads = 2;
  std::string method_name = "supervised";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--method") {
      method_name = argv[i + 1];
      continue;
    }
    const int64_t value = std::stoll(argv[i + 1]);
    if (flag == "--batch")
      batch = value;
    else if (flag == "--size")
      size = value;
    else if (flag == "--steps")
      steps = value;
    else if (flag == "--threads")
      threads = value;
  }
  torch::set_num_threads(static_cast<int>(threads));
  mdlab::PluginRegistry registry;
  registry.load_directories(mdlab::default_plugin_dirs({}));
  mdlab::ConsoleProgress progress(stderr, 0);
  mdlab::RunContext context(c10::Device("cpu"), 0, {}, nullptr, progress, mdlab::LogLevel::Warning);
  auto bopts = mdlab::default_options(
      registry.find(MDLAB_PLUGIN_BACKBONE, "resnet")->factory->options_schema());
  bopts.set("depth", int64_t{18});
  auto mopts = mdlab::default_options(
      registry.find(MDLAB_PLUGIN_METHOD, method_name)->factory->options_schema());
  auto backbone = registry.create_backbone("resnet", bopts, context);
  auto method = registry.create_method(method_name, mopts, context);
  method->attach(backbone, context);
  method->train();
  torch::optim::SGD opt(method->parameters(),
                        torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
  torch::manual_seed(0);
  mdlab::Batch b;
  b.views = {torch::randn({batch, 3, size, size})};
  if (method_name == "simclr") b.views.push_back(torch::randn({batch, 3, size, size}));
  b.labels = torch::randint(0, 10, {batch}, torch::kLong);
  auto one_step = [&](int64_t s) {
    opt.zero_grad();
    auto out = method->compute_loss(b, {s, 0, steps, steps});
    out.loss.backward();
    opt.step();
  };
  for (int64_t s = 0; s < 3; ++s) one_step(s);  // warm-up: allocator, oneDNN primitives
  const auto start = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < steps; ++s) one_step(s);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("mdlab %s step: %.2f ms (ResNet-18, %lld px, batch %lld, %lld threads)\n",
              method_name.c_str(), 1000.0 * seconds / steps, static_cast<long long>(size),
              static_cast<long long>(batch), static_cast<long long>(threads));
  return 0;
}
