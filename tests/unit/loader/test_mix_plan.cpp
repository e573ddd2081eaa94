// Mix modes mapped onto view slots: which slots see real or synthetic pixels, per epoch, on a
// two-view and a DINO multi-crop slot set; crop-split validation; mixing's sample space.
#include "loader_fakes.h"
#include "mix_plan.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>

namespace mdlab {
// Catch prints failing comparisons of source vectors by name.
inline std::ostream& operator<<(std::ostream& os, ViewSource s) {
  return os << view_source_name(s);
}
}  // namespace mdlab

namespace {

using mdlab::MixMode;
using mdlab::MixOptions;
using mdlab::MixPlan;
using mdlab::ViewSource;
using mdlab::test::dino_views;
using mdlab::test::two_views;

constexpr ViewSource R = ViewSource::kReal;
constexpr ViewSource S = ViewSource::kSynthetic;

MixPlan plan_of(MixMode mode, const std::vector<mdlab::ViewSlot>& slots, int64_t epochs = 10) {
  MixOptions options;
  options.mode = mode;
  return MixPlan(options, slots, epochs);
}

}  // namespace

TEST_CASE("real and synthetic modes feed every slot from one source") {
  for (const auto& slots : {two_views(), dino_views()}) {
    const auto real = plan_of(MixMode::kReal, slots);
    const auto syn = plan_of(MixMode::kSynthetic, slots);
    for (int64_t epoch : {0, 5, 9}) {
      CHECK(real.slot_sources(epoch) == std::vector<ViewSource>(slots.size(), R));
      CHECK(syn.slot_sources(epoch) == std::vector<ViewSource>(slots.size(), S));
    }
    CHECK_FALSE(real.needs_synthetic());
    CHECK(syn.needs_synthetic());
  }
}

TEST_CASE("mixdiff: two-view slot 0 real and slot 1 synthetic; DINO by crop split") {
  const auto two = plan_of(MixMode::kMixdiff, two_views());
  CHECK_FALSE(two.multi_crop());
  CHECK(two.slot_sources(0) == std::vector<ViewSource>{R, S});
  CHECK(two.slot_sources(7) == std::vector<ViewSource>{R, S});
  CHECK(two.describe() == "mixdiff: view1=real view2=synthetic");

  // Default split: 1 global + 6 local real, 1 global + 2 local synthetic.
  const auto dino = plan_of(MixMode::kMixdiff, dino_views());
  CHECK(dino.multi_crop());
  CHECK(dino.slot_sources(3) == std::vector<ViewSource>{R, S, R, R, R, R, R, R, S, S});

  MixOptions options;
  options.mode = MixMode::kMixdiff;
  options.crop_split = {1, 2, 1, 6};  // the ablation's 1G+2L real / 1G+6L synthetic
  const MixPlan ablation(options, dino_views(), 10);
  CHECK(ablation.slot_sources(0) == std::vector<ViewSource>{R, S, R, R, S, S, S, S, S, S});

  // Slot order, not position, decides: locals first still gives the first locals to real.
  auto shuffled = dino_views();
  std::rotate(shuffled.begin(), shuffled.begin() + 2, shuffled.end());  // 8 locals, 2 globals
  const auto rotated = plan_of(MixMode::kMixdiff, shuffled);
  CHECK(rotated.slot_sources(0) == std::vector<ViewSource>{R, R, R, R, R, R, S, S, R, S});
}

TEST_CASE("mixdiff refuses slot sets it cannot split, naming both counts") {
  MixOptions options;
  options.mode = MixMode::kMixdiff;
  options.crop_split = {1, 6, 1, 1};
  CHECK_THROWS_WITH(MixPlan(options, dino_views(), 10),
                    Catch::Contains("needs 2 global + 7 local") &&
                        Catch::Contains("declares 2 global + 8 local"));
  options.crop_split = {1, 4, 1, 4};  // 1G+4L / 1G+4L fits DINO's 2G+8L
  CHECK_NOTHROW(MixPlan(options, dino_views(), 10));
  options.crop_split = {-1, 4, 3, 4};
  CHECK_THROWS_WITH(MixPlan(options, dino_views(), 10), Catch::Contains(">= 0"));

  CHECK_THROWS_WITH(plan_of(MixMode::kMixdiff, {{"image", "", 0, ""}}),
                    Catch::Contains("declares 1 view slot"));
  CHECK_THROWS_WITH(plan_of(MixMode::kReal, {{"a", "global", 0, ""}, {"b", "", 0, ""}}),
                    Catch::Contains("mix crop groups and ungrouped"));
  CHECK_THROWS_WITH(plan_of(MixMode::kReal, {{"a", "medium", 0, ""}}),
                    Catch::Contains("crop group 'medium'"));
  CHECK_THROWS_WITH(plan_of(MixMode::kReal, {}), Catch::Contains("no view slots"));
}

TEST_CASE("mixing: a sample space of 2N items, every view from its item's source") {
  for (const auto& slots : {two_views(), dino_views()}) {
    const auto plan = plan_of(MixMode::kMixing, slots);
    CHECK(plan.item_space(100) == 200);
    CHECK(plan.items_per_epoch(100) == 100);  // as many images per epoch as the other modes
    CHECK(plan.item_source(99, 100) == R);
    CHECK(plan.item_source(100, 100) == S);
    CHECK(plan.item_sample(100, 100) == 0);
    CHECK(plan.item_sample(199, 100) == 99);
    CHECK(plan.slot_sources(4, R) == std::vector<ViewSource>(slots.size(), R));
    CHECK(plan.slot_sources(4, S) == std::vector<ViewSource>(slots.size(), S));
    CHECK(plan.needs_synthetic());
  }
  CHECK(plan_of(MixMode::kReal, two_views()).item_space(100) == 100);
}

TEST_CASE("sequential: real before the switch epoch, synthetic from it") {
  const auto plan = plan_of(MixMode::kSequential, two_views(), 10);
  CHECK(plan.options().switch_epoch == 5);
  for (int64_t e = 0; e < 10; ++e)
    CHECK(plan.slot_sources(e) == std::vector<ViewSource>(2, e < 5 ? R : S));
  CHECK(plan_of(MixMode::kSequential, dino_views(), 5).options().switch_epoch == 2);

  MixOptions options;
  options.mode = MixMode::kSequential;
  options.switch_epoch = 3;
  const MixPlan early(options, dino_views(), 10);
  CHECK(early.slot_sources(2) == std::vector<ViewSource>(10, R));
  CHECK(early.slot_sources(3) == std::vector<ViewSource>(10, S));
  CHECK(early.describe() == "sequential: epochs < 3 real, epochs >= 3 synthetic");

  options.switch_epoch = 11;
  CHECK_THROWS_WITH(MixPlan(options, two_views(), 10), Catch::Contains("beyond the run's 10"));
  options.switch_epoch = 10;
  CHECK_FALSE(MixPlan(options, two_views(), 10).needs_synthetic());
}

TEST_CASE("mix modes parse from their TOML names") {
  for (auto mode : {MixMode::kReal, MixMode::kSynthetic, MixMode::kMixdiff, MixMode::kMixing,
                    MixMode::kSequential})
    CHECK(mdlab::parse_mix_mode(mdlab::mix_mode_name(mode)) == mode);
  CHECK_THROWS_WITH(mdlab::parse_mix_mode("mixed"),
                    Catch::Contains("real, synthetic, mixdiff, mixing, sequential"));
}
