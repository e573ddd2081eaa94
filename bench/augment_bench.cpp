// Augmentation micro-benchmark: time per call of each op of the SimCLR pipeline on a 224 x 224
// RGB view cut from a real photograph (single thread), and of the whole ViewTransform::run.
// Cheaper and far less noisy than the loader benchmark for work on the inner loops.
// Usage: mdlab_bench_augment IMAGE.jpg [--iters N]
// Prints one line per op: `<op> <microseconds per call>`.
#include "augment_config.h"
#include "blur.h"
#include "color.h"
#include "image_decode.h"
#include "normalize.h"
#include "resample.h"
#include "sample_rng.h"
#include "view_transform.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <vector>

namespace {

using namespace mdlab;
namespace aug = mdlab::augment;

// Median of 5 timings of `iters` calls each, in microseconds per call.
double time_us(int iters, const std::function<void()>& op) {
  std::vector<double> runs;
  for (int r = 0; r < 5; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) op();
    runs.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count() /
        iters);
  }
  std::sort(runs.begin(), runs.end());
  return runs[2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: mdlab_bench_augment IMAGE.jpg [--iters N]\n";
    return 2;
  }
  int iters = 200;
  for (int i = 2; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--iters")) iters = std::atoi(argv[i + 1]);
  try {
    ImageU8 src;
    decode_image_file(argv[1], src);
    fmt::print("source {}x{}x{}\n", src.height, src.width, src.channels);
    aug::ResampleScratch rs;
    ImageU8 view, work, out;
    const int side = std::min(src.height, src.width);
    // A typical random crop: 60% of the shorter side, downscaled to 224.
    const int crop = side * 6 / 10;
    auto report = [](const char* name, double us) { fmt::print("{:<14} {:8.1f}\n", name, us); };

    report("decode", time_us(std::max(iters / 10, 5), [&] { decode_image_file(argv[1], work); }));
    report("resized_crop",
           time_us(iters, [&] { aug::resized_crop(src, 10, 20, crop, crop, 224, 224, view, rs); }));
    aug::resized_crop(src, 10, 20, crop, crop, 224, 224, view, rs);
    const double copy = time_us(iters, [&] { work = view; });
    report("copy", copy);
    // In-place ops need a fresh input each call: the copy's own time is subtracted.
    auto inplace = [&](const char* name, const std::function<void(ImageU8&)>& op) {
      report(name, time_us(iters, [&] {
                     work = view;
                     op(work);
                   }) - copy);
    };
    inplace("brightness", [](ImageU8& im) { aug::adjust_brightness(im, 1.3f); });
    inplace("contrast", [](ImageU8& im) { aug::adjust_contrast(im, 0.7f); });
    inplace("saturation", [](ImageU8& im) { aug::adjust_saturation(im, 1.15f); });
    inplace("hue", [](ImageU8& im) { aug::adjust_hue(im, 0.07); });
    inplace("grayscale", [](ImageU8& im) { aug::to_grayscale(im, 1); });
    aug::BlurScratch bs;
    report("blur23", time_us(iters, [&] { aug::gaussian_blur(view, 23, 1.2, out, bs); }));
    std::vector<float> chw(3 * 224 * 224);
    const aug::NormalizeTable table = aug::make_normalize_table(
        std::vector<double>{0.485, 0.456, 0.406}, std::vector<double>{0.229, 0.224, 0.225}, 3);
    report("write_chw", time_us(iters, [&] { aug::write_chw(view, table, chw.data()); }));
    report("write_chw_flip",
           time_us(iters, [&] { aug::write_chw(view, table, chw.data(), true); }));
    const ViewTransform simclr(augment_preset("simclr"));
    uint64_t seed = 0;
    report("simclr_view", time_us(iters, [&] {
             SampleRng rng(++seed);
             simclr.run(src, rng, chw.data());
           }));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "mdlab_bench_augment: " << e.what() << "\n";
    return 1;
  }
}
