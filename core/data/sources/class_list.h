// Class naming shared by the dataset sources: class-list files and the restriction of a
// source's classes to a training label space (`data.train_classes`).
//
// Class-list file: one class per line, either "name" or "folder name" (two columns separated
// by whitespace: the folder on disk and the class it stands for, e.g. ImageNet-V2's "0" ->
// "n01440764"), or "folder<TAB>name" where the name may hold spaces ("Ankle_boot\tAnkle boot").
// '#' starts a comment; blank lines are skipped. Labels follow the file order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mdlab {

/// One class of a class-list file.
struct ClassListEntry {
  std::string folder;  ///< the folder on disk (the name itself for one-column lines)
  std::string name;    ///< the class name, index in the file = label
  int line = 0;        ///< 1-based line in the file, for errors
};

/// Reads a class-list file; throws DataError naming the file (and line) when it cannot be
/// read, a line has more than two columns, a folder or name appears twice, or it is empty.
std::vector<ClassListEntry> read_class_list(const std::filesystem::path& file);

/// The class names of a class-list file for a source whose labels run up to `needed` - 1
/// (IDX, CIFAR: the list only names the labels); throws DataError when it has fewer.
std::vector<std::string> class_names_from_list(const std::filesystem::path& file, int64_t needed);

/// A source's own classes restricted to a training label space.
struct ClassRestriction {
  std::vector<std::string> classes;  ///< the classes afterwards (train_classes, or own)
  std::vector<int64_t> relabel;      ///< own label -> new label; -1 when the class is dropped
  int64_t dropped = 0;               ///< own classes missing from train_classes
};

/// Restricts `own` to `train_classes` (relabelled into their order); identity when
/// `train_classes` is empty. Throws mdlab::Error naming `what` and a few names of both sides
/// when they share no class, and when train_classes lists a name twice.
ClassRestriction restrict_classes(const std::vector<std::string>& own,
                                  const std::vector<std::string>& train_classes,
                                  const std::string& what);

/// Names "0" .. "n-1", for sources that store no class names.
std::vector<std::string> index_class_names(int64_t n);

/// Up to `n` of `names`, comma separated, with "... (K more)" when cut: for error messages.
std::string name_sample(const std::vector<std::string>& names, size_t n = 5);

}  // namespace mdlab
