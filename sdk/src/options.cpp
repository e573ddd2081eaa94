#include <mdlab/error.h>
#include <mdlab/options.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <sstream>

namespace mdlab {

const char* option_type_name(OptionType type) {
  switch (type) {
    case OptionType::Bool: return "bool";
    case OptionType::Int: return "int";
    case OptionType::Float: return "float";
    case OptionType::String: return "string";
    case OptionType::IntList: return "int list";
    case OptionType::FloatList: return "float list";
    case OptionType::StringList: return "string list";
  }
  return "unknown";
}

OptionType option_value_type(const OptionValue& value) {
  return static_cast<OptionType>(value.index());
}

namespace {

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

std::string toml_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);
  // TOML needs a '.' or an exponent to read the value back as a float.
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::string option_value_to_toml(const OptionValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          return toml_float(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return toml_string(v);
        } else {
          std::string out = "[";
          for (size_t i = 0; i < v.size(); ++i) {
            if (i) out += ", ";
            using E = typename T::value_type;
            if constexpr (std::is_same_v<E, int64_t>)
              out += std::to_string(v[i]);
            else if constexpr (std::is_same_v<E, double>)
              out += toml_float(v[i]);
            else
              out += toml_string(v[i]);
          }
          return out + "]";
        }
      },
      value);
}

OptionSpec& OptionSpec::range(double lo, double hi) {
  min = lo;
  max = hi;
  return *this;
}

OptionSpec& OptionSpec::at_least(double lo) {
  min = lo;
  return *this;
}

OptionSpec& OptionSpec::one_of(std::vector<std::string> values) {
  choices.clear();
  for (auto& v : values) choices.emplace_back(std::move(v));
  return *this;
}

OptionSpec& OptionSpec::one_of_ints(std::vector<int64_t> values) {
  choices.clear();
  for (auto v : values) choices.emplace_back(v);
  return *this;
}

std::string OptionSpec::constraint_text() const {
  if (!choices.empty()) {
    std::vector<std::string> items;
    for (const auto& c : choices) items.push_back(option_value_to_toml(c));
    return fmt::format("one of: {}", fmt::join(items, ", "));
  }
  if (min && max) return fmt::format("in [{}, {}]", *min, *max);
  if (min) return fmt::format(">= {}", *min);
  if (max) return fmt::format("<= {}", *max);
  return "";
}

std::string OptionSpec::check(const OptionValue& value) const {
  if (option_value_type(value) != type) {
    return fmt::format("expected {}, got {}", option_type_name(type),
                       option_type_name(option_value_type(value)));
  }
  auto out_of_range = [&](double x) { return (min && x < *min) || (max && x > *max); };
  std::string problem;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        // NaN compares false with every bound, so it would pass any range; infinities are
        // never a meaningful setting (no option means "unbounded" by inf).
        if constexpr (std::is_same_v<T, double>) {
          if (!std::isfinite(v)) {
            problem = fmt::format("value {} is not a finite number", v);
            return;
          }
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          for (double x : v) {
            if (!std::isfinite(x)) {
              problem = fmt::format("item {} is not a finite number", x);
              return;
            }
          }
        }
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
          if (out_of_range(static_cast<double>(v)))
            problem = fmt::format("value {} is out of range: must be {}", v, constraint_text());
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>> ||
                             std::is_same_v<T, std::vector<double>>) {
          for (auto x : v) {
            if (out_of_range(static_cast<double>(x))) {
              problem =
                  fmt::format("item {} is out of range: items must be {}", x, constraint_text());
              break;
            }
          }
        }
      },
      value);
  if (!problem.empty()) return problem;
  if (!choices.empty()) {
    bool found = false;
    for (const auto& c : choices) found = found || c == value;
    if (!found)
      return fmt::format("value {} is not allowed: must be {}", option_value_to_toml(value),
                         constraint_text());
  }
  return "";
}

OptionSpec& OptionsSchema::add(OptionSpec spec) {
  MDLAB_CHECK(find(spec.name) == nullptr, "option '{}' declared twice", spec.name);
  specs_.push_back(std::move(spec));
  return specs_.back();
}

OptionSpec& OptionsSchema::add_bool(std::string name, bool d, std::string doc) {
  return add(
      {std::move(name), OptionType::Bool, OptionValue{d}, false, {}, {}, {}, std::move(doc)});
}
OptionSpec& OptionsSchema::add_int(std::string name, int64_t d, std::string doc) {
  return add({std::move(name), OptionType::Int, OptionValue{d}, false, {}, {}, {}, std::move(doc)});
}
OptionSpec& OptionsSchema::add_float(std::string name, double d, std::string doc) {
  return add(
      {std::move(name), OptionType::Float, OptionValue{d}, false, {}, {}, {}, std::move(doc)});
}
OptionSpec& OptionsSchema::add_string(std::string name, std::string d, std::string doc) {
  return add({std::move(name),
              OptionType::String,
              OptionValue{std::move(d)},
              false,
              {},
              {},
              {},
              std::move(doc)});
}
OptionSpec& OptionsSchema::add_int_list(std::string name, std::vector<int64_t> d, std::string doc) {
  return add({std::move(name),
              OptionType::IntList,
              OptionValue{std::move(d)},
              false,
              {},
              {},
              {},
              std::move(doc)});
}
OptionSpec& OptionsSchema::add_float_list(std::string name, std::vector<double> d,
                                          std::string doc) {
  return add({std::move(name),
              OptionType::FloatList,
              OptionValue{std::move(d)},
              false,
              {},
              {},
              {},
              std::move(doc)});
}
OptionSpec& OptionsSchema::add_string_list(std::string name, std::vector<std::string> d,
                                           std::string doc) {
  return add({std::move(name),
              OptionType::StringList,
              OptionValue{std::move(d)},
              false,
              {},
              {},
              {},
              std::move(doc)});
}
OptionSpec& OptionsSchema::add_required(std::string name, OptionType type, std::string doc) {
  return add({std::move(name), type, std::nullopt, true, {}, {}, {}, std::move(doc)});
}
OptionSpec& OptionsSchema::add_optional(std::string name, OptionType type, std::string doc) {
  return add({std::move(name), type, std::nullopt, false, {}, {}, {}, std::move(doc)});
}

const OptionSpec* OptionsSchema::find(std::string_view name) const noexcept {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<std::string> OptionsSchema::names() const {
  std::vector<std::string> out;
  for (const auto& s : specs_) out.push_back(s.name);
  return out;
}

bool Options::has(std::string_view name) const {
  return values_.find(name) != values_.end();
}

void Options::set(std::string name, OptionValue value) {
  values_.insert_or_assign(std::move(name), std::move(value));
}

const OptionValue& Options::at(std::string_view name, OptionType type) const {
  auto it = values_.find(name);
  MDLAB_CHECK(it != values_.end(), "option '{}' has no value", name);
  MDLAB_CHECK(option_value_type(it->second) == type, "option '{}' is a {}, not a {}", name,
              option_type_name(option_value_type(it->second)), option_type_name(type));
  return it->second;
}

bool Options::get_bool(std::string_view n) const {
  return std::get<bool>(at(n, OptionType::Bool));
}
int64_t Options::get_int(std::string_view n) const {
  return std::get<int64_t>(at(n, OptionType::Int));
}
double Options::get_float(std::string_view n) const {
  return std::get<double>(at(n, OptionType::Float));
}
const std::string& Options::get_string(std::string_view n) const {
  return std::get<std::string>(at(n, OptionType::String));
}
const std::vector<int64_t>& Options::get_int_list(std::string_view n) const {
  return std::get<std::vector<int64_t>>(at(n, OptionType::IntList));
}
const std::vector<double>& Options::get_float_list(std::string_view n) const {
  return std::get<std::vector<double>>(at(n, OptionType::FloatList));
}
const std::vector<std::string>& Options::get_string_list(std::string_view n) const {
  return std::get<std::vector<std::string>>(at(n, OptionType::StringList));
}

Options default_options(const OptionsSchema& schema) {
  Options out;
  for (const auto& s : schema.specs())
    if (s.default_value) out.set(s.name, *s.default_value);
  return out;
}

}  // namespace mdlab
