#include "loader.h"

#include <mdlab/context.h>
#include <mdlab/error.h>

#include <fmt/format.h>
#include <torch/cuda.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>
#include <utility>

namespace mdlab {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxBadFiles = 20;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A zero field means "full size" and therefore wins; otherwise the larger minimum wins.
DecodeHint merge_hints(const DecodeHint& a, const DecodeHint& b) {
  const auto field = [](int x, int y) { return x == 0 || y == 0 ? 0 : std::max(x, y); };
  return {field(a.min_width, b.min_width), field(a.min_height, b.min_height)};
}

// A batch buffer may be refilled only when no one outside the ring holds it or a view of it.
bool unshared(const torch::Tensor& t) {
  return t.defined() && t.use_count() == 1 && t.storage().use_count() == 1;
}

// Where one rank's batch of a step lies in the epoch order (layout in loader.h).
struct Span {
  int64_t first = 0;  // position of row 0; row p reads position (first + p) mod L
  int64_t count = 0;  // rows
};

// What one sample task reports back.
struct Outcome {
  double decode_seconds = 0;
  double augment_seconds = 0;
  int64_t skipped = 0;
  int64_t failed = 0;
  int64_t fallbacks = 0;
  std::vector<std::string> bad_files;
  std::exception_ptr error;
};

// Per-thread decode buffers, reused from sample to sample: [0] real, [1] synthetic.
struct Scratch {
  std::array<ImageU8, 2> images;
  std::vector<ViewSource> use;  // per-slot source after missing-partner fallbacks
};

}  // namespace

SlotTransform::~SlotTransform() = default;

void SlotTransform::run_deferred(const ImageU8&, SampleRng&, uint8_t*, double*) const {
  MDLAB_THROW("loader: this slot transform has no deferred mode (deferred_params() is 0)");
}

OnError parse_on_error(std::string_view name) {
  if (name == "error") return OnError::kError;
  if (name == "skip") return OnError::kSkip;
  MDLAB_THROW("unknown on_error policy '{}' (choices: error, skip)", name);
}

struct Loader::Impl {
  // One batch buffer of the ring and the state of the batch it holds.
  struct Slot {
    std::vector<torch::Tensor> views;
    torch::Tensor labels;
    torch::Tensor indices;
    std::vector<torch::Tensor> params;  // deferred slots' draws; undefined for the others
    std::vector<float*> view_data;      // raw row-0 pointers for the workers (float slots)
    std::vector<uint8_t*> byte_data;    // the same for deferred slots
    std::vector<double*> param_data;    // row-0 pointers into params
    int64_t* label_data = nullptr;
    int64_t* index_data = nullptr;
    int64_t step = -1;
    Span span;
    int64_t remaining = 0;  // tasks not finished
    std::exception_ptr error;
    int64_t error_row = -1;  // the lowest failing row reports, whatever finished first
    int64_t skipped = 0, failed = 0, fallbacks = 0;
    std::vector<std::string> bad_files;
  };

  Impl(TrainingData data_in, std::vector<const SlotTransform*> transforms_in,
       LoaderOptions options_in);
  ~Impl();

  Span span_of(int64_t step) const;
  void build_order(int64_t epoch);
  void prepare(Slot& slot, int64_t step);
  void open_batches(std::unique_lock<std::mutex>& lock, int64_t until);
  void run_task(const Slot& slot, int64_t row, Scratch& scratch, Outcome& outcome) const;
  void produce_row(const Slot& slot, int64_t row, Scratch& scratch, Outcome& outcome) const;
  bool take_task(Slot*& slot, int64_t& row, uint64_t& gen_out);
  void finish_task(Slot& slot, int64_t row, uint64_t task_gen, Outcome& outcome);
  void worker_main();
  void probe_channels();

  TrainingData data;
  std::vector<const SlotTransform*> transforms;
  LoaderOptions options;
  int64_t num_slots = 0;
  int64_t ahead = 0;             // batches published beyond the one being waited for
  std::vector<int64_t> samples;  // the training samples (real indices)
  int64_t dropped_missing = 0;
  std::vector<int> slot_channels;  // C_v
  std::vector<int> slot_size;      // S_v
  std::vector<int> slot_params;    // P_v: deferred_params(), 0 for float slots
  std::vector<DecodeHint> slot_hint;
  uint64_t order_seed = 0;
  int64_t steps = 0;

  // Epoch state: written only while no task is published and none is in flight.
  int64_t epoch = 0;
  std::vector<int64_t> order;                      // items, length items_per_epoch
  std::array<std::vector<ViewSource>, 2> sources;  // by item source: per-slot sources

  std::vector<Slot> ring;
  Scratch caller_scratch;

  mutable std::mutex mu;
  std::condition_variable work_cv;  // workers: a task was published, or stop
  std::condition_variable done_cv;  // caller: a batch finished, or no task is in flight
  bool stop = false;
  bool started = false;
  uint64_t gen = 0;       // bumped to orphan the tasks of an abandoned epoch
  int64_t next_step = 0;  // next batch to hand out
  int64_t open_end = 0;   // batches < open_end are published
  int64_t task_step = 0;  // next task: (task_step, task_row)
  int64_t task_row = 0;
  int in_flight = 0;
  std::exception_ptr failed;  // sticky until start_epoch()
  LoaderStats stats;
  std::vector<std::thread> workers;
};

Loader::Impl::Impl(TrainingData data_in, std::vector<const SlotTransform*> transforms_in,
                   LoaderOptions options_in)
    : data(std::move(data_in)), transforms(std::move(transforms_in)), options(options_in) {
  MDLAB_CHECK(data.real != nullptr, "loader: no real data source");
  num_slots = data.plan.num_slots();
  MDLAB_CHECK(num_slots > 0, "loader: the mix plan has no view slots");
  MDLAB_CHECK(static_cast<int64_t>(transforms.size()) == num_slots,
              "loader: {} slot transforms for {} view slots", transforms.size(), num_slots);
  for (int64_t v = 0; v < num_slots; ++v)
    MDLAB_CHECK(transforms[v] != nullptr, "loader: no transform for slot '{}'",
                data.plan.slots()[v].name);
  MDLAB_CHECK(options.batch_size >= 1, "loader: batch_size must be >= 1, got {}",
              options.batch_size);
  MDLAB_CHECK(options.threads >= 0, "loader: threads must be >= 0, got {}", options.threads);
  MDLAB_CHECK(options.prefetch_batches >= 0, "loader: prefetch_batches must be >= 0, got {}",
              options.prefetch_batches);
  MDLAB_CHECK(options.world_size >= 1 && options.rank >= 0 && options.rank < options.world_size,
              "loader: rank {} is not in [0, world_size {})", options.rank, options.world_size);
  MDLAB_CHECK(!options.pin_memory || torch::cuda::is_available(),
              "loader: pin_memory needs CUDA, and this process has no CUDA device");

  const int64_t n_real = data.real->size();
  if (data.indices.empty()) {
    samples.resize(static_cast<size_t>(n_real));
    std::iota(samples.begin(), samples.end(), int64_t{0});
  } else {
    for (int64_t i : data.indices)
      MDLAB_CHECK(i >= 0 && i < n_real, "loader: sample index {} out of range [0, {})", i, n_real);
    samples = data.indices;
  }
  if (data.plan.needs_synthetic()) {
    MDLAB_CHECK(data.synthetic != nullptr,
                "loader: mix mode '{}' reads synthetic images but no synthetic partners were "
                "given",
                mix_mode_name(data.plan.mode()));
    MDLAB_CHECK(data.synthetic->size() == n_real,
                "loader: the synthetic partners cover {} samples, the real source has {}",
                data.synthetic->size(), n_real);
    const auto policy = data.synthetic->options().on_missing;
    if (policy == MissingPartnerPolicy::kSkip) {
      const auto before = static_cast<int64_t>(samples.size());
      std::erase_if(samples, [&](int64_t i) { return !data.synthetic->has_partner(i); });
      dropped_missing = before - static_cast<int64_t>(samples.size());
    } else if (policy == MissingPartnerPolicy::kError) {
      for (int64_t i : samples)
        MDLAB_CHECK(data.synthetic->has_partner(i),
                    "loader: sample '{}' has no synthetic partner (on_missing = error)",
                    data.real->key(i));
    }
  }
  const auto n = static_cast<int64_t>(samples.size());
  MDLAB_CHECK(n > 0, "loader: no training samples");

  const int64_t global_batch = options.batch_size * options.world_size;
  const int64_t items = data.plan.items_per_epoch(n);
  steps = items / global_batch + (!options.drop_last && items % global_batch != 0 ? 1 : 0);
  MDLAB_CHECK(steps > 0,
              "loader: {} samples make no full batch of {} x {} rank(s); lower batch_size or "
              "set drop_last = false",
              items, options.batch_size, options.world_size);

  for (int64_t v = 0; v < num_slots; ++v) {
    const SlotTransform& t = *transforms[v];
    MDLAB_CHECK(t.out_size() >= 1, "loader: slot '{}' has output size {}",
                data.plan.slots()[v].name, t.out_size());
    slot_size.push_back(t.out_size());
    slot_params.push_back(t.deferred_params());
    MDLAB_CHECK(slot_params.back() >= 0, "loader: slot '{}' defers {} values per sample",
                data.plan.slots()[v].name, slot_params.back());
    slot_hint.push_back(t.decode_hint(0, 0));
    slot_channels.push_back(t.out_channels(1) == t.out_channels(3) ? t.out_channels(3) : 0);
  }
  probe_channels();
  order_seed = derive_seed(options.seed, "loader.order");

  ahead = options.threads > 0 ? options.prefetch_batches : 0;
  ring.resize(static_cast<size_t>(ahead + 1));
  stats.dropped_missing_partners = dropped_missing;
  for (int t = 0; t < options.threads; ++t) workers.emplace_back([this] { worker_main(); });
}

Loader::Impl::~Impl() {
  {
    std::lock_guard lock(mu);
    stop = true;
    ++gen;
  }
  work_cv.notify_all();
  done_cv.notify_all();
  for (auto& w : workers) w.join();
}

// Slots whose channel count depends on the source's learn it from the first real sample that
// decodes; a later sample with other channels is an error naming it (see produce_row).
void Loader::Impl::probe_channels() {
  if (std::all_of(slot_channels.begin(), slot_channels.end(), [](int c) { return c > 0; })) return;
  ImageU8& image = caller_scratch.images[0];
  for (int64_t sample : samples) {
    try {
      data.real->load(sample, image, {});
    } catch (const DataError&) {
      if (data.on_error == OnError::kSkip) continue;
      throw;
    }
    for (int64_t v = 0; v < num_slots; ++v)
      if (slot_channels[v] == 0) slot_channels[v] = transforms[v]->out_channels(image.channels);
    return;
  }
  MDLAB_THROW("loader: no training sample decodes ({} tried)", samples.size());
}

Span Loader::Impl::span_of(int64_t step) const {
  const int64_t b = options.batch_size, w = options.world_size, r = options.rank;
  const int64_t items = static_cast<int64_t>(order.size());
  const int64_t global_batch = b * w;
  const int64_t full = items / global_batch;
  if (step < full) return {step * global_batch + r * b, b};
  const int64_t rest = items - full * global_batch;
  const int64_t base = rest / w, extra = rest % w;
  Span span{full * global_batch + r * base + std::min(r, extra), base + (r < extra ? 1 : 0)};
  if (span.count == 0) span = {(r - rest) % items, 1};  // pad like DistributedSampler
  return span;
}

void Loader::Impl::build_order(int64_t e) {
  const auto n = static_cast<int64_t>(samples.size());
  const int64_t space = data.plan.item_space(n);
  const int64_t items = data.plan.items_per_epoch(n);
  std::vector<int64_t> all(static_cast<size_t>(space));
  std::iota(all.begin(), all.end(), int64_t{0});
  if (options.shuffle) {
    // Forward Fisher-Yates: the first `items` positions are a uniform draw without
    // replacement (mixing needs only N of its 2N items).
    SampleRng rng(order_seed, e, "", 0);
    for (int64_t i = 0; i < items && i < space - 1; ++i)
      std::swap(all[i], all[rng.uniform_int(i, space - 1)]);
    all.resize(static_cast<size_t>(items));
    order = std::move(all);
  } else {
    const int64_t start = (e % (space / items)) * items;  // mixing alternates halves
    order.assign(all.begin() + start, all.begin() + start + items);
  }
  for (auto source : {ViewSource::kReal, ViewSource::kSynthetic})
    sources[static_cast<size_t>(source)] = data.plan.slot_sources(e, source);
}

void Loader::Impl::prepare(Slot& slot, int64_t step) {
  const int64_t b = options.batch_size;
  bool fresh = options.pin_memory || !unshared(slot.labels) || !unshared(slot.indices);
  for (const auto& view : slot.views) fresh = fresh || !unshared(view);
  for (int64_t v = 0; v < num_slots && !fresh; ++v)
    fresh = slot_params[v] > 0 && !unshared(slot.params[v]);
  if (fresh) {
    // Pinned batches always come fresh from LibTorch's caching host allocator, which keeps a
    // block away from reuse until the asynchronous copies reading it have finished.
    const auto floats =
        torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(options.pin_memory);
    const auto longs =
        torch::TensorOptions().dtype(torch::kInt64).pinned_memory(options.pin_memory);
    const auto bytes =
        torch::TensorOptions().dtype(torch::kUInt8).pinned_memory(options.pin_memory);
    const auto doubles =
        torch::TensorOptions().dtype(torch::kFloat64).pinned_memory(options.pin_memory);
    slot.views.clear();
    slot.params.clear();
    slot.view_data.clear();
    slot.byte_data.clear();
    slot.param_data.clear();
    for (int64_t v = 0; v < num_slots; ++v) {
      const bool deferred = slot_params[v] > 0;
      slot.views.push_back(torch::empty({b, slot_channels[v], slot_size[v], slot_size[v]},
                                        deferred ? bytes : floats));
      slot.params.push_back(deferred ? torch::empty({b, slot_params[v]}, doubles)
                                     : torch::Tensor());
      slot.view_data.push_back(deferred ? nullptr : slot.views.back().data_ptr<float>());
      slot.byte_data.push_back(deferred ? slot.views.back().data_ptr<uint8_t>() : nullptr);
      slot.param_data.push_back(deferred ? slot.params.back().data_ptr<double>() : nullptr);
    }
    slot.labels = torch::empty({b}, longs);
    slot.indices = torch::empty({b}, longs);
    slot.label_data = slot.labels.data_ptr<int64_t>();
    slot.index_data = slot.indices.data_ptr<int64_t>();
  }
  slot.step = step;
  slot.span = span_of(step);
  slot.remaining = slot.span.count;
  slot.error = nullptr;
  slot.error_row = -1;
  slot.skipped = slot.failed = slot.fallbacks = 0;
  slot.bad_files.clear();
}

// Publishes batches [open_end, until): buffers are prepared without the lock (no task of them
// exists yet, so no worker touches them), then made visible under it.
void Loader::Impl::open_batches(std::unique_lock<std::mutex>& lock, int64_t until) {
  until = std::min(until, steps);
  if (open_end >= until) return;
  const int64_t from = open_end;
  const uint64_t my_gen = gen;
  lock.unlock();
  for (int64_t s = from; s < until; ++s)
    prepare(ring[static_cast<size_t>(s % static_cast<int64_t>(ring.size()))], s);
  lock.lock();
  if (gen != my_gen) return;  // only the caller opens batches; kept as a guard
  open_end = until;
  work_cv.notify_all();
}

bool Loader::Impl::take_task(Slot*& slot, int64_t& row, uint64_t& gen_out) {
  if (task_step >= open_end) return false;
  slot = &ring[static_cast<size_t>(task_step % static_cast<int64_t>(ring.size()))];
  row = task_row;
  gen_out = gen;
  if (++task_row == slot->span.count) {
    ++task_step;
    task_row = 0;
  }
  ++in_flight;
  return true;
}

void Loader::Impl::finish_task(Slot& slot, int64_t row, uint64_t task_gen, Outcome& outcome) {
  --in_flight;
  stats.decode_seconds += outcome.decode_seconds;
  stats.augment_seconds += outcome.augment_seconds;
  if (task_gen == gen) {
    slot.skipped += outcome.skipped;
    slot.failed += outcome.failed;
    slot.fallbacks += outcome.fallbacks;
    for (auto& file : outcome.bad_files) slot.bad_files.push_back(std::move(file));
    if (outcome.error && (slot.error_row < 0 || row < slot.error_row)) {
      slot.error = outcome.error;
      slot.error_row = row;
    }
    if (--slot.remaining == 0) done_cv.notify_all();
  }
  if (in_flight == 0) done_cv.notify_all();
}

void Loader::Impl::worker_main() {
  Scratch scratch;
  std::unique_lock lock(mu);
  while (true) {
    work_cv.wait(lock, [&] { return stop || task_step < open_end; });
    if (stop) return;
    Slot* slot = nullptr;
    int64_t row = 0;
    uint64_t task_gen = 0;
    if (!take_task(slot, row, task_gen)) continue;
    lock.unlock();
    Outcome outcome;
    run_task(*slot, row, scratch, outcome);
    lock.lock();
    finish_task(*slot, row, task_gen, outcome);
  }
}

// Never throws: whatever goes wrong is handed to next() through the outcome.
void Loader::Impl::run_task(const Slot& slot, int64_t row, Scratch& scratch,
                            Outcome& outcome) const {
  try {
    produce_row(slot, row, scratch, outcome);
  } catch (...) {
    outcome.error = std::current_exception();
  }
}

void Loader::Impl::produce_row(const Slot& slot, int64_t row, Scratch& scratch,
                               Outcome& outcome) const {
  const auto n = static_cast<int64_t>(samples.size());
  const auto items = static_cast<int64_t>(order.size());
  const int64_t position = (slot.span.first + row) % items;
  const bool fallback_allowed =
      data.synthetic && data.synthetic->options().on_missing == MissingPartnerPolicy::kReal;
  std::vector<ViewSource>& use = scratch.use;
  use.resize(static_cast<size_t>(num_slots));

  for (int64_t attempt = 0; attempt < items; ++attempt) {
    const int64_t item = order[static_cast<size_t>((position + attempt) % items)];
    const int64_t sample = samples[static_cast<size_t>(data.plan.item_sample(item, n))];
    const ViewSource item_source = data.plan.item_source(item, n);
    const auto& planned = sources[static_cast<size_t>(item_source)];

    // Which decodes this sample needs, and the hint of each: merged over the slots using it.
    std::array<bool, 2> needed{false, false};
    std::array<DecodeHint, 2> hint{};
    std::array<bool, 2> hinted{false, false};
    int64_t fallbacks = 0;
    for (int64_t v = 0; v < num_slots; ++v) {
      ViewSource s = planned[v];
      if (s == ViewSource::kSynthetic && !data.synthetic->has_partner(sample)) {
        MDLAB_CHECK(fallback_allowed, "loader: sample '{}' has no synthetic partner",
                    data.real->key(sample));
        s = ViewSource::kReal;
        ++fallbacks;
      }
      use[v] = s;
      const auto k = static_cast<size_t>(s);
      hint[k] = hinted[k] ? merge_hints(hint[k], slot_hint[v]) : slot_hint[v];
      hinted[k] = needed[k] = true;
    }

    try {
      const auto start = Clock::now();
      if (needed[0]) data.real->load(sample, scratch.images[0], hint[0]);
      if (needed[1]) data.synthetic->load_partner(sample, epoch, scratch.images[1], hint[1]);
      for (size_t k = 0; k < 2; ++k) {
        if (!needed[k] || !scratch.images[k].empty()) continue;
        // A decoder must throw rather than return nothing; never augment a zero-size image.
        const std::string file =
            k == 0 ? data.real->key(sample) : data.synthetic->partner_file(sample, epoch).string();
        throw DataError(file, fmt::format("{}: decoded to an empty image", file));
      }
      outcome.decode_seconds += seconds_since(start);
    } catch (const DataError& e) {
      if (data.on_error == OnError::kError) throw;
      ++outcome.failed;
      if (attempt == 0) ++outcome.skipped;
      outcome.bad_files.push_back(e.file().string());
      continue;
    }

    const auto start = Clock::now();
    const std::string& key = data.real->key(sample);
    // A synthetic item of mixing mode draws from its own slots, so it is not augmented exactly
    // like its real twin when both land in one epoch.
    const int64_t slot_offset = item_source == ViewSource::kSynthetic ? num_slots : 0;
    for (int64_t v = 0; v < num_slots; ++v) {
      const ImageU8& image = scratch.images[static_cast<size_t>(use[v])];
      const int channels = transforms[v]->out_channels(image.channels);
      MDLAB_CHECK(channels == slot_channels[v],
                  "loader: slot '{}' of sample '{}' has {} channel(s) where the batch has {}; "
                  "make the slot's pipeline convert to RGB or gray",
                  data.plan.slots()[v].name, key, channels, slot_channels[v]);
      SampleRng rng(options.seed, epoch, key, v + slot_offset);
      const int64_t row_values =
          static_cast<int64_t>(slot_channels[v]) * slot_size[v] * slot_size[v];
      if (slot_params[v] > 0)
        transforms[v]->run_deferred(image, rng, slot.byte_data[v] + row * row_values,
                                    slot.param_data[v] + row * slot_params[v]);
      else
        transforms[v]->run(image, rng, slot.view_data[v] + row * row_values);
    }
    slot.label_data[row] = data.real->label(sample);
    slot.index_data[row] = sample;
    outcome.augment_seconds += seconds_since(start);
    outcome.fallbacks += fallbacks;
    return;
  }
  MDLAB_THROW("loader: no sample of epoch {} decodes ({} tried under on_error = skip)", epoch,
              items);
}

Loader::Loader(TrainingData data, std::vector<const SlotTransform*> slot_transforms,
               LoaderOptions options)
    : impl_(std::make_unique<Impl>(std::move(data), std::move(slot_transforms), options)) {}

Loader::~Loader() = default;

int64_t Loader::steps_per_epoch() const {
  return impl_->steps;
}

int64_t Loader::num_samples() const {
  return static_cast<int64_t>(impl_->samples.size());
}

void Loader::start_epoch(int64_t epoch, int64_t start_step) {
  Impl& m = *impl_;
  MDLAB_CHECK(epoch >= 0, "loader: epoch must be >= 0, got {}", epoch);
  MDLAB_CHECK(start_step >= 0 && start_step <= m.steps,
              "loader: start step {} is not in [0, {}] (steps per epoch)", start_step, m.steps);
  if (!m.data.synthetic) {
    // Only a sequential run asked for an epoch past its total can get here.
    const auto planned = m.data.plan.slot_sources(epoch);
    MDLAB_CHECK(std::find(planned.begin(), planned.end(), ViewSource::kSynthetic) == planned.end(),
                "loader: epoch {} reads synthetic images (mix mode '{}') but no synthetic "
                "partners were given",
                epoch, mix_mode_name(m.data.plan.mode()));
  }
  std::unique_lock lock(m.mu);
  // Orphan the old epoch's tasks and let the ones in flight finish: they write into buffers
  // this epoch is about to reuse.
  ++m.gen;
  m.open_end = m.task_step = m.next_step;
  m.task_row = 0;
  m.done_cv.wait(lock, [&] { return m.in_flight == 0; });
  m.failed = nullptr;
  m.epoch = epoch;
  m.build_order(epoch);
  m.next_step = m.task_step = m.open_end = start_step;
  m.started = true;
  m.open_batches(lock, start_step + m.ahead);
}

bool Loader::next(LoaderBatch& out) {
  Impl& m = *impl_;
  const auto start = Clock::now();
  // Let go of the previous batch first, so its buffer can be refilled in place.
  out.views.clear();
  out.view_params.clear();
  out.labels = torch::Tensor();
  out.indices = torch::Tensor();

  std::unique_lock lock(m.mu);
  const auto account = [&] { m.stats.wait_seconds += seconds_since(start); };
  MDLAB_CHECK(m.started, "loader: next() before start_epoch()");
  if (m.failed) {
    account();
    std::rethrow_exception(m.failed);
  }
  if (m.next_step >= m.steps) {
    account();
    return false;
  }
  m.open_batches(lock, m.next_step + 1);
  Impl::Slot& slot = m.ring[static_cast<size_t>(m.next_step % static_cast<int64_t>(m.ring.size()))];
  if (m.options.threads == 0) {
    // Inline: the caller is the only worker.
    Impl::Slot* task_slot = nullptr;
    int64_t row = 0;
    uint64_t task_gen = 0;
    while (slot.remaining > 0 && m.take_task(task_slot, row, task_gen)) {
      lock.unlock();
      Outcome outcome;
      m.run_task(*task_slot, row, m.caller_scratch, outcome);
      lock.lock();
      m.finish_task(*task_slot, row, task_gen, outcome);
    }
  }
  m.done_cv.wait(lock, [&] { return slot.remaining == 0; });

  if (slot.error) {
    // Stop producing this epoch; the error stays until start_epoch().
    m.failed = slot.error;
    ++m.gen;
    m.open_end = m.task_step;
    account();
    std::rethrow_exception(m.failed);
  }
  const int64_t rows = slot.span.count;
  const auto head = [&](const torch::Tensor& t) {
    return !t.defined() || rows == m.options.batch_size ? t : t.narrow(0, 0, rows);
  };
  for (const auto& view : slot.views) out.views.push_back(head(view));
  for (const auto& params : slot.params) out.view_params.push_back(head(params));
  out.labels = rows == m.options.batch_size ? slot.labels : slot.labels.narrow(0, 0, rows);
  out.indices = rows == m.options.batch_size ? slot.indices : slot.indices.narrow(0, 0, rows);
  out.epoch = m.epoch;
  out.step = slot.step;

  LoaderStats& st = m.stats;
  ++st.batches;
  st.samples += rows;
  st.skipped_samples += slot.skipped;
  st.failed_decodes += slot.failed;
  st.real_fallback_views += slot.fallbacks;
  std::sort(slot.bad_files.begin(), slot.bad_files.end());
  for (const auto& file : slot.bad_files)
    if (st.bad_files.size() < kMaxBadFiles &&
        std::find(st.bad_files.begin(), st.bad_files.end(), file) == st.bad_files.end())
      st.bad_files.push_back(file);

  ++m.next_step;
  m.open_batches(lock, m.next_step + m.ahead);
  account();
  return true;
}

LoaderStats Loader::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::string Loader::describe() const {
  const Impl& m = *impl_;
  return fmt::format(
      "loader: {} samples ({} dropped for missing partners), mix {}, batch {} x {} rank(s) "
      "(rank {}), {} steps/epoch, {} thread(s), prefetch {}, shuffle {}, drop_last {}",
      m.samples.size(), m.dropped_missing, m.data.plan.describe(), m.options.batch_size,
      m.options.world_size, m.options.rank, m.steps, m.options.threads, m.ahead, m.options.shuffle,
      m.options.drop_last);
}

}  // namespace mdlab
