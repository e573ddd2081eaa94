// Evaluator: measures a frozen encoder and returns tables.
//
// Data reaches an evaluator as named splits ("train", "test", "imagenet-r", ...), each a
// stream of batches of images float32 [N, C, H, W] (evaluation transform applied) and labels
// int64 [N]. Results are tables (rows: datasets or settings; columns: metrics) written to the
// run log under /eval/<evaluator>/<table>.
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

/// The datasets an evaluator may read, by split name.
class MDLAB_SDK_API EvalData {
 public:
  virtual ~EvalData();
  /// Names of the available splits.
  virtual std::vector<std::string> splits() const = 0;
  /// A new pass over `split`; throws mdlab::Error for an unknown split.
  virtual std::unique_ptr<BatchStream> open(const std::string& split) = 0;
};

/// A result table: values[r][c] is the metric columns[c] for row rows[r].
struct MDLAB_SDK_API Table {
  std::string name;                        ///< table name ("accuracy")
  std::vector<std::string> rows;           ///< row labels
  std::vector<std::string> columns;        ///< column labels
  std::vector<std::vector<double>> values; ///< rows.size() x columns.size()
};

/// What an evaluator returns.
struct MDLAB_SDK_API EvalResult {
  std::vector<Table> tables; ///< result tables
};

/// A measurement of a frozen encoder.
class MDLAB_SDK_API Evaluator {
 public:
  virtual ~Evaluator();
  /// Evaluates `encoder` (already in eval mode, gradients off) on `data`.
  virtual EvalResult evaluate(Backbone& encoder, EvalData& data, Context& context) = 0;
};

}  // namespace mdlab
