// The checks a host makes on a plugin, shared by mdlab's plugin registry and the test kit so a
// plugin under test is held to exactly what a run holds it to: its handshake against the SDK
// library of this process, and the options given to it against its schema.
#pragma once

#include <mdlab/export.h>
#include <mdlab/options.h>
#include <mdlab/plugin.h>

#include <string>
#include <string_view>

namespace mdlab {

/// Why a plugin with handshake `info` cannot be used with this SDK library (ABI major,
/// handshake size, API minor, LibTorch version, _GLIBCXX_USE_CXX11_ABI, kind, name), both
/// sides named; "" when it can.
MDLAB_SDK_API std::string handshake_problem(const mdlab_plugin_info& info);

/// `given` checked against `schema` and completed with its defaults: integers become floats
/// where the schema says float (lists too), each value is checked (type, range, choices), and
/// required options must be present. Throws mdlab::Error naming `who` ("method 'byol'") and
/// the key: an unknown key lists the known ones.
MDLAB_SDK_API Options complete_options(const OptionsSchema& schema, const Options& given,
                                       std::string_view who);

}  // namespace mdlab
