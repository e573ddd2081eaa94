// `mdlab generate GEN.toml`: runs the [generator] plugin over a dataset of the [data] table and
// writes a synthetic mirror tree: for every real sample key K, `<out>/K.<ext>` (or
// `<out>/K_v0.<ext>`, `<out>/K_v1.<ext>`, ... for several variations) -- the layout the
// training pipeline's [data.synthetic] reads.
//
// Determinism: with seeding "per_image" the noise of (key, variation) comes from a generator
// seeded with derive_seed(seed, "generate/<key>/v<variation>"), so an image never depends on
// its batch neighbours, the batch size, sharding or resumption. Seeding "diffusers" draws the
// noise of each batch from one generator seeded once with `seed`, as the reference Python
// pipeline does (parity checks; not shardable).
//
// Resumption: an output whose final file exists is complete (every file is written to a
// temporary name and renamed), so a rerun skips it and fills in the rest.
#pragma once

#include "plugin_registry.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mdlab {

/// One slice of a job array: shard `index` of `count` (0 <= index < count).
struct Shard {
  int64_t index = 0;  ///< this shard
  int64_t count = 1;  ///< number of shards
};

/// Parses "i/n"; throws mdlab::Error for anything else.
Shard parse_shard(const std::string& text);

/// `text` as one field of manifest.tsv: backslash, tab, line feed and carriage return written
/// as \\, \t, \n, \r.
std::string tsv_field(std::string_view text);

/// Arguments of `mdlab generate`.
struct GenerateRequest {
  std::filesystem::path config;                  ///< GEN.toml
  std::vector<std::string> sets;                 ///< --set overrides
  Shard shard;                                   ///< --shard i/n
  std::optional<std::filesystem::path> out;      ///< --out: the mirror root (over [generate] out)
  std::optional<std::filesystem::path> run_dir;  ///< --run-dir: where run.h5 and the manifest go
  bool validate_only = false;                    ///< --validate: check the file, make nothing
  bool shard_from_environment = false;           ///< the shard is this rank of RANK/WORLD_SIZE
  int64_t nproc = 1;                             ///< --nproc: local processes, a shard each
  std::vector<std::string> plugin_paths;         ///< --plugin-path, given on to those processes
};

/// Generates the mirror tree; returns the exit code (0 done, 130 interrupted: rerun to
/// resume). Config errors are thrown as ConfigError before anything is written. With
/// `nproc` > 1 the file is checked here and then made by that many local processes (the
/// local launcher), each taking its shard from RANK / WORLD_SIZE.
int generate_command(const GenerateRequest& request, const PluginRegistry& registry);

}  // namespace mdlab
