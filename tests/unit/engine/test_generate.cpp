// `mdlab generate` pieces that need no model: --shard parsing, the [generate] table and the
// generate schema (a [generator] table required, [backbone] and [method] optional).
#include "experiment_schema.h"
#include "fixtures.h"
#include "generate_command.h"
#include "plugin_registry.h"

#include <mdlab/error.h>

#include <catch2/catch.hpp>

using namespace mdlab;

TEST_CASE("shards parse as i/n and reject the rest", "[generate]") {
  auto s = parse_shard("3/8");
  CHECK(s.index == 3);
  CHECK(s.count == 8);
  CHECK(parse_shard("0/1").count == 1);
  CHECK_THROWS_WITH(parse_shard("8/8"), Catch::Contains("[0, n)"));
  CHECK_THROWS_WITH(parse_shard("1/0"), Catch::Contains("[0, n)"));
  CHECK_THROWS_WITH(parse_shard("two/4"), Catch::Contains("i/n"));
  CHECK_THROWS_WITH(parse_shard("-1/4"), Catch::Contains("i/n"));
  // Numbers too large for an int64 were reported as "stoll".
  CHECK_THROWS_WITH(parse_shard("1/99999999999999999999"), Catch::Contains("below 10^9"));
}

TEST_CASE("manifest fields keep one output on one line of six fields", "[generate]") {
  CHECK(tsv_field("train/n01/a.png") == "train/n01/a.png");
  CHECK(tsv_field("a\tb\nc\rd\\e") == "a\\tb\\nc\\rd\\\\e");
}

TEST_CASE("the generate schema requires a generator, not a method", "[generate]") {
  const ExperimentSchema schema = generate_schema();
  bool generator_required = false, method_required = true, backbone_required = true;
  for (const auto& section : schema.plugins) {
    if (section.path == "generator") generator_required = section.required;
    if (section.path == "method") method_required = section.required;
    if (section.path == "backbone") backbone_required = section.required;
  }
  CHECK(generator_required);
  CHECK_FALSE(method_required);
  CHECK_FALSE(backbone_required);
  // Both schemas know the [generate] table, so one file can drive generation and training.
  for (const auto& s : {schema, experiment_schema()}) {
    const CoreSection* generate = nullptr;
    for (const auto& core : s.core) {
      if (core.path == "generate") generate = &core;
    }
    REQUIRE(generate != nullptr);
    CHECK(generate->schema.find("seeding") != nullptr);
    CHECK(generate->schema.find("variations") != nullptr);
  }
}

TEST_CASE("every integer option, core or plugin, has an upper bound", "[config][errors]") {
  // An unbounded size reaches LibTorch's allocator (or a loop) instead of a config error at
  // its key; counters such as seeds get bounds too, so the rule has no exceptions to remember.
  std::vector<std::string> unbounded;
  auto check = [&](const std::string& where, const mdlab::OptionsSchema& schema) {
    for (const auto& spec : schema.specs()) {
      const bool integer =
          spec.type == mdlab::OptionType::Int || spec.type == mdlab::OptionType::IntList;
      if (integer && !spec.max && spec.choices.empty()) unbounded.push_back(where + spec.name);
    }
  };
  for (const auto& s : {generate_schema(), experiment_schema()})
    for (const auto& core : s.core) check(core.path + ".", core.schema);
  mdlab::PluginRegistry registry;
  registry.load_directories({mdlab::test::binary_dir() / "lib" / "mdlab" / "plugins"});
  REQUIRE(registry.all().size() >= 10);
  for (const auto* p : registry.all()) check(p->name + ".", p->factory->options_schema());
  CHECK(unbounded == std::vector<std::string>{});
}
