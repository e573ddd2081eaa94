// Commands that use a trained model outside training: exporting the encoder's weights for
// PyTorch users, and computing features of a tensor file or of the experiment's data.
#pragma once

#include "plugin_registry.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mdlab {

/// `mdlab export-backbone RUN_DIR --out FILE`: the encoder of the run's last checkpoint as
/// safetensors with the reference names (torchvision / DINO), metadata naming the plugin and
/// its options. Returns the number of tensors written.
size_t export_backbone(const std::filesystem::path& run_dir, const std::filesystem::path& out,
                       const PluginRegistry& registry);

/// `mdlab export-model RUN_DIR --out DIR`: the model a method trains besides its encoder (a
/// diffusion autoencoder's denoiser) as a model folder, from the run's last checkpoint. Writes
/// `encoder/` (config.json: backbone plugin, options, channels, image_size, feature_dim, mean,
/// std; model.safetensors: the method's encoder()) and lets the method write the rest
/// (Method::export_model). The folder appears whole or not at all (written beside `out`,
/// then renamed); an existing `out` is an error unless `overwrite`. Returns the checkpoint
/// folder it read.
std::filesystem::path export_model(const std::filesystem::path& run_dir,
                                   const std::filesystem::path& out, const PluginRegistry& registry,
                                   bool overwrite = false);

/// Arguments of `mdlab embed`.
struct EmbedRequest {
  std::filesystem::path experiment;            ///< experiment file ([backbone], [data])
  std::vector<std::string> sets;               ///< --set overrides
  std::filesystem::path weights;               ///< backbone weights (safetensors)
  std::optional<std::filesystem::path> input;  ///< tensor file with `x` [N, C, H, W]
  std::string split;                           ///< with --data: "train" or "test"
  std::filesystem::path out;                   ///< output safetensors
  bool attention = false;                      ///< also write the last block's attention
  int64_t batch_size = 256;                    ///< images per forward pass
};

/// Writes `features` [N, D] (and `labels` [N] int64 and `keys` [N, L] uint8 NUL-padded when
/// reading the dataset; `attention` [N, heads, T, T] with --attention). Returns N.
int64_t embed(const EmbedRequest& request, const PluginRegistry& registry);

}  // namespace mdlab
