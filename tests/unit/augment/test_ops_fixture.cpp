// Every deterministic augmentation op against torchvision 0.14 / Pillow 9.4 on the same
// inputs and parameters (tests/fixtures/augment, made by make_fixtures.py there with
// Debian's python3-torchvision; the data is committed, so no Python is needed here).
#include "blur.h"
#include "color.h"
#include "geometry.h"
#include "normalize.h"
#include "random_params.h"
#include "resample.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using mdlab::ImageU8;
namespace aug = mdlab::augment;

struct Case {
  std::map<std::string, std::string> p;
  std::string get(const std::string& k) const {
    auto it = p.find(k);
    if (it == p.end()) FAIL("fixture case lacks key " << k);
    return it->second;
  }
  int i(const std::string& k) const { return std::stoi(get(k)); }
  double d(const std::string& k) const { return std::stod(get(k)); }
};

struct Fixtures {
  std::vector<Case> cases;
  std::vector<char> blob;
  std::map<std::string, ImageU8> inputs;

  Fixtures() {
    const std::string dir = MDLAB_AUGMENT_FIXTURES;
    std::ifstream index(dir + "/index.txt");
    REQUIRE(index.good());
    std::string line;
    while (std::getline(index, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream tokens(line);
      Case c;
      std::string t;
      while (tokens >> t) {
        const auto eq = t.find('=');
        c.p[t.substr(0, eq)] = t.substr(eq + 1);
      }
      cases.push_back(std::move(c));
    }
    std::ifstream bin(dir + "/fixtures.bin", std::ios::binary);
    blob.assign(std::istreambuf_iterator<char>(bin), {});
    REQUIRE(blob.size() > 0);
    for (const auto& c : cases)
      if (c.get("op") == "input") inputs[c.get("name")] = image(c);
  }
  ImageU8 image(const Case& c) const {
    ImageU8 img;
    img.resize(c.i("h"), c.i("w"), c.i("c"));
    REQUIRE(static_cast<size_t>(c.i("bytes")) == img.data.size());
    std::memcpy(img.data.data(), blob.data() + c.i("offset"), img.data.size());
    return img;
  }
  std::vector<float> floats(const Case& c) const {
    std::vector<float> v(static_cast<size_t>(c.i("bytes")) / 4);
    std::memcpy(v.data(), blob.data() + c.i("offset"), v.size() * 4);
    return v;
  }
};

const Fixtures& fixtures() {
  static const Fixtures f;
  return f;
}

// Largest absolute difference and the number of differing bytes.
std::pair<int, int> compare(const ImageU8& got, const ImageU8& want) {
  REQUIRE(got.height == want.height);
  REQUIRE(got.width == want.width);
  REQUIRE(got.channels == want.channels);
  int worst = 0, count = 0;
  for (size_t k = 0; k < got.data.size(); ++k) {
    const int d = std::abs(int(got.data[k]) - int(want.data[k]));
    worst = std::max(worst, d);
    count += d != 0;
  }
  return {worst, count};
}

std::vector<double> list(const std::string& s) {
  std::vector<double> v;
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) v.push_back(std::stod(item));
  return v;
}

// Runs the op of case `c` on its input.
ImageU8 run_u8(const Case& c, const ImageU8& in) {
  const std::string op = c.get("op");
  ImageU8 out = in;
  if (op == "resized_crop") {
    aug::resized_crop(in, c.i("top"), c.i("left"), c.i("height"), c.i("width"), c.i("out_h"),
                      c.i("out_w"), out);
  } else if (op == "resize_shorter") {
    aug::resize_shorter(in, c.i("size"), out);
  } else if (op == "resize_center_crop") {
    aug::ResampleScratch scratch;
    aug::resize_shorter_center_crop(in, c.i("size"), c.i("crop"), out, scratch);
  } else if (op == "center_crop") {
    aug::center_crop(in, c.i("size"), out);
  } else if (op == "brightness") {
    aug::adjust_brightness(out, static_cast<float>(c.d("factor")));
  } else if (op == "contrast") {
    aug::adjust_contrast(out, static_cast<float>(c.d("factor")));
  } else if (op == "saturation") {
    aug::adjust_saturation(out, static_cast<float>(c.d("factor")));
  } else if (op == "hue") {
    aug::adjust_hue(out, c.d("hue"));
  } else if (op == "grayscale") {
    aug::to_grayscale(out, c.i("channels"));
  } else if (op == "solarize") {
    aug::solarize(out, c.i("threshold"));
  } else if (op == "hflip") {
    aug::hflip(out);
  } else if (op == "gaussian_blur") {
    aug::gaussian_blur(in, c.i("kernel_size"), c.d("sigma"), out);
  } else if (op == "jitter_chain") {
    const aug::JitterStrength all{1, 1, 1, 0.5};
    aug::JitterParams p;
    p.order = {aug::kBrightness, aug::kContrast, aug::kSaturation, aug::kHue};  // the script's
    p.brightness = static_cast<float>(c.d("brightness"));
    p.contrast = static_cast<float>(c.d("contrast"));
    p.saturation = static_cast<float>(c.d("saturation"));
    p.hue = c.d("hue");
    aug::apply_color_jitter(out, all, p);
  } else {
    FAIL("unknown op " << op);
  }
  return out;
}

void check_op(const std::string& op, int max_diff = 0, double max_fraction = 0.0) {
  const auto& f = fixtures();
  int seen = 0;
  for (const auto& c : f.cases) {
    if (c.get("op") != op) continue;
    ++seen;
    INFO("case " << c.get("name"));
    const ImageU8 got = run_u8(c, f.inputs.at(c.get("input")));
    const ImageU8 want = f.image(c);
    const auto [worst, count] = compare(got, want);
    CHECK(worst <= max_diff);
    CHECK(count <= max_fraction * static_cast<double>(want.data.size()));
  }
  CHECK(seen > 0);
}

}  // namespace

// One test case per family of ops (each CTest test is a process paying LibTorch's start-up).
TEST_CASE("geometric ops are bit-identical to torchvision on PIL images") {
  SECTION("resized crop") {
    check_op("resized_crop");
  }
  SECTION("resize of the shorter side") {
    check_op("resize_shorter");
  }
  SECTION("resize then centre crop") {
    check_op("resize_center_crop");
  }
  SECTION("centre crop, padding included") {
    check_op("center_crop");
  }
  SECTION("horizontal flip") {
    check_op("hflip");
  }
}

TEST_CASE("colour ops are bit-identical to torchvision on PIL images") {
  SECTION("brightness") {
    check_op("brightness");
  }
  SECTION("contrast") {
    check_op("contrast");
  }
  SECTION("saturation") {
    check_op("saturation");
  }
  SECTION("hue") {
    check_op("hue");
  }
  SECTION("grayscale") {
    check_op("grayscale");
  }
  SECTION("solarize") {
    check_op("solarize");
  }
  SECTION("a jitter chain in a given order") {
    check_op("jitter_chain");
  }
}

TEST_CASE("Gaussian blur matches torchvision up to float rounding at .5 boundaries") {
  // The separable sum rounds differently from torch's 2-D convolution only where a value
  // lies within ~1e-4 of a rounding boundary: at most 1 level, on a handful of bytes.
  check_op("gaussian_blur", 1, 0.002);
}

TEST_CASE("to_tensor + normalize is bit-identical to torchvision") {
  const auto& f = fixtures();
  int seen = 0;
  for (const auto& c : f.cases) {
    if (c.get("op") != "normalize") continue;
    ++seen;
    INFO("case " << c.get("name"));
    const ImageU8& in = f.inputs.at(c.get("input"));
    const auto want = f.floats(c);
    std::vector<float> got(want.size());
    aug::normalize_to_chw(in, list(c.get("mean")), list(c.get("std")), got.data());
    for (size_t k = 0; k < want.size(); ++k) REQUIRE(got[k] == want[k]);
  }
  CHECK(seen == 2);
}
