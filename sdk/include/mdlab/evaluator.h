// Evaluator: measures a frozen encoder and returns tables (and artifacts).
//
// Data reaches an evaluator through EvalData as named splits, each a stream of batches of
// images float32 [N, C, H, W] (evaluation transform applied, normalised) and labels int64 [N],
// or as cached features float32 [N, D] of the encoder under evaluation. Split names:
//   "train", "test"          the experiment's real data ([data] train_split / test_split)
//   "synthetic"              the synthetic partners of the training split ([data.synthetic],
//                            variation 0), labelled as their real images
//   "<dataset>/train", "<dataset>/test"
//                            a dataset of a [datasets.<dataset>] table (shift and transfer
//                            sets); shift sets are restricted to and relabelled into the
//                            training classes
// and a split followed by one modifier:
//   "<split>@augment"        training augmentation ([eval.augment], default crop_flip), a new
//                            random draw on every pass; never cached
//   "<split>@<corruption>:<severity>"
//                            images corrupted on the fly after the evaluation transform
//                            (corruptions: gaussian_noise, gaussian_blur, contrast,
//                            brightness, jpeg, pixelate; severity 1..5), seeded per image
// Results are tables (rows: datasets or settings; columns: metrics) written to the run log
// under /eval/<evaluator>/<table>, and artifacts under /artifacts/eval/<evaluator>/<name>.
#pragma once

#include <mdlab/backbone.h>
#include <mdlab/context.h>
#include <mdlab/export.h>

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace mdlab {

/// A sequential pass over one split.
class MDLAB_SDK_API BatchStream {
 public:
  virtual ~BatchStream();
  /// Fills the next batch; false at the end of the split.
  virtual bool next(torch::Tensor& images, torch::Tensor& labels) = 0;
  /// Number of samples in the split.
  virtual int64_t size() const = 0;
  /// Number of classes of the split's labels.
  virtual int64_t num_classes() const = 0;
};

/// Features of a whole split under the encoder being evaluated.
struct MDLAB_SDK_API FeatureSet {
  torch::Tensor features;   ///< float32 [N, D], CPU, in split order
  torch::Tensor labels;     ///< int64 [N], CPU
  int64_t num_classes = 0;  ///< labels lie in [0, num_classes)
};

/// Per-channel normalisation of a split's images: pixel = (value / 255 - mean) / stddev.
struct MDLAB_SDK_API Normalization {
  std::vector<double> mean;    ///< one value per channel
  std::vector<double> stddev;  ///< one value per channel
};

/// The datasets an evaluator may read, by split name (see the header comment).
class MDLAB_SDK_API EvalData {
 public:
  virtual ~EvalData();
  /// Names of the available base splits (without modifiers).
  virtual std::vector<std::string> splits() const = 0;
  /// A new pass over `split`; throws mdlab::Error for an unknown split or modifier.
  virtual std::unique_ptr<BatchStream> open(const std::string& split) = 0;
  /// Class names of `split` (index = label).
  virtual std::vector<std::string> class_names(const std::string& split) = 0;
  /// How the images of `split` were normalised (to recover [0, 1] pixels).
  virtual Normalization normalization(const std::string& split) = 0;
  /// Features of `split` under the encoder being evaluated, computed on the first request
  /// and shared by every evaluator of the run (an "@augment" split is computed anew).
  virtual FeatureSet features(const std::string& split) = 0;
};

/// A result table: values[r][c] is the metric columns[c] for row rows[r].
struct MDLAB_SDK_API Table {
  std::string name;                         ///< table name ("accuracy")
  std::vector<std::string> rows;            ///< row labels
  std::vector<std::string> columns;         ///< column labels
  std::vector<std::vector<double>> values;  ///< rows.size() x columns.size(); NaN: no value
  std::vector<std::string> notes;           ///< empty, or one per row ("" or why it was skipped)
};

/// An array an evaluator produced (attention maps, masks, images).
struct MDLAB_SDK_API Artifact {
  std::string name;    ///< name under /artifacts/eval/<evaluator>/ and file stem
  torch::Tensor data;  ///< uint8 [H, W] or [H, W, 3] (also written as <name>.png), or float32
};

/// What an evaluator returns.
struct MDLAB_SDK_API EvalResult {
  std::vector<Table> tables;        ///< result tables
  std::vector<Artifact> artifacts;  ///< arrays kept in the run log (images also as PNG)
};

/// A measurement of a frozen encoder.
class MDLAB_SDK_API Evaluator {
 public:
  virtual ~Evaluator();
  /// Evaluates `encoder` (already in eval mode, gradients off) on `data`.
  virtual EvalResult evaluate(Backbone& encoder, EvalData& data, Context& context) = 0;
};

}  // namespace mdlab
