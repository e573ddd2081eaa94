// The threaded loader: byte-identical batches whatever the thread count, exact resume from a
// step, epoch orders, drop_last, distributed sharding, mix modes end to end, partner
// policies, bad data under both policies, worker errors surfacing in next(), and pinned
// batches for CUDA (MDLAB_TEST_DEVICE=cuda).
#include "fixtures.h"
#include "loader.h"
#include "loader_fakes.h"
#include "mix_plan.h"
#include "synthetic_partners.h"
#include "test_device.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>

#include <map>
#include <set>

namespace {

using namespace mdlab;
using namespace mdlab::test;

struct Setup {
  std::shared_ptr<FakeSource> real;
  std::shared_ptr<SyntheticPartners> partners;
  FakeDecoder decoder;
  std::vector<std::unique_ptr<FakeTransform>> transforms;

  Setup(int64_t n, std::vector<ViewSlot> slots, int variations = 0, std::set<int64_t> missing = {},
        MissingPartnerPolicy policy = MissingPartnerPolicy::kError)
      : real(FakeSource::balanced(n, 4)), slots_(std::move(slots)) {
    const auto root = temp_dir("loader-mirror");
    write_mirror(root, *real, variations, missing);
    SyntheticOptions o;
    o.root = root;
    o.on_missing = policy;
    o.seed = 17;
    partners = std::make_shared<SyntheticPartners>(real, o, decoder.fn());
    for (size_t v = 0; v < slots_.size(); ++v)
      transforms.push_back(std::make_unique<FakeTransform>());
  }

  std::unique_ptr<Loader> loader(MixOptions mix, LoaderOptions options, int64_t epochs = 4,
                                 OnError on_error = OnError::kError) {
    TrainingData data;
    data.real = real;
    data.synthetic = partners;
    data.plan = MixPlan(mix, slots_, epochs);
    data.on_error = on_error;
    std::vector<const SlotTransform*> t;
    for (auto& x : transforms) t.push_back(x.get());
    return std::make_unique<Loader>(std::move(data), t, options);
  }

  std::vector<ViewSlot> slots_;
};

LoaderOptions opts(int64_t batch, int threads, uint64_t seed = 3) {
  LoaderOptions o;
  o.batch_size = batch;
  o.threads = threads;
  o.seed = seed;
  return o;
}

MixOptions mode(MixMode m) {
  MixOptions o;
  o.mode = m;
  return o;
}

// The source tag (real 1, synthetic 10 + variation) of every row of slot v.
std::vector<int> tags(const LoaderBatch& b, size_t v) {
  std::vector<int> t;
  for (int64_t r = 0; r < b.views[v].size(0); ++r) t.push_back(static_cast<int>(cell(b, v, r, 0)));
  return t;
}

}  // namespace

TEST_CASE("batches are byte-identical with 0, 1, 2 and 3 worker threads") {
  Setup s(64, two_views());
  for (auto& t : s.transforms) t->delay_us = 20;
  auto reference = s.loader(mode(MixMode::kMixdiff), opts(8, 0));
  for (int64_t epoch : {0, 1}) {
    const auto want = read_epoch(*reference, epoch);
    REQUIRE(want.size() == 8);
    for (int threads : {1, 2, 3}) {
      auto loader = s.loader(mode(MixMode::kMixdiff), opts(8, threads));
      const auto got = read_epoch(*loader, epoch);
      REQUIRE(got.size() == want.size());
      for (size_t k = 0; k < got.size(); ++k) {
        INFO("threads " << threads << " epoch " << epoch << " step " << k);
        CHECK(same_batch(got[k], want[k]));
      }
    }
  }
}

TEST_CASE("starting an epoch at step k gives the batches an uninterrupted run reads") {
  Setup s(48, two_views());
  auto loader = s.loader(mode(MixMode::kReal), opts(6, 2));
  const auto full = read_epoch(*loader, 2);
  for (int64_t k : {1, 5, 7}) {
    const auto rest = read_epoch(*loader, 2, k);
    REQUIRE(rest.size() == full.size() - static_cast<size_t>(k));
    for (size_t j = 0; j < rest.size(); ++j) CHECK(same_batch(rest[j], full[j + k]));
  }
  // Restarting mid-epoch drops work in flight without corrupting the next epoch.
  LoaderBatch b;
  loader->start_epoch(1);
  REQUIRE(loader->next(b));
  const auto again = read_epoch(*loader, 2);
  for (size_t j = 0; j < again.size(); ++j) CHECK(same_batch(again[j], full[j]));
}

TEST_CASE("each epoch is a new permutation of every sample; drop_last cuts the tail") {
  Setup s(50, two_views());
  auto loader = s.loader(mode(MixMode::kReal), opts(8, 2));
  CHECK(loader->steps_per_epoch() == 6);
  std::vector<std::vector<int64_t>> orders;
  for (int64_t e : {0, 1}) {
    std::vector<int64_t> order;
    for (const auto& b : read_epoch(*loader, e)) {
      CHECK(b.views[0].size(0) == 8);
      for (int64_t r = 0; r < 8; ++r) order.push_back(b.indices[r].item<int64_t>());
    }
    CHECK(std::set<int64_t>(order.begin(), order.end()).size() == 48);
    orders.push_back(order);
  }
  CHECK(orders[0] != orders[1]);

  LoaderOptions keep = opts(8, 2);
  keep.drop_last = false;
  keep.shuffle = false;
  auto tail = s.loader(mode(MixMode::kReal), keep);
  const auto batches = read_epoch(*tail, 0);
  REQUIRE(batches.size() == 7);
  CHECK(batches.back().views[0].size(0) == 2);
  CHECK(batches.back().indices[1].item<int64_t>() == 49);
  CHECK(batches.front().labels[1].item<int64_t>() == 1);  // label i % 4 of sample 1
}

TEST_CASE("ranks of a distributed run split each global batch between them") {
  Setup s(64, two_views());
  auto single = s.loader(mode(MixMode::kMixdiff), opts(16, 2));
  const auto whole = read_epoch(*single, 1);
  std::vector<std::vector<LoaderBatch>> ranks;
  for (int64_t r = 0; r < 2; ++r) {
    LoaderOptions o = opts(8, 1);
    o.rank = r;
    o.world_size = 2;
    auto loader = s.loader(mode(MixMode::kMixdiff), o);
    CHECK(loader->steps_per_epoch() == 4);
    ranks.push_back(read_epoch(*loader, 1));
  }
  REQUIRE(whole.size() == 4);
  for (size_t step = 0; step < whole.size(); ++step) {
    for (size_t v = 0; v < 2; ++v) {
      auto joined = torch::cat({ranks[0][step].views[v], ranks[1][step].views[v]});
      CHECK(torch::equal(joined, whole[step].views[v]));
    }
  }
}

TEST_CASE("mix modes reach the batches: mixdiff pairs, synthetic, sequential and mixing") {
  Setup s(32, two_views());
  auto md = s.loader(mode(MixMode::kMixdiff), opts(8, 2));
  for (const auto& b : read_epoch(*md, 0)) {
    CHECK(tags(b, 0) == std::vector<int>(8, kRealTag));
    CHECK(tags(b, 1) == std::vector<int>(8, kSyntheticTag));
    // Both views of a row show the same sample.
    for (int64_t r = 0; r < 8; ++r) CHECK(cell(b, 0, r, 1) == cell(b, 1, r, 1));
  }
  auto syn = s.loader(mode(MixMode::kSynthetic), opts(8, 2));
  for (const auto& b : read_epoch(*syn, 0)) CHECK(tags(b, 0) == std::vector<int>(8, kSyntheticTag));

  auto seq = s.loader(mode(MixMode::kSequential), opts(8, 2), 4);
  CHECK(tags(read_epoch(*seq, 1)[0], 1) == std::vector<int>(8, kRealTag));
  CHECK(tags(read_epoch(*seq, 2)[0], 0) == std::vector<int>(8, kSyntheticTag));

  // Mixing: one epoch shows N items of real ∪ synthetic; both views of a row share a source.
  auto mix = s.loader(mode(MixMode::kMixing), opts(8, 2));
  int real = 0, synthetic = 0;
  for (int64_t e = 0; e < 3; ++e) {
    const auto batches = read_epoch(*mix, e);
    CHECK(batches.size() == 4);
    for (const auto& b : batches) {
      const auto t0 = tags(b, 0), t1 = tags(b, 1);
      CHECK(t0 == t1);
      for (int t : t0) (t == kRealTag ? real : synthetic) += 1;
    }
  }
  CHECK(real + synthetic == 96);
  CHECK(real > 20);
  CHECK(synthetic > 20);
}

TEST_CASE("DINO's crop split takes global and local crops from each source") {
  Setup s(16, dino_views());
  MixOptions o = mode(MixMode::kMixdiff);
  o.crop_split = {1, 6, 1, 2};
  auto loader = s.loader(o, opts(4, 2));
  const auto b = read_epoch(*loader, 0).at(0);
  REQUIRE(b.views.size() == 10);
  std::vector<int> first;
  for (size_t v = 0; v < 10; ++v) first.push_back(tags(b, v)[0]);
  // global0 real, global1 synthetic, local0..5 real, local6..7 synthetic.
  CHECK(first == std::vector<int>{1, 10, 1, 1, 1, 1, 1, 1, 10, 10});
  // One decode per source per sample of the epoch (16), not one per crop (160).
  CHECK(s.real->loads.load() == 16);
  CHECK(*s.decoder.calls == 16);
}

TEST_CASE("variations are drawn per epoch; missing partners are skipped or fall back") {
  Setup s(24, two_views(), 3);
  auto loader = s.loader(mode(MixMode::kMixdiff), opts(8, 2), 8);
  std::set<int> seen;
  for (int64_t e = 0; e < 6; ++e)
    for (const auto& b : read_epoch(*loader, e))
      for (int t : tags(b, 1)) seen.insert(t);
  CHECK(seen == std::set<int>{10, 11, 12});

  Setup skip(24, two_views(), 0, {3, 5, 7}, MissingPartnerPolicy::kSkip);
  auto l1 = skip.loader(mode(MixMode::kMixdiff), opts(7, 2));
  CHECK(l1->num_samples() == 21);
  CHECK(l1->stats().dropped_missing_partners == 3);
  for (const auto& b : read_epoch(*l1, 0))
    for (int64_t r = 0; r < b.indices.size(0); ++r)
      CHECK(std::set<int64_t>{3, 5, 7}.count(b.indices[r].item<int64_t>()) == 0);

  Setup fallback(24, two_views(), 0, {3, 5, 7}, MissingPartnerPolicy::kReal);
  LoaderOptions all = opts(8, 2);
  all.shuffle = false;
  auto l2 = fallback.loader(mode(MixMode::kMixdiff), all);
  const auto batches = read_epoch(*l2, 0);
  CHECK(tags(batches[0], 1)[3] == kRealTag);
  CHECK(tags(batches[0], 1)[4] == kSyntheticTag);
  CHECK(l2->stats().real_fallback_views == 3);
}

TEST_CASE("a corrupt image stops the run naming the file, or is replaced and counted") {
  Setup s(32, two_views());
  s.real->bad = {5, 6};
  auto strict = s.loader(mode(MixMode::kReal), opts(8, 2));
  strict->start_epoch(0);
  LoaderBatch b;
  bool thrown = false;
  try {
    while (strict->next(b)) {
    }
  } catch (const DataError& e) {
    thrown = true;
    CHECK_THAT(e.what(),
               Catch::Contains("/fake/c1/img005.jpg") || Catch::Contains("/fake/c2/img006.jpg"));
  }
  CHECK(thrown);

  auto lenient = s.loader(mode(MixMode::kReal), opts(8, 2), 4, OnError::kSkip);
  auto lenient1 = s.loader(mode(MixMode::kReal), opts(8, 1), 4, OnError::kSkip);
  const auto got = read_epoch(*lenient, 0);
  const auto got1 = read_epoch(*lenient1, 0);
  REQUIRE(got.size() == 4);
  for (size_t k = 0; k < got.size(); ++k) CHECK(same_batch(got[k], got1[k]));
  std::set<int64_t> indices;
  for (const auto& x : got)
    for (int64_t r = 0; r < 8; ++r) indices.insert(x.indices[r].item<int64_t>());
  CHECK(indices.count(5) == 0);
  CHECK(indices.count(6) == 0);
  const auto st = lenient->stats();
  CHECK(st.skipped_samples == 2);
  CHECK(st.bad_files.size() == 2);
}

TEST_CASE("an error inside a transform surfaces in next() and the next epoch recovers") {
  Setup s(16, two_views());
  s.transforms[1]->throw_for_id = 9;
  auto loader = s.loader(mode(MixMode::kReal), opts(4, 2));
  loader->start_epoch(0);
  LoaderBatch b;
  CHECK_THROWS_WITH(([&] {
                      while (loader->next(b)) {
                      }
                    }()),
                    Catch::Contains("transform exploded on 9"));
  s.transforms[1]->throw_for_id = -1;
  CHECK(read_epoch(*loader, 1).size() == 4);
}

TEST_CASE("a loader refuses a batch larger than the data and a plan without partners") {
  Setup s(10, two_views());
  CHECK_THROWS_WITH(s.loader(mode(MixMode::kReal), opts(16, 1)), Catch::Contains("16"));
  TrainingData data;
  data.real = s.real;
  data.plan = MixPlan(mode(MixMode::kMixdiff), two_views(), 2);
  std::vector<const SlotTransform*> t{s.transforms[0].get(), s.transforms[1].get()};
  CHECK_THROWS_AS(Loader(std::move(data), t, opts(4, 1)), Error);
}

TEST_CASE("pinned batches (CUDA): the same bytes, page-locked, copied asynchronously intact",
          "[device]") {
  const auto device = cuda_test_device();
  if (!device) return;
  Setup s(64, two_views());
  auto reference = s.loader(mode(MixMode::kMixdiff), opts(8, 2));
  const auto want = read_epoch(*reference, 0);
  auto o = opts(8, 2);
  o.pin_memory = true;
  auto pinned = s.loader(mode(MixMode::kMixdiff), o);
  // The batches as handed out (read_epoch's deep copies would not be page-locked), each copy
  // queued without waiting, as the trainer does, while the loader goes on filling new buffers.
  pinned->start_epoch(0, 0);
  LoaderBatch batch;
  std::vector<LoaderBatch> held;  // the host side stays alive until the copies are compared
  std::vector<std::vector<torch::Tensor>> on_device;
  while (pinned->next(batch)) {
    CHECK(batch.labels.is_pinned());
    std::vector<torch::Tensor> views;
    for (const auto& v : batch.views) {
      CHECK(v.is_pinned());
      views.push_back(v.to(*device, /*non_blocking=*/true));
    }
    on_device.push_back(views);
    held.push_back(batch);
  }
  REQUIRE(on_device.size() == want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    CHECK(same_batch(held[k], want[k]));
    for (size_t v = 0; v < want[k].views.size(); ++v)
      CHECK(torch::equal(on_device[k][v].cpu(), want[k].views[v]));
  }
}
