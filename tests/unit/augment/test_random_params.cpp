// Random parameters: RandomResizedCrop's sampling (area fraction and aspect ratio in range,
// the centre-crop fallback when no attempt fits) and ColorJitter's draws.
#include "random_params.h"
#include "sample_rng.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

namespace aug = mdlab::augment;
using mdlab::SampleRng;

TEST_CASE("random resized crops stay inside the image with area and ratio in range") {
  SampleRng rng(7);
  const int h = 375, w = 500;
  double min_frac = 1, max_frac = 0;
  for (int k = 0; k < 5000; ++k) {
    const auto b = aug::sample_resized_crop(h, w, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng);
    REQUIRE(b.top >= 0);
    REQUIRE(b.left >= 0);
    REQUIRE(b.top + b.height <= h);
    REQUIRE(b.left + b.width <= w);
    const double frac = double(b.height) * b.width / (double(h) * w);
    const double ratio = double(b.width) / b.height;
    // Rounding w and h to integers moves the ratio and area by a pixel at most.
    REQUIRE(ratio >= 0.75 * (1 - 2.0 / b.height) - 1e-9);
    REQUIRE(ratio <= 4.0 / 3.0 * (1 + 2.0 / b.width) + 1e-9);
    min_frac = std::min(min_frac, frac);
    max_frac = std::max(max_frac, frac);
  }
  CHECK(min_frac < 0.1);
  CHECK(min_frac > 0.07);
  CHECK(max_frac > 0.9);
}

TEST_CASE("random resized crop falls back to torchvision's centre crop when nothing fits") {
  // A 10:1 strip with ratios near 1 and scale 1: no attempt fits, so the fallback takes the
  // whole height and width narrowed to round(h * ratio_max), centred.
  SampleRng rng(3);
  const auto b = aug::sample_resized_crop(20, 200, 1.0, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng);
  CHECK(b.height == 20);
  CHECK(b.width == 27);  // round(20 * 4/3) = round(26.67)
  CHECK(b.top == 0);
  CHECK(b.left == (200 - 27) / 2);
  // A tall strip narrows the height to round(w / ratio_min).
  const auto t = aug::resized_crop_fallback(300, 30, 3.0 / 4.0, 4.0 / 3.0);
  CHECK(t.width == 30);
  CHECK(t.height == 40);
  CHECK(t.top == (300 - 40) / 2);
  // In range: the whole image.
  const auto whole = aug::resized_crop_fallback(30, 35, 3.0 / 4.0, 4.0 / 3.0);
  CHECK((whole.top == 0 && whole.left == 0 && whole.height == 30 && whole.width == 35));
}

TEST_CASE("the same stream gives the same crop; another key another crop") {
  SampleRng a(1, 0, "n01/img", 0), b(1, 0, "n01/img", 0), c(1, 0, "n01/img2", 0);
  const auto x = aug::sample_resized_crop(100, 120, 0.08, 1, 0.75, 4.0 / 3, a);
  const auto y = aug::sample_resized_crop(100, 120, 0.08, 1, 0.75, 4.0 / 3, b);
  const auto z = aug::sample_resized_crop(100, 120, 0.08, 1, 0.75, 4.0 / 3, c);
  CHECK((x.top == y.top && x.left == y.left && x.height == y.height && x.width == y.width));
  CHECK(!(x.top == z.top && x.left == z.left && x.height == z.height && x.width == z.width));
}

TEST_CASE("colour jitter draws a permutation and factors in torchvision's ranges") {
  SampleRng rng(11);
  const aug::JitterStrength s{0.4, 0.4, 0.2, 0.1};
  std::set<std::array<int, 4>> orders;
  for (int k = 0; k < 2000; ++k) {
    const auto p = aug::sample_color_jitter(s, rng);
    auto sorted = p.order;
    std::sort(sorted.begin(), sorted.end());
    REQUIRE(sorted == std::array<int, 4>{0, 1, 2, 3});
    orders.insert(p.order);
    REQUIRE(p.brightness >= 0.6f);
    REQUIRE(p.brightness <= 1.4f);
    REQUIRE(p.contrast >= 0.6f);
    REQUIRE(p.contrast <= 1.4f);
    REQUIRE(p.saturation >= 0.8f);
    REQUIRE(p.saturation <= 1.2f);
    REQUIRE(std::abs(p.hue) <= 0.1);
  }
  CHECK(orders.size() == 24);  // every order of the four ops occurs
}
