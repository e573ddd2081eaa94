// The generated experiment file reference: deterministic, complete, and in plugin-name order.
#include "config_reference.h"
#include "config_test_support.h"

#include <catch2/catch.hpp>

TEST_CASE("render_config_reference is deterministic and lists every key") {
  auto schema = mdlab::test::test_schema();
  auto catalog = mdlab::test::test_catalog();
  std::string doc = mdlab::render_config_reference(schema, catalog);
  CHECK(doc ==
        mdlab::render_config_reference(mdlab::test::test_schema(), mdlab::test::test_catalog()));
  INFO(doc);

  for (const auto& section : schema.core) {
    CHECK_THAT(doc, Catch::Contains("### [" + section.path + "]\n\n" + section.doc));
    for (const auto& spec : section.schema.specs())
      CHECK_THAT(doc, Catch::Contains("| `" + spec.name + "` |"));
  }
  for (const auto& section : schema.plugins) {
    for (const auto& name : catalog.names(section.kind)) {
      CHECK_THAT(doc, Catch::Contains("#### " + section.path + " = \"" + name + "\""));
      for (const auto& spec : catalog.schema(section.kind, name)->specs())
        CHECK_THAT(doc, Catch::Contains("| `" + spec.name + "` |"));
    }
  }
  CHECK_THAT(doc, Catch::Contains("### [[eval]]\n"));

  // Rows carry type, default, constraint, required and doc; '|' is escaped in cells.
  CHECK_THAT(doc, Catch::Contains("| `lr` | float | `0.1` | in [0, 10] | no | Learning rate |\n"));
  CHECK_THAT(doc, Catch::Contains("| `epochs` | int |  | >= 1 | yes | Number of epochs |\n"));
  CHECK_THAT(doc, Catch::Contains("| `optimizer` | string | `\"sgd\"` | one of: \"sgd\", "
                                  "\"adam\" | no | Optimizer |\n"));
  CHECK_THAT(doc, Catch::Contains("| `batch_size` | int | `256` | >= 1 | no | Images per batch "
                                  "\\| per device |\n"));
  CHECK_THAT(doc, Catch::Contains("| `betas` | float list | `[0.9, 0.999]` |  | no | Adam betas "
                                  "|\n"));

  // Plugins in name order, although the catalog lists them in reverse.
  CHECK(doc.find("#### method = \"byol\"") < doc.find("#### method = \"simclr\""));
  CHECK(doc.find("#### eval = \"knn\"") < doc.find("#### eval = \"linear\""));
  // Sections in schema order.
  CHECK(doc.find("### [experiment]") < doc.find("### [train]"));
  CHECK(doc.find("### [data]") < doc.find("### [data.synthetic]"));
  CHECK(doc.find("### [backbone]") < doc.find("### [method]"));
  CHECK(doc.back() == '\n');
  CHECK(doc.substr(doc.size() - 2) != "\n\n");
}

TEST_CASE("render_config_reference handles kinds without plugins and empty schemas") {
  mdlab::ExperimentSchema schema;
  schema.core.push_back({"empty", {}, false, ""});
  schema.plugins.push_back({"generator", MDLAB_PLUGIN_GENERATOR, false, false, ""});
  mdlab::test::FakeCatalog catalog;
  std::string doc = mdlab::render_config_reference(schema, catalog);
  CHECK_THAT(doc, Catch::Contains("### [empty]\n\nThe table is optional.\n\nNo options.\n"));
  CHECK_THAT(doc, Catch::Contains("No generator plugins are available.\n"));
}
