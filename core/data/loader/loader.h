// Loader: worker threads that decode and augment whole samples straight into batch tensors
// ahead of the trainer, deterministically.
//
// Layout: LoaderBatch::views[v] is float32 [B, C_v, S_v, S_v] (CHW per sample, C_v and S_v
// from slot v's transform), labels and indices int64 [B]. B is batch_size except for the last
// batch of an epoch without drop_last. A deferred slot (SlotTransform::deferred_params() > 0)
// holds uint8 [B, C_v, S_v, S_v] crops instead, with their draws in view_params[v], float64
// [B, P_v], for BatchAugment to finish on the training device.
//
// The order of an epoch. The loader's items are the training samples (the subset indices,
// minus samples dropped for a missing partner under MissingPartnerPolicy::kSkip), or, in mixing
// mode, 2N items (MixPlan). The epoch order is a permutation of the items seeded by
// (seed, epoch) — or the identity when shuffle is off — truncated to items_per_epoch (mixing
// visits N of its 2N items; unshuffled, epoch e visits the window starting at (e * N) mod 2N).
//
// Distributed sharding. With world size W, global step s covers positions [s*B*W, (s+1)*B*W)
// of the same epoch order on every rank, and rank r takes the r-th batch-sized chunk of it,
// positions [s*B*W + r*B, s*B*W + (r+1)*B). The union of the ranks' batches of one step is
// thus the batch of size B*W a single process would read. Without drop_last, the last,
// partial step splits its M remaining positions into W contiguous parts whose sizes differ by
// at most one; when M < W, the ranks past M read one wrapped position from the start of the
// order (as torch's DistributedSampler pads) so no rank gets an empty batch and every rank
// runs the same number of steps.
//
// Determinism. Slot v of a sample with key K in epoch e draws from SampleRng(seed, e, K, v)
// (in mixing mode a synthetic item draws from slot v + V, V = number of slots, so it is not
// augmented like its real twin), and the partner variation from (seed, e, K). Batches are
// therefore byte-identical whatever the thread count, and start_epoch(e, k) resumes with the
// batches an uninterrupted run reads at step k.
//
// Decoding. Each sample decodes each source it needs once per batch (DINO mixdiff: one real
// and one synthetic decode for 10 crops), with a hint merged over the slots using it. A
// missing partner under MissingPartnerPolicy::kReal makes its synthetic views use the real
// decode (counted).
//
// Bad data. A DataError from a decode under OnError::kSkip replaces the sample by the next
// position of the epoch order (wrapping) whose decodes succeed — a property of the data, so
// still deterministic — and is counted; under OnError::kError it surfaces in next() as the
// original DataError, which names the file. Any other error raised on a worker (a transform
// bug, a channel mismatch) surfaces in next() too; the loader then stays failed until the
// next start_epoch().
#pragma once

#include "data_source.h"
#include "image.h"
#include "mix_plan.h"
#include "sample_rng.h"
#include "synthetic_partners.h"

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mdlab {

/// The augmentation pipeline of one view slot, as the loader drives it.
class SlotTransform {
 public:
  virtual ~SlotTransform();
  /// Decoding hint for a source image of src_w x src_h. The loader calls it with (0, 0):
  /// DataSource::load takes the hint before the size is known, so a transform states the
  /// absolute minimum it needs (a zero field means "full size" and wins a merge).
  virtual DecodeHint decode_hint(int src_w, int src_h) const = 0;
  /// Side S of the square output.
  virtual int out_size() const = 0;
  /// Channels of the output for a source of `src_channels` (1 or 3).
  virtual int out_channels(int src_channels) const = 0;
  /// Writes the augmented view of `src`, float32 CHW [C, S, S], to `out_chw`, drawing every
  /// random decision from `rng`. Must be thread-safe (called concurrently on one object).
  virtual void run(const ImageU8& src, SampleRng& rng, float* out_chw) const = 0;
  /// Values per sample of a deferred slot, whose views the workers leave half done (the rest
  /// runs batched on the training device); 0, the default, for a slot that writes finished
  /// views with run().
  virtual int deferred_params() const { return 0; }
  /// Deferred slots only: writes the view's first steps, uint8 CHW [C, S, S], to `out_chw`
  /// and deferred_params() values for the remaining steps to `params`. The default throws.
  virtual void run_deferred(const ImageU8& src, SampleRng& rng, uint8_t* out_chw,
                            double* params) const;
};

/// What to do with a sample whose image fails to decode (`data.on_error`).
enum class OnError {
  kError,  ///< stop: next() throws the DataError naming the file
  kSkip,   ///< replace the sample by the next one in the epoch order that decodes; counted
};

/// Parses "error" or "skip"; throws mdlab::Error listing the choices otherwise.
OnError parse_on_error(std::string_view name);

/// Everything the loader reads: the samples, where their views come from, and the policies.
struct TrainingData {
  std::shared_ptr<const DataSource> real;              ///< the real images
  std::shared_ptr<const SyntheticPartners> synthetic;  ///< partners; null when never needed
  std::vector<int64_t> indices;        ///< real indices to train on (e.g. a subset); empty = all
  MixPlan plan;                        ///< slot sources per epoch; carries the total epochs
  OnError on_error = OnError::kError;  ///< decode failures
};

/// How batches are cut and produced.
struct LoaderOptions {
  int64_t batch_size = 0;    ///< samples per batch per rank
  int threads = 0;           ///< worker threads; 0 = produce on the caller inside next()
  uint64_t seed = 0;         ///< run seed: epoch order and augmentation streams
  bool shuffle = true;       ///< permute the items every epoch
  bool drop_last = true;     ///< drop the last, partial step of an epoch
  int prefetch_batches = 2;  ///< batches produced ahead of the one the caller holds
  bool pin_memory = false;   ///< page-locked batch memory for fast CUDA copies (needs CUDA)
  int64_t rank = 0;          ///< this process's rank
  int64_t world_size = 1;    ///< number of processes sharing each step
};

/// A batch, in slot order (layouts at the top of this header).
struct LoaderBatch {
  /// Per slot: float32 [B, C, S, S], or for a deferred slot uint8 [B, C, S, S].
  std::vector<torch::Tensor> views;
  /// Per slot: float64 [B, P] for a deferred slot (P = its deferred_params()), undefined for
  /// the others.
  std::vector<torch::Tensor> view_params;
  torch::Tensor labels;   ///< int64 [B], -1 where unknown
  torch::Tensor indices;  ///< int64 [B], real-sample indices (DataSource order)
  int64_t epoch = 0;      ///< epoch of the batch
  int64_t step = 0;       ///< step within the epoch (per rank)
};

/// Counters since the loader was built; the sample counts cover the batches handed out.
struct LoaderStats {
  double decode_seconds = 0;        ///< summed over threads
  double augment_seconds = 0;       ///< summed over threads
  double wait_seconds = 0;          ///< time the caller spent inside next()
  int64_t batches = 0;              ///< batches handed out
  int64_t samples = 0;              ///< samples handed out
  int64_t skipped_samples = 0;      ///< positions whose sample failed to decode and was replaced
  int64_t failed_decodes = 0;       ///< DataErrors caught under OnError::kSkip (incl. retries)
  int64_t real_fallback_views = 0;  ///< synthetic views that used the real image (kReal policy)
  int64_t dropped_missing_partners = 0;  ///< samples left out for lack of a partner (kSkip)
  std::vector<std::string> bad_files;    ///< the first files that failed (for the run log)
};

/// Produces the batches of a run; one Loader per process (rank).
class Loader {
 public:
  /// Validates the pieces (slot count = transforms, a partner set when the plan needs one,
  /// at least one step per epoch, pin_memory only with CUDA) and starts the workers.
  /// `slot_transforms` are borrowed: they must outlive the loader.
  Loader(TrainingData data, std::vector<const SlotTransform*> slot_transforms,
         LoaderOptions options);
  /// Stops and joins the workers, even mid-epoch.
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Steps of one epoch on this rank (the same on every rank).
  int64_t steps_per_epoch() const;
  /// Training samples (N): the items of an epoch.
  int64_t num_samples() const;
  /// Starts (or restarts) epoch `epoch` at step `start_step`, dropping any work in flight.
  void start_epoch(int64_t epoch, int64_t start_step = 0);
  /// The next batch of the epoch into `out`; false at the end of the epoch. The tensors stay
  /// valid as long as the caller holds them; the loader reuses a batch buffer only once no
  /// one else references it (pinned batches are always fresh: an async copy may still read
  /// them). Rethrows an error raised while producing the batch.
  bool next(LoaderBatch& out);
  /// Counters so far.
  LoaderStats stats() const;
  /// One line for logs: samples, mode, batch, threads, rank.
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mdlab
