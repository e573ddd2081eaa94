// ProcessGroup: the Collectives of a data-parallel run over a c10d process group -- Gloo on
// the CPU (loopback or TCP), NCCL for CUDA tensors where LibTorch was built with it -- plus the
// operations the trainer needs beyond a loss's: asynchronous all-reduce (gradient buckets),
// broadcast (initial weights) and barrier.
//
// Rendezvous: a c10d TCPStore served by rank 0 at MASTER_ADDR:MASTER_PORT (join), or a
// FileStore every rank can reach (join_file; tests). Gloo talks over the interface named by
// GLOO_SOCKET_IFNAME, else over loopback when the store is on 127.0.0.1/localhost, else over
// the interface of this host's name.
//
// Layouts: gather_raw concatenates equally shaped tensors along dim 0 in rank order; sum_raw
// and the all-reduces sum element-wise; every operation keeps the input's device (Gloo moves
// device tensors through host memory).
#pragma once

#include "launch_environment.h"

#include <mdlab/collectives.h>

#include <torch/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mdlab {

/// A pending collective; wait() blocks until it completed (throws mdlab::Error on failure).
class PendingCollective {
 public:
  PendingCollective() = default;
  /// Wraps the wait of a launched operation.
  explicit PendingCollective(std::function<void()> wait) : wait_(std::move(wait)) {}
  /// Blocks until done; a second call returns at once.
  void wait();

 private:
  std::function<void()> wait_;
};

/// Collectives over a c10d process group.
class ProcessGroup final : public Collectives {
 public:
  /// Joins the group described by `env` through rank 0's TCPStore, with backend "gloo" or
  /// "nccl"; blocks until every rank has joined or `timeout` passes (then throws naming the
  /// address, the rank and the world size).
  static std::unique_ptr<ProcessGroup> join(const LaunchEnvironment& env,
                                            const std::string& backend,
                                            std::chrono::milliseconds timeout);
  /// Joins a Gloo group of `world_size` processes meeting at `store_file` as `rank`.
  static std::unique_ptr<ProcessGroup> join_file(
      const std::string& store_file, int64_t rank, int64_t world_size,
      const std::string& hostname = "127.0.0.1",
      std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ~ProcessGroup() override;

  /// This process's rank.
  int64_t rank() const override { return rank_; }
  /// Number of processes.
  int64_t world_size() const override { return world_size_; }
  /// "gloo" or "nccl".
  const std::string& backend() const { return backend_; }
  /// Dim-0 concatenation of every rank's `x` (same shape on every rank), rank order.
  torch::Tensor gather_raw(const torch::Tensor& x) override;
  /// Element-wise sum of every rank's `x`.
  torch::Tensor sum_raw(const torch::Tensor& x) override;
  /// Starts summing every rank's `x` into `x` in place (contiguous; on the backend's device
  /// kind); the result is there once the returned operation's wait() returns.
  PendingCollective sum_in_place_async(torch::Tensor& x);
  /// Replaces each tensor by rank `root`'s, in place.
  void broadcast(std::vector<torch::Tensor>& tensors, int64_t root = 0);
  /// Returns when every rank has called it.
  void barrier();

  /// The c10d group (defined in process_group.cpp).
  struct Impl;

 private:
  ProcessGroup(std::unique_ptr<Impl> impl, int64_t rank, int64_t world_size, std::string backend);
  std::unique_ptr<Impl> impl_;
  int64_t rank_;
  int64_t world_size_;
  std::string backend_;
};

/// The c10d backends this build has: {"gloo"} or {"gloo", "nccl"}.
std::vector<std::string> available_backends();

}  // namespace mdlab
