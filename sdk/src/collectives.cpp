#include <mdlab/collectives.h>

#include <torch/autograd.h>

namespace mdlab {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class LocalCollectives final : public Collectives {
 public:
  int64_t rank() const override { return 0; }
  int64_t world_size() const override { return 1; }
  torch::Tensor gather_raw(const torch::Tensor& x) override { return x.clone(); }
  torch::Tensor sum_raw(const torch::Tensor& x) override { return x.clone(); }
};

// Forward: the gathered tensor. Backward: the gradient of the gathered tensor summed over
// ranks (each rank's loss used every slice), then this rank's slice.
struct AllGather : public torch::autograd::Function<AllGather> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, Collectives* c) {
    ctx->saved_data["rows"] = x.size(0);
    ctx->saved_data["collectives"] = reinterpret_cast<int64_t>(c);
    return c->gather_raw(x.contiguous());
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    auto* c = reinterpret_cast<Collectives*>(ctx->saved_data["collectives"].toInt());
    const int64_t rows = ctx->saved_data["rows"].toInt();
    auto total = c->sum_raw(grad[0].contiguous());
    return {total.narrow(0, c->rank() * rows, rows), torch::Tensor()};
  }
};

// Forward: the sum over ranks. Backward: the incoming gradient summed over ranks (every
// rank's loss used the sum, hence every rank's input).
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, Collectives* c) {
    ctx->saved_data["collectives"] = reinterpret_cast<int64_t>(c);
    return c->sum_raw(x.contiguous());
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    auto* c = reinterpret_cast<Collectives*>(ctx->saved_data["collectives"].toInt());
    return {c->sum_raw(grad[0].contiguous()), torch::Tensor()};
  }
};

}  // namespace

Collectives::~Collectives() = default;

torch::Tensor all_gather(Collectives& collectives, const torch::Tensor& x) {
  if (collectives.world_size() == 1) return x;
  return AllGather::apply(x, &collectives);
}

torch::Tensor all_reduce_sum(Collectives& collectives, const torch::Tensor& x) {
  if (collectives.world_size() == 1) return x;
  return AllReduceSum::apply(x, &collectives);
}

Collectives& local_collectives() {
  static LocalCollectives local;
  return local;
}

}  // namespace mdlab
