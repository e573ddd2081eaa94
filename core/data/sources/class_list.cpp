#include "class_list.h"

#include "data_source.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;

namespace mdlab {

std::vector<ClassListEntry> read_class_list(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw DataError(file, fmt::format("cannot read class list {}", file.string()));
  std::vector<ClassListEntry> entries;
  std::map<std::string, int> folder_line, name_line;
  std::string text;
  for (int line = 1; std::getline(in, text); ++line) {
    if (auto hash = text.find('#'); hash != std::string::npos) text.resize(hash);
    std::vector<std::string> cols;
    if (auto tab = text.find('\t'); tab != std::string::npos) {
      // "folder<TAB>name": the name may hold spaces ("Ankle boot").
      auto trim = [](std::string s) {
        const auto b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
        return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
      };
      cols = {trim(text.substr(0, tab)), trim(text.substr(tab + 1))};
      if (cols[0].empty() || cols[1].empty() || cols[0].find(' ') != std::string::npos) {
        throw DataError(file, fmt::format("class list {} line {}: expected \"folder<TAB>name\"",
                                          file.string(), line));
      }
    } else {
      std::istringstream words(text);
      for (std::string w; words >> w;) cols.push_back(w);
    }
    if (cols.empty()) continue;
    if (cols.size() > 2) {
      throw DataError(file, fmt::format("class list {} line {}: {} columns, expected \"name\" or "
                                        "\"folder name\"",
                                        file.string(), line, cols.size()));
    }
    ClassListEntry e{cols[0], cols.back(), line};
    if (auto [it, fresh] = folder_line.emplace(e.folder, line); !fresh) {
      throw DataError(file, fmt::format("class list {}: folder '{}' on lines {} and {}",
                                        file.string(), e.folder, it->second, line));
    }
    if (auto [it, fresh] = name_line.emplace(e.name, line); !fresh) {
      throw DataError(file, fmt::format("class list {}: class '{}' on lines {} and {}",
                                        file.string(), e.name, it->second, line));
    }
    entries.push_back(std::move(e));
  }
  if (in.bad()) throw DataError(file, fmt::format("cannot read class list {}", file.string()));
  if (entries.empty())
    throw DataError(file, fmt::format("class list {} names no class", file.string()));
  return entries;
}

std::vector<std::string> class_names_from_list(const fs::path& file, int64_t needed) {
  std::vector<std::string> names;
  for (auto& e : read_class_list(file)) names.push_back(std::move(e.name));
  if (static_cast<int64_t>(names.size()) < needed) {
    throw DataError(file, fmt::format("class list {} names {} classes but the labels need {}",
                                      file.string(), names.size(), needed));
  }
  return names;
}

ClassRestriction restrict_classes(const std::vector<std::string>& own,
                                  const std::vector<std::string>& train_classes,
                                  const std::string& what) {
  ClassRestriction out;
  if (train_classes.empty()) {
    out.classes = own;
    for (size_t i = 0; i < own.size(); ++i) out.relabel.push_back(static_cast<int64_t>(i));
    return out;
  }
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < train_classes.size(); ++i) {
    MDLAB_CHECK(index.emplace(train_classes[i], static_cast<int64_t>(i)).second,
                "train_classes lists '{}' twice", train_classes[i]);
  }
  int64_t common = 0;
  for (const auto& name : own) {
    auto it = index.find(name);
    out.relabel.push_back(it == index.end() ? -1 : it->second);
    if (it == index.end()) {
      ++out.dropped;
    } else {
      ++common;
    }
  }
  MDLAB_CHECK(common > 0,
              "{} shares no class with train_classes: its {} classes are {}; train_classes "
              "({}) are {}",
              what, own.size(), name_sample(own), train_classes.size(), name_sample(train_classes));
  out.classes = train_classes;
  return out;
}

std::vector<std::string> index_class_names(int64_t n) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < n; ++i) names.push_back(std::to_string(i));
  return names;
}

std::string name_sample(const std::vector<std::string>& names, size_t n) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < n; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > n) out += fmt::format(", ... ({} more)", names.size() - n);
  if (names.empty()) out = "(none)";
  return out;
}

}  // namespace mdlab
