#include "process_group.h"

#include <mdlab/error.h>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef MDLAB_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace mdlab {

void PendingCollective::wait() {
  if (!wait_) return;
  auto wait = std::move(wait_);
  wait_ = nullptr;
  try {
    wait();
  } catch (const std::exception& e) {
    // A peer that died or hung surfaces here (Gloo: "Connection closed by peer", a timeout).
    MDLAB_THROW("distributed: a collective operation failed (another rank stopped?): {}",
                std::string(e.what()).substr(0, std::string(e.what()).find('\n')));
  }
}

// The c10d group behind the operations. LibTorch 1.13's ProcessGroupGloo is a ProcessGroup,
// 2.x's a Backend; both offer the same calls, so they are bound here by name.
struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  bool host_only = true;  // Gloo: device tensors go through host memory
  std::function<std::function<void()>(std::vector<at::Tensor>&)> allreduce;
  std::function<void(std::vector<std::vector<at::Tensor>>&, std::vector<at::Tensor>&)> allgather;
  std::function<void(std::vector<at::Tensor>&, int64_t)> broadcast;
  std::function<void()> barrier;

  template <class Group>
  void bind(c10::intrusive_ptr<Group> group) {
    allreduce = [group](std::vector<at::Tensor>& tensors) -> std::function<void()> {
      auto work = group->allreduce(tensors);
      return [work] { work->wait(); };
    };
    allgather = [group](std::vector<std::vector<at::Tensor>>& out, std::vector<at::Tensor>& in) {
      group->allgather(out, in)->wait();
    };
    broadcast = [group](std::vector<at::Tensor>& tensors, int64_t root) {
      c10d::BroadcastOptions options;
      options.rootRank = root;
      group->broadcast(tensors, options)->wait();
    };
    barrier = [group] { group->barrier()->wait(); };
  }
};

namespace {

std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* name = std::getenv("GLOO_SOCKET_IFNAME"); name != nullptr && *name != '\0') {
    return c10d::ProcessGroupGloo::createDeviceForInterface(name);
  }
  if (master_addr == "127.0.0.1" || master_addr == "localhost") {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

std::unique_ptr<ProcessGroup::Impl> gloo_group(c10::intrusive_ptr<c10d::Store> store, int rank,
                                               int size,
                                               std::shared_ptr<::gloo::transport::Device> device,
                                               std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<ProcessGroup::Impl>();
  auto options = c10d::ProcessGroupGloo::Options::create();
  options->timeout = timeout;
  options->devices.push_back(std::move(device));
  impl->bind(c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options));
  impl->store = std::move(store);
  return impl;
}

}  // namespace

std::vector<std::string> available_backends() {
#ifdef MDLAB_WITH_NCCL
  return {"gloo", "nccl"};
#else
  return {"gloo"};
#endif
}

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl, int64_t rank, int64_t world_size,
                           std::string backend)
    : impl_(std::move(impl)), rank_(rank), world_size_(world_size), backend_(std::move(backend)) {}

ProcessGroup::~ProcessGroup() = default;

std::unique_ptr<ProcessGroup> ProcessGroup::join(const LaunchEnvironment& env,
                                                 const std::string& backend,
                                                 std::chrono::milliseconds timeout) {
  const auto backends = available_backends();
  MDLAB_CHECK(std::find(backends.begin(), backends.end(), backend) != backends.end(),
              "distributed: backend \"{}\" is not available in this build (available: {}){}",
              backend, fmt::join(backends, ", "),
              backend == "nccl" ? "; NCCL needs a CUDA LibTorch built with it" : "");
  const auto rank = static_cast<int>(env.rank), size = static_cast<int>(env.world_size);
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(env.port);
    options.isServer = env.rank == 0;
    options.numWorkers = static_cast<std::size_t>(env.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> store =
        c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    std::unique_ptr<Impl> impl;
    if (backend == "gloo") {
      impl = gloo_group(store, rank, size, gloo_device(env.master_addr), timeout);
    } else {
#ifdef MDLAB_WITH_NCCL
      impl = std::make_unique<Impl>();
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      impl->bind(c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, nccl_options));
      impl->host_only = false;
      impl->store = store;
#endif
    }
    return std::unique_ptr<ProcessGroup>(
        new ProcessGroup(std::move(impl), env.rank, env.world_size, backend));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    MDLAB_THROW(
        "distributed: rank {} of {} could not join the {} group at {}:{} ({}) within {} s: {}",
        env.rank, env.world_size, backend, env.master_addr, env.port, env.source,
        timeout.count() / 1000, what.substr(0, what.find('\n')));
  }
}

std::unique_ptr<ProcessGroup> ProcessGroup::join_file(const std::string& store_file, int64_t rank,
                                                      int64_t world_size,
                                                      const std::string& hostname,
                                                      std::chrono::milliseconds timeout) {
  MDLAB_CHECK(world_size >= 1 && rank >= 0 && rank < world_size,
              "distributed: rank {} is not in [0, world_size {})", rank, world_size);
  try {
    auto store = c10::make_intrusive<c10d::FileStore>(store_file, static_cast<int>(world_size));
    store->setTimeout(timeout);
    auto impl = gloo_group(store, static_cast<int>(rank), static_cast<int>(world_size),
                           c10d::ProcessGroupGloo::createDeviceForHostname(hostname), timeout);
    return std::unique_ptr<ProcessGroup>(
        new ProcessGroup(std::move(impl), rank, world_size, "gloo"));
  } catch (const std::exception& e) {
    MDLAB_THROW("distributed: rank {} of {} could not join the Gloo group at {} ({}): {}", rank,
                world_size, store_file, hostname, e.what());
  }
}

torch::Tensor ProcessGroup::gather_raw(const torch::Tensor& x) {
  const auto device = impl_->host_only ? torch::Device(torch::kCPU) : x.device();
  std::vector<at::Tensor> input{x.to(device).contiguous()};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int64_t r = 0; r < world_size_; ++r) output[0].push_back(torch::empty_like(input[0]));
  PendingCollective([&] { impl_->allgather(output, input); }).wait();
  return torch::cat(output[0]).to(x.device());
}

torch::Tensor ProcessGroup::sum_raw(const torch::Tensor& x) {
  const auto device = impl_->host_only ? torch::Device(torch::kCPU) : x.device();
  std::vector<at::Tensor> tensors{x.to(device).contiguous().clone()};
  PendingCollective(impl_->allreduce(tensors)).wait();
  return tensors[0].to(x.device());
}

PendingCollective ProcessGroup::sum_in_place_async(torch::Tensor& x) {
  MDLAB_CHECK(x.is_contiguous() && (!impl_->host_only || x.is_cpu()),
              "distributed: an in-place all-reduce needs a contiguous {}tensor",
              impl_->host_only ? "host " : "");
  std::vector<at::Tensor> tensors{x};
  return PendingCollective(impl_->allreduce(tensors));
}

void ProcessGroup::broadcast(std::vector<torch::Tensor>& tensors, int64_t root) {
  for (auto& t : tensors) {
    if (impl_->host_only && !t.is_cpu()) {
      std::vector<at::Tensor> host{t.cpu().contiguous()};
      PendingCollective([&] { impl_->broadcast(host, root); }).wait();
      torch::NoGradGuard no_grad;
      t.copy_(host[0]);
    } else {
      std::vector<at::Tensor> one{t};
      PendingCollective([&] { impl_->broadcast(one, root); }).wait();
    }
  }
}

void ProcessGroup::barrier() {
  PendingCollective([&] { impl_->barrier(); }).wait();
}

}  // namespace mdlab
