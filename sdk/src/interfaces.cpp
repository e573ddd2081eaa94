// Out-of-line destructors and default implementations: they anchor each interface's vtable
// and typeinfo in the SDK library, so host and plugins agree on one copy.
#include <mdlab/backbone.h>
#include <mdlab/collectives.h>
#include <mdlab/context.h>
#include <mdlab/error.h>
#include <mdlab/evaluator.h>
#include <mdlab/generator.h>
#include <mdlab/method.h>
#include <mdlab/plugin.h>

#include <ATen/CPUGeneratorImpl.h>

namespace mdlab {

Backbone::~Backbone() = default;
std::optional<torch::Tensor> Backbone::last_attention(const torch::Tensor&) {
  return std::nullopt;
}

Method::~Method() = default;
std::vector<ParamGroup> Method::param_groups() {
  ParamGroup decay{"default", {}, true, true, 1.0, 0};
  ParamGroup no_decay{"no_decay", {}, false, false, 1.0, 0};
  for (const auto& p : parameters()) {
    if (!p.requires_grad()) continue;
    (p.dim() <= 1 ? no_decay : decay).params.push_back(p);
  }
  std::vector<ParamGroup> groups;
  if (!decay.params.empty()) groups.push_back(std::move(decay));
  if (!no_decay.params.empty()) groups.push_back(std::move(no_decay));
  return groups;
}
ValidationViews Method::validation_views() const {
  return view_slots().size() > 1 ? ValidationViews::Augmented : ValidationViews::Plain;
}
void Method::after_optimizer_step(const StepInfo&) {}
std::vector<std::pair<std::string, int64_t>> Method::probe_layers() const {
  return {};
}
void Method::export_model(const std::filesystem::path&) {
  MDLAB_THROW(
      "this method trains only its encoder: there is no model to export (mdlab export-backbone "
      "writes the encoder)");
}

Generator::~Generator() = default;
int64_t Generator::preferred_batch_size() const {
  return 1;
}

BatchStream::~BatchStream() = default;
EvalData::~EvalData() = default;
Evaluator::~Evaluator() = default;

ProgressReporter::~ProgressReporter() = default;
Context::~Context() = default;
Collectives& Context::collectives() {
  return local_collectives();
}
std::shared_ptr<Backbone> Context::create_backbone() {
  MDLAB_THROW("this context cannot create backbones (it has no experiment [backbone] table)");
}
std::shared_ptr<Backbone> Context::create_plugin_backbone(std::string_view plugin, const Options&) {
  MDLAB_THROW("this context cannot create the backbone '{}' (it has no plugin registry)", plugin);
}

PluginFactory::~PluginFactory() = default;
BackboneFactory::~BackboneFactory() = default;
MethodFactory::~MethodFactory() = default;
GeneratorFactory::~GeneratorFactory() = default;
EvaluatorFactory::~EvaluatorFactory() = default;

uint64_t derive_seed(uint64_t seed, std::string_view stream) {
  // FNV-1a over the stream name, mixed with the seed through SplitMix64's finaliser: cheap,
  // well spread, and fixed forever (runs must reproduce across releases).
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : stream) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (h | 1ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

at::Generator make_cpu_generator(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

}  // namespace mdlab
