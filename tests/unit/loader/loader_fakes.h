// Test doubles of the loader tests: an in-memory DataSource, a fake decoder for mirror trees
// written by the tests, and a SlotTransform whose output says where its pixels came from.
//
// Pixel code: an image's first three bytes are (tag, id % 256, id / 256) with tag kRealTag for
// a real image and kSyntheticTag + v for variation v of a synthetic one. FakeTransform copies
// them into its output: out[0] = tag, out[1] = id, out[2] = rng.uniform(), out[3] =
// rng.uniform_int(0, 1000), so a batch row names its sample, its source and its stream.
#pragma once

#include "data_source.h"
#include "image.h"
#include "loader.h"
#include "sample_rng.h"
#include "synthetic_partners.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mdlab::test {

constexpr uint8_t kRealTag = 1;
constexpr uint8_t kSyntheticTag = 10;
constexpr int kImageHeight = 6;
constexpr int kImageWidth = 5;

/// Writes the pixel code of (tag, id) into a fresh image with a per-id texture.
inline void paint(ImageU8& out, uint8_t tag, int64_t id, int channels) {
  out.resize(kImageHeight, kImageWidth, channels);
  for (size_t j = 0; j < out.data.size(); ++j)
    out.data[j] = static_cast<uint8_t>((j * 13 + static_cast<size_t>(id) * 7) % 251);
  out.data[0] = tag;
  out.data[1] = static_cast<uint8_t>(id % 256);
  out.data[2] = static_cast<uint8_t>(id / 256);
}

/// An in-memory labelled source; keys "c<label>/img<index>".
class FakeSource : public DataSource {
 public:
  FakeSource(std::vector<int64_t> labels, int64_t num_classes) : labels_(std::move(labels)) {
    for (int64_t c = 0; c < num_classes; ++c) classes_.push_back(fmt::format("class{}", c));
    for (size_t i = 0; i < labels_.size(); ++i)
      keys_.push_back(fmt::format("c{}/img{:03}", labels_[i], i));
  }
  /// n samples, label i % classes.
  static std::shared_ptr<FakeSource> balanced(int64_t n, int64_t classes) {
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < n; ++i) labels.push_back(i % classes);
    return std::make_shared<FakeSource>(std::move(labels), classes);
  }

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  const std::string& key(int64_t i) const override { return keys_.at(static_cast<size_t>(i)); }
  int64_t label(int64_t i) const override { return labels_.at(static_cast<size_t>(i)); }
  const std::vector<std::string>& classes() const override { return classes_; }
  void load(int64_t i, ImageU8& out, const DecodeHint& hint) const override {
    loads.fetch_add(1);
    {
      std::lock_guard lock(mu_);
      hints.push_back(hint);
    }
    if (bad.count(i)) {
      const auto f = file(i);
      throw DataError(f, fmt::format("{}: corrupt JPEG data", f.string()));
    }
    paint(out, kRealTag, i, gray.count(i) ? 1 : 3);
  }
  std::string describe() const override { return fmt::format("fake: {} samples", size()); }

  /// The file a real source would name in its errors.
  std::filesystem::path file(int64_t i) const { return "/fake/" + key(i) + ".jpg"; }

  std::set<int64_t> bad;   ///< indices whose load throws DataError
  std::set<int64_t> gray;  ///< indices decoded with one channel
  mutable std::atomic<int64_t> loads{0};
  mutable std::vector<DecodeHint> hints;

 private:
  std::vector<int64_t> labels_;
  std::vector<std::string> keys_;
  std::vector<std::string> classes_;
  mutable std::mutex mu_;
};

/// A decoder of the mirror files the tests write: "<id> <variation>" or "bad".
struct FakeDecoder {
  std::shared_ptr<std::atomic<int64_t>> calls = std::make_shared<std::atomic<int64_t>>(0);
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<DecodeHint>> hints = std::make_shared<std::vector<DecodeHint>>();

  DecodeFn fn() const {
    return [calls = calls, mu = mu, hints = hints](const std::filesystem::path& path, ImageU8& out,
                                                   const DecodeHint& hint) {
      calls->fetch_add(1);
      {
        std::lock_guard lock(*mu);
        hints->push_back(hint);
      }
      std::ifstream in(path);
      std::string first;
      int64_t id = -1, variation = 0;
      in >> first;
      if (!in || first == "bad")
        throw DataError(path, fmt::format("{}: truncated PNG", path.string()));
      id = std::stoll(first);
      in >> variation;
      paint(out, static_cast<uint8_t>(kSyntheticTag + variation), id, 3);
    };
  }
};

/// Writes the mirror tree of `source` under `root`: one plain file per key when variations
/// is 0, else `_v0` .. `_v<variations-1>`; keys in `missing` get nothing.
inline void write_mirror(const std::filesystem::path& root, const DataSource& source,
                         int variations, const std::set<int64_t>& missing = {},
                         const std::string& ext = ".png") {
  for (int64_t i = 0; i < source.size(); ++i) {
    if (missing.count(i)) continue;
    const auto write = [&](const std::string& suffix, int v) {
      const auto path = root / (source.key(i) + suffix + ext);
      std::filesystem::create_directories(path.parent_path());
      std::ofstream(path) << i << ' ' << v << '\n';
    };
    if (variations == 0) write("", 0);
    for (int v = 0; v < variations; ++v) write(fmt::format("_v{}", v), v);
  }
}

/// A transform whose output names its source pixels and random stream (see the top).
class FakeTransform : public SlotTransform {
 public:
  explicit FakeTransform(int size = 4, DecodeHint hint = {}, int channels = 3)
      : size_(size), hint_(hint), channels_(channels) {}
  DecodeHint decode_hint(int, int) const override { return hint_; }
  int out_size() const override { return size_; }
  int out_channels(int src_channels) const override {
    return channels_ > 0 ? channels_ : src_channels;
  }
  void run(const ImageU8& src, SampleRng& rng, float* out) const override {
    const int64_t id = src.data[1] + 256 * src.data[2];
    if (id == throw_for_id) throw std::runtime_error(fmt::format("transform exploded on {}", id));
    const int64_t n = static_cast<int64_t>(out_channels(src.channels)) * size_ * size_;
    out[0] = src.data[0];
    out[1] = static_cast<float>(id);
    out[2] = static_cast<float>(rng.uniform());
    out[3] = static_cast<float>(rng.uniform_int(0, 1000));
    for (int64_t k = 4; k < n; ++k)
      out[k] =
          src.data[static_cast<size_t>(k) % src.data.size()] + static_cast<float>(rng.uniform());
    if (delay_us > 0) {
      // Uneven work per sample scrambles the order in which workers finish.
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us * (1 + id % 3)));
    }
  }

  int delay_us = 0;           ///< per-sample sleep, to keep workers busy
  int64_t throw_for_id = -1;  ///< sample id whose run() throws std::runtime_error

 private:
  int size_;
  DecodeHint hint_;
  int channels_;
};

/// A deep copy of a batch (the loader may refill its buffers once released).
inline LoaderBatch clone(const LoaderBatch& b) {
  LoaderBatch c;
  for (const auto& v : b.views) c.views.push_back(v.clone());
  c.labels = b.labels.clone();
  c.indices = b.indices.clone();
  c.epoch = b.epoch;
  c.step = b.step;
  return c;
}

/// Every batch of `epoch` from `start_step`, deep-copied.
inline std::vector<LoaderBatch> read_epoch(Loader& loader, int64_t epoch, int64_t start_step = 0) {
  std::vector<LoaderBatch> batches;
  loader.start_epoch(epoch, start_step);
  LoaderBatch batch;
  while (loader.next(batch)) batches.push_back(clone(batch));
  return batches;
}

/// True when two batches hold the same bytes.
inline bool same_batch(const LoaderBatch& a, const LoaderBatch& b) {
  if (a.views.size() != b.views.size() || a.epoch != b.epoch || a.step != b.step) return false;
  for (size_t v = 0; v < a.views.size(); ++v) {
    const auto& x = a.views[v];
    const auto& y = b.views[v];
    if (x.sizes() != y.sizes() ||
        std::memcmp(x.contiguous().data_ptr(), y.contiguous().data_ptr(), x.nbytes()) != 0)
      return false;
  }
  return torch::equal(a.labels, b.labels) && torch::equal(a.indices, b.indices);
}

/// out[k] of row `row` of slot `v`.
inline float cell(const LoaderBatch& b, size_t v, int64_t row, int64_t k) {
  return b.views[v][row].flatten()[k].item<float>();
}

/// The view slots of a two-view method.
inline std::vector<ViewSlot> two_views() {
  return {{"view1", "", 0, ""}, {"view2", "", 0, ""}};
}

/// The view slots of DINO: 2 global + 8 local crops.
inline std::vector<ViewSlot> dino_views() {
  std::vector<ViewSlot> slots;
  for (int g = 0; g < 2; ++g) slots.push_back({fmt::format("global{}", g), "global", 224, ""});
  for (int l = 0; l < 8; ++l) slots.push_back({fmt::format("local{}", l), "local", 96, ""});
  return slots;
}

}  // namespace mdlab::test
