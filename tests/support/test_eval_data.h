// An in-memory EvalData for evaluator unit tests: each split is a tensor of images
// [N, C, H, W] (or of ready features [N, D] when no encoder is given) with labels [N].
// Modifiers ("@augment", corruptions) are not supported: the core implementation has them.
#pragma once

#include <mdlab/backbone.h>
#include <mdlab/error.h>
#include <mdlab/evaluator.h>

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mdlab::test {

/// One split held in memory.
struct MemorySplit {
  torch::Tensor images;                  ///< float32 [N, C, H, W] (or [N, D] features)
  torch::Tensor labels;                  ///< int64 [N]
  std::vector<std::string> class_names;  ///< index = label
};

/// EvalData over MemorySplits; features() runs `encoder` (or returns the images as features
/// when it is null) and counts the computations so tests can check the caching.
class MemoryEvalData final : public EvalData {
 public:
  explicit MemoryEvalData(Backbone* encoder = nullptr, int64_t batch_size = 64)
      : encoder_(encoder), batch_size_(batch_size) {}

  /// Adds (or replaces) split `name`; class names default to "0", "1", ...
  void add(const std::string& name, torch::Tensor images, torch::Tensor labels,
           std::vector<std::string> class_names = {}) {
    if (class_names.empty()) {
      const int64_t n = labels.numel() ? labels.max().item<int64_t>() + 1 : 0;
      for (int64_t i = 0; i < n; ++i) class_names.push_back(std::to_string(i));
    }
    splits_[name] = {std::move(images), std::move(labels), std::move(class_names)};
    cache_.erase(name);
  }

  std::vector<std::string> splits() const override {
    std::vector<std::string> out;
    for (const auto& [name, _] : splits_) out.push_back(name);
    return out;
  }

  std::unique_ptr<BatchStream> open(const std::string& split) override {
    return std::make_unique<Stream>(get(split), batch_size_);
  }

  std::vector<std::string> class_names(const std::string& split) override {
    return get(split).class_names;
  }

  Normalization normalization(const std::string&) override {
    return {{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
  }

  FeatureSet features(const std::string& split) override {
    const MemorySplit& s = get(split);
    auto cached = cache_.find(split);
    if (cached != cache_.end()) return cached->second;
    ++computed_;
    FeatureSet out;
    out.labels = s.labels;
    out.num_classes = static_cast<int64_t>(s.class_names.size());
    if (!encoder_) {
      out.features = s.images.to(torch::kFloat);
    } else {
      torch::NoGradGuard no_grad;
      std::vector<torch::Tensor> parts;
      for (int64_t i = 0; i < s.images.size(0); i += batch_size_)
        parts.push_back(encoder_->forward(s.images.slice(0, i, i + batch_size_)));
      out.features = torch::cat(parts);
    }
    cache_[split] = out;
    return out;
  }

  /// How many times features() computed a split (cache misses).
  int computed() const { return computed_; }

 private:
  class Stream final : public BatchStream {
   public:
    Stream(const MemorySplit& split, int64_t batch) : split_(split), batch_(batch) {}
    bool next(torch::Tensor& images, torch::Tensor& labels) override {
      if (pos_ >= split_.images.size(0)) return false;
      images = split_.images.slice(0, pos_, pos_ + batch_);
      labels = split_.labels.slice(0, pos_, pos_ + batch_);
      pos_ += batch_;
      return true;
    }
    int64_t size() const override { return split_.images.size(0); }
    int64_t num_classes() const override { return static_cast<int64_t>(split_.class_names.size()); }

   private:
    const MemorySplit& split_;
    int64_t batch_;
    int64_t pos_ = 0;
  };

  const MemorySplit& get(const std::string& split) const {
    auto it = splits_.find(split);
    if (it == splits_.end()) throw Error("test data has no split '" + split + "'");
    return it->second;
  }

  Backbone* encoder_;
  int64_t batch_size_;
  std::map<std::string, MemorySplit> splits_;
  std::map<std::string, FeatureSet> cache_;
  int computed_ = 0;
};

}  // namespace mdlab::test
