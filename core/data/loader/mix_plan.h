// MixPlan: which source (real or synthetic) feeds each of a method's view slots, per epoch.
//
// Modes (mission.md, section 1):
// - real:       every slot real.
// - synthetic:  every slot synthetic (the "+Syn" variant).
// - mixdiff:    two-view methods (two slots, no crop groups): slot 0 real, slot 1 synthetic.
//               Multi-crop methods (every slot in group "global" or "local"): the crop split
//               decides; in each group the first slots (in slot order) are real, the rest
//               synthetic. Default split 1 global + 6 local real, 1 global + 2 local synthetic.
// - mixing:     one dataset = real ∪ synthetic. The sample space has 2N items for N real
//               samples: item j < N is real sample j, item N + j is the synthetic partner of
//               sample j; every view of an item comes from the item's source. An epoch draws N
//               of the 2N items (without replacement), so every mode shows the model the same
//               number of images per epoch and per run, as the paper's ablation requires.
// - sequential: epochs before the switch epoch (default total_epochs / 2) real, the rest
//               synthetic.
#pragma once

#include <mdlab/method.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mdlab {

/// The data variants of mission.md.
enum class MixMode { kReal, kSynthetic, kMixdiff, kMixing, kSequential };

/// Parses "real", "synthetic", "mixdiff", "mixing" or "sequential"; throws mdlab::Error
/// listing the choices otherwise.
MixMode parse_mix_mode(std::string_view name);

/// The TOML name of `mode`.
std::string_view mix_mode_name(MixMode mode);

/// Where a view's pixels come from.
enum class ViewSource : uint8_t { kReal = 0, kSynthetic = 1 };

/// Name of a source ("real", "synthetic").
std::string_view view_source_name(ViewSource source);

/// Number of global and local crops taken from each source (multi-crop mixdiff).
struct CropSplit {
  int64_t real_global = 1;       ///< global crops of the real image
  int64_t real_local = 6;        ///< local crops of the real image
  int64_t synthetic_global = 1;  ///< global crops of the synthetic partner
  int64_t synthetic_local = 2;   ///< local crops of the synthetic partner
};

/// How views are sourced.
struct MixOptions {
  MixMode mode = MixMode::kReal;  ///< data variant
  CropSplit crop_split;           ///< multi-crop mixdiff only
  int64_t switch_epoch = -1;      ///< sequential: first synthetic epoch; -1 = total_epochs / 2
};

/// The source of every (epoch, slot), fixed for a run.
class MixPlan {
 public:
  /// An empty plan (no slots); a Loader refuses it.
  MixPlan() = default;
  /// Maps `options` onto `slots` for a run of `total_epochs`; throws mdlab::Error when the
  /// slots cannot carry the mode (mixdiff on one slot, a crop split whose sums differ from the
  /// method's global/local counts, unknown crop groups, a switch epoch out of range).
  MixPlan(MixOptions options, std::vector<ViewSlot> slots, int64_t total_epochs);

  /// The mode.
  MixMode mode() const { return options_.mode; }
  /// The options, with switch_epoch resolved.
  const MixOptions& options() const { return options_; }
  /// The method's slots.
  const std::vector<ViewSlot>& slots() const { return slots_; }
  /// Number of slots.
  int64_t num_slots() const { return static_cast<int64_t>(slots_.size()); }
  /// Total epochs of the run.
  int64_t total_epochs() const { return total_epochs_; }
  /// True when the slots are global/local crop groups.
  bool multi_crop() const { return multi_crop_; }
  /// True when some epoch reads synthetic images.
  bool needs_synthetic() const;

  /// Items in the sample space for `n` real samples: 2n for mixing, n otherwise.
  int64_t item_space(int64_t n) const { return options_.mode == MixMode::kMixing ? 2 * n : n; }
  /// Items an epoch visits: n in every mode.
  int64_t items_per_epoch(int64_t n) const { return n; }
  /// Real sample of `item` (in [0, item_space(n))).
  int64_t item_sample(int64_t item, int64_t n) const { return item < n ? item : item - n; }
  /// Source of `item`: synthetic for items >= n (mixing), real otherwise.
  ViewSource item_source(int64_t item, int64_t n) const {
    return item < n ? ViewSource::kReal : ViewSource::kSynthetic;
  }

  /// Source of `slot` in `epoch` for an item whose own source is `item` (used by mixing only).
  ViewSource slot_source(int64_t epoch, int64_t slot, ViewSource item = ViewSource::kReal) const;
  /// Sources of every slot in `epoch`, in slot order.
  std::vector<ViewSource> slot_sources(int64_t epoch, ViewSource item = ViewSource::kReal) const;

  /// One line for logs: mode and the slot sources ("mixdiff: view1=real view2=synthetic").
  std::string describe() const;

 private:
  MixOptions options_;
  std::vector<ViewSlot> slots_;
  int64_t total_epochs_ = 0;
  bool multi_crop_ = false;
  std::vector<ViewSource> mixdiff_;  // per-slot sources of mixdiff
};

}  // namespace mdlab
