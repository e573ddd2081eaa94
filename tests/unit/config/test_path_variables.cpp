// Path variables: ${paths.NAME} from [paths] (also set from the command line or an extended
// file), ${env:VAR} with and without a default, $${ as a literal, errors at their nodes, and
// [paths] gone from the resolved config.
#include "config_test_support.h"
#include "experiment_file.h"
#include "fixtures.h"

#include <catch2/catch.hpp>

#include <cstdlib>

namespace fs = std::filesystem;
using mdlab::test::issues_of;
using mdlab::test::write_file;

namespace {

std::string string_at(const toml::table& t, const char* path) {
  return t.at_path(path).value_or(std::string("<none>"));
}

}  // namespace

TEST_CASE("path variables are replaced in every string, then [paths] is dropped") {
  const fs::path dir = mdlab::test::temp_dir("paths");
  write_file(dir, "paths.toml", "[paths]\nimagenet = \"/data/imagenet\"\ngen = \"/data/gen\"\n");
  const fs::path file = write_file(dir, "exp.toml", R"(extends = ["paths.toml"]
[data]
root = "${paths.imagenet}"
[data.synthetic]
root = "${paths.gen}/g8"
[sweep]
"data.synthetic.root" = ["${paths.gen}/g1", "${paths.gen}/g3"]
[[eval]]
name = "x"
note = "costs $${ dollars"
)");
  toml::table t = mdlab::load_experiment(file, {});
  CHECK(string_at(t, "data.root") == "/data/imagenet");
  CHECK(string_at(t, "data.synthetic.root") == "/data/gen/g8");
  CHECK(t["sweep"]["data.synthetic.root"][1].value_or(std::string()) == "/data/gen/g3");
  CHECK(string_at(t, "eval[0].note") == "costs ${ dollars");
  CHECK_FALSE(t.contains("paths"));
  // The resolved node keeps its place in the file (errors still point there).
  CHECK(t.at_path("data.root").node()->source().begin.line == 3);

  // One --set retargets every use.
  toml::table moved = mdlab::load_experiment(file, {"paths.gen=/mnt/gen"});
  CHECK(string_at(moved, "data.synthetic.root") == "/mnt/gen/g8");
  CHECK(string_at(moved, "data.root") == "/data/imagenet");
}

TEST_CASE("environment variables, with and without defaults") {
  const fs::path dir = mdlab::test::temp_dir("paths-env");
  const fs::path file = write_file(dir, "exp.toml", R"([paths]
data = "${env:MDLAB_TEST_DATA:-/default/data}"
[data]
root = "${paths.data}/fmnist"
class_list = "${env:MDLAB_TEST_DATA:-/x}/classes.txt"
)");
  ::unsetenv("MDLAB_TEST_DATA");
  CHECK(string_at(mdlab::load_experiment(file, {}), "data.root") == "/default/data/fmnist");
  ::setenv("MDLAB_TEST_DATA", "/mnt/d", 1);
  const toml::table t = mdlab::load_experiment(file, {});
  CHECK(string_at(t, "data.root") == "/mnt/d/fmnist");
  CHECK(string_at(t, "data.class_list") == "/mnt/d/classes.txt");
  ::unsetenv("MDLAB_TEST_DATA");
}

TEST_CASE("bad path variables are config errors at their nodes, all reported") {
  ::unsetenv("MDLAB_TEST_UNSET");
  const fs::path dir = mdlab::test::temp_dir("paths-bad");
  const fs::path file = write_file(dir, "bad.toml", R"([paths]
a = "/a"
b = 3
c = "${paths.a}"
[data]
root = "${paths.imagenet}"
class_list = "${env:MDLAB_TEST_UNSET}"
[train]
x = "${home}"
y = "${paths.a"
)");
  const auto issues = issues_of([&] { mdlab::load_experiment(file, {}); });
  REQUIRE(issues.size() == 6);
  auto message = [&](int64_t line) {
    for (const auto& i : issues)
      if (i.line == line) return i.message;
    return std::string("<no issue on line ") + std::to_string(line) + ">";
  };
  CHECK_THAT(message(3), Catch::Contains("paths.b must be a string (a path), got an int"));
  CHECK_THAT(message(4), Catch::Contains("[paths] values may use ${env:...} only"));
  CHECK_THAT(message(6),
             Catch::Contains("${paths.imagenet} names no entry of [paths] (it has a, c)"));
  CHECK_THAT(message(7), Catch::Contains("environment variable MDLAB_TEST_UNSET is not set"));
  CHECK_THAT(message(9), Catch::Contains("unknown variable ${home}"));
  CHECK_THAT(message(10), Catch::Contains("'${' without a closing '}'"));
  for (const auto& i : issues) CHECK(i.source == file.string());
}
