// Time per training step of the supervised baseline or of SimCLR (ResNet-18, 64 px, batch 64
// by default) through the real plugins and the real optimizer, for comparison with the same
// step in PyTorch (bench/torch_step.py); bench/run_step_bench.sh runs both and prints ratios.
//   mdlab_bench_step [--method supervised|simclr] [--batch N] [--size PX] [--steps N]
//                    [--threads N] [--depth 18|50] [--device cpu|cuda] [--precision fp32|bf16]
// SimCLR: projector 2048-2048-128 with BatchNorm, NT-Xent at temperature 0.2, the two views
// through the backbone as one batch of 2N. On CUDA the ResNet runs channels-last (as in
// training) and bf16 is the trainer's autocast; the step is timed to the device's completion.
#include "mixed_precision.h"
#include "plugin_registry.h"
#include "progress.h"
#include "run_context.h"

#include <mdlab/plugin.h>

#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  int64_t batch = 64, size = 64, steps = 20, threads = 2, depth = 18;
  std::string method_name = "supervised", device_name = "cpu", precision = "fp32";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    std::string* text = flag == "--method"      ? &method_name
                        : flag == "--device"    ? &device_name
                        : flag == "--precision" ? &precision
                                                : nullptr;
    if (text != nullptr) {
      *text = argv[i + 1];
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
    else if (flag == "--depth")
      depth = value;
  }
  const c10::Device device(device_name);
  torch::set_num_threads(static_cast<int>(threads));
  mdlab::PluginRegistry registry;
  registry.load_directories(mdlab::default_plugin_dirs({}));
  mdlab::ConsoleProgress progress(stderr, 0);
  mdlab::RunContext context(device, 0, {}, nullptr, progress, mdlab::LogLevel::Warning);
  auto bopts = mdlab::default_options(
      registry.find(MDLAB_PLUGIN_BACKBONE, "resnet")->factory->options_schema());
  bopts.set("depth", depth);
  auto mopts = mdlab::default_options(
      registry.find(MDLAB_PLUGIN_METHOD, method_name)->factory->options_schema());
  auto backbone = registry.create_backbone("resnet", bopts, context);
  backbone->to(device);  // as the engine does (experiment.cpp) before attaching the method
  auto method = registry.create_method(method_name, mopts, context);
  method->attach(backbone, context);
  method->to(device);
  method->train();
  torch::optim::SGD opt(method->parameters(),
                        torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
  torch::manual_seed(0);
  mdlab::Batch b;
  const auto on = torch::TensorOptions().device(device);
  b.views = {torch::randn({batch, 3, size, size}, on)};
  if (method_name == "simclr") b.views.push_back(torch::randn({batch, 3, size, size}, on));
  b.labels = torch::randint(0, 10, {batch}, on.dtype(torch::kLong));
  const auto dtype = mdlab::precision_dtype(precision);
  auto one_step = [&](int64_t s) {
    opt.zero_grad();
    torch::Tensor loss;
    {
      mdlab::AutocastGuard autocast(device, dtype, precision != "fp32");
      loss = method->compute_loss(b, {s, 0, steps, steps}).loss;
    }
    loss.backward();
    opt.step();
  };
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  for (int64_t s = 0; s < 3; ++s) one_step(s);  // warm-up: allocator, oneDNN / cuDNN choices
  sync();
  const auto start = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < steps; ++s) one_step(s);
  sync();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "mdlab %s step: %.2f ms (ResNet-%lld, %lld px, batch %lld, %lld threads, %s %s), "
      "%.1f images/s\n",
      method_name.c_str(), 1000.0 * seconds / steps, static_cast<long long>(depth),
      static_cast<long long>(size), static_cast<long long>(batch), static_cast<long long>(threads),
      device_name.c_str(), precision.c_str(), batch * steps / seconds);
  return 0;
}
