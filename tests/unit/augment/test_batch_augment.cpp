// Deferred views: the workers' crop + draws (ViewTransform::run_deferred) finished by
// BatchAugment must be the views ViewTransform::run makes, for every preset and channel
// layout, and a loader with deferred slots must stay deterministic and agree with a plain one.
// MDLAB_TEST_DEVICE=cuda runs the BatchAugment side on a GPU (a CUDA LibTorch build).
#include "augment_config.h"
#include "batch_augment.h"
#include "color.h"
#include "loader.h"
#include "mix_plan.h"
#include "normalize.h"
#include "random_params.h"
#include "sample_rng.h"
#include "test_device.h"
#include "view_transform.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace mdlab;

// A textured image with smooth gradients and noise, so every hue sector and both sides of
// the solarize threshold occur.
ImageU8 test_image(int h, int w, int c, uint64_t seed) {
  ImageU8 img;
  img.resize(h, w, c);
  SampleRng rng(seed);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) {
        const double wave = 127.5 + 110.0 * std::sin(0.11 * x * (k + 1) + 0.07 * y + k);
        const int v = static_cast<int>(wave) + static_cast<int>(rng.uniform_int(-12, 12));
        img.row(y)[x * c + k] = static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
  return img;
}

struct Compared {
  int64_t values = 0;
  int64_t different = 0;
  double largest = 0;  // in levels of the 0..255 scale
};

// Compares normalised views, converting differences back to levels with the smallest std.
Compared compare(const torch::Tensor& got, const torch::Tensor& want, const AugmentConfig& c) {
  const double stddev = *std::min_element(c.stddev.begin(), c.stddev.end());
  const torch::Tensor diff = (got - want).abs();
  Compared r;
  r.values = diff.numel();
  r.different = diff.gt(0).sum().item<int64_t>();
  r.largest = diff.max().item<double>() * 255.0 * stddev;
  return r;
}

// `n` views of `img` by both paths, with streams (seed, 0, "k<i>", 0).
void check_preset(const AugmentConfig& c, const ImageU8& img, int n, bool blur_allowed_off) {
  const ViewTransform plain(c);
  const ViewTransform deferred(c, true);
  const BatchAugment finish(c);
  const int channels = plain.out_channels(img.channels);
  const int64_t per_view = static_cast<int64_t>(channels) * c.size * c.size;
  torch::Tensor want = torch::empty({n, channels, c.size, c.size}, torch::kFloat32);
  torch::Tensor crops = torch::empty({n, channels, c.size, c.size}, torch::kUInt8);
  torch::Tensor params = torch::empty({n, view_param::count}, torch::kFloat64);
  for (int i = 0; i < n; ++i) {
    SampleRng a(11, 0, fmt::format("k{}", i), 0);
    SampleRng b(11, 0, fmt::format("k{}", i), 0);
    plain.run(img, a, want.data_ptr<float>() + i * per_view);
    deferred.run_deferred(img, b, crops.data_ptr<uint8_t>() + i * per_view,
                          params.data_ptr<double>() + i * view_param::count);
    CHECK(a.next() == b.next());  // both paths drew the same number of values
  }
  const torch::Tensor got = finish(crops.to(mdlab::test::test_device()), params).cpu();
  REQUIRE(got.sizes() == want.sizes());
  REQUIRE(got.scalar_type() == torch::kFloat32);
  const torch::Tensor blurred = params.select(1, view_param::blur) != 0;
  // Views without blur: the CPU path's exact bytes.
  const torch::Tensor sharp = (~blurred).nonzero().squeeze(1);
  if (sharp.numel() > 0) {
    const Compared r = compare(got.index_select(0, sharp), want.index_select(0, sharp), c);
    INFO(c.preset << " without blur: " << r.different << " of " << r.values
                  << " values differ, largest " << r.largest << " levels");
    CHECK(r.different == 0);
  }
  // Blurred views: float sums in another order; a level at most, on very few values.
  const torch::Tensor soft = blurred.nonzero().squeeze(1);
  if (soft.numel() > 0) {
    const Compared r = compare(got.index_select(0, soft), want.index_select(0, soft), c);
    INFO(c.preset << ": " << r.different << " of " << r.values << " values differ, largest "
                  << r.largest << " levels");
    CHECK(r.largest <= 1.001);
    CHECK(r.different * 10000 <= r.values);
  } else {
    CHECK(blur_allowed_off);
  }
}

AugmentConfig preset(const std::string& name, int size) {
  AugmentConfig c = augment_preset(name);
  c.size = size;
  return c;
}

}  // namespace

TEST_CASE("each deferred step alone gives the CPU step's result", "[device]") {
  const ImageU8 rgb = test_image(61, 83, 3, 1);
  AugmentConfig base = preset("crop_flip", 32);
  base.flip_p = 0.0;
  const auto alone = [&](const char* what, auto set) {
    AugmentConfig c = base;
    set(c);
    c.preset = what;
    check_preset(c, rgb, 12, true);
  };
  alone("flip", [](AugmentConfig& c) { c.flip_p = 0.5; });
  alone("brightness", [](AugmentConfig& c) { c.jitter_p = 1, c.brightness = 0.6; });
  alone("contrast", [](AugmentConfig& c) { c.jitter_p = 1, c.contrast = 0.6; });
  alone("saturation", [](AugmentConfig& c) { c.jitter_p = 1, c.saturation = 0.6; });
  alone("hue", [](AugmentConfig& c) { c.jitter_p = 1, c.hue = 0.5; });
  alone("grayscale", [](AugmentConfig& c) { c.grayscale_p = 0.5; });
  alone("blur", [](AugmentConfig& c) { c.blur_p = 1; });
  alone("solarize", [](AugmentConfig& c) { c.solarize_p = 0.5; });
}

TEST_CASE("deferred views finished by BatchAugment are the CPU pipeline's views", "[device]") {
  const ImageU8 rgb = test_image(61, 83, 3, 1);
  SECTION("simclr, every op at its preset probability") {
    check_preset(preset("simclr", 48), rgb, 40, false);
  }
  SECTION("byol2 (solarize) and dino_global1 (kernel from sigma)") {
    check_preset(preset("byol2", 40), rgb, 24, true);
    check_preset(preset("dino_global1", 40), rgb, 24, false);
  }
  SECTION("every op certain, strong jitter") {
    AugmentConfig c = preset("simclr", 32);
    c.jitter_p = c.blur_p = 1.0;
    c.solarize_p = 0.5;
    c.brightness = c.contrast = c.saturation = 0.8;
    c.hue = 0.5;
    check_preset(c, rgb, 24, false);
  }
  SECTION("gray sources: 1-channel views and gray replicated into 3 channels") {
    const ImageU8 gray = test_image(50, 44, 1, 2);
    check_preset(preset("simclr", 32), gray, 24, false);
    AugmentConfig one = preset("simclr", 32);
    one.channels = 1;
    check_preset(one, rgb, 24, false);
  }
  SECTION("centre crops (nothing random but flip)") {
    check_preset(preset("flip", 36), rgb, 8, true);
    check_preset(preset("eval", 28), rgb, 4, true);
  }
}

TEST_CASE("split_planes writes the channel planes of an image") {
  for (auto [h, w] : {std::pair{7, 5}, std::pair{13, 11}, std::pair{16, 16}}) {
    const ImageU8 rgb = test_image(h, w, 3, 4);
    std::vector<uint8_t> planes(static_cast<size_t>(3 * h * w));
    augment::split_planes(rgb, 3, planes.data());
    int wrong = 0;
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < h * w; ++i)
        wrong +=
            planes[static_cast<size_t>(c * h * w + i)] != rgb.data[static_cast<size_t>(3 * i + c)];
    CHECK(wrong == 0);
    const ImageU8 gray = test_image(h, w, 1, 5);
    augment::split_planes(gray, 3, planes.data());
    for (int c = 0; c < 3; ++c)
      CHECK(std::equal(gray.data.begin(), gray.data.end(), planes.begin() + c * h * w));
    CHECK_THROWS_AS(augment::split_planes(rgb, 1, planes.data()), Error);
  }
}

TEST_CASE("BatchAugment refuses crops or draws that do not fit") {
  const BatchAugment finish(preset("simclr", 8));
  const auto params = torch::zeros({2, view_param::count}, torch::kFloat64);
  CHECK_THROWS_AS(finish(torch::zeros({2, 3, 8, 8}, torch::kFloat32), params), Error);
  CHECK_THROWS_AS(finish(torch::zeros({2, 2, 8, 8}, torch::kUInt8), params), Error);
  CHECK_THROWS_AS(finish(torch::zeros({3, 3, 8, 8}, torch::kUInt8), params), Error);
  CHECK_THROWS_AS(finish(torch::zeros({2, 3, 8, 8}, torch::kUInt8),
                         torch::zeros({2, view_param::count - 1}, torch::kFloat64)),
                  Error);
  // An all-zero draw row is a valid view: crop only, then normalisation.
  const auto out = finish(torch::full({2, 3, 8, 8}, 128, torch::kUInt8), params);
  CHECK(out.sizes() == torch::IntArrayRef({2, 3, 8, 8}));
}

namespace {

// Images of varied sizes, keys "c<label>/img<i>".
class PatternSource : public DataSource {
 public:
  explicit PatternSource(int64_t n) {
    classes_ = {"a", "b"};
    for (int64_t i = 0; i < n; ++i) keys_.push_back(fmt::format("c{}/img{}", i % 2, i));
  }
  int64_t size() const override { return static_cast<int64_t>(keys_.size()); }
  const std::string& key(int64_t i) const override { return keys_.at(static_cast<size_t>(i)); }
  int64_t label(int64_t i) const override { return i % 2; }
  const std::vector<std::string>& classes() const override { return classes_; }
  void load(int64_t i, ImageU8& out, const DecodeHint&) const override {
    out = test_image(40 + static_cast<int>(i % 5) * 3, 52 - static_cast<int>(i % 3) * 4, 3,
                     static_cast<uint64_t>(i));
  }
  std::string describe() const override { return "pattern source"; }

 private:
  std::vector<std::string> keys_;
  std::vector<std::string> classes_;
};

std::vector<LoaderBatch> read_epoch(const SlotTransform& t, int threads, int64_t epoch) {
  TrainingData data;
  data.real = std::make_shared<PatternSource>(32);
  data.plan = MixPlan(MixOptions{}, {{"view1", "", 0, ""}, {"view2", "", 0, ""}}, 2);
  LoaderOptions o;
  o.batch_size = 8;
  o.threads = threads;
  o.seed = 9;
  Loader loader(std::move(data), {&t, &t}, o);
  loader.start_epoch(epoch);
  std::vector<LoaderBatch> batches;
  LoaderBatch b;
  while (loader.next(b)) {
    LoaderBatch copy = b;
    for (auto& v : copy.views) v = v.clone();
    for (auto& p : copy.view_params)
      if (p.defined()) p = p.clone();
    batches.push_back(copy);
  }
  return batches;
}

}  // namespace

TEST_CASE("a loader with deferred slots is deterministic and matches a plain loader", "[device]") {
  const AugmentConfig c = preset("simclr", 24);
  const ViewTransform plain(c);
  const ViewTransform deferred(c, true);
  const BatchAugment finish(c);
  const auto want = read_epoch(plain, 2, 1);
  const auto one = read_epoch(deferred, 1, 1);
  const auto two = read_epoch(deferred, 2, 1);
  REQUIRE(want.size() == 4);
  REQUIRE(one.size() == 4);
  REQUIRE(two.size() == 4);
  int64_t different = 0, values = 0;
  for (size_t k = 0; k < want.size(); ++k) {
    for (size_t v = 0; v < 2; ++v) {
      INFO("step " << k << " slot " << v);
      REQUIRE(one[k].views[v].scalar_type() == torch::kUInt8);
      REQUIRE(one[k].view_params[v].sizes() == torch::IntArrayRef({8, view_param::count}));
      CHECK(torch::equal(one[k].views[v], two[k].views[v]));
      CHECK(torch::equal(one[k].view_params[v], two[k].view_params[v]));
      CHECK_FALSE(want[k].view_params[v].defined());
      const torch::Tensor got =
          finish(two[k].views[v].to(mdlab::test::test_device()), two[k].view_params[v]).cpu();
      const Compared r = compare(got, want[k].views[v], c);
      CHECK(r.largest <= 1.001);
      different += r.different;
      values += r.values;
    }
    CHECK(torch::equal(two[k].labels, want[k].labels));
  }
  CHECK(different * 10000 <= values);
}

TEST_CASE("the batched hue is the CPU hue on a million colours", "[device]") {
  // Every (R, G) pair with 16 levels of B, under a few shifts: the sector boundaries (H = 255
  // lands on 6.0 = sector 0), gray pixels and both rounding directions all occur.
  AugmentConfig c = preset("crop_flip", 8);
  c.jitter_p = 1;
  c.hue = 0.5;
  const BatchAugment finish(c);
  const int W = 256 * 16;
  ImageU8 img;
  img.resize(256, W, 3);
  for (int y = 0; y < 256; ++y)
    for (int x = 0; x < W; ++x) {
      img.row(y)[3 * x] = static_cast<uint8_t>(y);
      img.row(y)[3 * x + 1] = static_cast<uint8_t>(x % 256);
      img.row(y)[3 * x + 2] = static_cast<uint8_t>((x / 256) * 17);
    }
  const torch::Tensor crops = torch::from_blob(img.data.data(), {1, 256, W, 3}, torch::kUInt8)
                                  .permute({0, 3, 1, 2})
                                  .contiguous();
  for (double hue : {0.0, 0.12, -0.3, 0.5}) {
    ImageU8 cpu = img;
    augment::adjust_hue(cpu, hue);
    std::vector<float> want(cpu.data.size());
    augment::normalize_to_chw(cpu, c.mean, c.stddev, want.data());
    torch::Tensor params = torch::zeros({1, view_param::count}, torch::kFloat64);
    params[0][view_param::jitter] = 1;
    params[0][view_param::order] = augment::kHue;
    params[0][view_param::hue_shift] = augment::hue_shift(hue);
    const torch::Tensor got = finish(crops.to(mdlab::test::test_device()), params).cpu();
    INFO("hue " << hue);
    CHECK(torch::equal(got[0], torch::from_blob(want.data(), {3, 256, W}, torch::kFloat32)));
  }
}
