// `mdlab generate`: dataset -> generator plugin -> synthetic mirror tree (see the header).
#include "generate_command.h"

#include "atomic_file.h"
#include "config_error.h"
#include "data_source.h"
#include "error_text.h"
#include "exit_codes.h"
#include "experiment.h"
#include "experiment_schema.h"
#include "host_checks.h"
#include "image_encode.h"
#include "launch_environment.h"
#include "local_launcher.h"
#include "progress.h"
#include "run_command.h"
#include "run_context.h"
#include "run_log.h"
#include "run_provenance.h"
#include "signals.h"
#include "subset.h"
#include "training_data.h"

#include <mdlab/context.h>
#include <mdlab/error.h>
#include <mdlab/generator.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>
#include <regex>

namespace fs = std::filesystem;

namespace mdlab {

namespace {

// One output to make: variation `variation` of sample `index` of `source`.
struct Job {
  const DataSource* source;
  int64_t index;
  int64_t variation;
  uint64_t seed;
  fs::path file;
};

// One line of the manifest.
struct ManifestRow {
  std::string key;
  int64_t variation;
  uint64_t seed;
  std::string file;
  std::string status;          // generated | existing | unreadable
  double l1_to_source = -1.0;  // generated outputs: mean |output - source| in [0, 1] units
};

std::string output_name(const std::string& key, int64_t variation, int64_t variations,
                        const std::string& ext) {
  return variations == 1 ? fmt::format("{}.{}", key, ext)
                         : fmt::format("{}_v{}.{}", key, variation, ext);
}

// A class name as a folder name ('/' and whitespace become '_': "T-shirt/top" -> "T-shirt_top").
std::string class_folder(std::string name) {
  for (char& c : name) {
    if (c == '/' || c == ' ' || c == '\t' || c == '\n') c = '_';
  }
  return name;
}

// The output path of `key` under `layout`: the key itself (mirror), or
// <split>/<class>/<key with '/' as '_'> (classes), the layout folder datasets read.
std::string output_key(const std::string& layout, const std::string& split,
                       const DataSource& source, int64_t index) {
  const std::string& key = source.key(index);
  if (layout == "mirror") return key;
  std::string flat = key;
  std::replace(flat.begin(), flat.end(), '/', '_');
  const int64_t label = source.label(index);
  const auto& classes = source.classes();
  MDLAB_CHECK(label >= 0 && label < static_cast<int64_t>(classes.size()),
              "[generate] layout = \"classes\": sample {} has no class (label {})", key, label);
  return fmt::format("{}/{}/{}", split, class_folder(classes[static_cast<size_t>(label)]), flat);
}

// The class-list file of layout "classes" ("folder<TAB>name" per line, data.md's format), so a
// [datasets.<name>] table with class_list = "<out>/classes.txt" gets the original names back.
std::string class_list_text(const std::vector<std::string>& classes) {
  std::string text = "# written by mdlab generate (layout = \"classes\"): folder, class name\n";
  for (const auto& name : classes) {
    MDLAB_CHECK(name.find_first_of("\t\n#") == std::string::npos,
                "[generate] layout = \"classes\": class name \"{}\" contains a tab, newline or "
                "'#', which a class-list file cannot hold",
                name);
    text += fmt::format("{}\t{}\n", class_folder(name), name);
  }
  return text;
}

// `image` (uint8 [3, h, w]) as float [3, H, W] of `like`'s size (bilinear, antialiased).
torch::Tensor resized_like(const torch::Tensor& image, const torch::Tensor& like) {
  namespace F = torch::nn::functional;
  auto f = image.to(torch::kFloat).unsqueeze(0);
  if (f.size(2) != like.size(1) || f.size(3) != like.size(2)) {
    f = F::interpolate(f, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{like.size(1), like.size(2)})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(true));
  }
  return f.squeeze(0);
}

// Mean absolute difference in [0, 1] units between two uint8 [3, H, W] images, `b` resized
// to the size of `a` first when they differ.
double mean_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat) - resized_like(b, a)).abs().mean().item<double>() / 255.0;
}

// True when every value of `image` is the same.
bool is_flat(const torch::Tensor& image) {
  return image.numel() > 0 && (image.max() == image.min()).item<bool>();
}

// uint8 [3, H, W] RGB of a decoded sample (grey images repeated, as PIL's convert("RGB")).
torch::Tensor to_chw(const ImageU8& image) {
  auto hwc = torch::from_blob(const_cast<uint8_t*>(image.data.data()),
                              {image.height, image.width, image.channels}, torch::kUInt8);
  auto chw = hwc.permute({2, 0, 1});
  if (image.channels == 1) chw = chw.expand({3, image.height, image.width});
  return chw.contiguous();  // owns its memory: the ImageU8 is reused
}

void write_output(const fs::path& file, const torch::Tensor& chw, const std::string& format,
                  int quality) {
  ImageU8 image;
  image.height = static_cast<int>(chw.size(1));
  image.width = static_cast<int>(chw.size(2));
  image.channels = 3;
  auto hwc = chw.permute({1, 2, 0}).contiguous();
  image.data.assign(hwc.data_ptr<uint8_t>(), hwc.data_ptr<uint8_t>() + hwc.numel());
  fs::create_directories(file.parent_path());
  if (format == "png") {
    write_png_file(file, image);
  } else {
    const auto bytes = encode_jpeg(image, quality);
    write_file_atomic(file,
                      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
}

// The first kSampleRows sources made in a run, each beside its variations, for samples.png.
constexpr size_t kSampleRows = 8;
struct SampleRow {
  std::string key;
  torch::Tensor source;                // uint8 [3, H, W] at the outputs' size
  std::vector<torch::Tensor> outputs;  // by variation
};

// One PNG: a row per source, the source then its variations, 2-pixel white gutters.
void write_sample_grid(const fs::path& file, const std::vector<SampleRow>& rows,
                       int64_t variations) {
  if (rows.empty()) return;
  const int64_t h = rows.front().source.size(1), w = rows.front().source.size(2), gap = 2;
  const int64_t cols = 1 + variations;
  auto grid =
      torch::full({3, static_cast<int64_t>(rows.size()) * (h + gap) - gap, cols * (w + gap) - gap},
                  255, torch::kUInt8);
  for (size_t r = 0; r < rows.size(); ++r) {
    auto place = [&](const torch::Tensor& image, int64_t c) {
      grid.slice(1, static_cast<int64_t>(r) * (h + gap), static_cast<int64_t>(r) * (h + gap) + h)
          .slice(2, c * (w + gap), c * (w + gap) + w)
          .copy_(image);
    };
    place(rows[r].source, 0);
    for (size_t v = 0; v < rows[r].outputs.size(); ++v) {
      if (rows[r].outputs[v].defined()) place(rows[r].outputs[v], static_cast<int64_t>(v) + 1);
    }
  }
  write_output(file, grid, "png", 0);
}

std::string manifest_text(const std::vector<ManifestRow>& rows) {
  std::string text = "key\tvariation\tseed\tfile\tstatus\tl1_to_source\n";
  for (const auto& r : rows) {
    text += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\n", tsv_field(r.key), r.variation, r.seed,
                        tsv_field(r.file), r.status,
                        r.l1_to_source >= 0 ? fmt::format("{:.6f}", r.l1_to_source) : "");
  }
  return text;
}

// `mdlab generate --nproc N`: every rank gets the request's arguments and takes its shard
// from RANK / WORLD_SIZE.
int launch_generate(const GenerateRequest& request, const std::string& seeding) {
  MDLAB_CHECK(!launched_by_mdlab() && !launch_environment(std::getenv),
              "--nproc starts the processes itself; under torchrun or srun, which start them, "
              "leave it out");
  MDLAB_CHECK(seeding != "diffusers",
              "seeding = \"diffusers\" draws one noise stream through the whole run, so its "
              "images depend on every earlier batch and cannot be shared out over --nproc "
              "processes; use seeding = \"per_image\"");
  std::vector<std::string> args{"generate", request.config.string()};
  for (const auto& set : request.sets) args.insert(args.end(), {"--set", set});
  if (request.out) args.insert(args.end(), {"--out", request.out->string()});
  if (request.run_dir) args.insert(args.end(), {"--run-dir", request.run_dir->string()});
  for (auto& a : plugin_path_args(request.plugin_paths)) args.push_back(std::move(a));
  return launch_local(request.nproc, args).status;
}

}  // namespace

// A TSV field with backslash, tab, line feed and carriage return written as \\, \t, \n, \r
// (the "linear TSV" convention): a file name holding a tab or a newline would otherwise add
// columns or rows to the manifest.
std::string tsv_field(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  return out;
}

Shard parse_shard(const std::string& text) {
  static const std::regex pattern(R"((\d{1,9})/(\d{1,9}))");
  std::smatch m;
  MDLAB_CHECK(std::regex_match(text, m, pattern),
              "--shard takes i/n with numbers below 10^9 (e.g. 0/4), got \"{}\"", text);
  Shard shard{std::stoll(m[1]), std::stoll(m[2])};  // at most 9 digits: no overflow
  MDLAB_CHECK(shard.count >= 1 && shard.index < shard.count,
              "--shard {}: the index must be in [0, n) and n >= 1", text);
  return shard;
}

int generate_command(const GenerateRequest& request, const PluginRegistry& registry) {
  Experiment exp =
      load_experiment_checked(request.config, request.sets, registry, generate_schema());
  const Options& e = exp.config.find("experiment")->options;
  const Options& data = exp.config.find("data")->options;
  const Options& gen = exp.config.find("generate")->options;
  const SectionValues* generator_section = exp.config.find("generator");
  if (request.validate_only) {
    std::fprintf(stderr, "%s: valid (generator '%s')\n", request.config.string().c_str(),
                 generator_section->plugin.c_str());
    return kExitOk;
  }
  // Sources only: [data.synthetic] root is where a generate config may write.
  check_data_paths(exp, DataPathUse{/*synthetic=*/false, /*datasets=*/false});
  if (request.nproc > 1) return launch_generate(request, gen.get_string("seeding"));
  // The experiment seed picks the `fraction` subset (as in training); the noise has its own.
  const uint64_t seed = static_cast<uint64_t>(e.get_int("seed"));
  const uint64_t noise_seed =
      gen.get_int("seed") >= 0 ? static_cast<uint64_t>(gen.get_int("seed")) : seed;

  fs::path out = request.out ? *request.out : fs::path(gen.get_string("out"));
  if (out.empty()) out = exp.config.find("data.synthetic")->options.get_string("root");
  MDLAB_CHECK(!out.empty(),
              "{}: say where the mirror tree goes: [generate] out, [data.synthetic] root or "
              "--out DIR",
              request.config.string());
  const bool diffusers_seeding = gen.get_string("seeding") == "diffusers";
  MDLAB_CHECK(!(diffusers_seeding && request.shard.count > 1),
              "seeding = \"diffusers\" draws one noise stream through the whole run, so its "
              "images depend on every earlier batch and cannot be sharded; use seeding = "
              "\"per_image\" with --shard");
  const int64_t variations = gen.get_int("variations");
  const std::string format = gen.get_string("image_format");
  const std::string layout = gen.get_string("layout");
  const int quality = static_cast<int>(gen.get_int("jpeg_quality"));

  fs::path run_dir;
  if (request.run_dir) {
    run_dir = *request.run_dir;
    // The ranks of `--nproc` (or srun) share the --run-dir: one folder per shard inside it.
    if (request.shard_from_environment)
      run_dir /= fmt::format("shard{}of{}", request.shard.index, request.shard.count);
  } else {
    const std::string stamp = now_text("{:%Y%m%d-%H%M%S}");
    const std::string suffix =
        request.shard.count > 1
            ? fmt::format("-generate-shard{}of{}", request.shard.index, request.shard.count)
            : "-generate";
    run_dir = fs::path(e.get_string("output_dir")) / e.get_string("name") / (stamp + suffix);
    for (int i = 1; fs::exists(run_dir); ++i) {
      run_dir = fs::path(e.get_string("output_dir")) / e.get_string("name") /
                fmt::format("{}{}-{}", stamp, suffix, i);
    }
  }
  MDLAB_CHECK(!fs::exists(run_dir / "run.h5"),
              "{} already holds a run log; choose another --run-dir", run_dir.string());
  fs::create_directories(run_dir);
  write_file_atomic(run_dir / "config.toml", exp.text);

  install_interrupt_handlers();
  RunLog run_log = RunLog::create(run_dir / "run.h5", exp.text);
  ConsoleProgress progress;
  c10::Device device(e.get_string("device"));
  if (request.shard_from_environment && device.is_cuda() && !device.has_index()) {
    // One GPU per local rank.
    if (auto launch = launch_environment(std::getenv))
      device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(launch->local_rank));
  }
  RunContext context(device, seed, run_dir, &run_log, progress);
  context.set_registry(registry);
  if (auto warning = reference_blas_warning()) context.log(LogLevel::Warning, *warning);
  run_log.set_status(RunStatus::Running);
  run_log.set_meta("command", "generate");
  record_provenance(run_log, registry, e.get_string("device"), seed);
  run_log.set_meta("experiment_file", fs::absolute(request.config).string());
  run_log.set_meta("generate/noise_seed", std::to_string(noise_seed));
  run_log.set_meta("started_at", now_text("{:%Y-%m-%dT%H:%M:%S}"));
  run_log.set_meta("generate/out", fs::absolute(out).string());
  run_log.set_meta("generate/shard",
                   fmt::format("{}/{}", request.shard.index, request.shard.count));
  run_log.set_meta("generate/generator", generator_section->plugin);

  std::vector<ManifestRow> manifest;
  int64_t generated = 0, existing = 0, unreadable = 0;
  auto finish = [&](RunStatus status, const std::string& reason) {
    write_file_atomic(run_dir / "manifest.tsv", manifest_text(manifest));
    run_log.set_meta("generate/generated", std::to_string(generated));
    run_log.set_meta("generate/existing", std::to_string(existing));
    run_log.set_meta("generate/unreadable", std::to_string(unreadable));
    run_log.set_meta("ended_at", now_text("{:%Y-%m-%dT%H:%M:%S}"));
    run_log.set_status(status, reason);
    run_log.flush();
  };

  try {
    if (int64_t threads = e.get_int("threads"); threads > 0) {
      torch::set_num_threads(static_cast<int>(threads));
    }
    run_log.set_meta("threads", std::to_string(torch::get_num_threads()));

    // Every output of the run, in dataset order (all shards).
    std::vector<std::shared_ptr<const DataSource>> sources;
    std::vector<Job> jobs;
    for (const auto& split : gen.get_string_list("splits")) {
      MDLAB_CHECK(split == "train" || split == "test",
                  "[generate] splits: \"{}\" is not a split (\"train\" or \"test\")", split);
      auto source =
          open_data_split(data, data.get_string(split == "train" ? "train_split" : "test_split"));
      context.log(LogLevel::Info, "data: " + source->describe());
      std::vector<int64_t> indices;
      const double fraction = data.get_float(split == "train" ? "fraction" : "test_fraction");
      if (fraction < 1.0) {
        // The subset training uses (same seed stream), so its partners all exist.
        indices = stratified_subset_indices(
            *source, fraction,
            derive_seed(seed, split == "train" ? "data/fraction" : "data/test_fraction"));
      } else {
        indices.resize(static_cast<size_t>(source->size()));
        std::iota(indices.begin(), indices.end(), 0);
      }
      if (int64_t max_images = gen.get_int("max_images");
          max_images > 0 && static_cast<int64_t>(indices.size()) > max_images) {
        indices.resize(static_cast<size_t>(max_images));
      }
      for (int64_t index : indices) {
        const std::string& key = source->key(index);
        const std::string out_key = output_key(layout, split, *source, index);
        for (int64_t v = 0; v < variations; ++v) {
          const uint64_t job_seed =
              diffusers_seeding ? noise_seed
                                : derive_seed(noise_seed, fmt::format("generate/{}/v{}", key, v));
          jobs.push_back({source.get(), index, v, job_seed,
                          out / output_name(out_key, v, variations, format)});
        }
      }
      if (layout == "classes") {
        fs::create_directories(out);
        write_file_atomic(out / "classes.txt", class_list_text(source->classes()));
      }
      sources.push_back(std::move(source));
    }

    auto generator =
        registry.create_generator(generator_section->plugin, generator_section->options, context);
    const int64_t batch_size = gen.get_int("batch_size") > 0 ? gen.get_int("batch_size")
                                                             : generator->preferred_batch_size();
    run_log.set_meta("generate/batch_size", std::to_string(batch_size));

    // Fixed batches over the whole run: batch g holds outputs [g B, (g + 1) B) and belongs to
    // shard g mod n. Every output is therefore always computed beside the same neighbours in
    // a batch of the same shape, whatever the sharding or the resumption, which keeps its
    // bits identical (kernels choose their blocking by shape). A batch with some outputs
    // missing is recomputed whole; only the missing files are written.
    struct Batch {
      size_t begin, end;
      std::vector<bool> missing;
    };
    std::vector<Batch> todo;
    int64_t to_make = 0, owned = 0;
    const auto b = static_cast<size_t>(batch_size);
    for (size_t begin = 0, g = 0; begin < jobs.size(); begin += b, ++g) {
      if (static_cast<int64_t>(g % static_cast<size_t>(request.shard.count)) != request.shard.index)
        continue;
      Batch batch{begin, std::min(begin + b, jobs.size()), {}};
      for (size_t i = batch.begin; i < batch.end; ++i) {
        const Job& job = jobs[i];
        const bool missing = !fs::exists(job.file);
        batch.missing.push_back(missing);
        ++owned;
        if (missing) {
          ++to_make;
        } else {
          ++existing;
          manifest.push_back(
              {job.source->key(job.index), job.variation, job.seed, job.file.string(), "existing"});
        }
      }
      if (std::find(batch.missing.begin(), batch.missing.end(), true) != batch.missing.end())
        todo.push_back(std::move(batch));
    }
    context.log(
        LogLevel::Info,
        fmt::format("generate: {} output(s) in shard {}/{}: {} exist, {} to make -> {}", owned,
                    request.shard.index, request.shard.count, existing, to_make, out.string()));
    if (diffusers_seeding && existing > 0) {
      context.log(LogLevel::Warning,
                  "seeding = \"diffusers\": outputs made now draw noise after fewer batches "
                  "than an uninterrupted run, so they differ from it");
    }

    NoiseSource stream_noise;
    if (diffusers_seeding) stream_noise.stream = make_cpu_generator(noise_seed);
    const bool on_error_skip = data.get_string("on_error") == "skip";

    // How far outputs are from their sources, and variations of one image from each other
    // (variation v against variation 0 of the same key, both made in this run).
    double l1_source_sum = 0, l1_variation_sum = 0;
    int64_t l1_source_n = 0, l1_variation_n = 0;
    std::map<std::string, torch::Tensor> first_variation;
    std::vector<SampleRow> samples;

    progress.begin("generate", to_make);
    const auto start = std::chrono::steady_clock::now();
    ImageU8 decoded;
    int64_t batch_index = 0;
    for (const Batch& work : todo) {
      if (interrupt_requested()) {
        progress.end();
        finish(RunStatus::Interrupted, "interrupted by a signal");
        context.log(LogLevel::Warning,
                    fmt::format("interrupted after {} new image(s); rerun the same command to "
                                "finish (existing outputs are kept)",
                                generated));
        return kExitInterrupted;
      }
      std::vector<size_t> members;  // positions in `jobs` of the decoded images
      std::vector<torch::Tensor> images;
      NoiseSource noise = stream_noise;
      for (size_t i = work.begin; i < work.end; ++i) {
        const Job& job = jobs[i];
        try {
          job.source->load(job.index, decoded);
        } catch (const DataError& error) {
          if (!on_error_skip) throw;
          ++unreadable;
          context.log(LogLevel::Warning, fmt::format("skipped: {}", error_text(error)));
          manifest.push_back({job.source->key(job.index), job.variation, job.seed,
                              job.file.string(), "unreadable"});
          continue;
        }
        images.push_back(to_chw(decoded));
        members.push_back(i);
        if (!diffusers_seeding) noise.seeds.push_back(job.seed);
      }
      if (images.empty()) continue;
      const auto t0 = std::chrono::steady_clock::now();
      torch::Tensor outputs = generator->generate(images, noise);
      MDLAB_CHECK(outputs.dim() == 4 && outputs.size(0) == static_cast<int64_t>(images.size()) &&
                      outputs.size(1) == 3 && outputs.scalar_type() == torch::kUInt8,
                  "generator '{}' returned {} {} for {} images (expected uint8 [N, 3, H, W])",
                  generator_section->plugin, c10::toString(outputs.scalar_type()), outputs.sizes(),
                  images.size());
      int64_t made = 0;
      for (size_t m = 0; m < members.size(); ++m) {
        const size_t i = members[m];
        if (!work.missing[i - work.begin]) continue;
        const Job& job = jobs[i];
        const auto output = outputs[static_cast<int64_t>(m)].cpu();
        // A model with a degenerate config or weights (VAE scaling_factor 0, NaN latents
        // clamped to 0) returns flat images; writing them would record garbage as generated.
        if (is_flat(output) && !is_flat(images[m])) {
          MDLAB_THROW(
              "generator '{}' returned a flat image (every pixel {}) for '{}' variation "
              "{} from a source that is not flat: the model is degenerate (check its "
              "config, e.g. the VAE's scaling_factor and the scheduler's betas, and its "
              "weights); stopped before writing it",
              generator_section->plugin, output.flatten()[0].item<int>(),
              job.source->key(job.index), job.variation);
        }
        write_output(job.file, output, format, quality);
        const double l1 = mean_abs_diff(output, images[m]);
        {
          const std::string& key = job.source->key(job.index);
          auto row = std::find_if(samples.begin(), samples.end(),
                                  [&](const SampleRow& r) { return r.key == key; });
          if (row == samples.end() && samples.size() < kSampleRows) {
            samples.push_back(
                {key, resized_like(images[m], output).round().clamp(0, 255).to(torch::kUInt8),
                 std::vector<torch::Tensor>(static_cast<size_t>(variations))});
            row = samples.end() - 1;
          }
          if (row != samples.end()) row->outputs[static_cast<size_t>(job.variation)] = output;
        }
        l1_source_sum += l1;
        ++l1_source_n;
        if (variations > 1) {
          const std::string& key = job.source->key(job.index);
          if (job.variation == 0) {
            first_variation[key] = output;
          } else if (auto found = first_variation.find(key); found != first_variation.end()) {
            l1_variation_sum += mean_abs_diff(output, found->second);
            ++l1_variation_n;
            if (job.variation == variations - 1) first_variation.erase(found);
          }
        }
        manifest.push_back({job.source->key(job.index), job.variation, job.seed, job.file.string(),
                            "generated", l1});
        ++made;
      }
      generated += made;
      const double batch_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double total_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      run_log.add_metric("generate/images_per_s", batch_index,
                         static_cast<double>(images.size()) / batch_seconds);
      run_log.maybe_flush();
      progress.update(generated,
                      fmt::format("{:.3g} img/s", static_cast<double>(generated) / total_seconds));
      ++batch_index;
    }
    progress.end();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    run_log.set_meta("generate/seconds", fmt::format("{:.3f}", seconds));
    run_log.set_meta("generate/images_per_s",
                     fmt::format("{:.4g}", seconds > 0 ? generated / seconds : 0.0));
    write_sample_grid(run_dir / "samples.png", samples, variations);
    std::string distances;
    if (l1_source_n > 0) {
      const double mean = l1_source_sum / static_cast<double>(l1_source_n);
      run_log.set_meta("generate/l1_to_source", fmt::format("{:.6f}", mean));
      distances = fmt::format("; mean |output - source| {:.4f}", mean);
    }
    if (l1_variation_n > 0) {
      const double mean = l1_variation_sum / static_cast<double>(l1_variation_n);
      run_log.set_meta("generate/l1_between_variations", fmt::format("{:.6f}", mean));
      distances += fmt::format(", |v_k - v_0| {:.4f} ({} pairs)", mean, l1_variation_n);
    }
    finish(RunStatus::Completed, "");
    context.log(LogLevel::Info,
                fmt::format("generated {} image(s) in {:.1f} s ({:.3g} img/s), {} existed, {} "
                            "unreadable{}; manifest {}",
                            generated, seconds, seconds > 0 ? generated / seconds : 0.0, existing,
                            unreadable, distances, (run_dir / "manifest.tsv").string()));
    return kExitOk;
  } catch (const std::exception& error) {
    try {
      finish(RunStatus::Failed, error_text(error));
    } catch (const std::exception& also) {
      context.log(LogLevel::Error,
                  fmt::format("could not record the failure in the run log: {}", also.what()));
    }
    throw;
  }
}

}  // namespace mdlab
