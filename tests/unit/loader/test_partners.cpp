// Synthetic partners: discovery by key in a mirror tree (plain files, variations, any image
// extension), the three missing-partner policies, and the per-(seed, epoch, key) choice of
// variation.
#include "fixtures.h"
#include "loader_fakes.h"
#include "synthetic_partners.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>

namespace {

using mdlab::MissingPartnerPolicy;
using mdlab::SyntheticOptions;
using mdlab::SyntheticPartners;
using mdlab::test::FakeDecoder;
using mdlab::test::FakeSource;

void touch(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

SyntheticOptions options_for(const std::filesystem::path& root, MissingPartnerPolicy policy,
                             int variations = 0, uint64_t seed = 7) {
  SyntheticOptions options;
  options.root = root;
  options.on_missing = policy;
  options.variations = variations;
  options.seed = seed;
  return options;
}

}  // namespace

TEST_CASE("partners are found by key: plain files, variations, any image extension") {
  auto source = FakeSource::balanced(5, 2);  // keys c0/img000, c1/img001, c0/img002, ...
  const auto root = mdlab::test::temp_dir("partners");
  touch(root / "c0/img000.png", "0 0");
  touch(root / "c1/img001_v0.jpg", "1 0");
  touch(root / "c1/img001_v1.JPEG", "1 1");
  touch(root / "c1/img001_v10.png", "1 10");  // numeric order: v0, v1, v10
  touch(root / "c0/img002.webp", "2 0");      // plain and a variation: both candidates
  touch(root / "c0/img002_v0.png", "2 1");
  touch(root / "c0/img004.json", "not an image");  // ignored: not an image extension
  touch(root / "c1/img003.txt", "not an image");

  FakeDecoder decoder;
  SyntheticPartners partners(source, options_for(root, MissingPartnerPolicy::kReal), decoder.fn());
  CHECK(partners.size() == 5);
  CHECK(partners.candidates(0) == 1);
  CHECK(partners.candidates(1) == 3);
  CHECK(partners.candidates(2) == 2);
  CHECK(partners.missing() == std::vector<int64_t>{3, 4});
  CHECK(partners.missing_count() == 2);
  CHECK(partners.max_candidates() == 3);
  CHECK(partners.candidate_file(1, 0) == root / "c1/img001_v0.jpg");
  CHECK(partners.candidate_file(1, 1) == root / "c1/img001_v1.JPEG");
  CHECK(partners.candidate_file(1, 2) == root / "c1/img001_v10.png");
  CHECK(partners.candidate_file(2, 0) == root / "c0/img002.webp");
  CHECK(partners.candidate_file(2, 1) == root / "c0/img002_v0.png");
  CHECK_THAT(partners.describe(), Catch::Contains("3 with partners") &&
                                      Catch::Contains("2 missing (on_missing = real)"));

  SECTION("a variation count keeps the first candidates and reports short keys") {
    SyntheticPartners two(source, options_for(root, MissingPartnerPolicy::kReal, 2), decoder.fn());
    CHECK(two.candidates(1) == 2);
    CHECK(two.candidates(0) == 1);
    CHECK(two.short_count() == 1);  // img000 has one candidate of the two asked for
    CHECK_THAT(two.describe(), Catch::Contains("1 key(s) with fewer than 2"));
  }
}

TEST_CASE("missing partners under 'error' name the first keys and the count") {
  auto source = FakeSource::balanced(12, 3);
  const auto root = mdlab::test::temp_dir("partners_error");
  mdlab::test::write_mirror(root, *source, 0, {1, 2, 3, 5, 7, 8, 11});
  FakeDecoder decoder;
  try {
    SyntheticPartners partners(source, options_for(root, MissingPartnerPolicy::kError),
                               decoder.fn());
    FAIL("no error");
  } catch (const mdlab::Error& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("7 of 12 samples have no partner"));
    CHECK_THAT(message, Catch::Contains("'c1/img001', 'c2/img002', 'c0/img003', 'c2/img005', "
                                        "'c1/img007', ..."));
    CHECK_THAT(message, Catch::Contains(root.string()));
    CHECK_THAT(message, Catch::Contains("on_missing"));
    CHECK_THAT(message, !Catch::Contains("img011"));  // only the first five are listed
  }
  // The default policy is error.
  SyntheticOptions defaults;
  defaults.root = root;
  CHECK_THROWS_AS(SyntheticPartners(source, defaults, decoder.fn()), mdlab::Error);
}

TEST_CASE("under 'error' only the samples the run uses need partners (a fraction subset)") {
  auto source = FakeSource::balanced(12, 3);
  const auto root = mdlab::test::temp_dir("partners_subset");
  mdlab::test::write_mirror(root, *source, 0, {1, 2, 3, 5, 7, 8, 11});  // these lack partners
  FakeDecoder decoder;
  auto options = options_for(root, MissingPartnerPolicy::kError);
  options.used = {0, 4, 6, 9, 10};  // all have partners: a mirror of the subset suffices
  SyntheticPartners subset(source, options, decoder.fn());
  CHECK(subset.has_partner(4));
  options.used = {0, 4, 5, 9};  // one used sample without a partner
  CHECK_THROWS_WITH(
      SyntheticPartners(source, options, decoder.fn()),
      Catch::Contains("1 of 4 samples have no partner") && Catch::Contains("'c2/img005'"));
}

TEST_CASE("missing partners under 'skip' and 'real' are counted; 'real' loads the real image") {
  auto source = FakeSource::balanced(6, 2);
  const auto root = mdlab::test::temp_dir("partners_policies");
  mdlab::test::write_mirror(root, *source, 0, {4});
  FakeDecoder decoder;

  SyntheticPartners skip(source, options_for(root, MissingPartnerPolicy::kSkip), decoder.fn());
  CHECK(skip.missing_count() == 1);
  CHECK_FALSE(skip.has_partner(4));
  mdlab::ImageU8 image;
  CHECK_THROWS_WITH(skip.load_partner(4, 0, image), Catch::Contains("has no partner"));

  SyntheticPartners real(source, options_for(root, MissingPartnerPolicy::kReal), decoder.fn());
  CHECK(real.missing_count() == 1);
  real.load_partner(4, 0, image);
  CHECK(image.data[0] == mdlab::test::kRealTag);
  CHECK(image.data[1] == 4);
  CHECK(source->loads == 1);
  CHECK(*decoder.calls == 0);

  real.load_partner(3, 0, image, {32, 24});
  CHECK(image.data[0] == mdlab::test::kSyntheticTag);
  CHECK(image.data[1] == 3);
  CHECK(*decoder.calls == 1);
  REQUIRE(decoder.hints->size() == 1);
  CHECK(decoder.hints->at(0).min_width == 32);  // the hint reaches the decoder
  CHECK(decoder.hints->at(0).min_height == 24);
}

TEST_CASE("the variation of a sample is a function of (seed, epoch, key)") {
  auto source = FakeSource::balanced(8, 2);
  const auto root = mdlab::test::temp_dir("partners_variations");
  mdlab::test::write_mirror(root, *source, 3);
  FakeDecoder decoder;
  SyntheticPartners a(source, options_for(root, MissingPartnerPolicy::kError, 0, 11), decoder.fn());
  SyntheticPartners b(source, options_for(root, MissingPartnerPolicy::kError, 0, 11), decoder.fn());
  SyntheticPartners other_seed(source, options_for(root, MissingPartnerPolicy::kError, 0, 12),
                               decoder.fn());
  CHECK(a.max_candidates() == 3);
  std::set<int> seen;
  bool seed_matters = false;
  for (int64_t epoch = 0; epoch < 20; ++epoch) {
    for (int64_t i = 0; i < 8; ++i) {
      const int v = a.variation(i, epoch);
      CHECK(v == b.variation(i, epoch));
      seen.insert(v);
      seed_matters = seed_matters || v != other_seed.variation(i, epoch);
      CHECK(a.partner_file(i, epoch) == root / fmt::format("{}_v{}.png", source->key(i), v));
    }
  }
  CHECK(seen == std::set<int>{0, 1, 2});
  CHECK(seed_matters);

  // The decoded partner is the chosen variation.
  mdlab::ImageU8 image;
  a.load_partner(5, 3, image);
  CHECK(image.data[0] == mdlab::test::kSyntheticTag + a.variation(5, 3));
}

TEST_CASE("two files for one partner, a missing root and unknown policies are errors") {
  auto source = FakeSource::balanced(2, 2);
  const auto root = mdlab::test::temp_dir("partners_ambiguous");
  touch(root / "c0/img000.png", "0 0");
  touch(root / "c0/img000.jpg", "0 0");
  touch(root / "c1/img001.png", "1 0");
  FakeDecoder decoder;
  CHECK_THROWS_WITH(
      SyntheticPartners(source, options_for(root, MissingPartnerPolicy::kError), decoder.fn()),
      Catch::Contains("'c0/img000.jpg' and 'c0/img000.png'"));
  CHECK_THROWS_WITH(
      SyntheticPartners(source, options_for(root / "nope", MissingPartnerPolicy::kError),
                        decoder.fn()),
      Catch::Contains("is not a folder"));
  CHECK(mdlab::parse_missing_partner_policy("skip") == MissingPartnerPolicy::kSkip);
  CHECK(mdlab::parse_missing_partner_policy("real") == MissingPartnerPolicy::kReal);
  CHECK(mdlab::parse_missing_partner_policy("error") == MissingPartnerPolicy::kError);
  CHECK_THROWS_WITH(mdlab::parse_missing_partner_policy("drop"),
                    Catch::Contains("error, skip, real"));
}
