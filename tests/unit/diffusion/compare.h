// Helpers of the diffusion tests: tensor comparisons with the MANIFEST tolerances, and PNG
// fixtures as tensors.
#pragma once

#include "fixtures.h"
#include "image_decode.h"
#include "model_folder.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace mdlab::test {

/// max |a - b| (in double); the shapes must agree.
inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

/// |got - want| <= atol + rtol * |want| everywhere (numpy's allclose).
inline bool all_close(const torch::Tensor& got, const torch::Tensor& want, double atol,
                      double rtol) {
  REQUIRE(got.sizes() == want.sizes());
  auto g = got.to(torch::kDouble), w = want.to(torch::kDouble);
  return ((g - w).abs() <= atol + rtol * w.abs()).all().item<bool>();
}

/// Writes `text` to `path` (a test's JSON config), replacing what was there.
inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

/// `text` parsed as the JSON config file `file_name` (written in a temporary directory, so
/// errors name that file).
inline diffusion::JsonConfig json_config(const std::string& file_name, const std::string& text) {
  const auto file = temp_dir(file_name) / file_name;
  write_text(file, text);
  return diffusion::JsonConfig(file);
}

/// The image file as uint8 [H, W, C].
inline torch::Tensor read_image_hwc(const std::filesystem::path& file) {
  ImageU8 image;
  decode_image_file(file, image, {});
  return torch::from_blob(image.data.data(), {image.height, image.width, image.channels},
                          torch::kUInt8)
      .clone();
}

/// The message of the mdlab::Error `f` throws, "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace mdlab::test
