// Loading experiment files: extends chains, --set overrides, syntax errors, and the TOML
// text written to the run directory.
#include "config_test_support.h"
#include "experiment_file.h"
#include "fixtures.h"

#include <catch2/catch.hpp>

#include <cmath>

namespace fs = std::filesystem;
using mdlab::load_experiment;
using mdlab::test::issues_of;
using mdlab::test::pos_of;
using mdlab::test::write_file;

namespace {

std::string source_of(const toml::table& t, std::string_view path) {
  auto view = t.at_path(path);
  REQUIRE(view.node() != nullptr);
  const auto& where = view.node()->source();
  REQUIRE(where.path != nullptr);
  return *where.path + ":" + std::to_string(where.begin.line) + ":" +
         std::to_string(where.begin.column);
}

}  // namespace

TEST_CASE("extends merges tables deeply and the file wins over its base") {
  auto dir = mdlab::test::temp_dir("config");
  const std::string base_text =
      "[train]\nepochs = 10\nlr = 0.1\nmilestones = [30, 60]\n\n"
      "[data]\nroot = \"/base\"\nbatch_size = 128\n";
  auto base = write_file(dir, "base.toml", base_text);
  const std::string exp_text =
      "extends = [\"base.toml\"]\n\n[train]\nlr = 0.5\nmilestones = [5]\n\n[data.synthetic]\n"
      "ratio = 0.25\n";
  auto exp = write_file(dir, "exp.toml", exp_text);

  toml::table config = load_experiment(exp, {});
  CHECK_FALSE(config.contains("extends"));
  CHECK(config.at_path("train.epochs").value<int64_t>() == 10);
  CHECK(config.at_path("train.lr").value<double>() == 0.5);
  // Arrays replace, they do not concatenate.
  REQUIRE(config.at_path("train.milestones").as_array()->size() == 1);
  CHECK(config.at_path("train.milestones[0]").value<int64_t>() == 5);
  CHECK(config.at_path("data.root").value<std::string>() == "/base");
  CHECK(config.at_path("data.batch_size").value<int64_t>() == 128);
  CHECK(config.at_path("data.synthetic.ratio").value<double>() == 0.25);

  // Every node still knows which file and position it came from.
  CHECK(source_of(config, "train.epochs") == base.string() + ":" + pos_of(base_text, "10"));
  CHECK(source_of(config, "train.epochs") == base.string() + ":2:10");
  CHECK(source_of(config, "data.root") == base.string() + ":" + pos_of(base_text, "\"/base\""));
  CHECK(source_of(config, "train.lr") == exp.string() + ":4:6");
  CHECK(source_of(config, "train.milestones[0]") == exp.string() + ":5:15");
  // A merged table points at the later file; the root at the top file.
  CHECK(source_of(config, "train") == exp.string() + ":3:1");
  CHECK(*config.source().path == exp.string());
}

TEST_CASE("extends applies bases in the listed order, then the file") {
  auto dir = mdlab::test::temp_dir("config");
  write_file(dir, "a.toml", "[t]\nx = 1\ny = 1\nonly_a = \"a\"\n");
  write_file(dir, "b.toml", "[t]\ny = 2\nz = 2\n");
  auto exp = write_file(dir, "exp.toml", "extends = [\"a.toml\", \"b.toml\"]\n[t]\nz = 3\n");
  toml::table config = load_experiment(exp, {});
  CHECK(config.at_path("t.x").value<int64_t>() == 1);
  CHECK(config.at_path("t.y").value<int64_t>() == 2);
  CHECK(config.at_path("t.z").value<int64_t>() == 3);
  CHECK(config.at_path("t.only_a").value<std::string>() == "a");

  auto reversed = write_file(dir, "rev.toml", "extends = [\"b.toml\", \"a.toml\"]\n");
  toml::table other = load_experiment(reversed, {});
  CHECK(other.at_path("t.y").value<int64_t>() == 1);
  CHECK(other.at_path("t.z").value<int64_t>() == 2);
}

TEST_CASE("nested extends resolve paths relative to the including file") {
  auto dir = mdlab::test::temp_dir("config");
  auto root = write_file(dir, "common/base/root.toml", "[t]\nfrom_root = 1\nlevel = \"root\"\n");
  write_file(dir, "common/mid.toml",
             "extends = [\"base/root.toml\"]\n[t]\nfrom_mid = 2\nlevel = \"mid\"\n");
  auto exp =
      write_file(dir, "exp/e.toml", "extends = [\"../common/mid.toml\"]\n[t]\nlevel = \"exp\"\n");
  toml::table config = load_experiment(exp, {});
  CHECK(config.at_path("t.from_root").value<int64_t>() == 1);
  CHECK(config.at_path("t.from_mid").value<int64_t>() == 2);
  CHECK(config.at_path("t.level").value<std::string>() == "exp");
  CHECK(source_of(config, "t.from_root") == root.string() + ":2:13");
}

TEST_CASE("an extends cycle is an error showing the chain") {
  auto dir = mdlab::test::temp_dir("config");
  auto a = write_file(dir, "a.toml", "extends = [\"b.toml\"]\n");
  auto b = write_file(dir, "b.toml", "extends = [\"a.toml\"]\n");
  auto issues = issues_of([&] { (void)load_experiment(a, {}); });
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].format() == b.string() + ":1:12: extends cycle: a.toml -> b.toml -> a.toml");
  CHECK(issues[0].key == "extends");

  auto self = write_file(dir, "self.toml", "x = 1\nextends = [\"self.toml\"]\n");
  auto self_issues = issues_of([&] { (void)load_experiment(self, {}); });
  REQUIRE(self_issues.size() == 1);
  CHECK(self_issues[0].format() == self.string() + ":2:12: extends cycle: self.toml -> self.toml");
}

TEST_CASE("a missing base file is an error at its extends entry") {
  auto dir = mdlab::test::temp_dir("config");
  write_file(dir, "ok.toml", "x = 1\n");
  auto exp = write_file(dir, "exp.toml", "extends = [\"ok.toml\", \"nope.toml\"]\n");
  auto issues = issues_of([&] { (void)load_experiment(exp, {}); });
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].format() ==
        exp.string() + ":1:23: base file '" + (dir / "nope.toml").string() +
            "' does not exist (extends entries are relative to the file that names them, so it "
            "was looked for in " +
            dir.string() + ": copy the base files there or point the entry at them)");

  auto bad_type = write_file(dir, "bad.toml", "extends = 3\n");
  auto type_issues = issues_of([&] { (void)load_experiment(bad_type, {}); });
  REQUIRE(type_issues.size() == 1);
  CHECK(type_issues[0].format() ==
        bad_type.string() + ":1:11: 'extends' must be an array of file names, got int");
}

TEST_CASE("a missing experiment file is a config error") {
  auto dir = mdlab::test::temp_dir("config");
  auto issues = issues_of([&] { (void)load_experiment(dir / "absent.toml", {}); });
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].format() == (dir / "absent.toml").string() + ": experiment file does not exist");
}

TEST_CASE("TOML syntax errors carry the parser's file:line:col") {
  auto dir = mdlab::test::temp_dir("config");
  auto exp = write_file(dir, "exp.toml", "[train]\nlr = = 2\n");
  auto issues = issues_of([&] { (void)load_experiment(exp, {}); });
  REQUIRE(issues.size() == 1);
  CHECK_THAT(issues[0].format(), Catch::StartsWith(exp.string() + ":2:6: TOML syntax error: "));

  // Also inside a base file.
  auto broken = write_file(dir, "broken.toml", "a = 1\nb = [1,\n");
  auto top = write_file(dir, "top.toml", "extends = [\"broken.toml\"]\n");
  auto base_issues = issues_of([&] { (void)load_experiment(top, {}); });
  REQUIRE(base_issues.size() == 1);
  CHECK_THAT(base_issues[0].format(),
             Catch::StartsWith(broken.string() + ":2:9:") && Catch::Contains("TOML syntax error"));
}

TEST_CASE("set overrides take TOML values and plain strings") {
  auto dir = mdlab::test::temp_dir("config");
  auto exp = write_file(dir, "exp.toml",
                        "[method]\nname = \"simclr\"\ntemperature = 0.5\n[train]\nlr = 1.0\n");
  toml::table config = load_experiment(
      exp, {"method.temperature=0.2", "data.root=/tmp/x", "train.milestones=[1, 2]",
            "experiment.name=\"hi there\"", "a.b.c=true", "train.lr=3", "train.lr = 4.5",
            "method={name = \"byol\", momentum = 0.9}", "experiment.path=C:\\dir"});
  // Overridden earlier, then replaced wholesale by the inline table.
  CHECK_FALSE(config.at_path("method.temperature"));
  CHECK(config.at_path("method.name").value<std::string>() == "byol");
  CHECK(config.at_path("method.momentum").value<double>() == 0.9);
  CHECK(config.at_path("data.root").value<std::string>() == "/tmp/x");
  CHECK(config.at_path("train.milestones").as_array()->size() == 2);
  CHECK(config.at_path("train.milestones[1]").value<int64_t>() == 2);
  CHECK(config.at_path("experiment.name").value<std::string>() == "hi there");
  CHECK(config.at_path("experiment.path").value<std::string>() == "C:\\dir");
  CHECK(config.at_path("a.b.c").value<bool>() == true);
  CHECK(config.at_path("a.b").is_table());
  // Applied in order: the last one wins.
  CHECK(config.at_path("train.lr").value<double>() == 4.5);

  toml::table single = load_experiment(exp, {"method.temperature=0.2"});
  CHECK(single.at_path("method.temperature").value<double>() == 0.2);
  CHECK(source_of(single, "method.temperature") == "--set method.temperature=0.2:1:20");
  CHECK(single.at_path("method.name").value<std::string>() == "simclr");

  toml::table spaced = load_experiment(exp, {"train.lr =  7"});
  CHECK(source_of(spaced, "train.lr") == "--set train.lr =  7:1:13");
  toml::table fallback = load_experiment(exp, {"data.root=/tmp/x"});
  CHECK(source_of(fallback, "data.root") == "--set data.root=/tmp/x:1:11");
  toml::table created = load_experiment(exp, {"x.y.z=[1, 2]"});
  CHECK(source_of(created, "x.y.z") == "--set x.y.z=[1, 2]:1:7");
  CHECK(source_of(created, "x.y.z[1]") == "--set x.y.z=[1, 2]:1:11");
  CHECK(created.at_path("x.y").is_table());
}

TEST_CASE("malformed --set arguments are config errors, all reported") {
  auto dir = mdlab::test::temp_dir("config");
  auto exp = write_file(dir, "exp.toml", "[train]\nlr = 1.0\n");
  auto issues = issues_of([&] {
    (void)load_experiment(
        exp, {"train.lr", "=3", "a..b=1", "train.lr=[1,", "train.lr.x=1", "x.y=\"open"});
  });
  REQUIRE(issues.size() == 6);
  CHECK(issues[0].format() == "--set train.lr:1:1: malformed --set 'train.lr': expected KEY=VALUE");
  CHECK(issues[1].format() == "--set =3:1:1: malformed --set '=3': empty key before '='");
  CHECK(issues[2].format() ==
        "--set a..b=1:1:3: malformed --set 'a..b=1': empty part in key 'a..b'");
  CHECK_THAT(issues[3].format(),
             Catch::StartsWith("--set train.lr=[1,:1:") &&
                 Catch::Contains("malformed --set 'train.lr=[1,': cannot read the value: "));
  CHECK(issues[4].format() ==
        "--set train.lr.x=1:1:7: --set 'train.lr.x=1': 'train.lr' is a float, not a table");
  CHECK(issues[4].key == "train.lr.x");
  CHECK_THAT(issues[5].format(), Catch::StartsWith("--set x.y=\"open:1:"));
  // The config error's text lists every issue, one per line.
  try {
    (void)load_experiment(exp, {"nokey", "=1"});
    FAIL("expected a ConfigError");
  } catch (const mdlab::ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "--set nokey:1:1: malformed --set 'nokey': expected KEY=VALUE\n"
          "--set =1:1:1: malformed --set '=1': empty key before '='");
    const mdlab::Error& base = e;
    CHECK(base.message() == e.what());
  }
}

TEST_CASE("hostile experiment files get errors, not crashes or unbounded reads") {
  auto dir = mdlab::test::temp_dir("config");
  // A key of 50,000 dotted parts overflowed toml++'s recursion (exit 139).
  std::string dotted = "a";
  for (int i = 0; i < 50000; ++i) dotted += ".a";
  auto deep_key = write_file(dir, "deep_key.toml", "[train]\nlr = 1.0\n" + dotted + " = 1\n");
  auto issues = issues_of([&] { (void)load_experiment(deep_key, {}); });
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].format() ==
        deep_key.string() +
            ":3:1: a key of more than 64 dotted parts (experiment keys have a few)");
  auto deep_header = write_file(dir, "deep_header.toml", "[" + dotted + "]\n");
  issues = issues_of([&] { (void)load_experiment(deep_header, {}); });
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].format() == deep_header.string() +
                                  ":1:2: a key of more than 64 dotted parts (experiment keys "
                                  "have a few)");
  auto nested = write_file(dir, "nested.toml",
                           "x = " + std::string(100000, '[') + std::string(100000, ']') + "\n");
  issues = issues_of([&] { (void)load_experiment(nested, {}); });
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].format() ==
        nested.string() + ":1:69: arrays or inline tables nested more than 64 deep");
  // Dots in strings, comments and numbers are not key parts; brackets in strings do not nest.
  auto fine = write_file(dir, "fine.toml",
                         "# a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a"
                         ".a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a\n"
                         "[train]\nlr = 1.5e-3\nnote = \"" +
                             std::string(200, '[') + dotted.substr(0, 400) + "\"\n");
  CHECK_NOTHROW(load_experiment(fine, {}));
  // A device and an oversized file are refused before they are read.
  auto zero = write_file(dir, "zero.toml", "extends = \"/dev/zero\"\n");
  issues = issues_of([&] { (void)load_experiment(zero, {}); });
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].format() == zero.string() + ":1:11: base file '/dev/zero' is not a regular file");
  auto big = write_file(dir, "big.toml", "x = \"" + std::string(5u << 20, 'x') + "\"\n");
  issues = issues_of([&] { (void)load_experiment(big, {}); });
  REQUIRE(issues.size() == 1);
  CHECK_THAT(issues[0].format(),
             Catch::StartsWith(big.string() + ": experiment file has 5242887 bytes; experiment "
                                              "files are at most 4194304 bytes"));
  fs::remove_all(dir);
}

TEST_CASE("hostile --set arguments name the key and the defect") {
  auto dir = mdlab::test::temp_dir("config");
  auto exp = write_file(dir, "exp.toml", "[train]\nlr = 1.0\n");
  std::string dotted = "a";
  for (int i = 0; i < 50000; ++i) dotted += ".a";
  auto issues = issues_of([&] {
    (void)load_experiment(exp,
                          {"train.name=\"caf\xe9\"", dotted + "=1",
                           "train.x=" + std::string(1000, '[') + std::string(1000, ']'), "\xff=1"});
  });
  REQUIRE(issues.size() == 4);
  // The bad byte is shown escaped, never written raw to the terminal.
  CHECK(issues[0].format() ==
        "--set train.name=\"caf\\xe9\":1:16: malformed --set 'train.name=\"caf\\xe9\"': byte 16 "
        "(0xe9) is not valid UTF-8 in the value of 'train.name'");
  CHECK(issues[0].key == "train.name");
  CHECK_THAT(issues[1].format(), Catch::Contains("a key of more than 64 dotted parts"));
  CHECK_THAT(issues[2].format(),
             Catch::StartsWith("--set train.x=") &&
                 Catch::Contains("arrays or inline tables nested more than 64 deep"));
  CHECK(issues[2].key == "train.x");
  CHECK_THAT(issues[3].format(), Catch::Contains("byte 1 (0xff) is not valid UTF-8"));
  fs::remove_all(dir);
}

TEST_CASE("to_toml_text parses back to an equal table") {
  auto table = toml::parse(R"(
title = "quotes \" and \\ and tab\t and newline\n and é"
lr = 0.1
big = 1e300
tiny = -2.5e-12
whole = 3.0
neg_inf = -inf
count = -9223372036854775808
hex = 0xff
flag = false
when = 1979-05-27T07:32:00Z
day = 1979-05-27
clock = 07:32:00
empty_list = []
nested = [[1, 2], ["a"], [{ x = 1 }]]
"key with space" = 1
"dotted.key" = 2
"" = 3
[empty]
[deep.er.table]
v = 1
[deep.empty]
[mix]
inline = { a = 1, b = { c = [1.5] } }
[[eval]]
name = "knn"
[eval.sub]
k = 1
[[eval.inner]]
z = 1
[[eval]]
name = "linear"
)",
                           std::string("roundtrip.toml"));
  std::string text = mdlab::to_toml_text(table);
  INFO(text);
  toml::table back = toml::parse(text, std::string("text"));
  CHECK(back == table);
  // Floats in their shortest form, not 17 digits.
  CHECK_THAT(text, Catch::Contains("lr = 0.1\n") && Catch::Contains("whole = 3.0\n") &&
                       Catch::Contains("big = 1e+300\n"));
  CHECK(mdlab::to_toml_text(back) == text);
  // Literal strings where the text allows, basic strings with escapes otherwise.
  toml::table strings;
  strings.insert("path", "/tmp/x");
  strings.insert("quote", "it's");
  strings.insert("line", "a\nb");
  CHECK(mdlab::to_toml_text(strings) == "line = \"a\\nb\"\npath = '/tmp/x'\nquote = \"it's\"\n");
  CHECK(mdlab::to_toml_text(toml::table{}).empty());
}

TEST_CASE("the resolved config of an extends chain round-trips") {
  auto dir = mdlab::test::temp_dir("config");
  write_file(dir, "base.toml", "[train]\nepochs = 10\nlr = 0.1\n[[eval]]\nname = \"knn\"\n");
  auto exp = write_file(dir, "exp.toml", "extends = [\"base.toml\"]\n[train]\nlr = 0.3\n");
  toml::table config = load_experiment(exp, {"train.lr=0.2"});
  std::string text = mdlab::to_toml_text(config);
  CHECK(text == "[train]\nepochs = 10\nlr = 0.2\n\n[[eval]]\nname = 'knn'\n");
  CHECK(toml::parse(text) == config);
}

TEST_CASE("a key NAME[I].KEY in --set reaches one table of a list of tables") {
  const fs::path dir = mdlab::test::temp_dir("set-index");
  const fs::path file = mdlab::test::write_file(dir, "exp.toml", R"([[eval]]
name = "linear_probe"
[[eval]]
name = "knn"
k = [20, 200]
)");
  toml::table t = mdlab::load_experiment(file, {"eval[1].k=[5]", "eval[0].epochs=3"});
  CHECK(t["eval"][1]["k"][0].value_or(int64_t{0}) == 5);
  CHECK(t["eval"][1]["name"].value_or(std::string()) == "knn");
  CHECK(t["eval"][0]["epochs"].value_or(int64_t{0}) == 3);
  // The new value points at the --set argument.
  CHECK(*t["eval"][1]["k"].node()->source().path == "--set eval[1].k=[5]");

  auto message = [&](const std::string& set) {
    const auto issues = mdlab::test::issues_of([&] { mdlab::load_experiment(file, {set}); });
    REQUIRE(issues.size() == 1);
    return issues[0].message;
  };
  CHECK_THAT(message("eval[2].k=[5]"), Catch::Contains("'eval' has 2 entries, counted from 0"));
  CHECK_THAT(message("data[0].root=x"), Catch::Contains("'data' is not a list"));
  CHECK_THAT(message("eval[x].k=1"), Catch::Contains("'eval[x]' is not NAME[INDEX]"));
  CHECK_THAT(message("eval[1]=1"), Catch::Contains("set a key of one entry"));
}
