#include "cifar_source.h"

#include "class_list.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <fstream>

namespace fs = std::filesystem;

namespace mdlab {
namespace {

constexpr int kSide = 32;
constexpr int64_t kPlane = kSide * kSide;
constexpr int64_t kPixels = 3 * kPlane;

// The two binary variants, told apart by their file names.
struct CifarLayout {
  const char* name;                // "CIFAR-10"
  const char* folder;              // the archive's folder inside root
  std::vector<std::string> train;  // files of split "train"
  std::vector<std::string> test;   // files of split "test"
  int label_bytes;                 // bytes before the pixels
  int label_offset;                // the byte holding the label used
  int64_t classes;                 // label range
  const char* names_file;          // class names, one per line
};

const CifarLayout& cifar10() {
  static const CifarLayout layout{"CIFAR-10",
                                  "cifar-10-batches-bin",
                                  {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                   "data_batch_4.bin", "data_batch_5.bin"},
                                  {"test_batch.bin"},
                                  1,
                                  0,
                                  10,
                                  "batches.meta.txt"};
  return layout;
}

const CifarLayout& cifar100() {
  static const CifarLayout layout{
      "CIFAR-100", "cifar-100-binary",    {"train.bin"}, {"test.bin"}, 2, 1,
      100,         "fine_label_names.txt"};
  return layout;
}

// Reads a whole file into memory; DataError naming it when it cannot.
std::vector<uint8_t> read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) throw DataError(file, fmt::format("cannot open CIFAR file {}", file.string()));
  const std::streamoff size = in.tellg();
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw DataError(file, fmt::format("cannot read CIFAR file {}", file.string()));
  }
  return bytes;
}

// Class names from the archive's text file: one per line, blank lines skipped.
std::vector<std::string> read_names(const fs::path& file, int64_t expected) {
  std::ifstream in(file);
  if (!in) throw DataError(file, fmt::format("cannot read class names {}", file.string()));
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    names.push_back(line.substr(first, line.find_last_not_of(" \t\r") - first + 1));
  }
  if (static_cast<int64_t>(names.size()) != expected) {
    throw DataError(file, fmt::format("class names {} has {} names, expected {}", file.string(),
                                      names.size(), expected));
  }
  return names;
}

class CifarSource final : public DataSource {
 public:
  explicit CifarSource(const SourceRequest& request);

  int64_t size() const override { return static_cast<int64_t>(keys_.size()); }
  const std::string& key(int64_t i) const override { return keys_.at(static_cast<size_t>(i)); }
  int64_t label(int64_t i) const override { return labels_.at(static_cast<size_t>(i)); }
  const std::vector<std::string>& classes() const override { return classes_; }
  void load(int64_t i, ImageU8& out, const DecodeHint&) const override {
    const size_t record = static_cast<size_t>(records_.at(static_cast<size_t>(i)));
    const uint8_t* planes = data_.data() + record * record_bytes_ + layout_->label_bytes;
    out.resize(kSide, kSide, 3);
    uint8_t* dst = out.data.data();
    for (int64_t p = 0; p < kPlane; ++p) {  // CHW planes -> HWC
      dst[3 * p] = planes[p];
      dst[3 * p + 1] = planes[kPlane + p];
      dst[3 * p + 2] = planes[2 * kPlane + p];
    }
  }
  std::string describe() const override {
    return fmt::format("cifar {} ({}) split {}: {} images, {} classes{}", dir_.string(),
                       layout_->name, split_, size(), classes_.size(),
                       dropped_ > 0 ? fmt::format(" ({} classes outside train_classes)", dropped_)
                                    : std::string());
  }

 private:
  fs::path dir_;  // the folder holding the .bin files
  std::string split_;
  const CifarLayout* layout_ = nullptr;
  size_t record_bytes_ = 0;
  std::vector<uint8_t> data_;     // the split's files, concatenated
  std::vector<int64_t> records_;  // sample -> record in data_
  std::vector<std::string> keys_;
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
  int64_t dropped_ = 0;
};

CifarSource::CifarSource(const SourceRequest& request) : split_(request.split) {
  MDLAB_CHECK(split_ == "train" || split_ == "test",
              "CIFAR datasets have splits 'train' and 'test', not '{}'", split_);
  // The root itself, or the folder the archive unpacks to.
  for (const CifarLayout* layout : {&cifar10(), &cifar100()}) {
    for (const fs::path& dir : {request.root, request.root / layout->folder}) {
      if (!layout_ && (fs::exists(dir / layout->test[0]) || fs::exists(dir / layout->train[0]))) {
        layout_ = layout;
        dir_ = dir;
      }
    }
  }
  if (!layout_) {
    throw DataError(request.root,
                    fmt::format("{} holds no CIFAR binary files (CIFAR-10: data_batch_1.bin .. "
                                "test_batch.bin, CIFAR-100: train.bin, test.bin, either in it "
                                "or in cifar-10-batches-bin / cifar-100-binary)",
                                request.root.string()));
  }
  record_bytes_ = static_cast<size_t>(layout_->label_bytes + kPixels);

  std::vector<int64_t> raw_labels;
  for (const auto& name : split_ == "train" ? layout_->train : layout_->test) {
    const fs::path file = dir_ / name;
    if (!fs::exists(file)) {
      throw DataError(file, fmt::format("{} file {} is missing", layout_->name, file.string()));
    }
    std::vector<uint8_t> bytes = read_bytes(file);
    if (bytes.empty() || bytes.size() % record_bytes_ != 0) {
      throw DataError(file, fmt::format("{} file {} has {} bytes, not a whole number of {}-byte "
                                        "records",
                                        layout_->name, file.string(), bytes.size(), record_bytes_));
    }
    const size_t count = bytes.size() / record_bytes_;
    for (size_t r = 0; r < count; ++r) {
      const int64_t label = bytes[r * record_bytes_ + layout_->label_offset];
      if (label >= layout_->classes) {
        throw DataError(
            file, fmt::format("{} file {}: record {} has label {}, expected < {}", layout_->name,
                              file.string(), r, label, layout_->classes));
      }
      raw_labels.push_back(label);
    }
    data_.insert(data_.end(), bytes.begin(), bytes.end());
  }

  std::vector<std::string> own;
  if (!request.class_list.empty()) {
    own = class_names_from_list(request.class_list, layout_->classes);
  } else if (fs::exists(dir_ / layout_->names_file)) {
    own = read_names(dir_ / layout_->names_file, layout_->classes);
  } else {
    own = index_class_names(layout_->classes);
  }
  ClassRestriction restricted = restrict_classes(
      own, request.train_classes, fmt::format("{} dataset {}", layout_->name, dir_.string()));
  classes_ = std::move(restricted.classes);
  dropped_ = restricted.dropped;
  for (size_t r = 0; r < raw_labels.size(); ++r) {
    const int64_t label = restricted.relabel[static_cast<size_t>(raw_labels[r])];
    if (label < 0) continue;
    records_.push_back(static_cast<int64_t>(r));
    labels_.push_back(label);
    keys_.push_back(fmt::format("{}/{}", split_, r));
  }
}

}  // namespace

std::unique_ptr<DataSource> open_cifar_source(const SourceRequest& request) {
  return std::make_unique<CifarSource>(request);
}

SourceFormat cifar_source_format() {
  return {"cifar",
          "CIFAR-10 / CIFAR-100 binary version: data_batch_*.bin, test_batch.bin / train.bin, "
          "test.bin",
          open_cifar_source};
}

}  // namespace mdlab
