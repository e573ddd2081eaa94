#include "fuzz_experiment_target.h"

#include "config_error.h"
#include "experiment_file.h"
#include "experiment_schema.h"
#include "fuzz_support.h"
#include "validate.h"

#include <mdlab/error.h>
#include <mdlab/plugin.h>  // the plugin kinds

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mdlab::fuzz {

namespace {

namespace fs = std::filesystem;

// One plugin of each kind, together declaring every option type with ranges and choices.
class Catalog final : public PluginCatalog {
 public:
  Catalog() {
    OptionsSchema backbone;
    backbone.add_int("depth", 18, "depth").one_of_ints({18, 34, 50});
    backbone.add_int("width", 64, "width").range(1, 4096);
    backbone.add_bool("cifar_stem", false, "stem");
    backbone.add_string("weights", "", "weights");
    add(MDLAB_PLUGIN_BACKBONE, "resnet", std::move(backbone));
    OptionsSchema method;
    method.add_float("temperature", 0.1, "t").range(0.001, 10);
    method.add_int_list("dims", {128}, "dims").range(1, 8192);
    method.add_float_list("weights", {1.0}, "w").at_least(0);
    method.add_string_list("names", {}, "names");
    method.add_string("mode", "real", "mode").one_of({"real", "mixdiff"});
    method.add_required("num_classes", OptionType::Int, "classes");
    add(MDLAB_PLUGIN_METHOD, "simclr", std::move(method));
    OptionsSchema evaluator;
    evaluator.add_int_list("k", {20}, "k").at_least(1);
    evaluator.add_int("epochs", 10, "epochs").at_least(1);
    add(MDLAB_PLUGIN_EVALUATOR, "knn", std::move(evaluator));
    OptionsSchema generator;
    generator.add_required("model", OptionType::String, "model");
    generator.add_float("guidance_scale", 3.0, "g").at_least(0);
    add(MDLAB_PLUGIN_GENERATOR, "sd_variations", std::move(generator));
  }
  const OptionsSchema* schema(uint32_t kind, std::string_view name) const override {
    auto it = plugins_.find({kind, std::string(name)});
    return it == plugins_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> names(uint32_t kind) const override {
    std::vector<std::string> out;
    for (const auto& [key, schema] : plugins_)
      if (key.first == kind) out.push_back(key.second);
    return out;
  }

 private:
  void add(uint32_t kind, const std::string& name, OptionsSchema schema) {
    plugins_[{kind, name}] = std::move(schema);
  }
  std::map<std::pair<uint32_t, std::string>, OptionsSchema> plugins_;
};

// A folder with the input as exp.toml beside a fixed base.toml it may extend.
const fs::path& work_dir() {
  static const ScratchDir scratch("experiment");
  static const fs::path dir = [] {
    const fs::path& d = scratch.path;
    std::ofstream(d / "base.toml") << "[train]\nepochs = 2\nlr = 0.1\n[data]\nroot = \"/d\"\n"
                                      "[backbone]\nname = \"resnet\"\n";
    return d;
  }();
  return dir;
}

}  // namespace

void run_experiment_input(std::string_view input) {
  static const Catalog catalog;
  static const ExperimentSchema schema = experiment_schema();
  std::string_view text = input;
  std::vector<std::string> sets;
  if (const auto split = input.find("\n%%\n"); split != std::string_view::npos) {
    text = input.substr(0, split);
    std::string_view rest = input.substr(split + 4);
    while (!rest.empty() && sets.size() < 16) {
      const auto end = rest.find('\n');
      sets.emplace_back(rest.substr(0, end));
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 1);
    }
  }
  const fs::path file = work_dir() / "exp.toml";
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(text.data(), text.size());
  try {
    toml::table config = load_experiment(file, sets);
    const std::string resolved = to_toml_text(config);
    // What the run directory's config.toml would hold must load again.
    const fs::path again = work_dir() / "resolved.toml";
    std::ofstream(again, std::ios::binary | std::ios::trunc) << resolved;
    (void)load_experiment(again, {});
    (void)validate_experiment(config, schema, catalog);
  } catch (const ConfigError&) {
  } catch (const Error&) {
  }
}

}  // namespace mdlab::fuzz
