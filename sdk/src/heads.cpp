#include <mdlab/batch_norm.h>
#include <mdlab/error.h>
#include <mdlab/heads.h>

#include <torch/torch.h>

#include <cmath>

namespace mdlab {

torch::nn::Sequential mlp_head(int64_t in, const MlpHeadSpec& spec, at::Generator& generator) {
  MDLAB_CHECK(!spec.widths.empty(), "mlp_head: no layer widths");
  MDLAB_CHECK(in >= 1, "mlp_head: input width {} is below 1", in);
  MDLAB_CHECK(spec.activation == "relu" || spec.activation == "gelu",
              "mlp_head: activation \"{}\" is not relu or gelu", spec.activation);
  torch::nn::Sequential head;
  int index = 0;
  auto add = [&](const auto& module) { head->push_back(std::to_string(index++), module); };
  for (size_t i = 0; i < spec.widths.size(); ++i) {
    const int64_t out = spec.widths[i];
    MDLAB_CHECK(out >= 1, "mlp_head: layer {} has width {}", i, out);
    const bool last = i + 1 == spec.widths.size();
    torch::nn::Linear linear(
        torch::nn::LinearOptions(in, out).bias(last ? spec.last_bias : spec.bias));
    {
      torch::NoGradGuard no_grad;
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      linear->weight.uniform_(-bound, bound, generator);
      if (linear->bias.defined()) linear->bias.uniform_(-bound, bound, generator);
    }
    add(linear);
    if (!last) {
      if (spec.batch_norm) {
        add(BatchNorm(out));
      } else if (spec.keep_norm_slot) {
        add(torch::nn::Identity());
      }
      if (spec.activation == "relu") {
        add(torch::nn::ReLU());
      } else {
        add(torch::nn::GELU());
      }
    } else if (spec.last_batch_norm) {
      BatchNormOptions options(out);
      options.affine = spec.last_batch_norm_affine;
      add(BatchNorm(options));
    }
    in = out;
  }
  return head;
}

}  // namespace mdlab
