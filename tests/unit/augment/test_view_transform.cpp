// The per-slot pipeline: each step checked against the op it must apply (probabilities 0 or
// 1 make a step certain), determinism per stream, the fixed draw layout, channel handling
// and the preset table.
#include "augment_config.h"
#include "blur.h"
#include "color.h"
#include "geometry.h"
#include "normalize.h"
#include "resample.h"
#include "sample_rng.h"
#include "view_transform.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
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

TEST_CASE("the vector colour kernels give the scalar PIL formulas' bytes at every size") {
  // brightness and contrast (AVX-512 table or AVX2 arithmetic), saturation, the mean gray
  // level and grayscale (AVX2 channel split) against color.h's one-pixel formulas, on
  // widths around the vector groups and factors reaching both clamps.
  uint32_t state = 12345;
  auto next_byte = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<uint8_t>(state >> 24);
  };
  for (int width : {1, 3, 8, 10, 11, 21, 22, 64, 100}) {
    for (int height : {1, 2, 7}) {
      ImageU8 img;
      img.resize(height, width, 3);
      for (uint8_t& v : img.data) v = next_byte();
      const size_t pixels = static_cast<size_t>(width) * height;
      uint64_t gray_sum = 0;
      for (size_t i = 0; i < pixels; ++i)
        gray_sum += aug::gray_level(img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]);
      const int mean = static_cast<int>(static_cast<double>(gray_sum) / pixels + 0.5);
      INFO("width " << width << ", height " << height);
      CHECK(aug::mean_gray_level(img) == mean);
      for (float factor : {0.0f, 0.37f, 1.0f, 1.6f, 2.2f, 7.5f}) {
        INFO("factor " << factor);
        ImageU8 bright = img, contrast = img, saturation = img;
        aug::adjust_brightness(bright, factor);
        aug::adjust_contrast(contrast, factor);
        aug::adjust_saturation(saturation, factor);
        size_t mismatches = 0;
        for (size_t i = 0; i < 3 * pixels; ++i) {
          const size_t p = i - i % 3;
          const int gray = aug::gray_level(img.data[p], img.data[p + 1], img.data[p + 2]);
          mismatches += bright.data[i] != aug::blend(0, img.data[i], factor);
          mismatches += contrast.data[i] != aug::blend(mean, img.data[i], factor);
          mismatches += saturation.data[i] != aug::blend(gray, img.data[i], factor);
        }
        CHECK(mismatches == 0);
      }
      for (int out_channels : {1, 3}) {
        ImageU8 gray = img;
        aug::to_grayscale(gray, out_channels);
        REQUIRE(gray.channels == out_channels);
        size_t mismatches = 0;
        for (size_t i = 0; i < pixels; ++i)
          for (int c = 0; c < out_channels; ++c)
            mismatches +=
                gray.data[out_channels * i + c] !=
                aug::gray_level(img.data[3 * i], img.data[3 * i + 1], img.data[3 * i + 2]);
        CHECK(mismatches == 0);
      }
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

TEST_CASE("the blur rounds the full kernel's exact sum, negligible taps dropped") {
  // The direct separable sum over all 23 taps in double (torch's reflect padding), rounded
  // half to even, as the oracle. Dropping the negligible outer taps and summing in float
  // with FMA may move a byte only where the exact sum lies within ~1e-5 of a half-integer:
  // at most 1 level, on at most 1 byte in 1,000 (0 of 303,215 in a wider check).
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
    for (double sigma : {0.1, 0.3, 0.5, 0.7, 1.0, 1.3, 2.0}) {
      const int size = 23, r = size / 2;
      std::vector<float> k(size);
      aug::gaussian_kernel(size, sigma, k.data());
      const int H = img.height, W = img.width, C = channels;
      std::vector<double> mid(static_cast<size_t>(H) * W * C);
      for (int y = 0; y < H; ++y)
        for (int i = 0; i < W * C; ++i) {
          double acc = 0.0;
          for (int t = 0; t < size; ++t) acc += double{k[t]} * img.row(reflect(y + t - r, H))[i];
          mid[static_cast<size_t>(y) * W * C + i] = acc;
        }
      ImageU8 got;
      aug::gaussian_blur(img, size, sigma, got);
      size_t mismatches = 0;
      int worst = 0;
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
          for (int c = 0; c < C; ++c) {
            auto at = [&](int xx) { return mid[(static_cast<size_t>(y) * W + xx) * C + c]; };
            double acc = 0.0;
            for (int t = 0; t < size; ++t) acc += double{k[t]} * at(reflect(x + t - r, W));
            const int want = static_cast<int>(std::clamp(std::nearbyint(acc), 0.0, 255.0));
            const int diff = std::abs(got.row(y)[x * C + c] - want);
            worst = std::max(worst, diff);
            mismatches += diff != 0;
          }
      INFO("channels " << channels << ", sigma " << sigma);
      CHECK(worst <= 1);
      CHECK(mismatches <= img.data.size() / 1000);
    }
  }
}

TEST_CASE("resized_crop equals PIL's fixed-point sums written out directly") {
  // The oracle: Pillow's two passes as plain loops over compute_resample_axis' weights
  // (horizontal into 8 bits, then vertical; each sum starts at 2^21, is shifted by 22 and
  // clamped). The library takes its vector paths (16-bit multiply-adds for RGB rows), which
  // must give the same bytes for every crop, scale and channel count.
  auto pass = [](const std::vector<uint8_t>& in, int lines, int in_step, int line_step,
                 int channels, const aug::ResampleAxis& ax, int out_step, int out_line_step) {
    std::vector<uint8_t> out(static_cast<size_t>(lines) * ax.out_size * channels);
    for (int l = 0; l < lines; ++l)
      for (int o = 0; o < ax.out_size; ++o)
        for (int c = 0; c < channels; ++c) {
          int64_t sum = int64_t{1} << 21;
          for (int t = 0; t < ax.count[o]; ++t)
            sum += int64_t{in[static_cast<size_t>(l) * line_step +
                              static_cast<size_t>(ax.first[o] + t) * in_step + c]} *
                   ax.coeffs[static_cast<size_t>(o) * ax.taps + t];
          out[static_cast<size_t>(l) * out_line_step + static_cast<size_t>(o) * out_step + c] =
              static_cast<uint8_t>(std::clamp<int64_t>(sum >> 22, 0, 255));
        }
    return out;
  };
  uint32_t state = 777;
  auto next = [&](uint32_t n) {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) % n;
  };
  std::vector<double> weights;
  for (int trial = 0; trial < 60; ++trial) {
    const int H = 1 + static_cast<int>(next(120)), W = 1 + static_cast<int>(next(120));
    const int C = trial % 4 == 0 ? 1 : 3;
    ImageU8 img;
    img.resize(H, W, C);
    for (uint8_t& v : img.data) v = static_cast<uint8_t>(next(256));
    const int ch = 1 + static_cast<int>(next(H)), cw = 1 + static_cast<int>(next(W));
    const int top = static_cast<int>(next(H - ch + 1)), left = static_cast<int>(next(W - cw + 1));
    const int oh = 1 + static_cast<int>(next(90)), ow = 1 + static_cast<int>(next(90));
    // The crop as its own image, then each pass Pillow skips when its axis keeps its size.
    std::vector<uint8_t> crop(static_cast<size_t>(ch) * cw * C);
    for (int y = 0; y < ch; ++y)
      std::memcpy(&crop[static_cast<size_t>(y) * cw * C], img.row(top + y) + left * C,
                  static_cast<size_t>(cw) * C);
    std::vector<uint8_t> mid = crop;
    if (ow != cw) {
      aug::ResampleAxis ax;
      aug::compute_resample_axis(cw, ow, ax, weights);
      mid = pass(crop, ch, C, cw * C, C, ax, C, ow * C);
    }
    std::vector<uint8_t> want = mid;
    if (oh != ch) {
      // Vertically a "line" is a column byte: lines = ow * C, taps step over whole rows.
      aug::ResampleAxis ax;
      aug::compute_resample_axis(ch, oh, ax, weights);
      want = pass(mid, ow * C, ow * C, 1, 1, ax, ow * C, 1);
    }
    ImageU8 got;
    aug::resized_crop(img, top, left, ch, cw, oh, ow, got);
    INFO("trial " << trial << ": " << H << "x" << W << "x" << C << ", crop " << ch << "x" << cw
                  << " -> " << oh << "x" << ow);
    CHECK(got.data == want);
  }
}
