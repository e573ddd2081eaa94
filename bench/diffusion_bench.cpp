// Diffusion benchmark: UNet forward and VAE decode of the full SD-1.x networks (configs in
// bench/sd15/, random weights: no download) at given latent sizes and batch; and a sampling
// mode that times the whole denoising loop (classifier-free guidance: the UNet sees 2x batch)
// plus the decode, reporting images/s. Peak RSS is printed at the end.
// --tokens sets the conditioning length the UNet cross-attends to: 1 for SD image variations
// (one image embedding), 257 for Versatile Diffusion (every token of CLIP ViT-L/14 at 224 px);
// VD's image UNet has the SD-1.x architecture, so only that length differs.
//   mdlab_bench_diffusion [--latents 32,64] [--tokens 1,257] [--batch 2] [--repeats 3]
//                         [--threads 2] [--device cpu|cuda] [--dtype fp32|fp16|bf16]
//                         [--sample-steps 0 | N] [--configs bench/sd15]
// bench/run_diffusion_bench.sh runs the CPU figures of the closing notes.
#include "unet.h"
#include "vae.h"
#include "variation_pipeline.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <vector>

using namespace mdlab::diffusion;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void sync(const torch::Device& device) {
  // A host copy of a scalar waits for every queued kernel (no CUDA header needed here).
  if (device.is_cuda()) torch::zeros({1}, torch::TensorOptions().device(device)).cpu();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string fmt_shape(int64_t side, int64_t batch) {
  char text[96];
  std::snprintf(text, sizeof text, "latent %lldx%lld (image %lld px), batch %lld",
                static_cast<long long>(side), static_cast<long long>(side),
                static_cast<long long>(side * 8), static_cast<long long>(batch));
  return text;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

std::vector<int64_t> parse_list(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoll(item));
  return out;
}

template <class F>
double median_time(const torch::Device& device, int64_t repeats, F&& run) {
  std::vector<double> times;
  for (int64_t r = 0; r < repeats + 1; ++r) {  // the first round warms up
    sync(device);
    const auto a = Clock::now();
    run();
    sync(device);
    if (r > 0) times.push_back(seconds_since(a));
  }
  return median(times);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines reach a pipe (tee) as they are measured
  std::vector<int64_t> latents{32, 64}, tokens{1};
  int64_t batch = 2, repeats = 3, threads = 2, sample_steps = 0;
  std::string device_name = "cpu", dtype_name = "fp32", configs = "bench/sd15";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--latents") {
      latents = parse_list(value);
    } else if (flag == "--tokens") {
      tokens = parse_list(value);
    } else if (flag == "--batch") {
      batch = std::stoll(value);
    } else if (flag == "--repeats") {
      repeats = std::stoll(value);
    } else if (flag == "--threads") {
      threads = std::stoll(value);
    } else if (flag == "--device") {
      device_name = value;
    } else if (flag == "--dtype") {
      dtype_name = value;
    } else if (flag == "--sample-steps") {
      sample_steps = std::stoll(value);
    } else if (flag == "--configs") {
      configs = value;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  torch::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  const torch::Device device(device_name);
  const auto dtype = parse_dtype(dtype_name);

  auto t0 = Clock::now();
  UNet unet(UNetConfig(JsonConfig(configs + "/unet_config.json")));
  Vae vae(VaeConfig(JsonConfig(configs + "/vae_config.json")));
  unet->to(device, dtype);
  // SD's VAE decoder overflows in fp16; the pipeline keeps it in fp32 there too.
  vae->to(device, dtype == torch::kHalf ? torch::kFloat : dtype);
  unet->eval();
  vae->eval();
  int64_t unet_params = 0;
  for (const auto& p : unet->parameters()) unet_params += p.numel();
  std::printf("SD-1.x UNet %.1f M parameters, VAE built in %.1f s; %s %s, %lld thread(s)\n",
              unet_params / 1e6, seconds_since(t0), device_name.c_str(), dtype_name.c_str(),
              static_cast<long long>(threads));
  const auto opts = torch::TensorOptions().device(device).dtype(dtype);
  const int64_t context_dim = unet->config().cross_attention_dim.front();

  for (int64_t side : latents) {
    auto sample = torch::randn({batch, 4, side, side}, opts);
    auto t = torch::full({batch}, 501.0, torch::TensorOptions().device(device));
    const auto shape = fmt_shape(side, batch);
    for (int64_t length : tokens) {
      auto context = torch::randn({batch, length, context_dim}, opts);
      const double unet_s =
          median_time(device, repeats, [&] { unet->forward(sample, t, context); });
      std::printf("%s, %lld context token(s): UNet forward %.3f s (median of %lld)\n",
                  shape.c_str(), static_cast<long long>(length), unet_s,
                  static_cast<long long>(repeats));
    }
    const double vae_s = median_time(device, repeats, [&] { vae->decode(sample); });
    std::printf("%s: VAE decode %.3f s (median of %lld)\n", shape.c_str(), vae_s,
                static_cast<long long>(repeats));
  }

  if (sample_steps > 0) {
    const int64_t side = latents.back();
    for (int64_t length : tokens) {
      auto latent = torch::randn({batch, 4, side, side}, opts);
      auto context = torch::randn({2 * batch, length, context_dim}, opts);
      sync(device);
      auto a = Clock::now();
      for (int64_t s = 0; s < sample_steps; ++s) {
        auto t = torch::full({2 * batch}, 1000.0 - 20.0 * s, torch::TensorOptions().device(device));
        auto pred = unet->forward(torch::cat({latent, latent}), t, context).chunk(2);
        latent = latent - 0.01 * (pred[0] + 3.0 * (pred[1] - pred[0]));
      }
      auto images = vae->decode(latent / 0.18215);
      sync(device);
      const double total = seconds_since(a);
      std::printf(
          "sampling: %lld steps with guidance + decode, batch %lld at %lld px, %lld context "
          "token(s): %.2f s, %.3f images/s\n",
          static_cast<long long>(sample_steps), static_cast<long long>(batch),
          static_cast<long long>(side * 8), static_cast<long long>(length), total, batch / total);
    }
  }
  std::printf("peak RSS %.0f MiB\n", peak_rss_mib());
  return 0;
}
