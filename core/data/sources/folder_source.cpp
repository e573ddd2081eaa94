#include "folder_source.h"

#include "class_list.h"
#include "image_decode.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace fs = std::filesystem;

namespace mdlab {
namespace {

bool is_image_extension(std::string_view ext) {
  static constexpr std::array<std::string_view, 5> kExtensions = {".jpg", ".jpeg", ".jpe", ".jfif",
                                                                  ".png"};
  for (std::string_view known : kExtensions) {
    if (ext.size() == known.size() &&
        std::equal(ext.begin(), ext.end(), known.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return true;
    }
  }
  return false;
}

bool is_hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

std::string plural(int64_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

class FolderSource final : public DataSource {
 public:
  explicit FolderSource(const SourceRequest& request);

  int64_t size() const override { return static_cast<int64_t>(keys_.size()); }
  const std::string& key(int64_t i) const override { return keys_.at(static_cast<size_t>(i)); }
  int64_t label(int64_t i) const override { return labels_.at(static_cast<size_t>(i)); }
  const std::vector<std::string>& classes() const override { return classes_; }
  void load(int64_t i, ImageU8& out, const DecodeHint& hint) const override {
    decode_image_file(path(i), out, hint);
  }
  std::string describe() const override;

 private:
  struct ClassFolder {
    std::string folder;  // name on disk, relative to dir_
    int64_t label;       // after train_classes
  };

  fs::path path(int64_t i) const {
    const size_t k = static_cast<size_t>(i);
    return dir_ / (keys_.at(k) + extensions_[extension_of_[k]]);
  }
  void scan(const ClassFolder& cls, bool skip_empty);
  uint8_t extension_index(const std::string& ext);

  fs::path root_;
  std::string split_;
  fs::path dir_;  // the split folder: root_/split_, or root_
  std::vector<std::string> classes_;
  std::vector<std::string> keys_;
  std::vector<int64_t> labels_;
  std::vector<uint8_t> extension_of_;    // per sample, index into extensions_
  std::vector<std::string> extensions_;  // as spelled on disk (".JPEG", ".jpg", ...)
  int64_t other_files_ = 0;              // not images, or hidden
  int64_t unlisted_folders_ = 0;         // class folders missing from the class list
  int64_t empty_folders_ = 0;            // skipped under on_error "skip"
  int64_t outside_train_ = 0;            // classes not in train_classes
};

FolderSource::FolderSource(const SourceRequest& request)
    : root_(request.root), split_(request.split) {
  dir_ = split_.empty() ? root_ : root_ / split_;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) {
    throw DataError(dir_, fmt::format("split folder {} {}", dir_.string(),
                                      fs::exists(dir_, ec) ? "is not a folder" : "does not exist"));
  }
  const bool skip_empty = request.on_error == "skip";

  // The class folders on disk, in byte order.
  std::vector<std::string> folders;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (is_hidden(it->path())) {
      ++other_files_;
    } else if (std::error_code type_ec; it->is_directory(type_ec)) {  // class folders may be links
      folders.push_back(it->path().filename().string());
    } else {
      ++other_files_;
    }
  }
  if (ec) throw DataError(dir_, fmt::format("cannot list {}: {}", dir_.string(), ec.message()));
  std::sort(folders.begin(), folders.end());

  // Own classes and the folder of each.
  std::vector<std::string> own;
  std::vector<std::string> folder_of;
  if (request.class_list.empty()) {
    own = folders;
    folder_of = folders;
  } else {
    for (auto& e : read_class_list(request.class_list)) {
      own.push_back(std::move(e.name));
      folder_of.push_back(std::move(e.folder));
    }
    const std::set<std::string> listed(folder_of.begin(), folder_of.end());
    for (const auto& f : folders) unlisted_folders_ += listed.count(f) == 0;
  }
  if (own.empty()) {
    throw DataError(dir_, fmt::format("split folder {} holds no class folders", dir_.string()));
  }

  const ClassRestriction restricted =
      restrict_classes(own, request.train_classes, fmt::format("folder dataset {}", dir_.string()));
  classes_ = restricted.classes;
  outside_train_ = restricted.dropped;
  for (size_t c = 0; c < own.size(); ++c) {
    if (restricted.relabel[c] < 0) continue;  // not scanned: may be absent or empty
    if (!std::binary_search(folders.begin(), folders.end(), folder_of[c])) {
      // Only a class list can name a folder that is not there.
      const fs::path missing = dir_ / folder_of[c];
      if (!skip_empty) {
        throw DataError(missing,
                        fmt::format("class folder {} (class '{}' of class list {}) "
                                    "does not exist",
                                    missing.string(), own[c], request.class_list.string()));
      }
      ++empty_folders_;
      continue;
    }
    scan({folder_of[c], restricted.relabel[c]}, skip_empty);
  }
}

uint8_t FolderSource::extension_index(const std::string& ext) {
  for (size_t i = 0; i < extensions_.size(); ++i) {
    if (extensions_[i] == ext) return static_cast<uint8_t>(i);
  }
  // Spellings are bounded: five extensions, each in a handful of cases.
  MDLAB_CHECK(extensions_.size() < 255, "folder dataset {}: too many extension spellings",
              dir_.string());
  extensions_.push_back(ext);
  return static_cast<uint8_t>(extensions_.size() - 1);
}

void FolderSource::scan(const ClassFolder& cls, bool skip_empty) {
  const fs::path folder = dir_ / cls.folder;
  // Paths relative to dir_, '/' separated, with the length of their extension.
  std::vector<std::pair<std::string, size_t>> found;
  std::error_code ec;
  // Links to folders inside a class folder are not followed: a link cycle would never end.
  fs::recursive_directory_iterator it(folder, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (is_hidden(p)) {
      std::error_code type_ec;
      if (it->is_directory(type_ec)) it.disable_recursion_pending();
      ++other_files_;
      continue;
    }
    // The entry's cached type: no stat per file on million-image folders.
    std::error_code type_ec;
    if (it->is_directory(type_ec)) continue;
    const std::string ext = p.extension().string();
    if (!is_image_extension(ext) || !it->is_regular_file(type_ec)) {
      ++other_files_;
      continue;
    }
    found.emplace_back(p.lexically_relative(dir_).generic_string(), ext.size());
  }
  if (ec) throw DataError(folder, fmt::format("cannot list {}: {}", folder.string(), ec.message()));
  if (found.empty()) {
    if (skip_empty) {
      ++empty_folders_;
      return;
    }
    throw DataError(folder, fmt::format("class folder {} holds no images (.jpg, .jpeg, .png)",
                                        folder.string()));
  }
  std::sort(found.begin(), found.end());  // byte order of the relative path
  // Keys differ across class folders (they start with the folder), so duplicates can only
  // be files of one folder that differ in their extension.
  auto key_of = [](const std::pair<std::string, size_t>& f) {
    return std::string_view(f.first).substr(0, f.first.size() - f.second);
  };
  std::unordered_map<std::string_view, size_t> seen;
  seen.reserve(found.size());
  for (size_t i = 0; i < found.size(); ++i) {
    auto [at, fresh] = seen.emplace(key_of(found[i]), i);
    if (!fresh) {
      const fs::path a = dir_ / found[at->second].first;
      const fs::path b = dir_ / found[i].first;
      throw DataError(a, fmt::format("{} and {} have the same key '{}'; keep one of them",
                                     a.string(), b.string(), key_of(found[i])));
    }
  }
  for (const auto& f : found) {
    const std::string_view key = key_of(f);
    extension_of_.push_back(extension_index(f.first.substr(key.size())));
    keys_.emplace_back(key);
    labels_.push_back(cls.label);
  }
}

std::string FolderSource::describe() const {
  std::string out =
      fmt::format("folder {} split {}: {}, {}", root_.string(), split_.empty() ? "(none)" : split_,
                  plural(size(), "image", "images"),
                  plural(static_cast<int64_t>(classes_.size()), "class", "classes"));
  std::vector<std::string> notes;
  if (other_files_ > 0) {
    notes.push_back(plural(other_files_, "other file", "other files") + " ignored");
  }
  if (unlisted_folders_ > 0) {
    notes.push_back(plural(unlisted_folders_, "folder", "folders") + " not in the class list");
  }
  if (empty_folders_ > 0) {
    notes.push_back(
        plural(empty_folders_, "empty or missing class folder", "empty or missing class folders") +
        " skipped");
  }
  if (outside_train_ > 0) {
    notes.push_back(plural(outside_train_, "class", "classes") + " outside train_classes");
  }
  for (size_t i = 0; i < notes.size(); ++i) out += (i ? ", " : " (") + notes[i];
  if (!notes.empty()) out += ")";
  return out;
}

}  // namespace

std::unique_ptr<DataSource> open_folder_source(const SourceRequest& request) {
  return std::make_unique<FolderSource>(request);
}

SourceFormat folder_source_format() {
  return {"folder",
          "class folders of JPEG/PNG images: <root>/<split>/<class>/**/<image> (ImageNet layout)",
          open_folder_source};
}

}  // namespace mdlab
