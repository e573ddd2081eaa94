// GlooCollectives: the Collectives of a data-parallel run over c10d's Gloo process group.
//
// The processes meet through a c10d FileStore (a file every rank can reach: a local path for
// processes of one machine, a shared file system across machines); Gloo then talks over TCP
// on the interface of `hostname` ("127.0.0.1" for loopback). Tensors of any dtype and device
// (device tensors travel through host memory); gather_raw concatenates along dim 0 in rank
// order, sum_raw sums element-wise.
#pragma once

#include <mdlab/collectives.h>

#include <chrono>
#include <memory>
#include <string>

namespace mdlab {

/// Collectives over a Gloo process group.
class GlooCollectives final : public Collectives {
 public:
  /// Joins the group of `world_size` processes meeting at `store_file` as `rank`; blocks
  /// until every rank has joined or `timeout` passes (then throws mdlab::Error).
  GlooCollectives(const std::string& store_file, int64_t rank, int64_t world_size,
                  const std::string& hostname = "127.0.0.1",
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ~GlooCollectives() override;
  /// This process's rank.
  int64_t rank() const override { return rank_; }
  /// Number of processes.
  int64_t world_size() const override { return world_size_; }
  /// Dim-0 concatenation of every rank's `x` (same shape on every rank), rank order.
  torch::Tensor gather_raw(const torch::Tensor& x) override;
  /// Element-wise sum of every rank's `x`.
  torch::Tensor sum_raw(const torch::Tensor& x) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t rank_;
  int64_t world_size_;
};

}  // namespace mdlab
