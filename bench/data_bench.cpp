// Data-loading benchmark, mdlab side: throughput (images/s) of the threaded loader on an
// image folder in three modes, the same pipelines as bench/torchvision_loader.py:
//   decode  JPEG decode only (the views are not computed)
//   simclr  decode + two SimCLR views at 224 px
//   dino    decode + DINO multi-crop: 2 global crops at 224 px + 8 local crops at 96 px
// Usage: mdlab_bench_data ROOT MODE [--threads N] [--batch B] [--images N]
//                         [--augment-on workers|device] [--finish none|cpu|cuda]
// `--augment-on device` makes the view slots deferred (data.augment_on = "device": the threads
// decode and crop); `--finish` then says where the batches are finished with BatchAugment:
// nowhere (the default: the loader's side alone, what a GPU run's CPU does), on this thread's
// CPU, or on the GPU.
// Prints one line: `<mode> <images per second>`.
#include "augment_config.h"
#include "batch_augment.h"
#include "data_source.h"
#include "loader.h"
#include "mix_plan.h"
#include "view_transform.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace mdlab;

// Decodes and stops: the loader still writes one float per sample (the first pixel), so the
// decoded image is used and cannot be optimised away.
class DecodeOnly final : public SlotTransform {
 public:
  DecodeHint decode_hint(int, int) const override { return {}; }
  int out_size() const override { return 1; }
  int out_channels(int) const override { return 1; }
  void run(const ImageU8& src, SampleRng&, float* out) const override { *out = src.data[0]; }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: mdlab_bench_data ROOT decode|simclr|dino [--threads N] [--batch B] "
                 "[--images N]\n";
    return 2;
  }
  const std::string root = argv[1], mode = argv[2];
  int threads = 2;
  int64_t batch = 64, images = 1000;
  std::string augment_on = "workers", finish = "none";
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--augment-on")) augment_on = argv[i + 1];
    if (!std::strcmp(argv[i], "--finish")) finish = argv[i + 1];
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--images")) images = std::atoll(argv[i + 1]);
  }
  try {
    SourceRequest request;
    request.format = "folder";
    request.root = root;
    request.split = "train";
    std::shared_ptr<const DataSource> source = open_source(request);

    if (augment_on != "workers" && augment_on != "device") {
      std::cerr << "--augment-on must be workers or device\n";
      return 2;
    }
    if (finish != "none" && finish != "cpu" && finish != "cuda") {
      std::cerr << "--finish must be none, cpu or cuda\n";
      return 2;
    }
    const bool deferred = augment_on == "device";
    std::vector<ViewSlot> slots;
    std::vector<std::unique_ptr<SlotTransform>> owned;
    std::vector<std::unique_ptr<BatchAugment>> finishers;
    const auto view = [&](const AugmentConfig& c) {
      if (deferred) finishers.push_back(std::make_unique<BatchAugment>(c));
      return std::make_unique<ViewTransform>(c, deferred);
    };
    if (mode == "decode") {
      slots = {{"image", "", 0, ""}};
      owned.push_back(std::make_unique<DecodeOnly>());
    } else if (mode == "simclr") {
      for (const char* name : {"view1", "view2"}) {
        slots.push_back({name, "", 224, "simclr"});
        owned.push_back(view(augment_preset("simclr")));
      }
    } else if (mode == "dino") {
      // torchvision's GaussianBlur needs a fixed kernel: both sides use 10% of the side (23 at
      // 224 px, 9 at 96 px) so they do the same work.
      auto dino = [&](const char* name) {
        AugmentConfig c = augment_preset(name);
        c.blur_kernel = augment::BlurKernelRule::SimClr;
        return view(c);
      };
      slots.push_back({"global0", "global", 224, "dino_global1"});
      owned.push_back(dino("dino_global1"));
      slots.push_back({"global1", "global", 224, "dino_global2"});
      owned.push_back(dino("dino_global2"));
      for (int l = 0; l < 8; ++l) {
        slots.push_back({fmt::format("local{}", l), "local", 96, "dino_local"});
        owned.push_back(dino("dino_local"));
      }
    } else {
      std::cerr << "unknown mode " << mode << "\n";
      return 2;
    }
    std::vector<const SlotTransform*> transforms;
    for (auto& t : owned) transforms.push_back(t.get());

    TrainingData data;
    data.real = source;
    data.plan = MixPlan(MixOptions{}, slots, 1000);
    LoaderOptions options;
    options.batch_size = batch;
    options.threads = threads;
    options.seed = 1;
    Loader loader(std::move(data), transforms, options);

    // As on the torchvision side: one batch to warm up (threads, page cache), then the timed
    // pass over `images` images, wrapping into the next epoch when needed.
    int64_t epoch = 0, seen = 0;
    LoaderBatch b;
    loader.start_epoch(epoch);
    loader.next(b);
    const bool finishing = deferred && finish != "none";
    const torch::Device device(finish == "cuda" ? torch::kCUDA : torch::kCPU);
    torch::Tensor last;
    const auto start = std::chrono::steady_clock::now();
    while (seen < images) {
      if (!loader.next(b)) {
        loader.start_epoch(++epoch);
        continue;
      }
      seen += b.labels.size(0);
      if (finishing)
        for (size_t v = 0; v < b.views.size(); ++v)
          last = (*finishers[v])(b.views[v].to(device), b.view_params[v]);
    }
    if (last.defined()) last.sum().item<float>();  // waits for the device's queued work
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("{} {:.1f}\n", mode, static_cast<double>(seen) / seconds);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "mdlab_bench_data: " << e.what() << "\n";
    return 1;
  }
}
