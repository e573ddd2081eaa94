// Stratified subsets: per-class counts (at least one per class), determinism given the seed,
// nesting of fractions, and synthetic partners following the chosen keys.
#include "fixtures.h"
#include "loader_fakes.h"
#include "subset.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

namespace {

using mdlab::stratified_subset_indices;
using mdlab::test::FakeSource;

// 40 of class 0, 20 of class 1, 3 of class 2, 1 of class 3, 2 unlabelled; interleaved.
std::shared_ptr<FakeSource> uneven_source() {
  std::vector<int64_t> labels;
  for (int i = 0; i < 40; ++i) labels.push_back(0);
  for (int i = 0; i < 20; ++i) labels.push_back(1);
  for (int i = 0; i < 3; ++i) labels.push_back(2);
  labels.push_back(3);
  labels.push_back(-1);
  labels.push_back(-1);
  std::vector<int64_t> mixed;
  for (size_t i = 0; i < labels.size(); ++i) mixed.push_back(labels[(i * 17) % labels.size()]);
  return std::make_shared<FakeSource>(mixed, 4);
}

std::map<int64_t, int64_t> per_class(const FakeSource& source, const std::vector<int64_t>& idx) {
  std::map<int64_t, int64_t> counts;
  for (int64_t i : idx) ++counts[source.label(i)];
  return counts;
}

}  // namespace

TEST_CASE("a stratified subset keeps the fraction of every class, at least one each") {
  auto source = uneven_source();
  REQUIRE(per_class(*source, stratified_subset_indices(*source, 1.0, 3)) ==
          std::map<int64_t, int64_t>{{-1, 2}, {0, 40}, {1, 20}, {2, 3}, {3, 1}});

  const auto quarter = stratified_subset_indices(*source, 0.25, 3);
  CHECK(per_class(*source, quarter) ==
        std::map<int64_t, int64_t>{{-1, 1}, {0, 10}, {1, 5}, {2, 1}, {3, 1}});
  CHECK(std::is_sorted(quarter.begin(), quarter.end()));
  CHECK(std::adjacent_find(quarter.begin(), quarter.end()) == quarter.end());

  const auto half = stratified_subset_indices(*source, 0.5, 3);
  CHECK(per_class(*source, half) ==
        std::map<int64_t, int64_t>{{-1, 1}, {0, 20}, {1, 10}, {2, 2}, {3, 1}});
  // Nested: the 25% subset lies inside the 50% subset of the same seed.
  CHECK(std::includes(half.begin(), half.end(), quarter.begin(), quarter.end()));

  CHECK(stratified_subset_indices(*source, 0.25, 3) == quarter);  // same seed, same subset
  CHECK(stratified_subset_indices(*source, 0.25, 4) != quarter);  // another seed, another one
  CHECK(stratified_subset_indices(*source, 1.0, 3).size() == 66);

  CHECK_THROWS_WITH(stratified_subset_indices(*source, 0.0, 3), Catch::Contains("(0, 1]"));
  CHECK_THROWS_WITH(stratified_subset_indices(*source, 1.5, 3), Catch::Contains("(0, 1]"));
}

TEST_CASE("synthetic partners follow a subset by key") {
  auto source = FakeSource::balanced(30, 3);
  const auto root = mdlab::test::temp_dir("subset_partners");
  mdlab::test::write_mirror(root, *source, 2);
  mdlab::test::FakeDecoder decoder;
  mdlab::SyntheticOptions options;
  options.root = root;
  mdlab::SyntheticPartners partners(source, options, decoder.fn());

  const auto subset = stratified_subset_indices(*source, 0.5, 9);
  REQUIRE(subset.size() == 15);
  for (int64_t i : subset) {
    const auto file = partners.partner_file(i, 0).lexically_relative(root).generic_string();
    CHECK(file.rfind(source->key(i) + "_v", 0) == 0);
    mdlab::ImageU8 image;
    partners.load_partner(i, 0, image);
    CHECK(image.data[1] == i);  // the partner's pixels are those written for this key
  }
}
