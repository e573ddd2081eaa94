#include "mix_plan.h"

#include <mdlab/error.h>

#include <fmt/format.h>

#include <utility>

namespace mdlab {
namespace {

constexpr std::string_view kGlobal = "global";
constexpr std::string_view kLocal = "local";

}  // namespace

MixMode parse_mix_mode(std::string_view name) {
  if (name == "real") return MixMode::kReal;
  if (name == "synthetic") return MixMode::kSynthetic;
  if (name == "mixdiff") return MixMode::kMixdiff;
  if (name == "mixing") return MixMode::kMixing;
  if (name == "sequential") return MixMode::kSequential;
  MDLAB_THROW("unknown mix mode '{}' (choices: real, synthetic, mixdiff, mixing, sequential)",
              name);
}

std::string_view mix_mode_name(MixMode mode) {
  switch (mode) {
    case MixMode::kReal: return "real";
    case MixMode::kSynthetic: return "synthetic";
    case MixMode::kMixdiff: return "mixdiff";
    case MixMode::kMixing: return "mixing";
    case MixMode::kSequential: return "sequential";
  }
  return "?";
}

std::string_view view_source_name(ViewSource source) {
  return source == ViewSource::kReal ? "real" : "synthetic";
}

MixPlan::MixPlan(MixOptions options, std::vector<ViewSlot> slots, int64_t total_epochs)
    : options_(std::move(options)), slots_(std::move(slots)), total_epochs_(total_epochs) {
  MDLAB_CHECK(!slots_.empty(), "mix plan: the method declares no view slots");
  MDLAB_CHECK(total_epochs_ >= 1, "mix plan: total epochs must be >= 1, got {}", total_epochs_);

  int64_t globals = 0, locals = 0, ungrouped = 0;
  for (const auto& slot : slots_) {
    if (slot.group == kGlobal) {
      ++globals;
    } else if (slot.group == kLocal) {
      ++locals;
    } else if (slot.group.empty()) {
      ++ungrouped;
    } else {
      MDLAB_THROW("mix plan: slot '{}' has crop group '{}' (known: global, local)", slot.name,
                  slot.group);
    }
  }
  MDLAB_CHECK(ungrouped == 0 || globals + locals == 0,
              "mix plan: slots mix crop groups and ungrouped views ({} global, {} local, {} "
              "without group)",
              globals, locals, ungrouped);
  multi_crop_ = globals + locals > 0;

  if (options_.mode == MixMode::kSequential) {
    if (options_.switch_epoch < 0) options_.switch_epoch = total_epochs_ / 2;
    MDLAB_CHECK(options_.switch_epoch <= total_epochs_,
                "mix plan: sequential switch epoch {} is beyond the run's {} epochs",
                options_.switch_epoch, total_epochs_);
  }

  if (options_.mode == MixMode::kMixdiff) {
    mixdiff_.assign(slots_.size(), ViewSource::kReal);
    if (!multi_crop_) {
      MDLAB_CHECK(slots_.size() == 2,
                  "mix plan: mixdiff needs two views (or global/local crop groups), the method "
                  "declares {} view slot(s)",
                  slots_.size());
      mixdiff_[1] = ViewSource::kSynthetic;
    } else {
      const CropSplit& split = options_.crop_split;
      MDLAB_CHECK(split.real_global >= 0 && split.real_local >= 0 && split.synthetic_global >= 0 &&
                      split.synthetic_local >= 0,
                  "mix plan: crop split counts must be >= 0 (real {}G+{}L, synthetic {}G+{}L)",
                  split.real_global, split.real_local, split.synthetic_global,
                  split.synthetic_local);
      const int64_t want_global = split.real_global + split.synthetic_global;
      const int64_t want_local = split.real_local + split.synthetic_local;
      MDLAB_CHECK(want_global == globals && want_local == locals,
                  "mix plan: the crop split (real {}G+{}L, synthetic {}G+{}L) needs {} global + {} "
                  "local crops but the method declares {} global + {} local",
                  split.real_global, split.real_local, split.synthetic_global,
                  split.synthetic_local, want_global, want_local, globals, locals);
      int64_t seen_global = 0, seen_local = 0;
      for (size_t v = 0; v < slots_.size(); ++v) {
        const bool real = slots_[v].group == kGlobal ? seen_global++ < split.real_global
                                                     : seen_local++ < split.real_local;
        mixdiff_[v] = real ? ViewSource::kReal : ViewSource::kSynthetic;
      }
    }
  }
}

bool MixPlan::needs_synthetic() const {
  switch (options_.mode) {
    case MixMode::kReal: return false;
    case MixMode::kSequential: return options_.switch_epoch < total_epochs_;
    default: return true;
  }
}

ViewSource MixPlan::slot_source(int64_t epoch, int64_t slot, ViewSource item) const {
  MDLAB_CHECK(slot >= 0 && slot < num_slots(), "mix plan: slot {} out of range [0, {})", slot,
              num_slots());
  switch (options_.mode) {
    case MixMode::kReal: return ViewSource::kReal;
    case MixMode::kSynthetic: return ViewSource::kSynthetic;
    case MixMode::kMixdiff: return mixdiff_[static_cast<size_t>(slot)];
    case MixMode::kMixing: return item;
    case MixMode::kSequential:
      return epoch < options_.switch_epoch ? ViewSource::kReal : ViewSource::kSynthetic;
  }
  return ViewSource::kReal;
}

std::vector<ViewSource> MixPlan::slot_sources(int64_t epoch, ViewSource item) const {
  std::vector<ViewSource> sources(slots_.size());
  for (int64_t v = 0; v < num_slots(); ++v)
    sources[static_cast<size_t>(v)] = slot_source(epoch, v, item);
  return sources;
}

std::string MixPlan::describe() const {
  std::string text(mix_mode_name(options_.mode));
  switch (options_.mode) {
    case MixMode::kMixing:
      text += ": items of real ∪ synthetic, every view from its item's source";
      break;
    case MixMode::kSequential:
      text += fmt::format(": epochs < {} real, epochs >= {} synthetic", options_.switch_epoch,
                          options_.switch_epoch);
      break;
    default:
      text += ":";
      for (int64_t v = 0; v < num_slots(); ++v)
        text += fmt::format(" {}={}", slots_[static_cast<size_t>(v)].name,
                            view_source_name(slot_source(0, v)));
  }
  return text;
}

}  // namespace mdlab
