// On-the-fly corruptions of the robustness suite: each corruption's defining property, the
// severity ordering, determinism per image, and the exact byte round trip of the wrapper.
#include "augment_config.h"
#include "corruptions.h"
#include "normalize.h"
#include "view_transform.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace mdlab;

namespace {

// A smooth colour gradient with a sharp square: structure for blur, JPEG and pixelation.
ImageU8 test_image(int side) {
  ImageU8 img;
  img.resize(side, side, 3);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      uint8_t* p = img.row(y) + 3 * x;
      const bool square = x > side / 4 && x < side / 2 && y > side / 4 && y < side / 2;
      p[0] = static_cast<uint8_t>(square ? 240 : 40 + 150 * x / side);
      p[1] = static_cast<uint8_t>(square ? 20 : 60 + 120 * y / side);
      p[2] = static_cast<uint8_t>(100 + (x + y) % 50);
    }
  return img;
}

double mean_abs_diff(const ImageU8& a, const ImageU8& b) {
  double s = 0;
  for (size_t i = 0; i < a.data.size(); ++i) s += std::abs(int(a.data[i]) - int(b.data[i]));
  return s / static_cast<double>(a.data.size());
}

}  // namespace

TEST_CASE("every corruption changes the image more at higher severity") {
  for (int side : {32, 128}) {  // CIFAR-C and ImageNet-C parameters
    const ImageU8 clean = test_image(side);
    for (const auto& name : corruption_names()) {
      double previous = 0;
      for (int severity : {1, 3, 5}) {
        ImageU8 img = clean;
        SampleRng rng(42);
        corrupt_image(img, parse_corruption(name), severity, rng);
        CHECK(img.height == side);
        const double d = mean_abs_diff(img, clean);
        INFO(name << " at " << side << " px, severity " << severity << ": " << d);
        CHECK(d > previous);
        previous = d;
      }
    }
  }
}

TEST_CASE("corruptions: defining properties and determinism") {
  const ImageU8 clean = test_image(128);
  SampleRng a(7), b(7), c(8);
  ImageU8 n1 = clean, n2 = clean, n3 = clean;
  corrupt_image(n1, Corruption::kGaussianNoise, 2, a);
  corrupt_image(n2, Corruption::kGaussianNoise, 2, b);
  corrupt_image(n3, Corruption::kGaussianNoise, 2, c);
  CHECK(n1.data == n2.data);  // same image stream, same noise
  CHECK(n1.data != n3.data);

  // Contrast: x -> (x - mean) * 0.4 + mean at severity 1 (ImageNet-C), mean kept.
  ImageU8 k = clean;
  corrupt_image(k, Corruption::kContrast, 1, a);
  double mean = 0, mean_k = 0;
  for (size_t i = 0; i < clean.data.size(); ++i) {
    mean += clean.data[i];
    mean_k += k.data[i];
  }
  mean /= clean.data.size();
  mean_k /= clean.data.size();
  CHECK(mean_k == Approx(mean).margin(0.5));
  CHECK(std::abs(k.data[0] - ((clean.data[0] - mean) * 0.4 + mean)) <= 0.5 + 1e-9);

  // Brightness keeps the hue: the channel ratios of a pixel stay (up to rounding).
  ImageU8 br = clean;
  corrupt_image(br, Corruption::kBrightness, 1, a);
  const uint8_t* p = clean.row(5) + 15;
  const uint8_t* q = br.row(5) + 15;
  CHECK(q[2] > p[2]);
  CHECK(double(q[0]) / q[2] == Approx(double(p[0]) / p[2]).margin(0.02));

  // Pixelate: blocks of equal pixels appear.
  ImageU8 px = clean;
  corrupt_image(px, Corruption::kPixelate, 5, a);
  int equal_neighbours = 0;
  for (int x = 0; x + 1 < 128; ++x) equal_neighbours += px.row(10)[3 * x] == px.row(10)[3 * x + 3];
  CHECK(equal_neighbours > 90);

  CHECK_THROWS_WITH(parse_corruption("fog"), Catch::Contains("gaussian_noise"));
  CHECK_THROWS_WITH(corrupt_image(px, Corruption::kJpeg, 6, a), Catch::Contains("1..5"));
}

TEST_CASE("CorruptedTransform corrupts exactly the bytes the wrapped transform produced") {
  const ImageU8 src = test_image(64);
  ViewTransform base(augment_preset("none"));  // Resize(224) + CenterCrop(224), ImageNet norm
  const int s = base.out_size();
  const AugmentConfig& config = base.config();
  CorruptedTransform corrupted(base, config.mean, config.stddev, Corruption::kJpeg, 3);
  std::vector<float> plain(3 * s * s), out(3 * s * s);
  SampleRng r1(3), r2(3);
  base.run(src, r1, plain.data());
  corrupted.run(src, r2, out.data());

  // Expected: the bytes behind `plain`, JPEG round trip, normalised again.
  ImageU8 bytes;
  bytes.resize(s, s, 3);
  const auto table = augment::make_normalize_table(config.mean, config.stddev, 3);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < s * s; ++i) {
      const float v = plain[c * s * s + i];
      int best = 0;
      for (int b = 1; b < 256; ++b)
        if (std::abs(table.value[c][b] - v) < std::abs(table.value[c][best] - v)) best = b;
      REQUIRE(table.value[c][best] == v);  // every value is a table entry
      bytes.data[i * 3 + c] = static_cast<uint8_t>(best);
    }
  SampleRng r3(3);
  corrupt_image(bytes, Corruption::kJpeg, 3, r3);
  std::vector<float> expected(3 * s * s);
  augment::write_chw(bytes, table, expected.data());
  CHECK(out == expected);
}
