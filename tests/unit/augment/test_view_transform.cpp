// The per-slot pipeline: each step checked against the op it must apply (probabilities 0 or
// 1 make a step certain), determinism per stream, the fixed draw layout, channel handling
// and the preset table.
#include "augment_config.h"
#include "blur.h"
#include "color.h"
#include "geometry.h"
#include "normalize.h"
#include "sample_rng.h"
#include "view_transform.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace {

using mdlab::AugmentConfig;
using mdlab::ImageU8;
using mdlab::SampleRng;
using mdlab::ViewTransform;
namespace aug = mdlab::augment;

ImageU8 test_image(int h, int w, int c) {
  ImageU8 img;
  img.resize(h, w, c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k)
        img.row(y)[x * c + k] = static_cast<uint8_t>((x * 7 + y * 13 + k * 50 + x * y) % 256);
  return img;
}

std::vector<float> run(const AugmentConfig& c, const ImageU8& img, uint64_t seed = 5) {
  ViewTransform t(c);
  std::vector<float> out(static_cast<size_t>(t.out_channels(img.channels)) * c.size * c.size);
  SampleRng rng(seed, 0, "k", 0);
  t.run(img, rng, out.data());
  return out;
}

std::vector<float> reference(const ImageU8& img, const AugmentConfig& c) {
  std::vector<float> out(static_cast<size_t>(img.channels) * img.height * img.width);
  aug::normalize_to_chw(img, c.mean, c.stddev, out.data());
  return out;
}

AugmentConfig none(int size) {
  AugmentConfig c = mdlab::augment_preset("none");
  c.size = size;
  return c;
}

}  // namespace

TEST_CASE("preset none is Resize + CenterCrop + ToTensor + Normalize") {
  const ImageU8 img = test_image(40, 50, 3);
  const AugmentConfig c = none(32);
  ImageU8 expected;
  aug::ResampleScratch scratch;
  aug::resize_shorter_center_crop(img, 32, 32, expected, scratch);
  CHECK(run(c, img) == reference(expected, c));
}

TEST_CASE("preset eval resizes to size / 0.875 before the centre crop") {
  AugmentConfig c = mdlab::augment_preset("eval");
  CHECK(mdlab::center_resize_size(c) == 256);
  c.size = 28;
  CHECK(mdlab::center_resize_size(c) == 32);
  const ImageU8 img = test_image(40, 60, 3);
  ImageU8 expected;
  aug::ResampleScratch scratch;
  aug::resize_shorter_center_crop(img, 32, 28, expected, scratch);
  CHECK(run(c, img) == reference(expected, c));
}

TEST_CASE("a certain flip mirrors the view, a certain solarize inverts the bright values") {
  const ImageU8 img = test_image(30, 30, 3);
  AugmentConfig c = none(30);
  ImageU8 base;
  aug::ResampleScratch scratch;
  aug::resize_shorter_center_crop(img, 30, 30, base, scratch);

  c.flip_p = 1.0;
  ImageU8 flipped = base;
  aug::hflip(flipped);
  CHECK(run(c, img) == reference(flipped, c));

  c.flip_p = 0.0;
  c.solarize_p = 1.0;
  c.solarize_threshold = 100;
  ImageU8 solar = base;
  aug::solarize(solar, 100);
  CHECK(run(c, img) == reference(solar, c));
}

TEST_CASE("a certain grayscale keeps three equal planes; channels = 1 gives one plane") {
  const ImageU8 img = test_image(24, 24, 3);
  AugmentConfig c = none(24);
  c.grayscale_p = 1.0;
  c.mean = {0.5};
  c.stddev = {0.25};
  const auto out = run(c, img);
  REQUIRE(out.size() == 3u * 24 * 24);
  for (size_t k = 0; k < 24 * 24; ++k) {
    REQUIRE(out[k] == out[k + 24 * 24]);
    REQUIRE(out[k] == out[k + 2 * 24 * 24]);
  }
  ImageU8 gray = img;
  aug::to_grayscale(gray, 1);
  CHECK(std::vector<float>(out.begin(), out.begin() + 24 * 24) == reference(gray, c));

  AugmentConfig one = none(24);
  one.channels = 1;
  one.mean = {0.5};
  one.stddev = {0.25};
  CHECK(run(one, img) == reference(gray, one));
}

TEST_CASE("a gray source gives three replicated planes when the slot asks for 3 channels") {
  const ImageU8 img = test_image(20, 20, 1);
  AugmentConfig c = none(20);
  c.channels = 3;
  const auto out = run(c, img);
  REQUIRE(out.size() == 3u * 400);
  // Each plane uses its own channel's mean and std on the same gray values.
  std::vector<float> planes(3 * 400);
  aug::normalize_to_chw(img, c.mean, c.stddev, planes.data(), 3);
  CHECK(out == planes);
}

TEST_CASE("a certain blur equals the Gaussian blur of the crop with the drawn sigma") {
  const ImageU8 img = test_image(32, 32, 3);
  AugmentConfig c = none(32);
  c.blur_p = 1.0;
  c.sigma_min = c.sigma_max = 1.5;
  c.blur_kernel = aug::BlurKernelRule::Fixed;
  c.blur_kernel_size = 7;
  ImageU8 base, blurred;
  aug::ResampleScratch scratch;
  aug::resize_shorter_center_crop(img, 32, 32, base, scratch);
  aug::gaussian_blur(base, 7, 1.5, blurred);
  CHECK(run(c, img) == reference(blurred, c));
  CHECK(aug::blur_kernel_size(aug::BlurKernelRule::SimClr, 224, 1.0, 0) == 23);
  CHECK(aug::blur_kernel_size(aug::BlurKernelRule::SimClr, 96, 1.0, 0) == 9);
  CHECK(aug::blur_kernel_size(aug::BlurKernelRule::Sigma, 224, 1.0, 0) == 7);
}

TEST_CASE("views are a function of the stream; probabilities never shift later draws") {
  const ImageU8 img = test_image(64, 80, 3);
  const AugmentConfig simclr = [] {
    AugmentConfig c = mdlab::augment_preset("simclr");
    c.size = 32;
    return c;
  }();
  CHECK(run(simclr, img, 1) == run(simclr, img, 1));
  CHECK(run(simclr, img, 1) != run(simclr, img, 2));

  // Switching the colour steps off changes nothing else: the crop and the flip come from
  // the same draws, so the result equals the crop + flip preset on the same stream.
  AugmentConfig a = simclr, b = mdlab::augment_preset("crop_flip");
  b.size = 32;
  a.jitter_p = a.grayscale_p = a.blur_p = a.solarize_p = 0.0;
  CHECK(run(a, img, 9) == run(b, img, 9));
}

TEST_CASE("presets carry the mission's settings and bad values are refused by name") {
  const auto simclr = mdlab::augment_preset("simclr");
  CHECK(simclr.scale_min == Approx(0.08));
  CHECK(simclr.jitter_p == Approx(0.8));
  CHECK(simclr.brightness == Approx(0.4));
  CHECK(simclr.hue == Approx(0.1));
  CHECK(simclr.grayscale_p == Approx(0.2));
  const auto local = mdlab::augment_preset("dino_local");
  CHECK(local.size == 96);
  CHECK(local.scale_max == Approx(0.4));
  CHECK(mdlab::augment_preset("byol2").solarize_p == Approx(0.2));
  CHECK_THROWS_WITH(mdlab::augment_preset("bogus"), Catch::Contains("simclr"));
  AugmentConfig bad = simclr;
  bad.flip_p = 1.5;
  CHECK_THROWS_WITH(ViewTransform(bad), Catch::Contains("flip_p"));
  bad = simclr;
  bad.hue = 0.7;
  CHECK_THROWS_WITH(ViewTransform(bad), Catch::Contains("hue"));
}

TEST_CASE("the table-driven hue shift equals Pillow's per-pixel conversion on every colour") {
  // adjust_hue uses tables; rgb_to_hsv / hsv_to_rgb are the direct transcription of Pillow
  // (checked against torchvision by the fixture tests). All 2^24 colours, two shifts.
  ImageU8 img;
  img.resize(4096, 4096, 3);
  for (size_t i = 0; i < size_t{1} << 24; ++i) {
    img.data[3 * i] = static_cast<uint8_t>(i >> 16);
    img.data[3 * i + 1] = static_cast<uint8_t>(i >> 8);
    img.data[3 * i + 2] = static_cast<uint8_t>(i);
  }
  uint8_t hsv[3], rgb[3];
  for (double hue : {0.1, -0.37, 0.5}) {
    ImageU8 shifted = img;
    aug::adjust_hue(shifted, hue);
    const uint8_t shift = aug::hue_shift(hue);
    size_t mismatches = 0;
    for (size_t i = 0; i < size_t{1} << 24; ++i) {
      aug::rgb_to_hsv(&img.data[3 * i], hsv);
      hsv[0] = static_cast<uint8_t>(hsv[0] + shift);
      aug::hsv_to_rgb(hsv, rgb);
      mismatches += std::memcmp(rgb, &shifted.data[3 * i], 3) != 0;
    }
    CHECK(mismatches == 0);
  }
  // Pixel counts that are not a multiple of the vector width: the tail takes the scalar path.
  for (int width : {1, 7, 8, 9, 23}) {
    ImageU8 row;
    row.resize(1, width, 3);
    for (int i = 0; i < 3 * width; ++i) row.data[i] = static_cast<uint8_t>(37 * i + 11 * width);
    ImageU8 shifted = row;
    aug::adjust_hue(shifted, -0.21);
    for (int i = 0; i < width; ++i) {
      aug::rgb_to_hsv(&row.data[3 * i], hsv);
      hsv[0] = static_cast<uint8_t>(hsv[0] + aug::hue_shift(-0.21));
      aug::hsv_to_rgb(hsv, rgb);
      CHECK(std::memcmp(rgb, &shifted.data[3 * i], 3) == 0);
    }
  }
}

TEST_CASE("write_chw gives the table's values at every width, channel layout and flip") {
  // The vector path handles eight pixels at a time and the rest through the tables: widths
  // around multiples of 8, gray and RGB sources, 1- and 3-channel outputs, mirrored or not.
  const std::vector<double> mean = {0.485, 0.456, 0.406}, stddev = {0.229, 0.224, 0.225};
  for (int width : {1, 7, 8, 9, 17, 31, 224}) {
    for (int src_channels : {1, 3}) {
      for (int out_channels : {1, 3}) {
        if (src_channels == 3 && out_channels == 1) continue;  // not a write_chw case
        const aug::NormalizeTable table = aug::make_normalize_table(mean, stddev, out_channels);
        ImageU8 img;
        img.resize(3, width, src_channels);
        for (size_t i = 0; i < img.data.size(); ++i)
          img.data[i] = static_cast<uint8_t>((i * 97 + static_cast<size_t>(width)) % 256);
        for (bool mirror : {false, true}) {
          INFO("width " << width << ", " << src_channels << " -> " << out_channels
                        << " channels, mirror " << mirror);
          const size_t plane = static_cast<size_t>(3) * width;
          std::vector<float> got(plane * out_channels, -99.0f);
          aug::write_chw(img, table, got.data(), mirror);
          size_t mismatches = 0;
          for (int c = 0; c < out_channels; ++c)
            for (int y = 0; y < 3; ++y)
              for (int x = 0; x < width; ++x) {
                const int sx = mirror ? width - 1 - x : x;
                const uint8_t v = img.row(y)[sx * src_channels + (src_channels == 1 ? 0 : c)];
                const float want = table.value[c][v];
                mismatches += std::memcmp(&want, &got[c * plane + y * width + x], 4) != 0;
              }
          CHECK(mismatches == 0);
        }
      }
    }
  }
}

TEST_CASE("the blur gives the full kernel's bytes when outer taps underflow to zero") {
  // The direct separable sum over all taps, in tap order (torch's reflect padding), as the
  // oracle: dropping zero-weight taps must not change a single byte.
  auto reflect = [](int i, int n) {
    const int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
  };
  for (int channels : {1, 3}) {
    ImageU8 img;
    img.resize(40, 37, channels);
    for (size_t i = 0; i < img.data.size(); ++i)
      img.data[i] = static_cast<uint8_t>((i * 131 + i / 7) % 256);
    for (double sigma : {0.1, 0.3, 0.5, 0.7, 1.0, 2.0}) {
      const int size = 23, r = size / 2;
      std::vector<float> k(size);
      aug::gaussian_kernel(size, sigma, k.data());
      const int H = img.height, W = img.width, C = channels;
      std::vector<float> mid(static_cast<size_t>(H) * W * C);
      for (int y = 0; y < H; ++y)
        for (int i = 0; i < W * C; ++i) {
          float acc = k[0] * static_cast<float>(img.row(reflect(y - r, H))[i]);
          for (int t = 1; t < size; ++t)
            acc += k[t] * static_cast<float>(img.row(reflect(y + t - r, H))[i]);
          mid[static_cast<size_t>(y) * W * C + i] = acc;
        }
      ImageU8 got;
      aug::gaussian_blur(img, size, sigma, got);
      size_t mismatches = 0;
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
          for (int c = 0; c < C; ++c) {
            auto at = [&](int xx) { return mid[(static_cast<size_t>(y) * W + xx) * C + c]; };
            float acc = k[0] * at(reflect(x - r, W));
            for (int t = 1; t < size; ++t) acc += k[t] * at(reflect(x + t - r, W));
            const float rounded = std::nearbyint(acc);
            const auto want = static_cast<uint8_t>(std::clamp(rounded, 0.0f, 255.0f));
            mismatches += got.row(y)[x * C + c] != want;
          }
      INFO("channels " << channels << ", sigma " << sigma);
      CHECK(mismatches == 0);
    }
  }
}
