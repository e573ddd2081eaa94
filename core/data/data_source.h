// DataSource: a labelled set of images addressed by index, each with a stable key.
//
// Keys: an image folder's key is the file's path relative to the split folder without its
// extension ("n01440764/ILSVRC2012_val_00000293"); IDX and CIFAR keys are "<split>/<index>".
// A key links a real sample to its synthetic partner (same key in the mirror tree).
// Labels are int64 in [0, classes().size()), or -1 when unknown.
//
// Sources are created from the [data] table through a registry keyed by format name
// ("folder", "idx", "cifar"), each entry with help text (`mdlab plugins` style).
#pragma once

#include "image.h"

#include <mdlab/error.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mdlab {

/// A data error tied to one file (corrupt, truncated, unreadable, wrong format).
class DataError : public Error {
 public:
  /// An error about `file`; the message already names it.
  DataError(std::filesystem::path file, std::string message);
  ~DataError() override;
  /// The file concerned.
  const std::filesystem::path& file() const noexcept { return file_; }

 private:
  std::filesystem::path file_;
};

/// Decoding hints: a decoder may return a smaller image (e.g. JPEG DCT scaling by 1/2, 1/4,
/// 1/8) as long as both sides stay >= these minimums; 0 means full size.
struct DecodeHint {
  int min_width = 0;   ///< smallest acceptable width
  int min_height = 0;  ///< smallest acceptable height
};

/// A labelled image set addressed by index.
class DataSource {
 public:
  virtual ~DataSource();
  /// Number of samples.
  virtual int64_t size() const = 0;
  /// Stable key of sample `i`.
  virtual const std::string& key(int64_t i) const = 0;
  /// Label of sample `i` (-1 when unknown).
  virtual int64_t label(int64_t i) const = 0;
  /// Class names, index = label.
  virtual const std::vector<std::string>& classes() const = 0;
  /// Decodes sample `i` into `out` (1 or 3 channels as stored); throws DataError naming the
  /// file on a corrupt, truncated or unreadable image. Thread-safe.
  virtual void load(int64_t i, ImageU8& out, const DecodeHint& hint = {}) const = 0;
  /// One line for logs: format, root, split, size, classes.
  virtual std::string describe() const = 0;
};

/// What a source needs to open one split.
struct SourceRequest {
  std::string format;                    ///< registry key
  std::filesystem::path root;            ///< dataset folder
  std::string split;                     ///< "train", "test", "val", ...
  std::filesystem::path class_list;      ///< optional file: one class per line (see below)
  std::vector<std::string> train_classes;  ///< when set: keep only these classes, relabel
                                           ///< into their order (shift sets with other
                                           ///< class sets); empty: the split's own classes
  std::string on_error = "error";        ///< "error" or "skip" for unreadable samples at scan
};

/// Factory of one format.
struct SourceFormat {
  std::string name;  ///< registry key
  std::string help;  ///< one line for docs and errors
  std::function<std::unique_ptr<DataSource>(const SourceRequest&)> open;  ///< opens a split
};

/// The registered formats, by name.
const std::map<std::string, SourceFormat>& source_formats();

/// Opens a split with the format named in `request`; throws mdlab::Error for an unknown
/// format (listing the known ones) or a missing dataset.
std::unique_ptr<DataSource> open_source(const SourceRequest& request);

}  // namespace mdlab
