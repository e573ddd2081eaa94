// Shared pieces of the config tests: files in a temporary folder, a fake plugin catalog and
// a small experiment schema, and helpers that catch a ConfigError.
#pragma once

#include "config_error.h"
#include "validate.h"

#include <mdlab/plugin.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mdlab::test {

/// Writes `text` to `dir / name` (creating folders) and returns the path.
inline std::filesystem::path write_file(const std::filesystem::path& dir, const std::string& name,
                                        const std::string& text) {
  auto path = (dir / name).lexically_normal();
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

/// The 1-based "line:col" of the first occurrence of `needle` in `text`.
inline std::string pos_of(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  REQUIRE(at != std::string::npos);
  size_t line = 1, column = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

/// The issues of the ConfigError `f` throws (fails the test when it throws none).
template <class F>
std::vector<ConfigIssue> issues_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    REQUIRE(!e.issues().empty());
    return e.issues();
  }
  FAIL("expected a ConfigError");
  return {};
}

/// Plugins of each kind with their schemas.
class FakeCatalog : public PluginCatalog {
 public:
  /// Registers plugin `name` of `kind`.
  void add(uint32_t kind, const std::string& name, OptionsSchema schema) {
    plugins_[{kind, name}] = std::move(schema);
  }
  const OptionsSchema* schema(uint32_t kind, std::string_view name) const override {
    auto it = plugins_.find({kind, std::string(name)});
    return it == plugins_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> names(uint32_t kind) const override {
    std::vector<std::string> out;
    // Reverse order on purpose: callers must sort for messages and docs.
    for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it)
      if (it->first.first == kind) out.push_back(it->first.second);
    return out;
  }

 private:
  std::map<std::pair<uint32_t, std::string>, OptionsSchema> plugins_;
};

/// backbone: resnet, vit; method: simclr, byol; evaluator: knn, linear.
inline FakeCatalog test_catalog() {
  FakeCatalog catalog;
  OptionsSchema resnet;
  resnet.add_int("depth", 18, "Number of layers").one_of_ints({18, 34, 50});
  resnet.add_float("widen", 1.0, "Width multiplier").at_least(0.25);
  catalog.add(MDLAB_PLUGIN_BACKBONE, "resnet", std::move(resnet));
  OptionsSchema vit;
  vit.add_int("patch", 16, "Patch size");
  catalog.add(MDLAB_PLUGIN_BACKBONE, "vit", std::move(vit));
  OptionsSchema simclr;
  simclr.add_float("temperature", 0.5, "Softmax temperature").range(0.001, 10);
  simclr.add_int("projection_dim", 128, "Projection head output size").at_least(1);
  catalog.add(MDLAB_PLUGIN_METHOD, "simclr", std::move(simclr));
  OptionsSchema byol;
  byol.add_float("momentum", 0.996, "Target network EMA momentum").range(0, 1);
  catalog.add(MDLAB_PLUGIN_METHOD, "byol", std::move(byol));
  OptionsSchema knn;
  knn.add_int("k", 20, "Neighbours").at_least(1);
  knn.add_string_list("metrics", {"top1"}, "Metrics to report");
  catalog.add(MDLAB_PLUGIN_EVALUATOR, "knn", std::move(knn));
  OptionsSchema linear;
  linear.add_int("epochs", 100, "Training epochs of the probe");
  catalog.add(MDLAB_PLUGIN_EVALUATOR, "linear", std::move(linear));
  return catalog;
}

/// [experiment], [train] (required), [data] (required) with [data.synthetic]; [backbone] and
/// [method] required, [[eval]] optional.
inline ExperimentSchema test_schema() {
  ExperimentSchema schema;
  CoreSection experiment{"experiment", {}, false, "What the run is called."};
  experiment.schema.add_string("name", "run", "Name of the run");
  experiment.schema.add_int("seed", 0, "Random seed").at_least(0);
  experiment.schema.add_string_list("tags", {}, "Free-form tags");
  CoreSection train{"train", {}, true, "The training loop."};
  train.schema.add_required("epochs", OptionType::Int, "Number of epochs").at_least(1);
  train.schema.add_float("lr", 0.1, "Learning rate").range(0, 10);
  train.schema.add_int_list("milestones", {}, "Epochs where the learning rate drops");
  train.schema.add_string("optimizer", "sgd", "Optimizer").one_of({"sgd", "adam"});
  train.schema.add_optional("warmup", OptionType::Float, "Warm-up epochs");
  train.schema.add_float_list("betas", {0.9, 0.999}, "Adam betas");
  CoreSection data{"data", {}, true, "Where images come from."};
  data.schema.add_required("root", OptionType::String, "Folder of the real images");
  data.schema.add_int("batch_size", 256, "Images per batch | per device").at_least(1);
  CoreSection synthetic{"data.synthetic", {}, false, "Mixing in generated images."};
  synthetic.schema.add_float("ratio", 0.5, "Share of synthetic images").range(0, 1);
  schema.core = {std::move(experiment), std::move(train), std::move(data), std::move(synthetic)};
  schema.plugins = {
      {"backbone", MDLAB_PLUGIN_BACKBONE, false, true, "The network being trained."},
      {"method", MDLAB_PLUGIN_METHOD, false, true, "The self-supervised objective."},
      {"eval", MDLAB_PLUGIN_EVALUATOR, true, false, "Evaluations after training."},
  };
  return schema;
}

}  // namespace mdlab::test
