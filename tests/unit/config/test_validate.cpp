// Validation against the experiment schema and the plugins' option schemas: every issue
// kind with its exact file:line:col, several issues at once, defaults and conversions.
#include "config_test_support.h"
#include "experiment_file.h"
#include "fixtures.h"
#include "validate.h"

#include <catch2/catch.hpp>

namespace fs = std::filesystem;
using mdlab::test::issues_of;
using mdlab::test::pos_of;
using mdlab::test::write_file;

namespace {

/// A complete, valid experiment; tests append to it or write their own.
const std::string kValid =
    "[backbone]\nname = \"resnet\"\n\n"
    "[method]\nname = \"simclr\"\n\n"
    "[train]\nepochs = 5\n\n"
    "[data]\nroot = \"/d\"\n";

struct Loaded {
  fs::path file;
  std::string text;
};

Loaded write_exp(const std::string& text) {
  auto dir = mdlab::test::temp_dir("config");
  return {write_file(dir, "exp.toml", text), text};
}

mdlab::ValidatedConfig validate(const fs::path& file, const std::vector<std::string>& sets = {}) {
  toml::table config = mdlab::load_experiment(file, sets);
  return mdlab::validate_experiment(config, mdlab::test::test_schema(),
                                    mdlab::test::test_catalog());
}

/// The single issue validation reports for `file`.
mdlab::ConfigIssue single_issue(const fs::path& file, const std::vector<std::string>& sets = {}) {
  auto issues = issues_of([&] { (void)validate(file, sets); });
  INFO(issues[0].format());
  REQUIRE(issues.size() == 1);
  return issues[0];
}

/// Checks the issue's text: "file:POS: message" with POS found as `needle` in the text.
void check_issue(const mdlab::ConfigIssue& issue, const Loaded& exp, const std::string& needle,
                 const std::string& key, const std::string& message) {
  CHECK(issue.format() == exp.file.string() + ":" + pos_of(exp.text, needle) + ": " + message);
  CHECK(issue.key == key);
}

}  // namespace

TEST_CASE("a valid experiment validates with defaults filled") {
  auto exp =
      write_exp(kValid + "\n[[eval]]\nname = \"knn\"\nk = 5\n\n[[eval]]\nname = \"linear\"\n");
  auto config = validate(exp.file);

  const auto* train = config.find("train");
  REQUIRE(train != nullptr);
  CHECK(train->present);
  CHECK(train->plugin.empty());
  CHECK(train->options.get_int("epochs") == 5);
  CHECK(train->options.get_float("lr") == 0.1);
  CHECK(train->options.get_string("optimizer") == "sgd");
  CHECK(train->options.get_float_list("betas") == std::vector<double>{0.9, 0.999});
  CHECK(train->options.get_int_list("milestones").empty());
  // Optional without a default: absent.
  CHECK_FALSE(train->options.has("warmup"));
  CHECK(*train->where.path == exp.file.string());
  CHECK(train->where.begin.line == 7);

  // Absent optional core tables are there with their defaults.
  const auto* experiment = config.find("experiment");
  REQUIRE(experiment != nullptr);
  CHECK_FALSE(experiment->present);
  CHECK(experiment->options.get_string("name") == "run");
  const auto* synthetic = config.find("data.synthetic");
  REQUIRE(synthetic != nullptr);
  CHECK(synthetic->options.get_float("ratio") == 0.5);

  const auto* method = config.find("method");
  REQUIRE(method != nullptr);
  CHECK(method->plugin == "simclr");
  CHECK(method->options.get_float("temperature") == 0.5);
  CHECK(method->options.get_int("projection_dim") == 128);
  CHECK_FALSE(method->options.has("name"));

  auto evals = config.find_all("eval");
  REQUIRE(evals.size() == 2);
  CHECK(evals[0]->path == "eval[0]");
  CHECK(evals[0]->plugin == "knn");
  CHECK(evals[0]->options.get_int("k") == 5);
  CHECK(evals[0]->options.get_string_list("metrics") == std::vector<std::string>{"top1"});
  CHECK(evals[1]->path == "eval[1]");
  CHECK(evals[1]->plugin == "linear");
  CHECK(config.find("eval[1]") == evals[1]);
  CHECK(config.find_all("data").size() == 2);
  CHECK(config.find("nope") == nullptr);

  // Core tables first in schema order, then plugin tables.
  std::vector<std::string> order;
  for (const auto& s : config.sections) order.push_back(s.path);
  CHECK(order == std::vector<std::string>{"experiment", "train", "data", "data.synthetic",
                                          "backbone", "method", "eval[0]", "eval[1]"});
}

TEST_CASE("integers are accepted where floats are declared") {
  auto exp = write_exp(kValid + "\n[data.synthetic]\nratio = 1\n");
  auto config = validate(exp.file, {"train.lr=2", "train.betas=[1, 0.5]", "train.warmup=3",
                                    "train.milestones=[]", "experiment.tags=[]"});
  const auto* train = config.find("train");
  CHECK(train->options.get_float("lr") == 2.0);
  CHECK(train->options.get_float_list("betas") == std::vector<double>{1.0, 0.5});
  CHECK(train->options.get_float("warmup") == 3.0);
  // An empty array is a list of any type.
  CHECK(train->options.get_int_list("milestones").empty());
  CHECK(config.find("experiment")->options.get_string_list("tags").empty());
  CHECK(config.find("experiment")->present);
  CHECK(config.find("data.synthetic")->options.get_float("ratio") == 1.0);
}

TEST_CASE("error: unknown top-level table or key") {
  auto exp = write_exp(kValid + "\n[trian]\nepochs = 3\n");
  check_issue(single_issue(exp.file), exp, "[trian]", "trian",
              "unknown top-level table 'trian'; did you mean 'train'?");
  CHECK(single_issue(exp.file).line == 13);
  CHECK(single_issue(exp.file).column == 1);

  auto key = write_exp("zzz = 1\n" + kValid);
  check_issue(single_issue(key.file), key, "zzz", "zzz",
              "unknown top-level key 'zzz'; known tables: experiment, train, data, backbone, "
              "method, eval");
}

TEST_CASE("error: unknown key in a section, with did-you-mean") {
  auto exp = write_exp(
      "[backbone]\nname = \"resnet\"\n\n[method]\nname = \"simclr\"\ntemprature = 0.2\n\n"
      "[train]\nepochs = 5\n\n[data]\nroot = \"/d\"\n");
  auto issue = single_issue(exp.file);
  check_issue(issue, exp, "temprature", "method.temprature",
              "unknown key 'temprature' in [method] (plugin 'simclr'); did you mean "
              "'temperature'?");
  CHECK(issue.format() == exp.file.string() +
                              ":6:1: unknown key 'temprature' in [method] (plugin 'simclr'); did "
                              "you mean 'temperature'?");

  auto core = write_exp(kValid + "batchsize = 3\n");
  check_issue(single_issue(core.file), core, "batchsize", "data.batchsize",
              "unknown key 'batchsize' in [data]; did you mean 'batch_size'?");

  auto far = write_exp(kValid + "colour = 3\n");
  check_issue(single_issue(far.file), far, "colour", "data.colour",
              "unknown key 'colour' in [data]; known keys: root, batch_size, synthetic");

  auto sub = write_exp(kValid + "\n[data.syntetic]\nratio = 0.1\n");
  check_issue(single_issue(sub.file), sub, "[data.syntetic]", "data.syntetic",
              "unknown table 'syntetic' in [data]; did you mean 'synthetic'?");
}

TEST_CASE("error: wrong type") {
  auto exp = write_exp(kValid + "batch_size = \"big\"\n");
  check_issue(single_issue(exp.file), exp, "\"big\"", "data.batch_size",
              "wrong type for 'batch_size' in [data]: expected int, got string");

  auto plugin = write_exp(
      "[backbone]\nname = \"resnet\"\n\n[method]\nname = \"simclr\"\ntemperature = \"hot\"\n\n"
      "[train]\nepochs = 5\n\n[data]\nroot = \"/d\"\n");
  check_issue(single_issue(plugin.file), plugin, "\"hot\"", "method.temperature",
              "wrong type for 'temperature' in [method] (plugin 'simclr'): expected float, got "
              "string");

  // A float is not an int, and list items are checked one by one.
  auto items = write_exp(
      "[backbone]\nname = \"resnet\"\n\n[method]\nname = \"simclr\"\n\n"
      "[train]\nepochs = 5\nmilestones = [10, 20.5]\n\n[data]\nroot = \"/d\"\n");
  check_issue(single_issue(items.file), items, "20.5", "train.milestones",
              "wrong type for 'milestones' in [train]: expected int list, got an array whose item "
              "2 is a float");
  auto scalar = write_exp(
      "[backbone]\nname = \"resnet\"\n\n[method]\nname = \"simclr\"\n\n"
      "[train]\nepochs = 5.0\n\n[data]\nroot = \"/d\"\n");
  check_issue(single_issue(scalar.file), scalar, "5.0", "train.epochs",
              "wrong type for 'epochs' in [train]: expected int, got float");
}

TEST_CASE("error: value out of range or not among the choices") {
  auto exp = write_exp(
      "[backbone]\nname = \"resnet\"\ndepth = 19\n\n[method]\nname = \"simclr\"\n"
      "temperature = 20.0\n\n[train]\nepochs = 5\noptimizer = \"adamw\"\n\n[data]\n"
      "root = \"/d\"\n");
  auto issues = issues_of([&] { (void)validate(exp.file); });
  REQUIRE(issues.size() == 3);
  Loaded loaded{exp.file, exp.text};
  check_issue(issues[0], loaded, "19", "backbone.depth",
              "invalid value for 'depth' in [backbone] (plugin 'resnet'): value 19 is not "
              "allowed: must be one of: 18, 34, 50");
  check_issue(issues[1], loaded, "20.0", "method.temperature",
              "invalid value for 'temperature' in [method] (plugin 'simclr'): value 20 is out of "
              "range: must be in [0.001, 10]");
  check_issue(issues[2], loaded, "\"adamw\"", "train.optimizer",
              "invalid value for 'optimizer' in [train]: value \"adamw\" is not allowed: must be "
              "one of: \"sgd\", \"adam\"");
}

TEST_CASE("error: NaN and infinities are refused where a range would let them through") {
  // NaN compares false with both bounds; before this check `lr = nan` trained with NaN.
  auto exp = write_exp(
      "[backbone]\nname = \"resnet\"\n\n[method]\nname = \"simclr\"\n"
      "temperature = nan\n\n[train]\nepochs = 5\nlr = -inf\n\n[data]\nroot = \"/d\"\n");
  auto issues = issues_of([&] { (void)validate(exp.file); });
  REQUIRE(issues.size() == 2);
  Loaded loaded{exp.file, exp.text};
  check_issue(issues[0], loaded, "nan", "method.temperature",
              "invalid value for 'temperature' in [method] (plugin 'simclr'): value nan is not a "
              "finite number");
  check_issue(issues[1], loaded, "-inf", "train.lr",
              "invalid value for 'lr' in [train]: value -inf is not a finite number");
}

TEST_CASE("error: missing required key, at the enclosing table") {
  auto exp = write_exp(
      "[backbone]\nname = \"resnet\"\n\n[method]\nname = \"simclr\"\n\n"
      "[train]\nlr = 0.5\n\n[data]\nroot = \"/d\"\n");
  auto issue = single_issue(exp.file);
  check_issue(issue, exp, "[train]", "train.epochs",
              "missing required key 'epochs' in [train] (int: Number of epochs)");
  CHECK(issue.line == 7);
  CHECK(issue.column == 1);
}

TEST_CASE("error: missing required table, at file:1:1") {
  auto exp = write_exp(
      "# no data table\n[backbone]\nname = \"resnet\"\n\n[method]\n"
      "name = \"simclr\"\n\n[train]\nepochs = 5\n");
  auto issue = single_issue(exp.file);
  CHECK(issue.format() == exp.file.string() + ":1:1: missing required table [data]");
  CHECK(issue.key == "data");

  auto plugin = write_exp(
      "[backbone]\nname = \"resnet\"\n\n[train]\nepochs = 5\n\n[data]\n"
      "root = \"/d\"\n");
  CHECK(single_issue(plugin.file).format() ==
        plugin.file.string() +
            ":1:1: missing required table [method]: it chooses the method plugin (available: "
            "byol, simclr)");
}

TEST_CASE("error: plugin table without name") {
  auto exp = write_exp(
      "[backbone]\nname = \"resnet\"\n\n[method]\ntemperature = 0.1\n\n"
      "[train]\nepochs = 5\n\n[data]\nroot = \"/d\"\n");
  check_issue(single_issue(exp.file), exp, "[method]", "method.name",
              "missing key 'name' in [method]: it selects the method plugin (available: byol, "
              "simclr)");

  auto eval = write_exp(kValid + "\n[[eval]]\nname = \"knn\"\n\n[[eval]]\nk = 3\n");
  auto issue = single_issue(eval.file);
  CHECK(issue.format() == eval.file.string() +
                              ":16:1: missing key 'name' in [eval[1]]: it selects the evaluator "
                              "plugin (available: knn, linear)");
  CHECK(issue.key == "eval[1].name");
}

TEST_CASE("error: unknown plugin name lists the available plugins") {
  auto exp = write_exp(
      "[backbone]\nname = \"resnet\"\n\n[method]\nname = \"simclrr\"\ntemperature = 0.1\n\n"
      "[train]\nepochs = 5\n\n[data]\nroot = \"/d\"\n");
  check_issue(single_issue(exp.file), exp, "\"simclrr\"", "method.name",
              "unknown method plugin 'simclrr' in [method] (available: byol, simclr); did you "
              "mean 'simclr'?");

  auto far = write_exp(
      "[backbone]\nname = \"transformer\"\n\n[method]\nname = \"simclr\"\n\n"
      "[train]\nepochs = 5\n\n[data]\nroot = \"/d\"\n");
  check_issue(single_issue(far.file), far, "\"transformer\"", "backbone.name",
              "unknown backbone plugin 'transformer' in [backbone] (available: resnet, vit)");

  auto type = write_exp(
      "[backbone]\nname = 3\n\n[method]\nname = \"simclr\"\n\n"
      "[train]\nepochs = 5\n\n[data]\nroot = \"/d\"\n");
  check_issue(single_issue(type.file), type, "3", "backbone.name",
              "wrong type for 'name' in [backbone]: expected string, got int");
}

TEST_CASE("error: plugin or core table of the wrong TOML type") {
  auto eval = write_exp(kValid + "\n[eval]\nname = \"knn\"\n");
  check_issue(single_issue(eval.file), eval, "[eval]", "eval",
              "[eval] must be an array of tables ([[eval]]), got table");

  auto mixed = write_exp("eval = [{ name = \"knn\" }, 3]\n" + kValid);
  check_issue(single_issue(mixed.file), mixed, "[{", "eval",
              "[eval] must be an array of tables ([[eval]]), got an array holding an int");

  auto method = write_exp(
      "method = \"simclr\"\n[backbone]\nname = \"resnet\"\n\n"
      "[train]\nepochs = 5\n\n[data]\nroot = \"/d\"\n");
  check_issue(single_issue(method.file), method, "\"simclr\"", "method",
              "[method] must be a table, got string");

  auto core = write_exp(
      "train = 5\n[backbone]\nname = \"resnet\"\n\n[method]\n"
      "name = \"simclr\"\n\n[data]\nroot = \"/d\"\n");
  check_issue(single_issue(core.file), core, "5", "train", "[train] must be a table, got int");
}

TEST_CASE("error in a value from a base file points into the base file") {
  auto dir = mdlab::test::temp_dir("config");
  const std::string base_text = "[train]\nepochs = 5\nlr = \"fast\"\n";
  auto base = write_file(dir, "base/train.toml", base_text);
  const std::string exp_text =
      "extends = [\"base/train.toml\"]\n\n[backbone]\nname = \"resnet\"\n\n[method]\n"
      "name = \"simclr\"\n\n[data]\nroot = \"/d\"\n";
  auto exp = write_file(dir, "exp.toml", exp_text);
  auto issue = single_issue(exp);
  CHECK(issue.format() ==
        base.string() + ":3:6: wrong type for 'lr' in [train]: expected float, got string");
  CHECK(issue.source == (dir / "base" / "train.toml").string());
}

TEST_CASE("error in a --set value points into the argument") {
  auto exp = write_exp(kValid);
  auto issue = single_issue(exp.file, {"method.temperature=hot"});
  CHECK(issue.format() ==
        "--set method.temperature=hot:1:20: wrong type for 'temperature' in [method] (plugin "
        "'simclr'): expected float, got string");
  auto created = single_issue(exp.file, {"modle.depth=3"});
  CHECK(created.format() ==
        "--set modle.depth=3:1:1: unknown top-level table 'modle'; known "
        "tables: experiment, train, data, backbone, method, eval");
}

TEST_CASE("several issues are reported together, sorted by position") {
  auto dir = mdlab::test::temp_dir("config");
  auto base = write_file(dir, "base.toml", "[data]\nroot = 7\n");
  const std::string text =
      "extends = [\"base.toml\"]\n"
      "[backbone]\nname = \"resnet\"\nwiden = 0.1\n\n"
      "[method]\nname = \"simclr\"\nprojection = 3\n\n"
      "[train]\nlr = -1\n\n"
      "[[eval]]\nname = \"kn\"\n\n"
      "[extra]\n";
  auto exp = write_file(dir, "exp.toml", text);
  std::string what;
  std::vector<mdlab::ConfigIssue> issues;
  try {
    (void)validate(exp);
    FAIL("expected a ConfigError");
  } catch (const mdlab::ConfigError& e) {
    what = e.what();
    issues = e.issues();
  }
  std::vector<std::string> lines;
  for (const auto& i : issues) lines.push_back(i.format());
  std::string e = exp.string();
  std::string b = base.string();
  CHECK(lines == std::vector<std::string>{
                     b + ":2:8: wrong type for 'root' in [data]: expected string, got int",
                     e + ":4:9: invalid value for 'widen' in [backbone] (plugin 'resnet'): value "
                         "0.1 is out of range: must be >= 0.25",
                     e + ":8:1: unknown key 'projection' in [method] (plugin 'simclr'); known "
                         "keys: temperature, projection_dim",
                     e + ":10:1: missing required key 'epochs' in [train] (int: Number of "
                         "epochs)",
                     e + ":11:6: invalid value for 'lr' in [train]: value -1 is out of range: "
                         "must be in [0, 10]",
                     e + ":14:8: unknown evaluator plugin 'kn' in [eval[0]] (available: knn, "
                         "linear); did you mean 'knn'?",
                     e + ":16:1: unknown top-level table 'extra'; known tables: experiment, "
                         "train, data, backbone, method, eval",
                 });
  std::string joined;
  for (const auto& l : lines) joined += (joined.empty() ? "" : "\n") + l;
  CHECK(what == joined);
}

TEST_CASE("a copied table still locates issues by its keys") {
  auto exp = write_exp(kValid + "batch_size = \"big\"\n");
  toml::table loaded = mdlab::load_experiment(exp.file, {});
  const toml::table copy = loaded;  // toml++ copies drop node positions
  auto issues = issues_of([&] {
    (void)mdlab::validate_experiment(copy, mdlab::test::test_schema(), mdlab::test::test_catalog());
  });
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].format() == exp.file.string() + ":" + pos_of(exp.text, "batch_size") +
                                  ": wrong type for 'batch_size' in [data]: expected int, got "
                                  "string");
}

TEST_CASE("did-you-mean uses the edit distance with a length-dependent limit") {
  CHECK(mdlab::edit_distance("temprature", "temperature") == 1);
  CHECK(mdlab::edit_distance("", "abc") == 3);
  CHECK(mdlab::edit_distance("kitten", "sitting") == 3);
  CHECK(mdlab::closest_match("lr", {"rl", "x"}) == "rl");
  CHECK(mdlab::closest_match("abcdefghi", {"abcxyzghi"}) == "abcxyzghi");   // 3 <= 9/3
  CHECK(mdlab::closest_match("abcdefghi", {"axcxyzghi"}).empty());          // 4 > 3
  CHECK(mdlab::closest_match("epochs", {"epoch", "epochs_x"}) == "epoch");  // nearest wins
}
