// Attention maps: DINO's threshold masks on hand cases, and the evaluator's artifacts and
// table on a stand-in ViT whose CLS attention is known.
#include "attention_maps.h"
#include "separable.h"
#include "test_context.h"
#include "test_eval_data.h"

#include <catch2/catch.hpp>

using namespace mdlab;
using namespace mdlab::eval;

TEST_CASE("threshold masks keep the largest patches holding the mass") {
  // Shares 0.5, 0.3, 0.15, 0.05: 0.6 of the mass needs the two largest (0.5 < 0.6 <= 0.8).
  torch::Tensor a = torch::tensor({0.15f, 0.5f, 0.05f, 0.3f}).view({1, 1, 4});
  CHECK(threshold_masks(a, 0.6)
            .flatten()
            .to(torch::kLong)
            .equal(torch::tensor({0, 1, 0, 1}, torch::kLong)));
  CHECK(threshold_masks(a, 0.4)
            .flatten()
            .to(torch::kLong)
            .equal(torch::tensor({0, 1, 0, 0}, torch::kLong)));
  CHECK(threshold_masks(a, 1.0).all().item<bool>());
}

namespace {

// A "ViT" with patch 4 on 8x8 images (2x2 grid) and 2 heads: head 0 looks only at patch 3,
// head 1 spreads evenly.
struct FakeVit : Backbone {
  torch::Tensor forward(const torch::Tensor& x) override { return x.flatten(1); }
  int64_t feature_dim() const override { return 192; }
  std::optional<torch::Tensor> last_attention(const torch::Tensor& x) override {
    torch::Tensor a = torch::zeros({x.size(0), 2, 5, 5});
    a.select(1, 0).select(1, 0).select(1, 4).fill_(1.0);
    a.select(1, 1).select(1, 0).slice(1, 1).fill_(0.25);
    return a;
  }
};

}  // namespace

TEST_CASE("attention_maps writes images, maps and masks and names the sharpest head") {
  test::MemoryEvalData data;
  data.add("test", torch::zeros({3, 3, 8, 8}), torch::zeros({3}, torch::kLong), {"x"});
  Options o = default_options(AttentionMapsEvaluator::options_schema());
  o.set("images", int64_t{2});
  test::TestContext context;
  FakeVit vit;
  EvalResult r = AttentionMapsEvaluator(o, context).evaluate(vit, data, context);
  REQUIRE(r.tables.size() == 1);
  const Table& t = r.tables[0];
  CHECK(t.rows == std::vector<std::string>{"image_0", "image_1"});
  CHECK(t.columns == std::vector<std::string>{"area_head0", "area_head1", "sharpest_head"});
  CHECK(t.values[0][0] == Approx(0.25));  // one patch of four
  CHECK(t.values[0][1] == Approx(0.75));  // 0.6 of an even spread needs three
  CHECK(t.values[0][2] == 0);
  // attention + per image: image, 2 x (map, mask), mean map.
  CHECK(r.artifacts.size() == 1 + 2 * 6);
  auto find = [&](const std::string& name) {
    for (const auto& a : r.artifacts)
      if (a.name == name) return a.data;
    FAIL("no artifact " << name);
    return torch::Tensor();
  };
  CHECK(find("attention").sizes() == torch::IntArrayRef({2, 2, 2, 2}));
  const torch::Tensor mask = find("mask_1_head0");
  CHECK(mask.scalar_type() == torch::kUInt8);
  CHECK(mask.sizes() == torch::IntArrayRef({8, 8}));
  CHECK(mask[7][7].item<int>() == 255);  // patch 3 is the bottom-right 4x4 block
  CHECK(mask[0][0].item<int>() == 0);
  CHECK(find("image_0").sizes() == torch::IntArrayRef({8, 8, 3}));
  // ImageNet-normalised zeros are the mean colour: (0.485, 0.456, 0.406) * 255.
  CHECK(find("image_0")[0][0][0].item<int>() == 124);

  test::IdentityEncoder resnet;  // no last_attention
  CHECK_THROWS_WITH(AttentionMapsEvaluator(o, context).evaluate(resnet, data, context),
                    Catch::Contains("needs a ViT"));
}
