// Options: what a plugin (or core) accepts in its table of an experiment file.
//
// A plugin declares an OptionsSchema: one OptionSpec per key with its type, default, range
// or choices, a one-line doc and whether it is required. The host validates the experiment
// file against the schema before any work starts and hands the plugin an Options object
// holding a value of the declared type for every key (the default when the file is silent).
// Integers given where a float is declared are converted; nothing else is.
#pragma once

#include <mdlab/export.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mdlab {

/// Type of an option value.
enum class OptionType : uint32_t {
  Bool = 0,        ///< true / false
  Int = 1,         ///< 64-bit signed integer
  Float = 2,       ///< double (integers accepted and converted)
  String = 3,      ///< UTF-8 string
  IntList = 4,     ///< array of integers
  FloatList = 5,   ///< array of floats (integers accepted)
  StringList = 6,  ///< array of strings
};

/// Name of a type as written in docs and error messages ("int", "float list", ...).
MDLAB_SDK_API const char* option_type_name(OptionType type);

/// A value of one of the option types; the index matches OptionType.
using OptionValue = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>,
                                 std::vector<double>, std::vector<std::string>>;

/// The OptionType of a value.
MDLAB_SDK_API OptionType option_value_type(const OptionValue& value);

/// A value rendered as TOML ("0.5", "\"cosine\"", "[1, 2]").
MDLAB_SDK_API std::string option_value_to_toml(const OptionValue& value);

/// Declaration of one option.
struct MDLAB_SDK_API OptionSpec {
  std::string name;                          ///< key in the plugin's table
  OptionType type = OptionType::String;      ///< declared type
  std::optional<OptionValue> default_value;  ///< value when the file is silent
  bool required = false;                     ///< the file must give it (no default)
  std::optional<double> min;                 ///< inclusive lower bound (numbers, list items)
  std::optional<double> max;                 ///< inclusive upper bound (numbers, list items)
  std::vector<OptionValue> choices;          ///< allowed values (empty: any)
  std::string doc;                           ///< one-line description

  /// Sets the inclusive range [lo, hi]; returns *this for chaining.
  OptionSpec& range(double lo, double hi);
  /// Sets the inclusive lower bound; returns *this.
  OptionSpec& at_least(double lo);
  /// Restricts string values to `values`; returns *this.
  OptionSpec& one_of(std::vector<std::string> values);
  /// Restricts integer values to `values`; returns *this.
  OptionSpec& one_of_ints(std::vector<int64_t> values);
  /// Human-readable constraint ("in [0, 1]", "one of: a, b"), "" when unconstrained.
  std::string constraint_text() const;
  /// Empty when `value` satisfies the type and constraints, else why not.
  std::string check(const OptionValue& value) const;
};

/// The options a plugin or a core table accepts, in declaration order.
class MDLAB_SDK_API OptionsSchema {
 public:
  /// Declares a boolean option with a default.
  OptionSpec& add_bool(std::string name, bool default_value, std::string doc);
  /// Declares an integer option with a default.
  OptionSpec& add_int(std::string name, int64_t default_value, std::string doc);
  /// Declares a float option with a default.
  OptionSpec& add_float(std::string name, double default_value, std::string doc);
  /// Declares a string option with a default.
  OptionSpec& add_string(std::string name, std::string default_value, std::string doc);
  /// Declares an integer-list option with a default.
  OptionSpec& add_int_list(std::string name, std::vector<int64_t> default_value, std::string doc);
  /// Declares a float-list option with a default.
  OptionSpec& add_float_list(std::string name, std::vector<double> default_value,
                             std::string doc);
  /// Declares a string-list option with a default.
  OptionSpec& add_string_list(std::string name, std::vector<std::string> default_value,
                              std::string doc);
  /// Declares an option of `type` that the file must give.
  OptionSpec& add_required(std::string name, OptionType type, std::string doc);
  /// Declares an option of `type` with no default that may be absent (Options::has tells).
  OptionSpec& add_optional(std::string name, OptionType type, std::string doc);

  /// All declared options, in declaration order.
  const std::vector<OptionSpec>& specs() const noexcept { return specs_; }
  /// The spec named `name`, or nullptr.
  const OptionSpec* find(std::string_view name) const noexcept;
  /// Names of all options (for did-you-mean suggestions).
  std::vector<std::string> names() const;

 private:
  OptionSpec& add(OptionSpec spec);
  std::vector<OptionSpec> specs_;
};

/// Validated option values handed to a plugin: every declared key with a default or a
/// given value is present, with exactly the declared type.
class MDLAB_SDK_API Options {
 public:
  /// True when `name` has a value.
  bool has(std::string_view name) const;
  /// Sets (or replaces) a value.
  void set(std::string name, OptionValue value);
  /// The boolean `name`; throws mdlab::Error when absent or of another type.
  bool get_bool(std::string_view name) const;
  /// The integer `name`; throws when absent or of another type.
  int64_t get_int(std::string_view name) const;
  /// The float `name`; throws when absent or of another type.
  double get_float(std::string_view name) const;
  /// The string `name`; throws when absent or of another type.
  const std::string& get_string(std::string_view name) const;
  /// The integer list `name`; throws when absent or of another type.
  const std::vector<int64_t>& get_int_list(std::string_view name) const;
  /// The float list `name`; throws when absent or of another type.
  const std::vector<double>& get_float_list(std::string_view name) const;
  /// The string list `name`; throws when absent or of another type.
  const std::vector<std::string>& get_string_list(std::string_view name) const;
  /// All values by name.
  const std::map<std::string, OptionValue, std::less<>>& values() const noexcept {
    return values_;
  }

 private:
  const OptionValue& at(std::string_view name, OptionType type) const;
  std::map<std::string, OptionValue, std::less<>> values_;
};

/// Options holding the schema's defaults (what a plugin sees for an empty table).
MDLAB_SDK_API Options default_options(const OptionsSchema& schema);

}  // namespace mdlab
