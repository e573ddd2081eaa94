// State dicts: a module's parameters and buffers by their dotted names ("layer1.0.conv1.weight",
// "bn1.running_mean"), in the order PyTorch's Module.state_dict() lists them (each module's
// own parameters, then its own buffers, then its children in registration order). Names are
// those given to register_module/register_parameter/register_buffer, so modules that register
// under the reference implementation's names exchange weights with it through safetensors.
#pragma once

#include <mdlab/export.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mdlab {

/// How load_state_dict matches file tensors to module tensors.
struct MDLAB_SDK_API LoadOptions {
  /// Throw when a module tensor is missing from the file, a file tensor has no module tensor,
  /// or shapes / dtype kinds disagree; otherwise skip those and only report them.
  bool strict = true;
  /// Names starting with one of these ("fc.", "head.") are skipped on both sides.
  std::vector<std::string> ignore_prefixes;
};

/// A module tensor and a file tensor of the same name that cannot be copied into each other.
struct MDLAB_SDK_API LoadMismatch {
  std::string name;    ///< the shared name
  std::string reason;  ///< "shape [64, 3, 7, 7] in the file, [64, 1, 7, 7] in the module"
};

/// What load_state_dict did.
struct MDLAB_SDK_API LoadReport {
  std::vector<std::string> loaded;       ///< names copied into the module
  std::vector<std::string> missing;      ///< module names absent from the file
  std::vector<std::string> unexpected;   ///< file names absent from the module
  std::vector<std::string> ignored;      ///< names skipped by ignore_prefixes (either side)
  std::vector<LoadMismatch> mismatched;  ///< names present on both sides but incompatible
  /// True when every module tensor was loaded.
  bool complete() const { return missing.empty() && mismatched.empty(); }
};

/// Copies `tensors` into the parameters and buffers of `module` with the same names, without
/// recording gradients. Floating tensors are converted to the module tensor's dtype (an F16 or
/// BF16 file loads into an F32 model) and device; integer and bool tensors must match the
/// module's kind. In strict mode throws mdlab::Error listing every missing, unexpected and
/// mismatched name (with both shapes) before changing anything.
MDLAB_SDK_API LoadReport load_state_dict(torch::nn::Module& module,
                                         const std::map<std::string, torch::Tensor>& tensors,
                                         const LoadOptions& options = {});

/// The parameters and buffers of `module` by name, in PyTorch's state_dict order. The tensors
/// alias the module's (detached views; clone to snapshot).
MDLAB_SDK_API std::vector<std::pair<std::string, torch::Tensor>> state_dict(
    const torch::nn::Module& module);

}  // namespace mdlab
